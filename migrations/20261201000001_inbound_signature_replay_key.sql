-- Signed ingest replays are keyed on what the signature means, not on how its header was spelt:
-- (source, timestamp, decoded MAC). The old table keyed on the header text, whose variants
-- slipped through; its rows only guard the last 300 s, so it is replaced rather than converted.
DROP TABLE inbound_signatures;
CREATE TABLE inbound_signatures (
    source  text        NOT NULL,
    t       bigint      NOT NULL,
    mac     bytea       NOT NULL,
    seen_at timestamptz NOT NULL,
    CONSTRAINT inbound_signatures_pkey PRIMARY KEY (source, t, mac)
);
CREATE INDEX inbound_signatures_seen_at ON inbound_signatures (seen_at);
