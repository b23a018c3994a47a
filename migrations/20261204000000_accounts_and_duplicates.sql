-- Judgement at ingest: the account a lead belongs to, and the keys its possible duplicates are
-- found by. The keys are computed in Rust (src/domain/identity.rs, src/domain/account_key.rs),
-- the one place their normalisation rules live; leads stored before this migration have none
-- and are matched again when they are routed next.

-- An account: the company a lead works for, matched by a normalised key (a company or email
-- domain, else a normalised company name). A merged account keeps its row, pointing at the
-- account it was merged into, so its key and id still resolve.
CREATE TABLE accounts (
    id uuid PRIMARY KEY,
    match_key text NOT NULL UNIQUE,
    name text NOT NULL,
    domain text,
    -- Set by RevOps, or by accepting the account (ABM): where its leads go.
    owner text,
    accepted_until timestamptz,
    accepted_by text,
    accepted_at timestamptz,
    merged_into uuid REFERENCES accounts (id),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CHECK (merged_into IS NULL OR merged_into <> id)
);
CREATE INDEX accounts_merged_into_idx ON accounts (merged_into) WHERE merged_into IS NOT NULL;

-- No foreign key to accounts: accounts are never deleted (a merge keeps the row), and the
-- check would cost every ingest a lookup and a row lock.
ALTER TABLE leads
    ADD COLUMN account_id uuid,
    ADD COLUMN email_key text,
    ADD COLUMN phone_key text,
    ADD COLUMN person_key text,
    -- [{lead_id, reason, state, owner}] as found when the current cycle was routed.
    ADD COLUMN possible_duplicates jsonb;

-- (key, id): the newest matches first, without sorting, for a key many leads share.
CREATE INDEX leads_email_key_idx ON leads (email_key, id) WHERE email_key IS NOT NULL;
CREATE INDEX leads_phone_key_idx ON leads (phone_key, id) WHERE phone_key IS NOT NULL;
CREATE INDEX leads_person_key_idx ON leads (person_key, id) WHERE person_key IS NOT NULL;
CREATE INDEX leads_account_idx ON leads (account_id, id) WHERE account_id IS NOT NULL;

-- A queue whose leads go to their account's owner when it has one (sticky account routing).
ALTER TABLE queues ADD COLUMN sticky_account boolean NOT NULL DEFAULT false;
