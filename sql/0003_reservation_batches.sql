-- Bulk reservations (a campaign reserves every message's credits in one request): the
-- reservations one request made share a batch id, by which they are listed and settled.
ALTER TABLE reservations ADD COLUMN batch_id uuid;
CREATE INDEX reservations_batch ON reservations (batch_id, id) WHERE batch_id IS NOT NULL;
CREATE INDEX reservations_account ON reservations (account_id, created_at, id);
