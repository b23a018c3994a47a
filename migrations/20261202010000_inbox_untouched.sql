-- The SDR inbox lists a rep's accepted leads still waiting for their first touch, by when it
-- is due; without this it would read every accepted lead the rep ever had.
CREATE INDEX leads_inbox_untouched_idx ON leads (owner, first_touch_due_at)
    WHERE state = 'accepted' AND first_touched_at IS NULL;
