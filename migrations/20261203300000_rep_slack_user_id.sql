-- A rep's Slack user id (issue 17): whose button clicks in Slack decide as that rep. One rep per
-- Slack user. `IF NOT EXISTS`: the notification outbox adds the same column; whichever runs
-- first makes it.
ALTER TABLE reps ADD COLUMN IF NOT EXISTS slack_user_id text;
CREATE UNIQUE INDEX IF NOT EXISTS reps_slack_user_id ON reps (slack_user_id)
    WHERE slack_user_id IS NOT NULL;
