-- pgbench script: the one statement salgate runs per `POST /v1/leads` (src/db/leads/cycle.rs,
-- `insert_new`), issued straight to PostgreSQL. This is the ceiling the HTTP service is
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
-- * the external id is `'pg-' || gen_random_uuid()`, unique per transaction;
-- * the `routed` entry's data (the cycle's facts, read by the lead_cycles projection trigger)
--   is built by the same expression (`cycle_facts!` in src/db/leads/cycle.rs); the routing note the
--   service merges in is NULL for a lead with an owner, as here;
-- * the history actor is `key:pgbench`, spelled `'key' || chr(58) || 'pgbench'` because pgbench
--   would read a colon followed by a name as a variable even inside a string literal.
--
-- The body of an HTTP request in bench/ingest.lua carries the same fields: source,
-- external_id, lead_type, email, owner (rep-1..rep-50), queue.

\set rep random(1, 50)
WITH ins AS (
  INSERT INTO leads (id, source, external_id, lead_type, email, first_name, last_name, title, phone, company, score, campaign, channel, queue, owner, attributes, state, cycle, routed_at, created_at, updated_at, sla_policy, sla_due_at, sla_at_risk_at)
  VALUES (
    encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
        PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
        FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid,
    :src, 'pg-' || gen_random_uuid(), 'demo_request', 'a@example.com',
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    'emea', 'rep-' || :rep, '{}'::jsonb, 'routed', 1, now(), now(), now(),
    'demo_request', now() + interval '1 hour', now() + interval '45 minutes')
  ON CONFLICT ON CONSTRAINT lead_source_external_id_key DO NOTHING RETURNING *),
h AS (
  INSERT INTO lead_history (lead_id, cycle, kind, from_state, to_state, actor, actor_role, rep_id, data, occurred_at, recorded_at)
  SELECT id, 1, 'routed', NULL, 'routed', 'key' || chr(58) || 'pgbench', 'ingest', owner,
    jsonb_strip_nulls(jsonb_build_object('source', source, 'lead_type', lead_type,
      'campaign', campaign, 'channel', channel, 'queue', queue, 'sla_due_at', sla_due_at))
      || COALESCE(NULL::jsonb, '{}'::jsonb),
    routed_at, now() FROM ins)
SELECT * FROM ins;
