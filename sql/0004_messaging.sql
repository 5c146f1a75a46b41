-- Messaging (DESIGN.md §4, issue 5): gateway connections, messages, opt-outs, rates, jobs.

-- A client's gateway account: the office's shared one (user_id NULL, the office is invoiced)
-- or an agent's own (user_id set). The password or token is sealed with AES-256-GCM under the
-- configured key (secret_key_id names it, for rotation); the callback token is stored hashed.
CREATE TABLE gateway_connections (
    tenant_id            uuid        NOT NULL,
    id                   uuid        NOT NULL,
    account_id           uuid        NOT NULL REFERENCES accounts (id),
    user_id              uuid        REFERENCES users (id),
    provider             text        NOT NULL CHECK (provider IN ('kannel', 'twilio')),
    name                 text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    base_url             text        NOT NULL CHECK (base_url ~ '^https?://' AND char_length(base_url) <= 500),
    username             text        NOT NULL CHECK (char_length(username) BETWEEN 1 AND 200),
    sender               text        NOT NULL CHECK (char_length(sender) BETWEEN 1 AND 20),
    -- The calling code of the gateway's own country: other destinations are international.
    home_prefix          text        NOT NULL CHECK (home_prefix ~ '^[1-9][0-9]{0,3}$'),
    secret_sealed        bytea       NOT NULL,
    secret_key_id        text        NOT NULL,
    callback_token_hash  bytea       NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT gateway_connections_id_unique UNIQUE (id)
);
CREATE UNIQUE INDEX gateway_connections_office ON gateway_connections (account_id) WHERE user_id IS NULL;
CREATE UNIQUE INDEX gateway_connections_agent ON gateway_connections (account_id, user_id) WHERE user_id IS NOT NULL;

-- Credits per SMS segment by destination calling-code prefix, per reseller; the longest
-- matching prefix wins. Domestic messages without a row cost 1; international ones need a row.
CREATE TABLE message_rates (
    tenant_id            uuid        NOT NULL,
    reseller_id          uuid        NOT NULL REFERENCES accounts (id),
    prefix               text        NOT NULL CHECK (prefix ~ '^[1-9][0-9]{0,5}$'),
    credits_per_segment  bigint      NOT NULL CHECK (credits_per_segment BETWEEN 1 AND 1000),
    PRIMARY KEY (tenant_id, reseller_id, prefix)
);

CREATE TABLE messages (
    tenant_id       uuid        NOT NULL,
    id              uuid        NOT NULL,
    account_id      uuid        NOT NULL REFERENCES accounts (id),
    user_id         uuid,
    connection_id   uuid        REFERENCES gateway_connections (id),
    direction       text        NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    unit            text        NOT NULL CHECK (unit IN ('sms', 'mms')),
    sender          text        NOT NULL,
    recipient       text        NOT NULL,
    body            text        NOT NULL CHECK (char_length(body) <= 2000),
    media_urls      text[]      NOT NULL DEFAULT '{}',
    segments        integer     NOT NULL CHECK (segments >= 0),
    credits         bigint      NOT NULL CHECK (credits >= 0),
    status          text        NOT NULL CHECK (status IN
                        ('scheduled', 'queued', 'sent', 'delivered', 'failed', 'cancelled', 'received')),
    failure_reason  text,
    reservation_id  uuid,
    send_at         timestamptz,
    sent_at         timestamptz,
    delivered_at    timestamptz,
    contact_id      uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT messages_id_unique UNIQUE (id)
);
CREATE INDEX messages_account ON messages (account_id, created_at, id);

-- Numbers that texted STOP (or that an admin unsubscribed), per client account.
CREATE TABLE opt_outs (
    tenant_id   uuid        NOT NULL,
    account_id  uuid        NOT NULL REFERENCES accounts (id),
    phone       text        NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{7,14}$'),
    source      text        NOT NULL CHECK (source IN ('keyword', 'admin')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, account_id, phone)
);

-- The job queue: claimed with FOR UPDATE SKIP LOCKED, so several daemons can consume it. A
-- claimed job is leased until locked_until; a daemon that dies mid-job leaves it to be
-- claimed again when the lease runs out.
CREATE TABLE jobs (
    tenant_id     uuid        NOT NULL,
    id            bigint      GENERATED ALWAYS AS IDENTITY,
    kind          text        NOT NULL CHECK (kind IN ('send_message')),
    subject_id    uuid        NOT NULL,
    run_at        timestamptz NOT NULL DEFAULT now(),
    attempts      integer     NOT NULL DEFAULT 0,
    max_attempts  integer     NOT NULL DEFAULT 5,
    locked_until  timestamptz,
    last_error    text,
    done_at       timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT jobs_id_unique UNIQUE (id)
);
CREATE INDEX jobs_due ON jobs (run_at) WHERE done_at IS NULL;
CREATE INDEX jobs_subject ON jobs (subject_id) WHERE done_at IS NULL;
