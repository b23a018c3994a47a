-- pgbench script: the two statements salgate runs per `POST /v1/leads`: the judgement (the
-- lead's account found or created and its possible duplicates looked up, src/db/judge.rs
-- `JUDGE`) and the insert (src/db/leads/cycle.rs, `insert_new`), issued straight to PostgreSQL. This is the ceiling the HTTP service is
-- compared with.
--
-- Run by bench/run.sh as
--   pgbench -n -M prepared -c C -j 2 -T D -D src=pgbench -f bench/ingest.sql
-- `:src` (set with -D) is the lead source, so these rows can be told apart from the HTTP ones;
-- it and `:rep` become bind parameters under -M prepared, as in the service.
--
-- Differences from the service, kept small on purpose:
-- * the SLA deadlines are computed in Rust from a cached policy (no query); here they are
--   plain interval arithmetic;
-- * the service binds all 23 values from Rust; here the constant ones are literals and the
--   uuids/timestamps are computed by the server;
-- * the service's lead id is a UUIDv7 (time-ordered, `Uuid::now_v7()`); PostgreSQL 15 has no
--   uuidv7(), so the expression below builds one from gen_random_uuid() and the clock
--   (48-bit Unix milliseconds in front, version nibble set to 7), giving the primary key the
--   same append-mostly insert pattern;
-- * the external id is `'pg-' || :client_id || '-' || :n` with :n random in a range of 10^15,
--   the same in both statements; the email is unique per lead like the HTTP bodies', at
--   example.com (one account for every lead, as there);
-- * `JUDGE` binds its rows as one jsonb built in Rust; here the server builds the one row with
--   jsonb_build_array(jsonb_build_object(...));
-- * the `routed` entry's data (the cycle's facts, read by the lead_cycles projection trigger)
--   is built by the same expression (`cycle_facts!` in src/db/leads/cycle.rs); the routing note the
--   service merges in is NULL for a lead with an owner, as here;
-- * the lead's features (src/domain/features, `leads.features` and the `routed` entry's
--   `features`) are the encoded text the service computes for these bodies, written as a
--   literal joined with chr(31), the separator;
-- * the history actor is `key:pgbench`, spelled `'key' || chr(58) || 'pgbench'` because pgbench
--   would read a colon followed by a name as a variable even inside a string literal.
--
-- The body of an HTTP request in bench/ingest.lua carries the same fields: source,
-- external_id, lead_type, email (unique, at example.com), owner (rep-1..rep-50), queue.

\set rep random(1, 50)
\set n random(1, 1000000000000000)
WITH input AS (
  SELECT * FROM ROWS FROM (jsonb_to_recordset(jsonb_build_array(jsonb_build_object(
      'source', CAST(:src AS text), 'external_id', 'pg-' || :client_id || '-' || :n,
      'email_key', 'pg-' || :client_id || '-' || :n || '@example.com', 'phone_key', NULL,
      'person_key', NULL, 'match_key', 'domain' || chr(58) || 'example.com', 'name', 'example.com',
      'domain', 'example.com', 'new_id', gen_random_uuid()))) AS (source text, external_id text,
      email_key text, phone_key text, person_key text, match_key text, name text, domain text,
      new_id uuid)) WITH ORDINALITY
    AS t(source, external_id, email_key, phone_key, person_key, match_key, name, domain, new_id, ord)),
created AS (
  INSERT INTO accounts (id, match_key, name, domain, created_at, updated_at)
  SELECT DISTINCT ON (match_key) new_id, match_key, name, domain, now(), now() FROM input
  WHERE match_key IS NOT NULL ORDER BY match_key, ord
  ON CONFLICT (match_key) DO NOTHING RETURNING id, match_key)
SELECT i.ord, COALESCE(c.id, t.id) AS account_id, t.owner, t.accepted_until, d.duplicates
FROM input i
LEFT JOIN created c ON c.match_key = i.match_key
LEFT JOIN accounts a ON a.match_key = i.match_key
LEFT JOIN accounts t ON t.id = COALESCE(a.merged_into, a.id)
LEFT JOIN LATERAL (
  SELECT jsonb_agg(jsonb_build_object('lead_id', l.id, 'reason', m.reason,
      'state', l.state, 'owner', l.owner) ORDER BY l.id DESC) AS duplicates
  FROM (SELECT DISTINCT ON (id) id, reason FROM (
      (SELECT id, 'email' AS reason, 1 AS strength FROM (
          SELECT id, source, external_id, state, updated_at FROM leads
          WHERE email_key = i.email_key ORDER BY id DESC LIMIT 50) e
        WHERE NOT (source = i.source AND external_id = i.external_id)
          AND (state IN ('routed', 'accepted') OR updated_at >= now() - interval '90 days')
        ORDER BY id DESC LIMIT 5)
      UNION ALL
      (SELECT id, 'phone', 2 FROM (
          SELECT id, source, external_id, state, updated_at FROM leads
          WHERE phone_key = i.phone_key ORDER BY id DESC LIMIT 50) p
        WHERE NOT (source = i.source AND external_id = i.external_id)
          AND (state IN ('routed', 'accepted') OR updated_at >= now() - interval '90 days')
        ORDER BY id DESC LIMIT 5)
      UNION ALL
      (SELECT id, 'person', 3 FROM (
          SELECT id, source, state, updated_at FROM leads
          WHERE person_key = i.person_key ORDER BY id DESC LIMIT 50) n
        WHERE source <> i.source
          AND (state IN ('routed', 'accepted') OR updated_at >= now() - interval '90 days')
        ORDER BY id DESC LIMIT 5)) k
    ORDER BY id DESC, strength LIMIT 5) m
  JOIN leads l ON l.id = m.id) d ON true
ORDER BY i.ord;
WITH ins AS (
  INSERT INTO leads (id, source, external_id, lead_type, email, first_name, last_name, title, phone, company, score, campaign, channel, queue, owner, attributes, state, cycle, routed_at, created_at, updated_at, sla_policy, sla_due_at, sla_at_risk_at, account_id, email_key, phone_key, person_key, possible_duplicates, features)
  VALUES (
    encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
        PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
        FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid,
    :src, 'pg-' || :client_id || '-' || :n, 'demo_request', 'pg-' || :client_id || '-' || :n || '@example.com',
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    'emea', 'rep-' || :rep, '{}'::jsonb, 'routed', 1, now(), now(), now(),
    'demo_request', now() + interval '1 hour', now() + interval '45 minutes',
    (SELECT id FROM accounts WHERE match_key = 'domain' || chr(58) || 'example.com'),
    'pg-' || :client_id || '-' || :n || '@example.com', NULL, NULL, NULL,
    'title_seniority=unknown' || chr(31) || 'title_function=unknown' || chr(31) || 'company_size=unknown' || chr(31) || 'country=unknown' || chr(31) || 'region=unknown' || chr(31) || 'industry=unknown' || chr(31) || 'campaign=unknown' || chr(31) || 'channel=unknown' || chr(31) || 'source=' || :src || chr(31) || 'score_band=unknown' || chr(31) || 'lead_type=demo_request')
  ON CONFLICT ON CONSTRAINT lead_source_external_id_key DO NOTHING RETURNING *),
h AS (
  INSERT INTO lead_history (lead_id, cycle, kind, from_state, to_state, actor, actor_role, rep_id, data, occurred_at, recorded_at)
  SELECT id, 1, 'routed', NULL, 'routed', 'key' || chr(58) || 'pgbench', 'ingest', owner,
    jsonb_strip_nulls(jsonb_build_object('source', source, 'lead_type', lead_type,
      'campaign', campaign, 'channel', channel, 'queue', queue, 'sla_due_at', sla_due_at,
      'account_id', account_id, 'features', features))
      || COALESCE(NULL::jsonb, '{}'::jsonb),
    routed_at, now() FROM ins)
SELECT * FROM ins;
