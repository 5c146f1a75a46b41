-- Transactional messages before campaign messages: a job's priority (0: a single send, a
-- test dispatch, a forwarded reply, any other job; 1: a campaign's message). Due jobs are
-- claimed in (priority, run_at, id) order.
ALTER TABLE jobs ADD COLUMN priority smallint NOT NULL DEFAULT 0 CHECK (priority IN (0, 1));
CREATE INDEX jobs_due_by_priority ON jobs (priority, run_at, id) WHERE done_at IS NULL;
DROP INDEX jobs_due;
