-- The SQL forms of two rules whose Rust forms live in src/domain, so that each is written once
-- in SQL and tested case by case against Rust (tests/api/rules.rs). Both are single-expression
-- SQL functions: the planner inlines them into the calling statement.

-- A lead's SLA status at `at` (docs/api.md §3), as `domain::sla::status` computes it from what
-- `db::leads::Lead::with_sla` reads: the clock decides while the lead is routed (or has no
-- decision time), the cycle's decision time once decided. The decision time is the accept if
-- there was one, else the reject or recycle. NULL for a lead without deadlines: it shows no
-- `sla` object, so it has no status. Used by the `sla_status` list filter and the `/metrics`
-- open-lead gauges.
CREATE FUNCTION lead_sla_status(l leads, at timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN l.sla_policy IS NULL OR l.sla_due_at IS NULL OR l.sla_at_risk_at IS NULL THEN NULL
        WHEN l.state = 'routed' OR COALESCE(l.accepted_at, l.rejected_at, l.recycled_at) IS NULL THEN
            CASE
                WHEN l.sla_breached_at IS NOT NULL OR at >= l.sla_due_at THEN 'breached'
                WHEN at >= l.sla_at_risk_at THEN 'at_risk'
                ELSE 'on_track'
            END
        WHEN COALESCE(l.accepted_at, l.rejected_at, l.recycled_at) <= l.sla_due_at THEN 'met'
        ELSE 'missed'
    END
$$;

-- Round robin's choice (docs/api.md §4), as `domain::routing::round_robin`: the turn indexes the
-- eligible reps (in id order), counting from the start again past the end. NULL when nobody is
-- eligible.
CREATE FUNCTION round_robin_pick(eligible text[], turn bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN cardinality(eligible) > 0 THEN
        eligible[(1 + ((turn % cardinality(eligible)) + cardinality(eligible)) % cardinality(eligible))::int]
    END
$$;
