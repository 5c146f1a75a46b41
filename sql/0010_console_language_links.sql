-- The console's language per user, and one-time links an admin hands a user to set a password.

-- NULL: follow the browser's Accept-Language.
ALTER TABLE users ADD COLUMN language text CHECK (language IN ('en', 'fr', 'nl'));

-- A one-time link to set a password: only the SHA-256 of its 256-bit token is kept; it works
-- once, before `expires_at` (24 hours after it was made).
CREATE TABLE password_links (
    token_hash  bytea       PRIMARY KEY,
    user_id     uuid        NOT NULL REFERENCES users (id),
    created_by  uuid        NOT NULL REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX password_links_user ON password_links (user_id);
