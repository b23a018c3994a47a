-- Escalation ladder (SPEC §4): after the cycle's breach, `reassign` hands the lead to the next
-- untried rep with a deadline of its own. The cycle's due time never moves.

ALTER TABLE leads
    ADD COLUMN escalation_due_at timestamptz,
    -- Reps that owned the lead in this cycle (the ladder never returns to them).
    ADD COLUMN tried_reps text[] NOT NULL DEFAULT '{}';

DROP INDEX leads_sla_next_check_idx;
ALTER TABLE leads DROP COLUMN sla_next_check_at;
ALTER TABLE leads ADD COLUMN sla_next_check_at timestamptz GENERATED ALWAYS AS (
    CASE
        WHEN state = 'routed' AND sla_at_risk_flagged_at IS NULL THEN sla_at_risk_at
        WHEN state = 'routed' AND sla_breached_at IS NULL THEN sla_due_at
        WHEN state = 'routed' THEN escalation_due_at
        WHEN state = 'accepted' AND first_touched_at IS NULL AND first_touch_breached_at IS NULL
            THEN first_touch_due_at
    END
) STORED;
CREATE INDEX leads_sla_next_check_idx ON leads (sla_next_check_at)
    WHERE sla_next_check_at IS NOT NULL;
-- The escalation step's own work list.
CREATE INDEX leads_escalation_due_idx ON leads (escalation_due_at)
    WHERE escalation_due_at IS NOT NULL AND state = 'routed';
