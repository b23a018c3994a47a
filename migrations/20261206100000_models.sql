-- The acceptance model (docs/api.md §6, "Acceptance model"). Each training run stores one row:
-- the counts the serving model is fitted from (naive Bayes refits in microseconds from them,
-- so every replica serves the same model from this row), when and on what it was trained, and
-- its quality on the time-based holdout. The newest row is the model; a run keeps the newest
-- few and deletes the older ones in the statement that stores it.
CREATE TABLE models (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    trained_at      timestamptz NOT NULL,
    -- false: fewer labelled cycles than the minimum; no lead gets a prediction.
    ready           boolean NOT NULL,
    -- The routing times of the cycles trained on, and where the holdout starts.
    period_from     timestamptz,
    period_to       timestamptz,
    holdout_from    timestamptz,
    -- Labelled cycles in the period (the serving model's training set), and of those the
    -- holdout's (routed at or after holdout_from).
    training_cycles bigint NOT NULL CHECK (training_cycles >= 0),
    holdout_cycles  bigint NOT NULL CHECK (holdout_cycles >= 0),
    -- Smoothing and minimum support the counts are fitted with.
    alpha           double precision NOT NULL,
    min_support     bigint NOT NULL,
    counts          jsonb NOT NULL,
    -- AUC, Brier score and calibration buckets on the holdout (domain::model::eval::Quality).
    quality         jsonb NOT NULL
);
