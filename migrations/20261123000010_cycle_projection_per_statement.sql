-- The `lead_cycles` projection once per statement, set-based over the history rows the
-- statement inserted (a transition table), instead of a PL/pgSQL call per row: a batch of
-- 1,000 leads is one trigger call and one hour mark instead of a thousand of each. Same rules
-- as `lead_cycles_apply` (kept for replaying a log). One statement per kind, in the order a
-- cycle goes through them, each seeing the ones before; no statement writes a history entry
-- for one cycle twice with the same kind, so each UPDATE touches a cycle at most once.

DROP TRIGGER lead_history_project ON lead_history;
DROP FUNCTION lead_history_project();

CREATE FUNCTION lead_history_project_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
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

    WITH u AS (
        UPDATE lead_cycles c SET outcome = n.kind, decided_at = n.occurred_at, owner = n.rep_id,
            accepted_within_sla = (n.data->>'accepted_within_sla')::boolean,
            first_touch_due_at = (n.data->>'first_touch_due_at')::timestamptz,
            rejection_code = CASE WHEN n.kind = 'rejected' THEN n.code END
        FROM new_rows n
        WHERE n.kind IN ('accepted', 'rejected') AND c.lead_id = n.lead_id
          AND c.cycle = n.cycle AND c.outcome IS NULL
        RETURNING c.routed_at)
    INSERT INTO cycle_hour_marks (hour)
    SELECT DISTINCT date_trunc('hour', routed_at, 'UTC') FROM u;

    WITH u AS (
        UPDATE lead_cycles c SET recycled_at = n.occurred_at, recycle_reason = n.code,
            outcome = COALESCE(c.outcome, 'recycled'),
            decided_at = COALESCE(c.decided_at, n.occurred_at),
            owner = CASE WHEN c.outcome IS NULL THEN n.rep_id ELSE c.owner END
        FROM new_rows n
        WHERE n.kind = 'recycled' AND c.lead_id = n.lead_id AND c.cycle = n.cycle
          AND c.recycled_at IS NULL
        RETURNING c.routed_at)
    INSERT INTO cycle_hour_marks (hour)
    SELECT DISTINCT date_trunc('hour', routed_at, 'UTC') FROM u;

    UPDATE lead_cycles c SET owner = n.rep_id, queue = COALESCE(n.data->>'queue', c.queue)
    FROM new_rows n
    WHERE n.kind IN ('assigned', 'reassigned') AND c.lead_id = n.lead_id AND c.cycle = n.cycle
      AND c.outcome IS NULL;

    UPDATE lead_cycles c SET owner = NULL
    FROM new_rows n
    WHERE n.kind = 'returned_to_queue' AND c.lead_id = n.lead_id AND c.cycle = n.cycle
      AND c.outcome IS NULL;

    UPDATE lead_cycles c SET breached = true
    FROM new_rows n
    WHERE n.kind = 'sla_breached' AND c.lead_id = n.lead_id AND c.cycle = n.cycle;

    UPDATE lead_cycles c SET first_touched_at = n.occurred_at
    FROM new_rows n
    WHERE n.kind = 'touched' AND c.lead_id = n.lead_id AND c.cycle = n.cycle
      AND c.first_touched_at IS NULL;
    RETURN NULL;
END;
$$;

CREATE TRIGGER lead_history_project
    AFTER INSERT ON lead_history
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lead_history_project_rows();
