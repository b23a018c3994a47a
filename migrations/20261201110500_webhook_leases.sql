-- Webhook dispatch without a lock held across the network call, and a circuit breaker.
--
-- Only the head of each (subscription, lead) sequence can be sent (order per lead), so the heads
-- get a table of their own: the dispatcher claims from it alone, and its cost does not grow with
-- the deliveries waiting behind heads. A claim is a lease: `due_at` moves to the lease's end and
-- `lease` gets a fresh token, committed before the POST; the attempt is recorded afterwards by
-- `webhook_record` if the token still matches. A lease that ran out (a replica died) is simply
-- due again.
--
-- Lock order, everywhere: the subscription row before its heads.

ALTER TABLE webhook_subscriptions
    -- Set by the circuit breaker; cleared when RevOps resumes it.
    ADD COLUMN paused_at timestamptz,
    ADD COLUMN pause_reason text,
    ADD COLUMN consecutive_failures integer NOT NULL DEFAULT 0,
    ADD COLUMN failing_since timestamptz;

CREATE TABLE webhook_heads (
    subscription_id uuid NOT NULL REFERENCES webhook_subscriptions (id),
    lead_id         uuid NOT NULL,
    -- The earliest pending delivery of this subscription and lead.
    delivery_id     uuid NOT NULL REFERENCES webhook_deliveries (id),
    -- When it may be claimed: its next attempt, or the end of its lease while one holds it
    -- (locked_until). Heads of a paused subscription are not claimed (dispatchers claim per
    -- active subscription).
    due_at          timestamptz NOT NULL,
    -- Token of the claim in flight, NULL when none.
    lease           uuid,
    PRIMARY KEY (subscription_id, lead_id)
);
-- The claim: one subscription's due heads, earliest first.
CREATE INDEX webhook_heads_due_idx ON webhook_heads (subscription_id, due_at);

INSERT INTO webhook_heads (subscription_id, lead_id, delivery_id, due_at)
SELECT DISTINCT ON (subscription_id, lead_id) subscription_id, lead_id, id, next_attempt_at
FROM webhook_deliveries WHERE status = 'pending'
ORDER BY subscription_id, lead_id, seq;

-- The dispatcher reads the heads now; the per-(subscription, lead) order index stays.
DROP INDEX webhook_deliveries_due_idx;

-- Makes sure (subscription, lead) has a head once the caller's pending deliveries commit. On
-- conflict the existing head is locked (DO UPDATE … WHERE false writes nothing but locks), so
-- a `webhook_record` advancing or removing it either waits for this transaction (and then sees
-- its deliveries) or finishes first (and a removed head is inserted here afresh).
CREATE FUNCTION webhook_ensure_heads(rows jsonb) RETURNS void LANGUAGE sql AS $$
    INSERT INTO webhook_heads (subscription_id, lead_id, delivery_id, due_at)
    SELECT DISTINCT ON (r.subscription_id, r.lead_id) r.subscription_id, r.lead_id, r.id,
           r.next_attempt_at
    FROM jsonb_to_recordset(rows)
         AS r (id uuid, subscription_id uuid, lead_id uuid, seq bigint, next_attempt_at timestamptz)
    ORDER BY r.subscription_id, r.lead_id, r.seq
    ON CONFLICT (subscription_id, lead_id) DO UPDATE SET lease = webhook_heads.lease WHERE false
$$;

CREATE OR REPLACE FUNCTION lead_history_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    written jsonb;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM webhook_subscriptions WHERE deleted_at IS NULL) THEN
        RETURN NULL;
    END IF;
    WITH ins AS (
        INSERT INTO webhook_deliveries (id, subscription_id, event_id, event_type, lead_id, seq,
                                        payload, next_attempt_at, created_at)
        SELECT salgate_uuid_v7(), s.id, e.event_id, e.event_type, e.lead_id, e.id,
               jsonb_build_object('id', e.event_id, 'type', e.event_type,
                                  'occurred_at', e.occurred_at, 'entry', e.entry,
                                  'lead', to_jsonb(l)),
               e.recorded_at, e.recorded_at
        -- The volatile id keeps this subquery apart: one event id per entry, shared by every
        -- subscription that receives it.
        FROM (SELECT n.id, n.lead_id, n.occurred_at, n.recorded_at, to_jsonb(n) AS entry,
                     webhook_event_type(n.kind) AS event_type, salgate_uuid_v7() AS event_id
              FROM new_rows n) e
        JOIN leads l ON l.id = e.lead_id
        JOIN webhook_subscriptions s
          ON s.deleted_at IS NULL AND (s.events = '{}' OR e.event_type = ANY (s.events))
        WHERE e.event_type IS NOT NULL
        RETURNING id, subscription_id, lead_id, seq, next_attempt_at
    )
    SELECT jsonb_agg(to_jsonb(ins)) INTO written FROM ins;
    IF written IS NOT NULL THEN
        PERFORM webhook_ensure_heads(written);
    END IF;
    RETURN NULL;
END;
$$;

-- Records one attempt of a claimed head and moves the head on. Every attempt is recorded; the
-- delivery and head change only while `p_lease` still holds the head (else a newer claim owns
-- it). A plpgsql function: each statement sees what committed before it, so the next pending
-- delivery is read after the head's lock is taken. Returns the delivery's status, or 'lost'.
CREATE FUNCTION webhook_record(
    p_subscription uuid, p_lead uuid, p_delivery uuid, p_lease uuid, p_at timestamptz,
    p_status_code integer, p_error text, p_duration_ms integer,
    -- NULL with an error: give up (dead).
    p_retry_at timestamptz,
    p_pause_failures integer, p_pause_after interval
) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text := CASE WHEN p_error IS NULL THEN 'delivered'
                    WHEN p_retry_at IS NULL THEN 'dead' ELSE 'pending' END;
    nxt record;
BEGIN
    INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, error, duration_ms)
    VALUES (p_delivery, p_at, p_status_code, p_error, p_duration_ms);
    -- The subscription first (lock order); a healthy one is not written at all.
    IF p_error IS NULL THEN
        UPDATE webhook_subscriptions SET consecutive_failures = 0, failing_since = NULL
        WHERE id = p_subscription AND consecutive_failures <> 0;
    ELSE
        UPDATE webhook_subscriptions SET
            consecutive_failures = consecutive_failures + 1,
            failing_since = COALESCE(failing_since, p_at),
            paused_at = CASE WHEN paused_at IS NULL AND deleted_at IS NULL
                              AND consecutive_failures + 1 >= p_pause_failures
                              AND p_at - COALESCE(failing_since, p_at) >= p_pause_after
                             THEN p_at ELSE paused_at END,
            pause_reason = CASE WHEN paused_at IS NULL AND deleted_at IS NULL
                                 AND consecutive_failures + 1 >= p_pause_failures
                                 AND p_at - COALESCE(failing_since, p_at) >= p_pause_after
                                THEN format('%s consecutive failed attempts since %s; last: %s',
                                            consecutive_failures + 1,
                                            COALESCE(failing_since, p_at), p_error)
                                ELSE pause_reason END
        WHERE id = p_subscription;
    END IF;
    PERFORM 1 FROM webhook_heads
    WHERE subscription_id = p_subscription AND lead_id = p_lead AND lease = p_lease FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'lost';
    END IF;
    UPDATE webhook_deliveries SET status = st, attempts = attempts + 1,
        next_attempt_at = COALESCE(p_retry_at, next_attempt_at), last_error = p_error,
        delivered_at = CASE WHEN st = 'delivered' THEN p_at END
    WHERE id = p_delivery;
    IF st = 'pending' THEN
        UPDATE webhook_heads SET lease = NULL, due_at = p_retry_at
        WHERE subscription_id = p_subscription AND lead_id = p_lead;
        RETURN st;
    END IF;
    SELECT id, next_attempt_at INTO nxt FROM webhook_deliveries
    WHERE subscription_id = p_subscription AND lead_id = p_lead AND status = 'pending'
    ORDER BY seq LIMIT 1;
    IF FOUND THEN
        UPDATE webhook_heads SET lease = NULL, delivery_id = nxt.id,
            due_at = LEAST(nxt.next_attempt_at, p_at)
        WHERE subscription_id = p_subscription AND lead_id = p_lead;
    ELSE
        DELETE FROM webhook_heads WHERE subscription_id = p_subscription AND lead_id = p_lead;
    END IF;
    RETURN st;
END;
$$;
