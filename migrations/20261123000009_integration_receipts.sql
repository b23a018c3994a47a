-- Inbound messages already processed, so a redelivery by a CRM changes nothing (HubSpot:
-- portalId/subscriptionId/eventId/objectId; Salesforce: the notification Id).
CREATE TABLE integration_receipts (
    provider    text NOT NULL,
    key         text NOT NULL,
    lead_id     uuid,
    received_at timestamptz NOT NULL,
    CONSTRAINT integration_receipts_pkey PRIMARY KEY (provider, key)
);
