-- The `lead_cycles` projection once per statement over the history rows the statement
-- inserted (a transition table) instead of a PL/pgSQL call per row: new cycles are one
-- set-based insert (a batch of 1,000 leads: one insert and one hour mark instead of a thousand
-- of each); the other entries go through `lead_cycles_apply` one by one, as before.

DROP TRIGGER lead_history_project ON lead_history;
DROP FUNCTION lead_history_project();

CREATE FUNCTION lead_history_project_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    h lead_history;
BEGIN
    -- New cycles, set-based (the `routed` branch of lead_cycles_apply): a batch of 1,000 leads
    -- is one insert and one mark per hour.
    WITH ins AS (
        INSERT INTO lead_cycles (lead_id, cycle, routed_at, source, lead_type, campaign,
                                 channel, queue, owner, sla_due_at)
        SELECT n.lead_id, n.cycle, n.occurred_at,
               COALESCE(n.data->>'source', ''), COALESCE(n.data->>'lead_type', ''),
               n.data->>'campaign', n.data->>'channel', n.data->>'queue', n.rep_id,
               (n.data->>'sla_due_at')::timestamptz
        FROM new_rows n WHERE n.kind = 'routed' ORDER BY n.id
        RETURNING routed_at)
    INSERT INTO cycle_hour_marks (hour)
    SELECT DISTINCT date_trunc('hour', routed_at, 'UTC') FROM ins;
    -- Everything else changes existing cycles, a few per statement: one primary-key update
    -- each, in log order (a set-based UPDATE … FROM the transition table was planned as a
    -- scan of the whole projection).
    FOR h IN SELECT * FROM new_rows WHERE kind <> 'routed' ORDER BY id LOOP
        PERFORM lead_cycles_apply(h);
    END LOOP;
    RETURN NULL;
END;
$$;

CREATE TRIGGER lead_history_project
    AFTER INSERT ON lead_history
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lead_history_project_rows();
