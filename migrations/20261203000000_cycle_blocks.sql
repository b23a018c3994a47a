-- Every report from compacted hours (issue: every report as fast as the weekly one).
--
-- `cycle_hours` held one row of counts per UTC hour: enough for the unfiltered acceptance
-- report, nothing else (no filter, no grouping by a field, no zone whose midnight is not on a
-- UTC hour). `cycle_blocks` holds, per UTC hour, every cycle's report facts packed into one
-- value (src/domain/cycle_facts.rs): dimensions as ids of `report_symbols`, outcome and flags,
-- the seconds to decision and to first touch (float8, as PostgreSQL computes them), and the
-- due times. A report reads one row per hour and folds the cycles in the service, so any
-- filter, grouping and zone costs the same, and the figures stay exact.
--
-- Exactness is kept as before, with more marks: every change to any fact a report reads
-- appends a mark for the cycle's routing hour in the transaction of the change; the compactor
-- rebuilds marked hours and deletes their marks in one REPEATABLE READ transaction; a report
-- uses a block only when no mark for its hour is left, and reads the raw cycles of every other
-- hour, in one snapshot.

-- Dimension values, rejection codes and recycle reasons, by id. Append-only: an id never
-- changes meaning, so a block's ids stay valid forever. 0 is never an id (it means NULL).
CREATE TABLE report_symbols (
    id    integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    value text NOT NULL UNIQUE
);

CREATE TABLE cycle_blocks (
    hour         timestamptz PRIMARY KEY,
    -- Encoding version of `data`; a block of another version counts as not compacted.
    format       smallint NOT NULL,
    cycles       integer NOT NULL,
    data         bytea NOT NULL,
    compacted_at timestamptz NOT NULL
);
-- Packed varints compress poorly: store them as they are and skip the decompression.
ALTER TABLE cycle_blocks ALTER COLUMN data SET STORAGE EXTERNAL;

DROP TABLE cycle_hours;

-- Every hour with cycles is dirty until the compactor has built its block.
INSERT INTO cycle_hour_marks (hour)
SELECT DISTINCT date_trunc('hour', routed_at, 'UTC') FROM lead_cycles;

-- Reports no longer scan this index for their figures (only for the raw cycles of dirty
-- hours, which need every column): no included columns to maintain on each ingest.
DROP INDEX lead_cycles_routed_idx;
CREATE INDEX lead_cycles_routed_idx ON lead_cycles (routed_at);

-- Marks hours of the lead's earlier recycled cycles: their "routed again" and "accepted
-- later" facts depend on this cycle.
CREATE FUNCTION lead_cycles_mark_earlier(lead uuid, later integer) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO cycle_hour_marks (hour)
    SELECT date_trunc('hour', routed_at, 'UTC') FROM lead_cycles
    WHERE lead_id = lead AND cycle < later AND recycled_at IS NOT NULL;
$$;

CREATE OR REPLACE FUNCTION lead_cycles_apply(h lead_history) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    routed timestamptz;
BEGIN
    CASE h.kind
    WHEN 'routed' THEN
        INSERT INTO lead_cycles (lead_id, cycle, routed_at, source, lead_type, campaign, channel,
                                 queue, owner, sla_due_at)
        VALUES (h.lead_id, h.cycle, h.occurred_at,
                COALESCE(h.data->>'source', ''), COALESCE(h.data->>'lead_type', ''),
                h.data->>'campaign', h.data->>'channel', h.data->>'queue', h.rep_id,
                (h.data->>'sla_due_at')::timestamptz);
        routed := h.occurred_at;
        IF h.cycle > 1 THEN
            PERFORM lead_cycles_mark_earlier(h.lead_id, h.cycle);
        END IF;
    WHEN 'accepted', 'rejected' THEN
        UPDATE lead_cycles SET outcome = h.kind, decided_at = h.occurred_at, owner = h.rep_id,
            accepted_within_sla = (h.data->>'accepted_within_sla')::boolean,
            first_touch_due_at = (h.data->>'first_touch_due_at')::timestamptz,
            rejection_code = CASE WHEN h.kind = 'rejected' THEN h.code END
        WHERE lead_id = h.lead_id AND cycle = h.cycle AND outcome IS NULL
        RETURNING routed_at INTO routed;
        IF h.kind = 'accepted' AND h.cycle > 1 THEN
            PERFORM lead_cycles_mark_earlier(h.lead_id, h.cycle);
        END IF;
    WHEN 'recycled' THEN
        UPDATE lead_cycles SET recycled_at = h.occurred_at, recycle_reason = h.code,
            outcome = COALESCE(outcome, 'recycled'),
            decided_at = COALESCE(decided_at, h.occurred_at),
            owner = CASE WHEN outcome IS NULL THEN h.rep_id ELSE owner END
        WHERE lead_id = h.lead_id AND cycle = h.cycle AND recycled_at IS NULL
        RETURNING routed_at INTO routed;
    WHEN 'assigned', 'reassigned' THEN
        UPDATE lead_cycles SET owner = h.rep_id, queue = COALESCE(h.data->>'queue', queue)
        WHERE lead_id = h.lead_id AND cycle = h.cycle AND outcome IS NULL
        RETURNING routed_at INTO routed;
    WHEN 'returned_to_queue' THEN
        UPDATE lead_cycles SET owner = NULL
        WHERE lead_id = h.lead_id AND cycle = h.cycle AND outcome IS NULL
        RETURNING routed_at INTO routed;
    WHEN 'sla_breached' THEN
        UPDATE lead_cycles SET breached = true
        WHERE lead_id = h.lead_id AND cycle = h.cycle AND NOT breached
        RETURNING routed_at INTO routed;
    WHEN 'touched' THEN
        UPDATE lead_cycles SET first_touched_at = h.occurred_at
        WHERE lead_id = h.lead_id AND cycle = h.cycle AND first_touched_at IS NULL
        RETURNING routed_at INTO routed;
    ELSE
        -- sla_at_risk, first_touch_breached: nothing a report needs beyond the above.
        NULL;
    END CASE;
    -- A fact of the cycle changed: its hour is dirty until compacted again.
    IF routed IS NOT NULL THEN
        INSERT INTO cycle_hour_marks (hour) VALUES (date_trunc('hour', routed, 'UTC'));
    END IF;
END;
$$;

CREATE OR REPLACE FUNCTION lead_history_project_rows() RETURNS trigger LANGUAGE plpgsql AS $$
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
