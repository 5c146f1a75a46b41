-- The audit log: who changed what, other than the ledger's own entries (which record their
-- actor themselves). One row per change, written in the changing transaction, so a change
-- that rolls back leaves no row and a committed one always has its row.

-- A console session is named in the log by an id of its own, never by its token's hash.
ALTER TABLE console_sessions ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid();

-- The last sequence number per tenant. An audited change locks its tenant's row first (before
-- it reads what it will change, so its "before" is what the previous change left) and holds
-- it until it commits: audited changes of one tenant are serialized, numbers follow commit
-- order, and a rolled-back change gives its number back, so there is never a gap, which
-- `creditdesk verify` checks. Ledger moves never take this lock; an audited change that
-- touches a balance takes it before the balance, so the lock order is the same everywhere.
CREATE TABLE audit_sequences (
    tenant_id  uuid   PRIMARY KEY,
    last_seq   bigint NOT NULL CHECK (last_seq >= 0)
);

CREATE TABLE audit_log (
    tenant_id         uuid        NOT NULL,
    seq               bigint      NOT NULL CHECK (seq > 0),
    -- One order over every tenant, for pages of a platform-wide listing.
    id                bigint      NOT NULL GENERATED ALWAYS AS IDENTITY,
    occurred_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_user_id     uuid,
    actor_key_id      uuid,
    actor_session_id  uuid,
    channel           text        NOT NULL CHECK (channel IN ('api', 'console', 'library', 'system')),
    source_address    inet,
    request_id        text        CHECK (char_length(request_id) <= 200),
    account_id        uuid        NOT NULL,
    -- The account's ancestors then (root first, ending with it): "in the subtree of X" is
    -- account_path @> {X}, as for accounts.
    account_path      uuid[]      NOT NULL,
    action            text        NOT NULL CHECK (action ~ '^[a-z_]+\.[a-z_]+$'),
    object_type       text        NOT NULL CHECK (char_length(object_type) <= 40),
    object_id         text        NOT NULL CHECK (char_length(object_id) <= 200),
    -- {"field": {"before": …, "after": …}}; never a secret, not even hashed.
    changes           jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(changes) = 'object'),
    PRIMARY KEY (tenant_id, seq),
    CONSTRAINT audit_log_id_unique UNIQUE (tenant_id, id),
    CONSTRAINT audit_log_account FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id),
    CONSTRAINT audit_log_path_ends_with_account CHECK (account_path[array_length(account_path, 1)] = account_id)
);
CREATE INDEX audit_log_recent ON audit_log (id);
CREATE INDEX audit_log_path ON audit_log USING gin (account_path);

-- Append-only, whoever asks: no UPDATE, no DELETE, no TRUNCATE.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only' USING ERRCODE = 'raise_exception';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
