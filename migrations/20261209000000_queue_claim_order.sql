-- The order a queue's claims hand out its unassigned leads (src/domain/claim_order.rs): the
-- earliest due first (as before), or the lead the acceptance model expects sales to accept
-- first.
ALTER TABLE queues ADD COLUMN claim_order text NOT NULL DEFAULT 'due'
    CHECK (claim_order IN ('due', 'likely_accepted'));
