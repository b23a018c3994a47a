-- RevOps metrics (SPEC §6) count cycles. `lead_cycles` is a projection of the history log, one
-- row per cycle, maintained by a trigger on every history insert, so it commits with the change
-- that logged it and no write path can forget it. It holds nothing the log does not: the
-- `routed` entry carries the cycle's dimensions and due time, the `accepted` entry whether it
-- was within SLA and when the first touch is due. `lead_cycles_apply` is the only code that
-- builds it; the migration replays the existing log through it.

CREATE TABLE lead_cycles (
    lead_id             uuid NOT NULL,
    cycle               integer NOT NULL,
    routed_at           timestamptz NOT NULL,
    source              text NOT NULL,
    lead_type           text NOT NULL,
    campaign            text,
    channel             text,
    -- The latest queue and owner of the cycle; frozen at the gate decision (the decider).
    queue               text,
    owner               text,
    sla_due_at          timestamptz,
    -- The gate decision: accepted, rejected or recycled (from routed); NULL while open.
    outcome             text CHECK (outcome IN ('accepted', 'rejected', 'recycled')),
    decided_at          timestamptz,
    accepted_within_sla boolean,
    rejection_code      text,
    -- Any recycle in the cycle, from routed or after an accept.
    recycled_at         timestamptz,
    recycle_reason      text,
    breached            boolean NOT NULL DEFAULT false,
    first_touch_due_at  timestamptz,
    first_touched_at    timestamptz,
    CONSTRAINT lead_cycles_pkey PRIMARY KEY (lead_id, cycle)
);

-- Reports select cycles by routing time; the included columns let the unfiltered acceptance
-- report run as an index-only scan.
CREATE INDEX lead_cycles_routed_idx ON lead_cycles (routed_at)
    INCLUDE (outcome, decided_at, accepted_within_sla);

CREATE FUNCTION lead_cycles_apply(h lead_history) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    CASE h.kind
    WHEN 'routed' THEN
        INSERT INTO lead_cycles (lead_id, cycle, routed_at, source, lead_type, campaign, channel,
                                 queue, owner, sla_due_at)
        VALUES (h.lead_id, h.cycle, h.occurred_at,
                COALESCE(h.data->>'source', ''), COALESCE(h.data->>'lead_type', ''),
                h.data->>'campaign', h.data->>'channel', h.data->>'queue', h.rep_id,
                (h.data->>'sla_due_at')::timestamptz);
    WHEN 'accepted', 'rejected' THEN
        UPDATE lead_cycles SET outcome = h.kind, decided_at = h.occurred_at, owner = h.rep_id,
            accepted_within_sla = (h.data->>'accepted_within_sla')::boolean,
            first_touch_due_at = (h.data->>'first_touch_due_at')::timestamptz,
            rejection_code = CASE WHEN h.kind = 'rejected' THEN h.code END
        WHERE lead_id = h.lead_id AND cycle = h.cycle AND outcome IS NULL;
    WHEN 'recycled' THEN
        UPDATE lead_cycles SET recycled_at = h.occurred_at, recycle_reason = h.code,
            outcome = COALESCE(outcome, 'recycled'),
            decided_at = COALESCE(decided_at, h.occurred_at),
            owner = CASE WHEN outcome IS NULL THEN h.rep_id ELSE owner END
        WHERE lead_id = h.lead_id AND cycle = h.cycle AND recycled_at IS NULL;
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
END;
$$;

CREATE FUNCTION lead_history_project() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM lead_cycles_apply(NEW);
    RETURN NEW;
END;
$$;

-- BEFORE, not AFTER: no after-trigger queue, and a failed history insert rolls the projection
-- back with the statement anyway.
CREATE TRIGGER lead_history_project
    BEFORE INSERT ON lead_history
    FOR EACH ROW EXECUTE FUNCTION lead_history_project();

-- Backfill: entries written before this migration have no dimensions in their `routed` data;
-- take them from the lead as it is now (the best that is known).
DO $$
DECLARE
    h lead_history;
BEGIN
    FOR h IN SELECT * FROM lead_history ORDER BY id LOOP
        IF h.kind = 'routed' THEN
            SELECT jsonb_strip_nulls(jsonb_build_object(
                       'source', l.source, 'lead_type', l.lead_type, 'campaign', l.campaign,
                       'channel', l.channel, 'queue', l.queue))
                   || COALESCE(h.data, '{}'::jsonb)
              INTO h.data FROM leads l WHERE l.id = h.lead_id;
        END IF;
        PERFORM lead_cycles_apply(h);
    END LOOP;
END;
$$;
