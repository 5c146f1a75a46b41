-- Scoped API keys: what a key may do within its user's rights (full, send, read), where it
-- may be used from (CIDR ranges; none: anywhere) and until when (none: no expiry). Existing
-- keys keep full rights from anywhere, for ever.
ALTER TABLE api_keys
    ADD COLUMN scope text NOT NULL DEFAULT 'full' CHECK (scope IN ('full', 'send', 'read')),
    ADD COLUMN allowed_addresses cidr[] NOT NULL DEFAULT '{}' CHECK (cardinality(allowed_addresses) <= 20),
    ADD COLUMN expires_at timestamptz;
