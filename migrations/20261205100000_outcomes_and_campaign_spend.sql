-- Downstream outcomes of a lead (meetings, SQL, opportunity, won, lost) and what campaigns
-- cost. Outcomes feed the funnel report; spend feeds its cost per lead.

-- One row per outcome the CRM or a client reported. `cycle` is the lead's cycle when the
-- outcome was stored, and `cycle_routed_at` that cycle's routing time (a cycle's routing time
-- never changes), so the funnel reads the outcomes of a period's cycles by range.
CREATE TABLE lead_outcomes (
    id              uuid PRIMARY KEY,
    lead_id         uuid NOT NULL REFERENCES leads (id),
    cycle           integer NOT NULL CHECK (cycle >= 1),
    cycle_routed_at timestamptz NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('meeting_booked', 'meeting_held', 'sql',
                                                  'opportunity', 'won', 'lost')),
    at              timestamptz NOT NULL,
    amount          numeric CHECK (amount >= 0),
    currency        text CHECK (currency ~ '^[A-Z]{3}$'),
    -- The sender's id of the outcome, if it sent one.
    external_id     text,
    actor           text NOT NULL,
    recorded_at     timestamptz NOT NULL,
    CONSTRAINT lead_outcomes_amount_has_currency CHECK ((amount IS NULL) = (currency IS NULL)),
    -- Idempotency: the same outcome posted twice (or raced) is stored once.
    CONSTRAINT lead_outcomes_once UNIQUE (lead_id, kind, external_id)
);

-- Without an external id: once per lead, cycle and kind.
CREATE UNIQUE INDEX lead_outcomes_once_per_cycle ON lead_outcomes (lead_id, cycle, kind)
    WHERE external_id IS NULL;

CREATE INDEX lead_outcomes_cycle_routed_idx ON lead_outcomes (cycle_routed_at);

-- Campaigns with known spend, and their spend per calendar month (one currency a campaign).
CREATE TABLE campaigns (
    id         text PRIMARY KEY,
    currency   text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    updated_at timestamptz NOT NULL
);

CREATE TABLE campaign_spend (
    campaign text NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    -- The first day of the month.
    month    date NOT NULL CHECK (extract(day FROM month) = 1),
    amount   numeric NOT NULL CHECK (amount >= 0),
    CONSTRAINT campaign_spend_pkey PRIMARY KEY (campaign, month)
);
