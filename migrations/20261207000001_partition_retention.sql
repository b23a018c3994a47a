-- Retention by partition: a month of an outbox whose every row is past retention and final
-- is detached and dropped (no row deletes, no dead tuples to vacuum), and the SLA
-- notifications stay once per lead and cycle across months.

-- Drops the monthly partitions of `parent` (`webhook_deliveries` or `notifications`) that
-- hold nothing retention keeps, returning their names. A row is kept unless the row purges of
-- src/db/retention.rs would delete it: delivered/sent before `sent_before`, or dead, created
-- (and last attempted) before `dead_before`. Only months wholly before both cutoffs are
-- looked at; the DEFAULT partition never (its rows go by the row purges).
CREATE FUNCTION salgate_drop_expired_partitions(
    parent regclass, sent_before timestamptz, dead_before timestamptz
) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    keep text := CASE parent
        WHEN 'webhook_deliveries'::regclass THEN
            'NOT ((t.status = ''delivered'' AND t.delivered_at < $1) OR (t.status = ''dead'''
            ' AND t.created_at < $2 AND NOT EXISTS (SELECT 1 FROM webhook_attempts a'
            ' WHERE a.delivery_id = t.id AND a.attempted_at >= $2)))'
        WHEN 'notifications'::regclass THEN
            'NOT ((t.status = ''sent'' AND t.sent_at < $1) OR (t.status = ''dead'''
            ' AND t.next_attempt_at < $2 AND t.created_at < $2))'
    END;
    p record;
    kept boolean;
BEGIN
    IF keep IS NULL THEN
        RAISE EXCEPTION '% is not dropped by month (history is kept forever)', parent;
    END IF;
    -- Never queue behind a long transaction while holding up the outbox's writers.
    PERFORM set_config('lock_timeout', '2s', true);
    FOR p IN
        SELECT c.oid::regclass AS part, c.relname::text AS name
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = parent AND c.relname ~ '_p[0-9]{6}$'
          AND (to_date(right(c.relname, 6), 'YYYYMM')::timestamp AT TIME ZONE 'UTC')
              + interval '1 month' <= LEAST(sent_before, dead_before)
        ORDER BY c.relname
    LOOP
        -- The whole month, read without a lock (writers go on meanwhile).
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s t WHERE %s)', p.part, keep)
            INTO kept USING sent_before, dead_before;
        CONTINUE WHEN kept;
        BEGIN
            -- Writers of its rows wait from here on, so none turns pending again (a dead
            -- delivery redelivered) between this check (a partial-index probe) and the drop.
            EXECUTE format('LOCK TABLE %s IN EXCLUSIVE MODE', p.part);
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE status = ''pending'')', p.part)
                INTO kept;
            CONTINUE WHEN kept;
            EXECUTE format('ALTER TABLE %s DETACH PARTITION %s', parent, p.part);
            IF parent = 'webhook_deliveries'::regclass THEN
                EXECUTE format('DELETE FROM webhook_attempts WHERE delivery_id IN '
                               '(SELECT id FROM %s)', p.part);
            END IF;
            EXECUTE format('DROP TABLE %s', p.part);
        EXCEPTION WHEN lock_not_available THEN
            -- Busy: the next pass tries again.
            CONTINUE;
        END;
        RETURN NEXT p.name;
    END LOOP;
END;
$$;

-- The SLA kinds are once per lead and cycle whatever writes them; `notifications_once_per_cycle`
-- now holds within a month (it includes the partition key), so the trigger also looks in every
-- month first. Otherwise as in the notifications migration.
CREATE OR REPLACE FUNCTION lead_history_notify() RETURNS trigger LANGUAGE plpgsql AS $$
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
    -- Once per lead and cycle across months too (the unique index holds within one).
    WHERE NOT (x.kind IN ('at_risk', 'breached', 'first_touch_missed') AND EXISTS (
        SELECT 1 FROM notifications o
        WHERE o.lead_id = x.lead_id AND o.cycle = x.cycle AND o.kind = x.kind
          AND o.channel = x.channel AND o.recipient = x.recipient
          AND o.kind IN ('at_risk', 'breached', 'first_touch_missed')))
    ORDER BY event_id, channel, recipient
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;
