-- SLA: policies per lead type, business calendars, per-lead due times and flags, and the
-- index the scanner claims work from.

CREATE TABLE calendars (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    time_zone   text NOT NULL,
    -- [{"weekday": "mon", "start": "09:00", "end": "17:00"}, ...]
    windows     jsonb NOT NULL,
    -- ["2026-12-25", ...] local dates
    holidays    jsonb NOT NULL DEFAULT '[]'::jsonb,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE sla_policies (
    lead_type           text PRIMARY KEY,
    -- ISO 8601 text as RevOps wrote it, and its length in seconds for arithmetic.
    accept_within       text NOT NULL,
    accept_within_s     bigint NOT NULL CHECK (accept_within_s > 0),
    first_touch_within  text NOT NULL,
    first_touch_within_s bigint NOT NULL CHECK (first_touch_within_s > 0),
    at_risk_ratio       double precision NOT NULL DEFAULT 0.75 CHECK (at_risk_ratio > 0 AND at_risk_ratio < 1),
    on_breach           text NOT NULL DEFAULT 'notify'
                        CHECK (on_breach IN ('notify', 'return_to_queue', 'reassign')),
    calendar_id         text REFERENCES calendars (id),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

INSERT INTO sla_policies (lead_type, accept_within, accept_within_s, first_touch_within, first_touch_within_s) VALUES
    ('default', 'PT24H', 86400, 'PT4H', 14400),
    ('demo_request', 'PT1H', 3600, 'PT4H', 14400),
    ('pricing_request', 'PT1H', 3600, 'PT4H', 14400),
    ('contact_request', 'PT1H', 3600, 'PT4H', 14400);

ALTER TABLE leads
    ADD COLUMN sla_policy              text,
    ADD COLUMN sla_due_at              timestamptz,
    ADD COLUMN sla_at_risk_at          timestamptz,
    ADD COLUMN sla_at_risk_flagged_at  timestamptz,
    ADD COLUMN sla_breached_at         timestamptz,
    ADD COLUMN first_touch_due_at      timestamptz,
    ADD COLUMN first_touched_at        timestamptz,
    ADD COLUMN first_touch_breached_at timestamptz;

-- The next instant the scanner must look at a lead: the earliest deadline not yet flagged that
-- still applies to its state; NULL when nothing is pending. Generated, so no write path can
-- forget to maintain it.
ALTER TABLE leads ADD COLUMN sla_next_check_at timestamptz GENERATED ALWAYS AS (
    CASE
        WHEN state = 'routed' AND sla_at_risk_flagged_at IS NULL THEN sla_at_risk_at
        WHEN state = 'routed' AND sla_breached_at IS NULL THEN sla_due_at
        WHEN state = 'accepted' AND first_touched_at IS NULL AND first_touch_breached_at IS NULL
            THEN first_touch_due_at
    END
) STORED;

-- The scanner reads only what is coming due: its cost follows the number of due leads, not
-- the number of open ones.
CREATE INDEX leads_sla_next_check_idx ON leads (sla_next_check_at)
    WHERE sla_next_check_at IS NOT NULL;
