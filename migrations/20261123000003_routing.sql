-- Routing foundations: queues, reps and queue membership.

CREATE TABLE queues (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    calendar_id text REFERENCES calendars (id),
    strategy    text NOT NULL CHECK (strategy IN ('round_robin', 'least_loaded', 'claim')),
    -- Position of the next round-robin pick; advanced in the transaction that assigns.
    rr_next     bigint NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE reps (
    id              text PRIMARY KEY,
    name            text NOT NULL,
    email           text,
    active          boolean NOT NULL DEFAULT true,
    -- Maximum open (routed) leads; NULL = no cap.
    capacity        integer CHECK (capacity >= 0),
    away_until      timestamptz,
    -- Registered because a CRM named it as an owner before anyone described it.
    auto_registered boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);

CREATE TABLE queue_members (
    queue_id text NOT NULL REFERENCES queues (id) ON DELETE CASCADE,
    rep_id   text NOT NULL REFERENCES reps (id) ON DELETE CASCADE,
    PRIMARY KEY (queue_id, rep_id)
);

CREATE INDEX queue_members_rep_idx ON queue_members (rep_id);
-- Open leads per owner (capacity, least-loaded) and the unassigned leads of a queue by urgency
-- (claim).
CREATE INDEX leads_open_owner_idx ON leads (owner) WHERE state = 'routed';
CREATE INDEX leads_claimable_idx ON leads (queue, sla_due_at) WHERE state = 'routed' AND owner IS NULL;
