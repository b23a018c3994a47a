-- Foundation: leads, their append-only history, taxonomy, API keys, idempotency.

CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    name         text NOT NULL,
    role         text NOT NULL CHECK (role IN ('ingest', 'sdr', 'revops', 'admin')),
    rep_id       text,
    -- SHA-256 of the token: tokens are 256-bit random, so a fast hash is enough and the
    -- token itself is never stored.
    token_hash   bytea NOT NULL,
    token_prefix text NOT NULL,
    created_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    CONSTRAINT api_keys_token_hash_key UNIQUE (token_hash),
    CONSTRAINT api_keys_sdr_has_rep CHECK ((role = 'sdr') = (rep_id IS NOT NULL))
);

CREATE TABLE leads (
    id                  uuid PRIMARY KEY,
    source              text NOT NULL,
    external_id         text NOT NULL,
    lead_type           text NOT NULL,
    email               text,
    first_name          text,
    last_name           text,
    title               text,
    phone               text,
    company             jsonb,
    score               double precision,
    campaign            text,
    channel             text,
    queue               text,
    owner               text,
    attributes          jsonb NOT NULL DEFAULT '{}'::jsonb,
    state               text NOT NULL CHECK (state IN ('routed', 'accepted', 'rejected', 'recycled')),
    cycle               integer NOT NULL CHECK (cycle >= 1),
    routed_at           timestamptz NOT NULL,
    accepted_by         text,
    accepted_at         timestamptz,
    accepted_within_sla boolean,
    rejected_by         text,
    rejected_at         timestamptz,
    rejection_code      text,
    recycled_by         text,
    recycled_at         timestamptz,
    recycle_reason      text,
    decision_note       text,
    next_action         text,
    version             integer NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    CONSTRAINT lead_source_external_id_key UNIQUE (source, external_id)
);

CREATE INDEX leads_owner_idx ON leads (owner, id);
CREATE INDEX leads_queue_idx ON leads (queue, id);
CREATE INDEX leads_state_idx ON leads (state, id);

-- Every transition and event, never updated or deleted (enforced below).
CREATE TABLE lead_history (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lead_id      uuid NOT NULL REFERENCES leads (id),
    cycle        integer NOT NULL,
    kind         text NOT NULL,
    from_state   text,
    to_state     text,
    actor        text NOT NULL,
    actor_role   text NOT NULL,
    rep_id       text,
    code         text,
    note         text,
    data         jsonb,
    -- Business time of the entry (for `routed`, the lead's routed_at).
    occurred_at  timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX lead_history_lead_idx ON lead_history (lead_id, id);

CREATE FUNCTION lead_history_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'lead_history is append-only';
END;
$$;

CREATE TRIGGER lead_history_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON lead_history
    FOR EACH STATEMENT EXECUTE FUNCTION lead_history_is_append_only();

-- Rejection codes and recycle reasons share one shape.
CREATE TABLE reason_codes (
    kind       text NOT NULL CHECK (kind IN ('rejection', 'recycle')),
    code       text NOT NULL,
    label      text NOT NULL,
    active     boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reason_codes_pkey PRIMARY KEY (kind, code)
);

INSERT INTO reason_codes (kind, code, label) VALUES
    ('rejection', 'title_mismatch', 'Title does not match the buyer persona'),
    ('rejection', 'company_size_mismatch', 'Company size outside the target range'),
    ('rejection', 'out_of_territory', 'Outside the rep''s territory'),
    ('rejection', 'out_of_icp', 'Outside the ideal customer profile'),
    ('rejection', 'duplicate', 'Duplicate of another lead'),
    ('rejection', 'existing_opportunity', 'Already has an open opportunity'),
    ('rejection', 'existing_customer', 'Already a customer'),
    ('rejection', 'competitor', 'Works for a competitor'),
    ('rejection', 'insufficient_data', 'Not enough data to act on'),
    ('rejection', 'student_or_consultant', 'Student or consultant'),
    ('rejection', 'no_budget', 'No budget'),
    ('rejection', 'misrouted', 'Routed to the wrong team'),
    ('rejection', 'other', 'Other (note required)'),
    ('recycle', 'not_ready', 'Not ready to buy'),
    ('recycle', 'needs_nurture', 'Needs more nurturing'),
    ('recycle', 'insufficient_data', 'Not enough data to act on'),
    ('recycle', 'no_response', 'No response'),
    ('recycle', 'other', 'Other');

-- Idempotency-Key: the first response to a key is kept for 24 h and replayed.
CREATE TABLE idempotency_keys (
    api_key_id    uuid NOT NULL,
    key           text NOT NULL,
    request_hash  bytea NOT NULL,
    status        smallint,           -- NULL while the first request is in flight
    headers       jsonb,
    body          bytea,
    created_at    timestamptz NOT NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (api_key_id, key)
);

CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
