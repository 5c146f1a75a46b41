-- The SMS/MMS credit ledger (DESIGN.md §3), packages and idempotency keys.
--
-- Every movement is an entry moving `amount` credits of one unit from debit_account_id to
-- credit_account_id. Two system accounts close the books: issuance (credits come into being)
-- and consumption (credits are used up). Their balances are derived from the entries, not
-- stored, so no single hot row serializes every operation; customer balances are stored in
-- `balances`, changed only in the same transaction as the entries that explain them.

CREATE TABLE balances (
    tenant_id    uuid        NOT NULL,
    account_id   uuid        NOT NULL REFERENCES accounts (id),
    unit         text        NOT NULL CHECK (unit IN ('sms', 'mms')),
    posted       bigint      NOT NULL DEFAULT 0,
    reserved     bigint      NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    -- How far below zero `available` may go (postpaid); 0 for prepaid accounts.
    credit_limit bigint      NOT NULL DEFAULT 0 CHECK (credit_limit >= 0),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, account_id, unit),
    -- available = posted - reserved + credit_limit never goes negative.
    CONSTRAINT balances_available_within_limit CHECK (posted - reserved + credit_limit >= 0)
);

CREATE TABLE reservations (
    tenant_id      uuid        NOT NULL,
    id             uuid        NOT NULL,
    account_id     uuid        NOT NULL REFERENCES accounts (id),
    unit           text        NOT NULL CHECK (unit IN ('sms', 'mms')),
    amount         bigint      NOT NULL CHECK (amount > 0),
    status         text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'posted', 'voided')),
    posted_amount  bigint      NOT NULL DEFAULT 0 CHECK (posted_amount >= 0),
    reference      text        CHECK (reference IS NULL OR char_length(reference) <= 200),
    created_at     timestamptz NOT NULL DEFAULT now(),
    resolved_at    timestamptz,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT reservations_id_unique UNIQUE (id),
    CONSTRAINT reservations_post_within_amount CHECK (posted_amount <= amount)
);
CREATE INDEX reservations_pending ON reservations (account_id, unit) WHERE status = 'pending';

CREATE TABLE packages (
    tenant_id      uuid        NOT NULL,
    id             uuid        NOT NULL,
    account_id     uuid        NOT NULL REFERENCES accounts (id),  -- the reseller selling it
    name           text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    sms_credits    bigint      NOT NULL CHECK (sms_credits >= 0),
    mms_credits    bigint      NOT NULL CHECK (mms_credits >= 0),
    price_minor    bigint      NOT NULL CHECK (price_minor >= 0),
    currency       text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    active         boolean     NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT packages_id_unique UNIQUE (id),
    CONSTRAINT packages_grant_something CHECK (sms_credits + mms_credits > 0)
);
CREATE INDEX packages_account ON packages (account_id, lower(name), id);

CREATE TABLE package_sales (
    tenant_id      uuid        NOT NULL,
    id             uuid        NOT NULL,
    package_id     uuid        NOT NULL REFERENCES packages (id),
    seller_id      uuid        NOT NULL REFERENCES accounts (id),
    buyer_id       uuid        NOT NULL REFERENCES accounts (id),
    sms_credits    bigint      NOT NULL,
    mms_credits    bigint      NOT NULL,
    price_minor    bigint      NOT NULL,
    currency       text        NOT NULL,
    actor_user_id  uuid,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT package_sales_id_unique UNIQUE (id)
);
CREATE INDEX package_sales_buyer ON package_sales (buyer_id, created_at);

CREATE TABLE ledger_entries (
    tenant_id          uuid        NOT NULL,
    id                 bigint      GENERATED ALWAYS AS IDENTITY,
    -- All entries written by one API operation share it (a sale writes one per unit).
    operation_id       uuid        NOT NULL,
    kind               text        NOT NULL CHECK (kind IN
                           ('grant', 'adjust', 'transfer', 'sale', 'reserve', 'post', 'void', 'charge', 'refund')),
    unit               text        NOT NULL CHECK (unit IN ('sms', 'mms')),
    amount             bigint      NOT NULL CHECK (amount > 0),
    debit_account_id   uuid        NOT NULL,
    credit_account_id  uuid        NOT NULL,
    -- reserve and void entries record a change of the pending part only; they move no posted credits.
    pending            boolean     NOT NULL DEFAULT false,
    reservation_id     uuid,
    refunded_entry_id  bigint,
    sale_id            uuid,
    actor_user_id      uuid,
    request_id         text,
    reason             text        CHECK (reason IS NULL OR char_length(reason) <= 500),
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT ledger_entries_id_unique UNIQUE (id),
    CONSTRAINT ledger_entries_two_sides CHECK (debit_account_id <> credit_account_id)
);
CREATE INDEX ledger_entries_debit ON ledger_entries (debit_account_id, created_at, id);
CREATE INDEX ledger_entries_credit ON ledger_entries (credit_account_id, created_at, id);
CREATE INDEX ledger_entries_refunds ON ledger_entries (refunded_entry_id) WHERE refunded_entry_id IS NOT NULL;

-- Entries are append-only: no UPDATE, no DELETE, whoever asks.
CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only' USING ERRCODE = 'raise_exception';
END;
$$;
CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only();

-- One row per (acting account, key): the first request's fingerprint and its response.
CREATE TABLE idempotency_keys (
    tenant_id        uuid        NOT NULL,
    account_id       uuid        NOT NULL,
    key              text        NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    request_hash     text        NOT NULL,
    operation_id     uuid        NOT NULL,
    response_status  integer,
    response_body    text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, account_id, key),
    CONSTRAINT idempotency_keys_operation_unique UNIQUE (operation_id)
);
