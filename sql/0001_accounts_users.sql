-- The account tree (platform → resellers → clients), its users and their API keys.
-- tenant_id is the top-level reseller (the platform is its own tenant) and leads every
-- primary key, so the tables can later be distributed by tenant.

CREATE TABLE accounts (
    tenant_id   uuid        NOT NULL,
    id          uuid        NOT NULL,
    parent_id   uuid        REFERENCES accounts (id),
    kind        text        NOT NULL CHECK (kind IN ('platform', 'reseller', 'client')),
    name        text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    status      text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    -- Features this account has switched on itself; the effective set also needs every ancestor's.
    features    text[]      NOT NULL DEFAULT '{}',
    -- Ancestors root first, ending with the account itself: "in the subtree of X" is path @> {X}.
    path        uuid[]      NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT accounts_id_unique UNIQUE (id),
    CONSTRAINT accounts_root_is_platform CHECK ((kind = 'platform') = (parent_id IS NULL)),
    CONSTRAINT accounts_path_ends_with_self CHECK (path[array_length(path, 1)] = id)
);
CREATE UNIQUE INDEX accounts_one_platform ON accounts (kind) WHERE kind = 'platform';
CREATE INDEX accounts_children ON accounts (parent_id, lower(name), id);
CREATE INDEX accounts_path ON accounts USING gin (path);

CREATE TABLE users (
    tenant_id   uuid        NOT NULL,
    id          uuid        NOT NULL,
    account_id  uuid        NOT NULL REFERENCES accounts (id),
    name        text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    email       text        CHECK (email IS NULL OR char_length(email) <= 320),
    role        text        NOT NULL CHECK (role IN ('operator', 'billing', 'admin', 'support', 'user', 'readonly')),
    status      text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT users_id_unique UNIQUE (id)
);
CREATE INDEX users_account ON users (account_id, id);

-- Keys are 256-bit random secrets shown once; only their SHA-256 is kept.
CREATE TABLE api_keys (
    tenant_id    uuid        NOT NULL,
    id           uuid        NOT NULL,
    user_id      uuid        NOT NULL REFERENCES users (id),
    key_hash     bytea       NOT NULL CHECK (octet_length(key_hash) = 32),
    -- The first characters of the key, so a person can tell keys apart in a listing.
    key_prefix   text        NOT NULL,
    label        text        NOT NULL DEFAULT '' CHECK (char_length(label) <= 200),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT api_keys_id_unique UNIQUE (id),
    CONSTRAINT api_keys_hash_unique UNIQUE (key_hash)
);
CREATE INDEX api_keys_user ON api_keys (user_id, id);
