-- Ingest rules (docs/api.md, "Ingest rules"): RevOps' ordered conditions and actions, applied
-- to each lead before it is stored. The condition and action are kept as the JSON a rule body
-- gives (normalised by the parser in src/domain/rules); the service parses them again when it
-- loads them, so a stored rule is always one the parser accepts.
CREATE TABLE ingest_rules (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    position   integer NOT NULL CHECK (position >= 0),
    mode       text NOT NULL CHECK (mode IN ('dry_run', 'live')),
    condition  jsonb NOT NULL,
    action     jsonb NOT NULL,
    -- Bumped by every write; the ETag of `GET /v1/rules/{id}` and what `If-Match` names.
    version    integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX ingest_rules_order_idx ON ingest_rules (position, created_at, id);

-- Every change of a rule, the rule as it was written (a deletion keeps the last body), so
-- a decision by `rule:<id>` can always be traced to what that rule said at the time.
CREATE TABLE ingest_rule_history (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule_id    uuid NOT NULL,
    version    integer NOT NULL,
    change     text NOT NULL CHECK (change IN ('created', 'updated', 'deleted')),
    body       jsonb NOT NULL,
    actor      text NOT NULL,
    at         timestamptz NOT NULL
);
CREATE INDEX ingest_rule_history_rule_idx ON ingest_rule_history (rule_id, id);

CREATE FUNCTION ingest_rule_history_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ingest_rule_history is append-only';
END;
$$;

CREATE TRIGGER ingest_rule_history_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON ingest_rule_history
    FOR EACH STATEMENT EXECUTE FUNCTION ingest_rule_history_is_append_only();

-- What a dry-run rule would have done to a lead's cycle; nothing else of the lead changes.
-- No foreign keys: a deleted rule's records stay (its history says what it was), and the
-- check would cost every ingest a lookup.
CREATE TABLE rule_dry_runs (
    rule_id uuid NOT NULL,
    lead_id uuid NOT NULL,
    cycle   integer NOT NULL,
    action  jsonb NOT NULL,
    at      timestamptz NOT NULL,
    PRIMARY KEY (rule_id, lead_id, cycle)
);
CREATE INDEX rule_dry_runs_recent_idx ON rule_dry_runs (rule_id, at DESC);
