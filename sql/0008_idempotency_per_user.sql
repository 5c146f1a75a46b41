-- Idempotency keys belong to the user that sent them: a replay is answered only to that user,
-- never to a colleague of the same account who happens to send the same key.
ALTER TABLE idempotency_keys ADD COLUMN user_id uuid;

-- Keys claimed before this migration: the user who acted, where the ledger recorded one.
UPDATE idempotency_keys k SET user_id = e.actor_user_id
FROM (SELECT DISTINCT ON (operation_id) operation_id, actor_user_id
      FROM ledger_entries WHERE actor_user_id IS NOT NULL ORDER BY operation_id) e
WHERE e.operation_id = k.operation_id;
-- The rest (no ledger entry names the user): kept for the invariants, replayable by nobody.
UPDATE idempotency_keys SET user_id = '00000000-0000-0000-0000-000000000000' WHERE user_id IS NULL;

ALTER TABLE idempotency_keys ALTER COLUMN user_id SET NOT NULL;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (tenant_id, account_id, user_id, key);
