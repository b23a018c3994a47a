-- Compacted hours for the unfiltered reports (the 90-day acceptance report must answer in
-- < 100 ms at 1 M leads, SPEC §9). Reading 250,000 cycles row by row costs PostgreSQL more than
-- that; one row per UTC hour with the hour's counts and its decision times as an array costs
-- ~2,000 rows. Exact, not approximate:
-- * every change to a cycle's acceptance facts appends a mark for the cycle's routing hour, in
--   the transaction of the change;
-- * the compactor (one at a time, advisory lock) rebuilds marked hours from `lead_cycles` and
--   deletes their marks in one REPEATABLE READ transaction, so a mark it cannot see yet
--   survives and keeps its hour dirty;
-- * a report uses a compacted hour only when no mark for it is left, and reads the raw cycles
--   of every other hour, all in one statement (one snapshot).

CREATE TABLE cycle_hours (
    hour         timestamptz PRIMARY KEY,
    routed       integer NOT NULL,
    accepted     integer NOT NULL,
    rejected     integer NOT NULL,
    recycled     integer NOT NULL,
    within_sla   integer NOT NULL,
    -- Seconds from routing to the gate decision of each decided cycle, in no order.
    decision_s   double precision[] NOT NULL,
    compacted_at timestamptz NOT NULL
);

-- Append-only, no key (every ingest writes one; only their hours matter): no two writers ever
-- wait on each other here.
CREATE TABLE cycle_hour_marks (
    hour timestamptz NOT NULL
);
CREATE INDEX cycle_hour_marks_hour_idx ON cycle_hour_marks (hour);

-- Every hour that already has cycles is dirty until the compactor first runs.
INSERT INTO cycle_hour_marks (hour)
SELECT DISTINCT date_trunc('hour', routed_at, 'UTC') FROM lead_cycles;

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
    WHEN 'accepted', 'rejected' THEN
        UPDATE lead_cycles SET outcome = h.kind, decided_at = h.occurred_at, owner = h.rep_id,
            accepted_within_sla = (h.data->>'accepted_within_sla')::boolean,
            first_touch_due_at = (h.data->>'first_touch_due_at')::timestamptz,
            rejection_code = CASE WHEN h.kind = 'rejected' THEN h.code END
        WHERE lead_id = h.lead_id AND cycle = h.cycle AND outcome IS NULL
        RETURNING routed_at INTO routed;
    WHEN 'recycled' THEN
        UPDATE lead_cycles SET recycled_at = h.occurred_at, recycle_reason = h.code,
            outcome = COALESCE(outcome, 'recycled'),
            decided_at = COALESCE(decided_at, h.occurred_at),
            owner = CASE WHEN outcome IS NULL THEN h.rep_id ELSE owner END
        WHERE lead_id = h.lead_id AND cycle = h.cycle AND recycled_at IS NULL
        RETURNING routed_at INTO routed;
    WHEN 'assigned', 'reassigned' THEN
        UPDATE lead_cycles SET owner = h.rep_id, queue = COALESCE(h.data->>'queue', queue)
        WHERE lead_id = h.lead_id AND cycle = h.cycle AND outcome IS NULL;
    WHEN 'returned_to_queue' THEN
        UPDATE lead_cycles SET owner = NULL
        WHERE lead_id = h.lead_id AND cycle = h.cycle AND outcome IS NULL;
    WHEN 'sla_breached' THEN
        UPDATE lead_cycles SET breached = true WHERE lead_id = h.lead_id AND cycle = h.cycle;
    WHEN 'touched' THEN
        UPDATE lead_cycles SET first_touched_at = h.occurred_at
        WHERE lead_id = h.lead_id AND cycle = h.cycle AND first_touched_at IS NULL;
    ELSE
        -- sla_at_risk, first_touch_breached: nothing a report needs beyond the above.
        NULL;
    END CASE;
    -- The acceptance facts of a cycle changed: its hour is dirty until compacted again.
    IF routed IS NOT NULL THEN
        INSERT INTO cycle_hour_marks (hour) VALUES (date_trunc('hour', routed, 'UTC'));
    END IF;
END;
$$;
