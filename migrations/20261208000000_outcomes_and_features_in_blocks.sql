-- Outcomes and features in the compacted hours (docs/scaling.md "Reports"): the funnel, the
-- acceptance band's evidence and the rejection-drivers report read them from `cycle_blocks`
-- like every other figure, instead of reading every outcome or feature vector of the period
-- row by row.
--
-- Blocks of format 5 (src/domain/cycle_facts/block.rs) carry each cycle's outcomes in `data`,
-- and its feature entries in a column of their own, `features`, that only the drivers report
-- reads. Exactness is kept as before: an outcome written marks its cycle's hour in the
-- writing transaction; features never change once a cycle is stored.

ALTER TABLE cycle_blocks ADD COLUMN features bytea;
ALTER TABLE cycle_blocks ALTER COLUMN features SET STORAGE EXTERNAL;

-- A changed outcome makes its cycle's hour dirty (`cycle_routed_at` is the cycle's routing
-- time and never changes). Per statement: a bulk load is one mark per hour.
CREATE FUNCTION lead_outcomes_mark_hours() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO cycle_hour_marks (hour)
    SELECT DISTINCT date_trunc('hour', cycle_routed_at, 'UTC') FROM changed;
    RETURN NULL;
END;
$$;

CREATE TRIGGER lead_outcomes_mark_inserted AFTER INSERT ON lead_outcomes
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION lead_outcomes_mark_hours();
CREATE TRIGGER lead_outcomes_mark_updated AFTER UPDATE ON lead_outcomes
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION lead_outcomes_mark_hours();
CREATE TRIGGER lead_outcomes_mark_deleted AFTER DELETE ON lead_outcomes
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION lead_outcomes_mark_hours();

-- Every stored block is of format 4 and counts as not compacted: rebuild them all.
INSERT INTO cycle_hour_marks (hour) SELECT hour FROM cycle_blocks;

-- Cycles stored before features were have none in their blocks; the drivers report reads
-- them (and computes theirs from their lead's inputs) through this index. No cycle stored
-- from issue 19 on is in it.
CREATE INDEX lead_cycles_unfeatured_idx ON lead_cycles (routed_at)
    WHERE features IS NULL AND outcome IN ('accepted', 'rejected');
