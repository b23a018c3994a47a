-- Notifications to people (SPEC §11, docs/notifications.md): who hears what, and an outbox of
-- messages written in the transaction of the change, like webhook deliveries. One row per
-- history entry, channel and recipient; the notification dispatcher sends them at least once.

ALTER TABLE reps ADD COLUMN slack_user_id text;

ALTER TABLE queues
    ADD COLUMN slack_channel text,
    ADD COLUMN notify_emails text[] NOT NULL DEFAULT '{}',
    -- Which kinds the queue's leads notify about (its reps and its own channel and list).
    ADD COLUMN notify_routed boolean NOT NULL DEFAULT true,
    ADD COLUMN notify_unassigned boolean NOT NULL DEFAULT true,
    ADD COLUMN notify_at_risk boolean NOT NULL DEFAULT true,
    ADD COLUMN notify_breached boolean NOT NULL DEFAULT true,
    ADD COLUMN notify_first_touch boolean NOT NULL DEFAULT true;

-- The channels some replica can send on, set at start-up from its settings (a Slack bot token,
-- an SMTP URL). The trigger writes no rows for a channel nobody can send on; with none
-- enabled (the default) it reads this two-row table and stops.
CREATE TABLE notify_channels (
    channel    text PRIMARY KEY CHECK (channel IN ('slack', 'email')),
    enabled    boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO notify_channels (channel) VALUES ('slack'), ('email');

CREATE TABLE notifications (
    id              uuid PRIMARY KEY,
    -- Derived from the history entry (one id per entry): the dedupe key with channel and
    -- recipient.
    event_id        uuid NOT NULL,
    history_id      bigint NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('routed', 'unassigned', 'at_risk', 'breached',
                                                  'first_touch_due', 'first_touch_missed')),
    channel         text NOT NULL CHECK (channel IN ('slack', 'email')),
    -- A Slack user or channel id, or an email address.
    recipient       text NOT NULL,
    lead_id         uuid NOT NULL,
    cycle           integer NOT NULL,
    payload         jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    -- The next attempt; while a claim holds the row, the end of its lease.
    next_attempt_at timestamptz NOT NULL,
    lease           uuid,
    last_error      text,
    -- What the transport answered with (Slack: "channel:ts", for chat.update).
    external_ref    text,
    created_at      timestamptz NOT NULL,
    sent_at         timestamptz,
    CONSTRAINT notifications_once UNIQUE (event_id, channel, recipient)
);
-- The SLA kinds are once per lead and cycle whatever writes them.
CREATE UNIQUE INDEX notifications_once_per_cycle ON notifications (lead_id, cycle, kind, channel, recipient)
    WHERE kind IN ('at_risk', 'breached', 'first_touch_missed');
CREATE INDEX notifications_due_idx ON notifications (channel, next_attempt_at) WHERE status = 'pending';
CREATE INDEX notifications_lead_idx ON notifications (lead_id, created_at);
CREATE INDEX notifications_created_idx ON notifications (created_at DESC);

-- Once per statement, after it, over the history rows it inserted (a batch is one call).
-- Who hears what: docs/notifications.md. `recorded_at` is the change's time (the service's
-- clock), so an away rep is muted as of the change.
CREATE FUNCTION lead_history_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    slack_on boolean;
    email_on boolean;
BEGIN
    SELECT COALESCE(bool_or(enabled) FILTER (WHERE channel = 'slack'), false),
           COALESCE(bool_or(enabled) FILTER (WHERE channel = 'email'), false)
      INTO slack_on, email_on FROM notify_channels;
    IF NOT (slack_on OR email_on) THEN
        RETURN NULL;
    END IF;
    WITH ev AS (
        SELECT n.id AS history_id, n.lead_id, n.cycle, n.kind AS entry, n.rep_id,
               n.recorded_at,
               CASE
                   WHEN n.kind IN ('routed', 'assigned', 'reassigned', 'returned_to_queue') THEN
                       CASE WHEN n.kind <> 'returned_to_queue' AND n.rep_id IS NOT NULL THEN 'routed'
                            WHEN l.queue IS NOT NULL THEN 'unassigned' END
                   WHEN n.kind = 'sla_at_risk' THEN 'at_risk'
                   WHEN n.kind = 'sla_breached' THEN 'breached'
                   WHEN n.kind = 'accepted' THEN 'first_touch_due'
                   WHEN n.kind = 'first_touch_breached' THEN 'first_touch_missed'
               END AS kind,
               jsonb_build_object(
                   'entry', n.kind,
                   'name', NULLIF(concat_ws(' ', l.first_name, l.last_name), ''),
                   'email', l.email, 'title', l.title, 'company', l.company ->> 'name',
                   'company_size', l.company -> 'size', 'country', l.company ->> 'country',
                   'source', l.source, 'campaign', l.campaign, 'lead_type', l.lead_type,
                   'owner', l.owner, 'queue', l.queue, 'state', l.state,
                   'sla_due_at', l.sla_due_at, 'first_touch_due_at', l.first_touch_due_at,
                   'occurred_at', n.occurred_at,
                   -- A breach that moved the lead: the owner it has now (none: back to the
                   -- queue); `reassign` picks the next rep right after, in its own step.
                   'escalated_to', CASE WHEN n.kind = 'sla_breached'
                                         AND l.owner IS DISTINCT FROM n.rep_id
                                        THEN COALESCE(l.owner, 'queue:' || l.queue) END
               ) AS payload,
               q.id AS queue_id, q.slack_channel, q.notify_emails,
               CASE WHEN n.kind IN ('sla_at_risk') THEN COALESCE(q.notify_at_risk, true)
                    WHEN n.kind = 'sla_breached' THEN COALESCE(q.notify_breached, true)
                    WHEN n.kind IN ('accepted', 'first_touch_breached')
                        THEN COALESCE(q.notify_first_touch, true)
                    WHEN n.kind <> 'returned_to_queue' AND n.rep_id IS NOT NULL
                        THEN COALESCE(q.notify_routed, true)
                    ELSE COALESCE(q.notify_unassigned, true)
               END AS wanted
        FROM new_rows n
        JOIN leads l ON l.id = n.lead_id
        LEFT JOIN queues q ON q.id = l.queue
        WHERE n.kind IN ('routed', 'assigned', 'reassigned', 'returned_to_queue', 'accepted',
                         'sla_at_risk', 'sla_breached', 'first_touch_breached')
          -- A rep who claimed a lead took it themselves: nothing to tell them.
          AND NOT (n.kind = 'assigned' AND n.data ->> 'via' = 'claim')
    ), targets AS (
        -- The rep concerned (the new owner; for SLA kinds the owner at the time), unless away.
        SELECT e.*, t.channel, t.recipient
        FROM ev e
        JOIN reps r ON r.id = e.rep_id
                   AND (r.away_until IS NULL OR r.away_until <= e.recorded_at)
        CROSS JOIN LATERAL (VALUES ('slack', CASE WHEN slack_on THEN r.slack_user_id END),
                                   ('email', CASE WHEN email_on THEN r.email END)) t(channel, recipient)
        WHERE e.wanted AND e.kind IN ('routed', 'at_risk', 'breached', 'first_touch_due',
                                      'first_touch_missed')
        UNION ALL
        -- The queue's channel and list: a lead waiting unassigned, a breach.
        SELECT e.*, t.channel, t.recipient
        FROM ev e
        CROSS JOIN LATERAL (
            SELECT 'slack', e.slack_channel WHERE slack_on
            UNION ALL
            SELECT 'email', m FROM unnest(e.notify_emails) m WHERE email_on
        ) t(channel, recipient)
        WHERE e.wanted AND e.kind IN ('unassigned', 'breached') AND e.queue_id IS NOT NULL
    )
    INSERT INTO notifications (id, event_id, history_id, kind, channel, recipient, lead_id, cycle,
                               payload, next_attempt_at, created_at)
    SELECT DISTINCT ON (event_id, channel, recipient)
           salgate_uuid_v7(), event_id, history_id, kind, channel, recipient, lead_id, cycle,
           payload, recorded_at, recorded_at
    FROM (SELECT md5('lead_history:' || history_id)::uuid AS event_id, * FROM targets
          WHERE recipient IS NOT NULL AND recipient <> '') x
    ORDER BY event_id, channel, recipient
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;

CREATE TRIGGER lead_history_notify
    AFTER INSERT ON lead_history
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lead_history_notify();

-- One attempt's outcome, applied only while `p_lease` still holds the row (else a newer claim
-- owns it: 'lost'). `p_status` is 'sent', 'pending' (retry at `p_retry_at`) or 'dead'.
CREATE FUNCTION notification_record(
    p_id uuid, p_lease uuid, p_at timestamptz, p_status text, p_retry_at timestamptz,
    p_error text, p_external_ref text
) RETURNS text LANGUAGE sql AS $$
    WITH u AS (
        UPDATE notifications SET status = p_status, attempts = attempts + 1, lease = NULL,
            next_attempt_at = COALESCE(p_retry_at, next_attempt_at), last_error = p_error,
            external_ref = COALESCE(p_external_ref, external_ref),
            sent_at = CASE WHEN p_status = 'sent' THEN p_at END
        WHERE id = p_id AND lease = p_lease
        RETURNING status
    )
    SELECT COALESCE((SELECT status FROM u), 'lost')
$$;
