-- Inbound messages already processed, so a redelivery by a CRM changes nothing (HubSpot:
-- portalId/subscriptionId/eventId/objectId; Salesforce: the notification Id).
CREATE TABLE integration_receipts (
    provider    text NOT NULL,
    key         text NOT NULL,
    lead_id     uuid,
    received_at timestamptz NOT NULL,
    CONSTRAINT integration_receipts_pkey PRIMARY KEY (provider, key)
);

-- Signatures of signed `POST /v1/leads` requests already used, so a captured request cannot be
-- replayed within the 300 s tolerance; older ones are purged.
CREATE TABLE inbound_signatures (
    signature text PRIMARY KEY,
    seen_at   timestamptz NOT NULL
);
