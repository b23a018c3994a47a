-- The accounts API and two report dimensions.
--
-- `account_events`: what changed an account (its owner set or cleared, an acceptance begun or
-- ended, a merge), append-only like the lead history.
--
-- `lead_cycles` gains what the reports split and group by: the cycle's account (from its
-- `routed` entry's `account_id`, moved to the surviving account by a merge) and whether its
-- gate decision was a rule's (the deciding entry's actor is `rule:<id>`). Packed blocks carry
-- both from format 4 on; every block of an earlier format is marked here, so the compactor
-- rebuilds it and until then the reports read those hours' raw cycles.

CREATE TABLE account_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id  uuid NOT NULL REFERENCES accounts (id),
    kind        text NOT NULL CHECK (kind IN ('owner_set', 'accepted', 'acceptance_ended',
                                              'merged', 'absorbed')),
    actor       text NOT NULL,
    data        jsonb NOT NULL,
    occurred_at timestamptz NOT NULL
);
CREATE INDEX account_events_account_idx ON account_events (account_id, id);

CREATE FUNCTION account_events_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'account_events is append-only';
END;
$$;
CREATE TRIGGER account_events_append_only BEFORE UPDATE OR DELETE ON account_events
    FOR EACH ROW EXECUTE FUNCTION account_events_are_append_only();

-- The account list is in id order, filtered by owner; a name or domain prefix is matched on
-- the folded forms.
CREATE INDEX accounts_owner_idx ON accounts (owner, id) WHERE owner IS NOT NULL;
CREATE INDEX accounts_name_prefix_idx ON accounts (lower(name) text_pattern_ops);
CREATE INDEX accounts_domain_prefix_idx ON accounts (domain text_pattern_ops);

ALTER TABLE lead_cycles
    ADD COLUMN account_id uuid,
    ADD COLUMN decided_by_rule boolean NOT NULL DEFAULT false;
-- A merge moves the cycles of the merged account to the survivor.
CREATE INDEX lead_cycles_account_idx ON lead_cycles (account_id) WHERE account_id IS NOT NULL;

UPDATE lead_cycles c SET account_id = (h.data->>'account_id')::uuid
FROM lead_history h
WHERE h.lead_id = c.lead_id AND h.cycle = c.cycle AND h.kind = 'routed'
  AND h.data->>'account_id' IS NOT NULL;

-- The gate decision is the cycle's first accepted, rejected or recycled entry.
UPDATE lead_cycles c SET decided_by_rule = true
FROM (SELECT DISTINCT ON (lead_id, cycle) lead_id, cycle, actor
      FROM lead_history WHERE kind IN ('accepted', 'rejected', 'recycled')
      ORDER BY lead_id, cycle, id) d
WHERE d.lead_id = c.lead_id AND d.cycle = c.cycle AND starts_with(d.actor, 'rule:');

INSERT INTO cycle_hour_marks (hour) SELECT hour FROM cycle_blocks;

CREATE OR REPLACE FUNCTION lead_cycles_apply(h lead_history) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    routed timestamptz;
BEGIN
    CASE h.kind
    WHEN 'routed' THEN
        INSERT INTO lead_cycles (lead_id, cycle, routed_at, source, lead_type, campaign, channel,
                                 queue, owner, sla_due_at, account_id)
        VALUES (h.lead_id, h.cycle, h.occurred_at,
                COALESCE(h.data->>'source', ''), COALESCE(h.data->>'lead_type', ''),
                h.data->>'campaign', h.data->>'channel', h.data->>'queue', h.rep_id,
                (h.data->>'sla_due_at')::timestamptz, (h.data->>'account_id')::uuid);
        routed := h.occurred_at;
        IF h.cycle > 1 THEN
            PERFORM lead_cycles_mark_earlier(h.lead_id, h.cycle);
        END IF;
    WHEN 'accepted', 'rejected' THEN
        UPDATE lead_cycles SET outcome = h.kind, decided_at = h.occurred_at, owner = h.rep_id,
            accepted_within_sla = (h.data->>'accepted_within_sla')::boolean,
            first_touch_due_at = (h.data->>'first_touch_due_at')::timestamptz,
            rejection_code = CASE WHEN h.kind = 'rejected' THEN h.code END,
            decided_by_rule = starts_with(h.actor, 'rule:')
        WHERE lead_id = h.lead_id AND cycle = h.cycle AND outcome IS NULL
        RETURNING routed_at INTO routed;
        IF h.kind = 'accepted' AND h.cycle > 1 THEN
            PERFORM lead_cycles_mark_earlier(h.lead_id, h.cycle);
        END IF;
    WHEN 'recycled' THEN
        UPDATE lead_cycles SET recycled_at = h.occurred_at, recycle_reason = h.code,
            outcome = COALESCE(outcome, 'recycled'),
            decided_at = COALESCE(decided_at, h.occurred_at),
            owner = CASE WHEN outcome IS NULL THEN h.rep_id ELSE owner END,
            decided_by_rule = CASE WHEN outcome IS NULL THEN starts_with(h.actor, 'rule:')
                                   ELSE decided_by_rule END
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
                                 channel, queue, owner, sla_due_at, account_id)
        SELECT n.lead_id, n.cycle, n.occurred_at,
               COALESCE(n.data->>'source', ''), COALESCE(n.data->>'lead_type', ''),
               n.data->>'campaign', n.data->>'channel', n.data->>'queue', n.rep_id,
               (n.data->>'sla_due_at')::timestamptz, (n.data->>'account_id')::uuid
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
