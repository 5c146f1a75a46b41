-- Transactional messages before campaign messages, and campaigns taking turns.
-- `priority`: 0 for a single send, a test dispatch, a forwarded reply, any other job; 1 for a
-- campaign's message. `turn`: a campaign message's place in the round robin: a campaign's
-- messages take turns head, head + 1, … where head is the lowest turn of the campaign jobs
-- due and waiting when it is confirmed, so a campaign confirmed while another is half-way interleaves with it
-- instead of waiting behind it (or starving it). Due jobs are claimed in (priority, turn,
-- run_at, id) order.
ALTER TABLE jobs ADD COLUMN priority smallint NOT NULL DEFAULT 0 CHECK (priority IN (0, 1));
ALTER TABLE jobs ADD COLUMN turn bigint NOT NULL DEFAULT 0 CHECK (turn >= 0);
CREATE INDEX jobs_due_in_turn ON jobs (priority, turn, run_at, id) WHERE done_at IS NULL;
DROP INDEX jobs_due;
