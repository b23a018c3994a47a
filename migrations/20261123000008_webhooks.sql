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

-- AFTER, so the lead row this statement wrote is the one read. The subscription table is tiny;
-- with no subscription nothing is written.
CREATE FUNCTION lead_history_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    event_type text := webhook_event_type(NEW.kind);
    event_id uuid;
BEGIN
    IF event_type IS NULL OR NOT EXISTS (SELECT 1 FROM webhook_subscriptions WHERE deleted_at IS NULL) THEN
        RETURN NULL;
    END IF;
    event_id := salgate_uuid_v7();
    INSERT INTO webhook_deliveries (id, subscription_id, event_id, event_type, lead_id, seq,
                                    payload, next_attempt_at, created_at)
    SELECT salgate_uuid_v7(), s.id, event_id, event_type, NEW.lead_id, NEW.id,
           jsonb_build_object('id', event_id, 'type', event_type, 'occurred_at', NEW.occurred_at,
                              'entry', to_jsonb(NEW), 'lead', to_jsonb(l)),
           NEW.recorded_at, NEW.recorded_at
    FROM webhook_subscriptions s, leads l
    WHERE s.deleted_at IS NULL AND (s.events = '{}' OR event_type = ANY (s.events))
      AND l.id = NEW.lead_id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER lead_history_outbox
    AFTER INSERT ON lead_history
    FOR EACH ROW EXECUTE FUNCTION lead_history_outbox();
