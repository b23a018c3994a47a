-- Data generator of the metrics benchmark (bench/metrics_report.rs): leads FROM … FROM + N - 1
-- of TOTAL, routed evenly over the 365 days before NOW in order of i (as a live system writes
-- them), each with exactly three history rows, so 1,000,000 leads give 3,000,000 rows.
-- Deterministic (no random()): lead i always gets the same data.
-- The placeholders FROM, N, TOTAL and NOW (in braces) are replaced by the benchmark.
--
-- By i % 20:
--   0–11 accepted (routed, accepted, touched)        60 %
--   12–17 rejected (routed, sla_at_risk, rejected)   30 %, spread over 8 codes
--   18 recycled, then routed again (two cycles)        5 %
--   19 left open (routed, sla_at_risk, sla_breached)   5 %
-- Dimensions cycle through 3 sources, 4 lead types, 20 campaigns, 5 channels, 5 queues and
-- 50 owners. The history goes through the `lead_cycles` trigger like the service's writes.
--
-- Downstream outcomes of the accepted leads, by (i / 20) % 100 (so spread over every
-- dimension): < 50 a booked meeting (2 days after the decision), < 30 a held one (5 days),
-- < 25 an SQL (7 days), < 12 an opportunity of 1,000–5,900 EUR (14 days), < 4 won (30 days),
-- 12–17 lost (20 days): 1.27 outcomes per accepted lead. Only `lead_outcomes` rows: no report
-- reads their history entries.

BEGIN;

CREATE TEMP TABLE gen ON COMMIT DROP AS
SELECT i, i % 20 AS k,
    md5('bench-' || i)::uuid AS id,
    (ARRAY['hubspot', 'salesforce', 'webform'])[1 + i % 3] AS source,
    (ARRAY['demo_request', 'pricing_request', 'contact_request', 'content_download'])[1 + (i / 3) % 4] AS lead_type,
    'campaign-' || (i / 7) % 20 AS campaign,
    (ARRAY['paid', 'organic', 'event', 'partner', 'outbound'])[1 + (i / 11) % 5] AS channel,
    'queue-' || (i / 13) % 5 AS queue,
    'rep-' || (i / 17) % 50 AS owner,
    (ARRAY['out_of_icp', 'no_budget', 'duplicate', 'title_mismatch', 'existing_customer',
           'competitor', 'misrouted', 'insufficient_data'])[1 + (i / 23) % 8] AS code,
    '{NOW}'::timestamptz - interval '365 days'
        + make_interval(secs => i * 31536000.0 / {TOTAL}) AS t0,
    make_interval(secs => (60 + (i * 31) % 7200)::double precision) AS think
FROM generate_series({FROM}::bigint, {FROM}::bigint + {N}::bigint - 1) AS i;

INSERT INTO leads (id, source, external_id, lead_type, campaign, channel, queue, owner, state,
    cycle, routed_at, created_at, updated_at, sla_policy, sla_due_at, sla_at_risk_at)
SELECT id, source, 'b-' || i, lead_type, campaign, channel, queue, owner,
    CASE WHEN k < 12 THEN 'accepted' WHEN k < 18 THEN 'rejected' ELSE 'routed' END,
    CASE WHEN k = 18 THEN 2 ELSE 1 END,
    CASE WHEN k = 18 THEN t0 + interval '7 days' ELSE t0 END, t0, t0, lead_type,
    t0 + interval '1 hour', t0 + interval '45 minutes'
FROM gen;

INSERT INTO lead_history (lead_id, cycle, kind, from_state, to_state, actor, actor_role, rep_id,
    code, data, occurred_at, recorded_at)
SELECT g.id, e.cycle, e.kind, e.from_state, e.to_state, e.actor, e.role, g.owner, e.code, e.data,
    e.at, e.at
FROM gen g
CROSS JOIN LATERAL (VALUES
    (1, 1, 'routed', NULL, 'routed', 'key:bench', 'ingest', NULL, g.t0,
        jsonb_build_object('source', g.source, 'lead_type', g.lead_type, 'campaign', g.campaign,
            'channel', g.channel, 'queue', g.queue, 'sla_due_at', g.t0 + interval '1 hour')),
    -- accepted
    (2, 1, CASE WHEN g.k < 12 THEN 'accepted' END, 'routed', 'accepted', 'key:bench', 'sdr', NULL,
        g.t0 + g.think,
        jsonb_build_object('accepted_within_sla', g.think <= interval '1 hour',
            'first_touch_due_at', g.t0 + g.think + interval '4 hours')),
    (3, 1, CASE WHEN g.k < 12 THEN 'touched' END, NULL, NULL, 'key:bench', 'sdr', NULL,
        g.t0 + g.think + interval '10 minutes' + make_interval(secs => (g.i % 36000)::double precision),
        '{"channel": "call", "first": true}'::jsonb),
    -- rejected
    (2, 1, CASE WHEN g.k BETWEEN 12 AND 17 THEN 'sla_at_risk' END, NULL, NULL, 'system', 'system',
        NULL, g.t0 + interval '45 minutes', NULL),
    (3, 1, CASE WHEN g.k BETWEEN 12 AND 17 THEN 'rejected' END, 'routed', 'rejected', 'key:bench',
        'sdr', g.code, g.t0 + interval '50 minutes' + g.think, NULL),
    -- recycled, then routed again a week later
    (2, 1, CASE WHEN g.k = 18 THEN 'recycled' END, 'routed', 'recycled', 'key:bench', 'sdr',
        'not_ready', g.t0 + g.think, NULL),
    (3, 2, CASE WHEN g.k = 18 THEN 'routed' END, 'recycled', 'routed', 'key:bench', 'ingest', NULL,
        g.t0 + interval '7 days',
        jsonb_build_object('source', g.source, 'lead_type', g.lead_type, 'campaign', g.campaign,
            'channel', g.channel, 'queue', g.queue,
            'sla_due_at', g.t0 + interval '7 days 1 hour')),
    -- open and breached
    (2, 1, CASE WHEN g.k = 19 THEN 'sla_at_risk' END, NULL, NULL, 'system', 'system', NULL,
        g.t0 + interval '45 minutes', NULL),
    (3, 1, CASE WHEN g.k = 19 THEN 'sla_breached' END, NULL, NULL, 'system', 'system', NULL,
        g.t0 + interval '1 hour', NULL)
) AS e(ord, cycle, kind, from_state, to_state, actor, role, code, at, data)
WHERE e.kind IS NOT NULL
ORDER BY g.i, e.ord;

INSERT INTO lead_outcomes (id, lead_id, cycle, cycle_routed_at, kind, at, amount, currency,
    actor, recorded_at)
SELECT md5('outcome-' || g.i || '-' || o.kind)::uuid, g.id, 1, g.t0, o.kind,
    g.t0 + g.think + o.after, o.amount, CASE WHEN o.amount IS NOT NULL THEN 'EUR' END,
    'key:bench', g.t0 + g.think + o.after
FROM gen g
CROSS JOIN LATERAL (VALUES
    ('meeting_booked', interval '2 days', NULL::numeric, (g.i / 20) % 100 < 50),
    ('meeting_held', interval '5 days', NULL, (g.i / 20) % 100 < 30),
    ('sql', interval '7 days', NULL, (g.i / 20) % 100 < 25),
    ('opportunity', interval '14 days', (1000 + (g.i % 50) * 100)::numeric, (g.i / 20) % 100 < 12),
    ('won', interval '30 days', NULL, (g.i / 20) % 100 < 4),
    ('lost', interval '20 days', NULL, (g.i / 20) % 100 BETWEEN 12 AND 17)
) AS o(kind, after, amount, wanted)
WHERE g.k < 12 AND o.wanted;

COMMIT;
