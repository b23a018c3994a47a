-- Round-robin turns come from a sequence per queue: nextval() takes no row lock and waits for
-- no commit, where a counter column made every ingest into a queue update one hot row.
ALTER TABLE queues DROP COLUMN rr_next;
ALTER TABLE queues ADD COLUMN rr_seq text;
