-- Outbound webhooks (SPEC §7). Every history entry is an event; a trigger writes one delivery
-- per matching subscription in the transaction of the change (the outbox), carrying the lead as
-- it was right after the change. The dispatcher sends them at least once, in order per lead and
-- subscription, and records every attempt.

CREATE FUNCTION salgate_uuid_v7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
    -- PostgreSQL 15 has no uuidv7(): 48-bit Unix milliseconds in front, version 7.
    SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
        PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
        FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid
$$;

CREATE TABLE webhook_subscriptions (
    id          uuid PRIMARY KEY,
    url         text NOT NULL,
    -- Event types to send; empty = all.
    events      text[] NOT NULL DEFAULT '{}',
    -- Signs the deliveries; shown once at creation.
    secret      text NOT NULL,
    description text,
    created_at  timestamptz NOT NULL,
    deleted_at  timestamptz
);

CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY,
    subscription_id uuid NOT NULL REFERENCES webhook_subscriptions (id),
    -- One event can go to several subscriptions: same event id, one delivery each.
    event_id        uuid NOT NULL,
    event_type      text NOT NULL,
    lead_id         uuid NOT NULL,
    -- The history entry's id: the order of events of one lead.
    seq             bigint NOT NULL,
    payload         jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_error      text,
    created_at      timestamptz NOT NULL,
    delivered_at    timestamptz
);

-- The dispatcher's work list, and the "nothing earlier pending for this lead" check.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_order_idx ON webhook_deliveries (subscription_id, lead_id, seq) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_subscription_idx ON webhook_deliveries (subscription_id, created_at DESC);

CREATE TABLE webhook_attempts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id  uuid NOT NULL REFERENCES webhook_deliveries (id),
    attempted_at timestamptz NOT NULL,
    -- HTTP status of the receiver's answer; NULL when there was none (timeout, refused).
    status_code  integer,
    error        text,
    duration_ms  integer NOT NULL
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);

CREATE FUNCTION webhook_event_type(kind text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE kind
        WHEN 'routed' THEN 'lead.routed'
        WHEN 'assigned' THEN 'lead.assigned'
        WHEN 'reassigned' THEN 'lead.assigned'
        WHEN 'returned_to_queue' THEN 'lead.assigned'
        WHEN 'accepted' THEN 'lead.accepted'
        WHEN 'rejected' THEN 'lead.rejected'
        WHEN 'recycled' THEN 'lead.recycled'
        WHEN 'touched' THEN 'lead.touched'
        WHEN 'sla_at_risk' THEN 'lead.sla_at_risk'
        WHEN 'sla_breached' THEN 'lead.sla_breached'
        WHEN 'first_touch_breached' THEN 'lead.first_touch_breached'
    END
$$;

-- Once per statement, AFTER it (so the lead rows it wrote are the ones read), over the history
-- rows it inserted: one check of the (tiny) subscription table per statement, and nothing
-- written when there is no subscription. A batch of 1,000 leads is one trigger call.
CREATE FUNCTION lead_history_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM webhook_subscriptions WHERE deleted_at IS NULL) THEN
        RETURN NULL;
    END IF;
    INSERT INTO webhook_deliveries (id, subscription_id, event_id, event_type, lead_id, seq,
                                    payload, next_attempt_at, created_at)
    SELECT salgate_uuid_v7(), s.id, e.event_id, e.event_type, e.lead_id, e.id,
           jsonb_build_object('id', e.event_id, 'type', e.event_type,
                              'occurred_at', e.occurred_at, 'entry', e.entry, 'lead', to_jsonb(l)),
           e.recorded_at, e.recorded_at
    -- The volatile id keeps this subquery apart: one event id per entry, shared by every
    -- subscription that receives it.
    FROM (SELECT n.id, n.lead_id, n.occurred_at, n.recorded_at, to_jsonb(n) AS entry,
                 webhook_event_type(n.kind) AS event_type, salgate_uuid_v7() AS event_id
          FROM new_rows n) e
    JOIN leads l ON l.id = e.lead_id
    JOIN webhook_subscriptions s
      ON s.deleted_at IS NULL AND (s.events = '{}' OR e.event_type = ANY (s.events))
    WHERE e.event_type IS NOT NULL;
    RETURN NULL;
END;
$$;

CREATE TRIGGER lead_history_outbox
    AFTER INSERT ON lead_history
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lead_history_outbox();
