-- CRM write-back (docs/crm.md): salgate's decisions written to the HubSpot contact or the
-- Salesforce Lead a lead came from. A trigger on the history log writes one row per entry that
-- concerns the CRM, in the transaction of the change (the outbox, as for webhooks and
-- notifications); the CRM writer sends them at least once, in order per lead.

-- A rep's owner ids in each CRM (a rep registered because a CRM named it as an owner is its
-- own owner id). One rep per CRM owner.
ALTER TABLE reps
    ADD COLUMN hubspot_owner_id text,
    ADD COLUMN salesforce_owner_id text;
CREATE UNIQUE INDEX reps_hubspot_owner_id ON reps (hubspot_owner_id) WHERE hubspot_owner_id IS NOT NULL;
CREATE UNIQUE INDEX reps_salesforce_owner_id ON reps (salesforce_owner_id) WHERE salesforce_owner_id IS NOT NULL;

-- Whether the rep was first registered because a CRM named it as an owner: its id is then
-- that CRM's owner id. Kept when RevOps later describes the rep (which clears
-- `auto_registered`).
ALTER TABLE reps ADD COLUMN registered_from_crm boolean NOT NULL DEFAULT false;
UPDATE reps SET registered_from_crm = true WHERE auto_registered;
CREATE FUNCTION reps_keep_crm_origin() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.registered_from_crm := NEW.auto_registered OR NEW.registered_from_crm
        OR (TG_OP = 'UPDATE' AND OLD.registered_from_crm);
    RETURN NEW;
END;
$$;
CREATE TRIGGER reps_keep_crm_origin BEFORE INSERT OR UPDATE ON reps
    FOR EACH ROW EXECUTE FUNCTION reps_keep_crm_origin();

-- The CRMs some replica can write to, set at start-up from its settings. With none enabled
-- (the default) the trigger reads this two-row table and stops.
CREATE TABLE crm_targets (
    crm        text PRIMARY KEY CHECK (crm IN ('hubspot', 'salesforce')),
    enabled    boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO crm_targets (crm) VALUES ('hubspot'), ('salesforce');

CREATE TABLE crm_writebacks (
    id              uuid PRIMARY KEY,
    crm             text NOT NULL CHECK (crm IN ('hubspot', 'salesforce')),
    lead_id         uuid NOT NULL,
    -- The CRM record: the lead's external_id (HubSpot contact id, Salesforce Lead Id).
    record_id       text NOT NULL,
    -- The history entry: the order of one lead's write-backs, and the dedupe key.
    history_id      bigint NOT NULL,
    event           text NOT NULL CHECK (event IN ('routed', 'accepted', 'rejected', 'recycled',
                                                   'assigned', 'sla_breached')),
    -- What the lead said right after the change, in salgate's terms; the writer maps it to
    -- the CRM's fields when it sends.
    fields          jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    -- The next attempt; while a claim holds the row, the end of its lease.
    next_attempt_at timestamptz NOT NULL,
    lease           uuid,
    -- When the latest claim took it (the echo check compares the CRM's change times with it).
    attempted_at    timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL,
    sent_at         timestamptz,
    CONSTRAINT crm_writebacks_once UNIQUE (history_id, crm)
);
-- The claim, and "nothing earlier pending for this lead".
CREATE INDEX crm_writebacks_due_idx ON crm_writebacks (crm, next_attempt_at) WHERE status = 'pending';
CREATE INDEX crm_writebacks_lead_idx ON crm_writebacks (lead_id, crm, history_id);
CREATE INDEX crm_writebacks_failed_idx ON crm_writebacks (created_at DESC) WHERE status = 'failed';

-- Once per statement, after it (the lead rows read are the ones it wrote), over the history
-- rows it inserted. A lead's CRM is its source: `hubspot` or `salesforce`.
CREATE FUNCTION lead_history_crm_writeback() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM crm_targets WHERE enabled) THEN
        RETURN NULL;
    END IF;
    INSERT INTO crm_writebacks (id, crm, lead_id, record_id, history_id, event, fields,
                                next_attempt_at, created_at)
    SELECT salgate_uuid_v7(), t.crm, l.id, l.external_id, n.id,
           CASE WHEN n.kind IN ('assigned', 'reassigned', 'returned_to_queue') THEN 'assigned'
                ELSE n.kind END,
           jsonb_build_object(
               'state', l.state, 'cycle', n.cycle, 'rejection_code', l.rejection_code,
               'accepted_by', l.accepted_by, 'accepted_at', l.accepted_at,
               'sla_status', lead_sla_status(l, n.recorded_at), 'sla_due_at', l.sla_due_at,
               'owner', l.owner,
               -- The owner is written when salgate chose it (routing, reassignment) and the
               -- rep has an owner id in this CRM.
               'owner_crm_id', CASE WHEN n.kind IN ('routed', 'assigned', 'reassigned') THEN
                   CASE t.crm WHEN 'hubspot' THEN r.hubspot_owner_id
                              ELSE r.salesforce_owner_id END END),
           n.recorded_at, n.recorded_at
    FROM new_rows n
    JOIN leads l ON l.id = n.lead_id
    JOIN crm_targets t ON t.enabled AND t.crm = l.source
    LEFT JOIN LATERAL (
        SELECT COALESCE(x.hubspot_owner_id, CASE WHEN x.registered_from_crm THEN x.id END)
                   AS hubspot_owner_id,
               COALESCE(x.salesforce_owner_id, CASE WHEN x.registered_from_crm THEN x.id END)
                   AS salesforce_owner_id
        FROM reps x WHERE x.id = l.owner
    ) r ON true
    WHERE n.kind IN ('routed', 'accepted', 'rejected', 'recycled', 'assigned', 'reassigned',
                     'returned_to_queue', 'sla_breached')
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;

CREATE TRIGGER lead_history_crm_writeback
    AFTER INSERT ON lead_history
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lead_history_crm_writeback();

-- One attempt's outcome, applied only while `p_lease` still holds the row (else a newer claim
-- owns it: 'lost'). `p_status` is 'sent', 'pending' (retry at `p_retry_at`) or 'failed'.
CREATE FUNCTION crm_writeback_record(
    p_id uuid, p_lease uuid, p_at timestamptz, p_status text, p_retry_at timestamptz,
    p_error text
) RETURNS text LANGUAGE sql AS $$
    WITH u AS (
        UPDATE crm_writebacks SET status = p_status, attempts = attempts + 1, lease = NULL,
            next_attempt_at = COALESCE(p_retry_at, next_attempt_at), last_error = p_error,
            sent_at = CASE WHEN p_status = 'sent' THEN p_at END
        WHERE id = p_id AND lease = p_lease
        RETURNING status
    )
    SELECT COALESCE((SELECT status FROM u), 'lost')
$$;
