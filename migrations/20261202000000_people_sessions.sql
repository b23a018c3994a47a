-- People sign in to the pages under /app: with a one-time link an admin made, or with an API
-- key. Sessions live here, so any replica serves them. Only SHA-256 hashes of the link and
-- session tokens are stored (256-bit random tokens: a fast hash is enough).

CREATE TABLE sign_in_links (
    id          uuid PRIMARY KEY,
    token_hash  bytea NOT NULL,
    role        text NOT NULL CHECK (role IN ('sdr', 'revops', 'admin')),
    rep_id      text,
    -- Who made it, as the history names actors (`key:<id>`, `session:<id>`, `cli`).
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    -- Set once, by the one sign-in that used it.
    used_at     timestamptz,
    CONSTRAINT sign_in_links_token_hash_key UNIQUE (token_hash),
    CONSTRAINT sign_in_links_sdr_has_rep CHECK ((role = 'sdr') = (rep_id IS NOT NULL))
);

CREATE TABLE sessions (
    id             uuid PRIMARY KEY,
    token_hash     bytea NOT NULL,
    -- Every state-changing form of the session carries this token.
    csrf_token     text NOT NULL,
    role           text NOT NULL CHECK (role IN ('sdr', 'revops', 'admin')),
    rep_id         text,
    -- A session opened with an API key ends when the key is revoked.
    api_key_id     uuid REFERENCES api_keys (id) ON DELETE CASCADE,
    sign_in_link_id uuid REFERENCES sign_in_links (id) ON DELETE SET NULL,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    signed_out_at  timestamptz,
    CONSTRAINT sessions_token_hash_key UNIQUE (token_hash),
    CONSTRAINT sessions_sdr_has_rep CHECK ((role = 'sdr') = (rep_id IS NOT NULL))
);

CREATE INDEX sessions_expires_idx ON sessions (expires_at);
CREATE INDEX sign_in_links_expires_idx ON sign_in_links (expires_at);

-- The SDR inbox reads a rep's open leads by due time, and a queue's unclaimed ones.
CREATE INDEX leads_inbox_owner_idx ON leads (owner, sla_due_at) WHERE state = 'routed';
