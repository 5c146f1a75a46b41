-- What an API key authenticates as (its user, role, account kind, whether the account or an
-- ancestor is suspended) is cached by each daemon. Any change to it — a key revoked or
-- deleted, a user disabled, given another role or moved, an account suspended, reactivated,
-- moved or deleted — notifies `creditdesk_auth` from the changing transaction itself, so the
-- notification is delivered exactly when the change commits, whichever program made it (API,
-- console, CLI, library, psql). Each daemon's listener then drops its cache.
-- Statement-level: one notification per statement, and PostgreSQL folds identical
-- notifications of one transaction into one.
CREATE FUNCTION notify_auth_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('creditdesk_auth', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE TRIGGER api_keys_auth_change AFTER UPDATE OF revoked_at, key_hash, user_id OR DELETE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION notify_auth_change();
CREATE TRIGGER users_auth_change AFTER UPDATE OF status, role, account_id OR DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION notify_auth_change();
CREATE TRIGGER accounts_auth_change AFTER UPDATE OF status, kind, path, parent_id OR DELETE ON accounts
    FOR EACH STATEMENT EXECUTE FUNCTION notify_auth_change();
