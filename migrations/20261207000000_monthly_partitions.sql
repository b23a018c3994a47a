-- History that can grow for years (docs/scaling.md): the append-only log `lead_history`, the
-- three outboxes (`webhook_deliveries`, `notifications`, `crm_writebacks`) and the report
-- blocks (`cycle_blocks`) become declaratively partitioned by month (UTC), RANGE on their time
-- column. The service creates partitions ahead (`salgate_ensure_partitions`, the partition
-- job); a DEFAULT partition takes anything outside them, so no insert fails for lack of a
-- partition. Retention drops whole outbox months (`salgate_drop_expired_partitions`) instead
-- of deleting rows; `lead_history` is never dropped.
--
-- Partition keys: the service's clock, never a CRM's. `lead_history.recorded_at` (not
-- `occurred_at`: a CRM may route a lead with any past `routed_at`, which would scatter new
-- rows over old months and the DEFAULT partition); the outboxes' `created_at` (the recorded_at
-- of the entry that wrote them); `cycle_blocks.hour` (its key already).
--
-- Unique constraints must include the partition key, so:
-- * primary keys become (id, key). `lead_history.id` comes from its identity (GENERATED
--   ALWAYS: no insert names an id), outbox ids are fresh v7 UUIDs: unique by construction;
-- * `notifications_once` and `crm_writebacks_once` gain `created_at`: a row's created_at is
--   the recorded_at of the history entry its dedupe key is derived from, so two rows with one
--   key always have one created_at and meet in one partition: nothing is lost;
-- * `notifications_once_per_cycle` (SLA kinds once per lead and cycle, from any entry) gains
--   `created_at` too, and the trigger checks every partition first (below): across a month
--   boundary only two concurrent writers of the same breach could both pass.
-- Foreign keys to a delivery (`webhook_attempts`, `webhook_heads`) cannot reference a key
-- without `created_at` and are dropped: a head only ever points at a pending delivery and a
-- partition holding one is never dropped; attempts are deleted with their partition.
--
-- Existing rows move in this migration's transaction: each table is renamed, a partitioned
-- table takes its name, its rows are copied and the old table dropped.

-- The partition of `parent` for the UTC month of `month`: created when missing. Returns
-- 'created', 'exists', or 'default_holds_rows' when rows of that month are already in the
-- DEFAULT partition (the partition is then not created; the rows stay where they are and
-- every insert still succeeds), or 'busy' when a lock was not granted within lock_timeout.
CREATE FUNCTION salgate_month_partition(parent regclass, month timestamptz) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    start timestamptz := date_trunc('month', month, 'UTC');
    name text := format('%s_p%s', (SELECT relname FROM pg_class WHERE oid = parent),
                        to_char(start AT TIME ZONE 'UTC', 'YYYYMM'));
BEGIN
    IF to_regclass(quote_ident(name)) IS NOT NULL THEN
        RETURN 'exists';
    END IF;
    BEGIN
        EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                       name, parent, start, start + interval '1 month');
    EXCEPTION
        WHEN check_violation THEN
            RETURN 'default_holds_rows';
        WHEN lock_not_available THEN
            RETURN 'busy';
    END;
    -- Statement triggers are not inherited: TRUNCATE of a partition is refused like the log's.
    IF parent = 'lead_history'::regclass THEN
        EXECUTE format('CREATE TRIGGER lead_history_append_only BEFORE TRUNCATE ON %I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION lead_history_is_append_only()', name);
    END IF;
    RETURN 'created';
END;
$$;

-- The partitions of every partitioned table for the month of `now` and `ahead` months after
-- it, one caller at a time across replicas (an advisory lock; the statements are idempotent
-- anyway). Returns one row per partition it did not find.
CREATE FUNCTION salgate_ensure_partitions(now timestamptz, ahead integer)
RETURNS TABLE (parent text, month timestamptz, outcome text) LANGUAGE plpgsql AS $$
DECLARE
    t regclass;
    m timestamptz;
    o text;
BEGIN
    PERFORM pg_advisory_xact_lock(6496413829447630849);
    -- Creating a partition locks its parent: never queue behind a long transaction while the
    -- log's writers queue behind us ('busy', tried again on the next pass).
    PERFORM set_config('lock_timeout', '2s', true);
    FOR t IN SELECT partrelid::regclass FROM pg_partitioned_table ORDER BY partrelid::regclass::text LOOP
        FOR i IN 0..ahead LOOP
            m := date_trunc('month', now, 'UTC') + make_interval(months => i);
            o := salgate_month_partition(t, m);
            IF o <> 'exists' THEN
                parent := t::text; month := m; outcome := o;
                RETURN NEXT;
            END IF;
        END LOOP;
    END LOOP;
END;
$$;

-- Renames `tbl` to `<tbl>_unpartitioned` and puts in its place a table of the same columns
-- partitioned by month on `key`, with the partitions its rows need, the months up to three
-- ahead of now, and a DEFAULT partition; copies the rows. Indexes, keys, triggers and the old
-- table are the caller's.
CREATE FUNCTION pg_temp.partition_by_month(tbl text, key text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    first timestamptz;
    m timestamptz;
BEGIN
    EXECUTE format('ALTER TABLE %I RENAME TO %I', tbl, tbl || '_unpartitioned');
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS '
                   'INCLUDING STORAGE INCLUDING IDENTITY) PARTITION BY RANGE (%I)',
                   tbl, tbl || '_unpartitioned', key);
    EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', tbl || '_default', tbl);
    EXECUTE format('SELECT min(%I) FROM %I', key, tbl || '_unpartitioned') INTO first;
    m := date_trunc('month', LEAST(COALESCE(first, now()), now()), 'UTC');
    WHILE m <= date_trunc('month', now(), 'UTC') + interval '3 months' LOOP
        PERFORM salgate_month_partition(tbl::regclass, m);
        m := m + interval '1 month';
    END LOOP;
    EXECUTE format('INSERT INTO %I OVERRIDING SYSTEM VALUE SELECT * FROM %I',
                   tbl, tbl || '_unpartitioned');
END;
$$;

-- lead_history ---------------------------------------------------------------------------

-- `lead_cycles_apply` takes a log row: keep its body, re-declare it over the new row type.
CREATE TEMP TABLE apply_body AS
SELECT prosrc FROM pg_proc WHERE oid = 'lead_cycles_apply(lead_history)'::regprocedure;

SELECT pg_temp.partition_by_month('lead_history', 'recorded_at');
DROP FUNCTION lead_cycles_apply(lead_history_unpartitioned);
DROP TABLE lead_history_unpartitioned;
DO $$
BEGIN
    EXECUTE format('CREATE FUNCTION lead_cycles_apply(h lead_history) RETURNS void '
                   'LANGUAGE plpgsql AS %L', (SELECT prosrc FROM apply_body));
END;
$$;
DROP TABLE apply_body;

ALTER SEQUENCE lead_history_id_seq1 RENAME TO lead_history_id_seq;
SELECT setval(pg_get_serial_sequence('lead_history', 'id'), COALESCE(max(id), 0) + 1, false)
FROM lead_history;

ALTER TABLE lead_history
    ADD CONSTRAINT lead_history_pkey PRIMARY KEY (id, recorded_at),
    ADD CONSTRAINT lead_history_lead_id_fkey FOREIGN KEY (lead_id) REFERENCES leads (id);
CREATE INDEX lead_history_lead_idx ON lead_history (lead_id, id);

-- Append-only, whichever table a statement names: the statement trigger on the parent as
-- before (it fires even when no row matches), a row trigger the partitions inherit (an UPDATE
-- or DELETE naming a partition), and TRUNCATE refused on each partition
-- (salgate_month_partition adds it to the ones it creates).
CREATE TRIGGER lead_history_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON lead_history
    FOR EACH STATEMENT EXECUTE FUNCTION lead_history_is_append_only();
CREATE TRIGGER lead_history_append_only_rows
    BEFORE UPDATE OR DELETE ON lead_history
    FOR EACH ROW EXECUTE FUNCTION lead_history_is_append_only();
CREATE TRIGGER lead_history_append_only
    BEFORE TRUNCATE ON lead_history_default
    FOR EACH STATEMENT EXECUTE FUNCTION lead_history_is_append_only();

-- The projection and the outboxes, once per statement over its rows, as before (transition
-- tables are allowed on a partitioned table's statement triggers).
CREATE TRIGGER lead_history_project
    AFTER INSERT ON lead_history
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lead_history_project_rows();
CREATE TRIGGER lead_history_outbox
    AFTER INSERT ON lead_history
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lead_history_outbox();
CREATE TRIGGER lead_history_notify
    AFTER INSERT ON lead_history
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lead_history_notify();
CREATE TRIGGER lead_history_crm_writeback
    AFTER INSERT ON lead_history
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lead_history_crm_writeback();

-- webhook_deliveries ---------------------------------------------------------------------

ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_delivery_id_fkey;
ALTER TABLE webhook_heads DROP CONSTRAINT webhook_heads_delivery_id_fkey;
SELECT pg_temp.partition_by_month('webhook_deliveries', 'created_at');
DROP TABLE webhook_deliveries_unpartitioned;
ALTER TABLE webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (id, created_at),
    ADD CONSTRAINT webhook_deliveries_subscription_id_fkey
        FOREIGN KEY (subscription_id) REFERENCES webhook_subscriptions (id);
CREATE INDEX webhook_deliveries_order_idx ON webhook_deliveries (subscription_id, lead_id, seq)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_subscription_idx
    ON webhook_deliveries (subscription_id, created_at DESC);

-- notifications --------------------------------------------------------------------------

SELECT pg_temp.partition_by_month('notifications', 'created_at');
DROP TABLE notifications_unpartitioned;
ALTER TABLE notifications
    ADD CONSTRAINT notifications_pkey PRIMARY KEY (id, created_at),
    ADD CONSTRAINT notifications_once UNIQUE (event_id, channel, recipient, created_at);
CREATE UNIQUE INDEX notifications_once_per_cycle
    ON notifications (lead_id, cycle, kind, channel, recipient, created_at)
    WHERE kind IN ('at_risk', 'breached', 'first_touch_missed');
CREATE INDEX notifications_due_idx ON notifications (channel, next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX notifications_lead_idx ON notifications (lead_id, created_at);
CREATE INDEX notifications_created_idx ON notifications (created_at DESC);

-- crm_writebacks -------------------------------------------------------------------------

SELECT pg_temp.partition_by_month('crm_writebacks', 'created_at');
DROP TABLE crm_writebacks_unpartitioned;
ALTER TABLE crm_writebacks
    ADD CONSTRAINT crm_writebacks_pkey PRIMARY KEY (id, created_at),
    ADD CONSTRAINT crm_writebacks_once UNIQUE (history_id, crm, created_at);
CREATE INDEX crm_writebacks_due_idx ON crm_writebacks (crm, next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX crm_writebacks_lead_idx ON crm_writebacks (lead_id, crm, history_id);
CREATE INDEX crm_writebacks_failed_idx ON crm_writebacks (created_at DESC)
    WHERE status = 'failed';

-- cycle_blocks ---------------------------------------------------------------------------

-- What a 90-day report reads by time: its hours' blocks. Partitioned, a report reads the
-- months of its period only (pruning), however many years of blocks there are.
SELECT pg_temp.partition_by_month('cycle_blocks', 'hour');
DROP TABLE cycle_blocks_unpartitioned;
ALTER TABLE cycle_blocks ADD CONSTRAINT cycle_blocks_pkey PRIMARY KEY (hour);

DROP FUNCTION pg_temp.partition_by_month(text, text);
