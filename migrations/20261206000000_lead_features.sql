-- Lead features (docs/api.md "Rejection drivers"): the categorical values a lead's inputs are
-- normalised to (`src/domain/features`), as the compact text of `FeatureVector::encode`.
--
-- `leads.features`: the lead's current features, written by the ingest statements with the
-- lead (a new cycle recomputes them from the merged inputs). The `routed` history entry
-- records them (`features` in its data, like the cycle's other facts), and the projection
-- copies them into `lead_cycles.features`, the features the cycle was routed with: what the
-- rejection-drivers report groups by and the acceptance model trains on.
--
-- Leads and cycles stored before this migration have none (NULL): the normalisation is Rust
-- and is not repeated here in SQL; the drivers report computes theirs from the stored inputs
-- when it reads them.

ALTER TABLE leads ADD COLUMN features text;
ALTER TABLE lead_cycles ADD COLUMN features text;

CREATE OR REPLACE FUNCTION lead_history_project_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    h lead_history;
BEGIN
    -- New cycles, set-based (the `routed` branch of lead_cycles_apply): a batch of 1,000 leads
    -- is one insert and one mark per hour.
    WITH ins AS (
        INSERT INTO lead_cycles (lead_id, cycle, routed_at, source, lead_type, campaign,
                                 channel, queue, owner, sla_due_at, account_id, features)
        SELECT n.lead_id, n.cycle, n.occurred_at,
               COALESCE(n.data->>'source', ''), COALESCE(n.data->>'lead_type', ''),
               n.data->>'campaign', n.data->>'channel', n.data->>'queue', n.rep_id,
               (n.data->>'sla_due_at')::timestamptz, (n.data->>'account_id')::uuid,
               n.data->>'features'
        FROM new_rows n WHERE n.kind = 'routed' ORDER BY n.id
        RETURNING routed_at)
    INSERT INTO cycle_hour_marks (hour)
    SELECT DISTINCT date_trunc('hour', routed_at, 'UTC') FROM ins;
    -- A new cycle of a recycled lead changes the earlier cycles' "routed again".
    INSERT INTO cycle_hour_marks (hour)
    SELECT DISTINCT date_trunc('hour', c.routed_at, 'UTC')
    FROM new_rows n JOIN lead_cycles c ON c.lead_id = n.lead_id AND c.cycle < n.cycle
    WHERE n.kind = 'routed' AND n.cycle > 1 AND c.recycled_at IS NOT NULL;
    -- Everything else changes existing cycles, a few per statement: one primary-key update
    -- each, in log order (a set-based UPDATE … FROM the transition table was planned as a
    -- scan of the whole projection).
    FOR h IN SELECT * FROM new_rows WHERE kind <> 'routed' ORDER BY id LOOP
        PERFORM lead_cycles_apply(h);
    END LOOP;
    RETURN NULL;
END;
$$;
