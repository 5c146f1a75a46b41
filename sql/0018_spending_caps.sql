-- Spend and velocity caps of client accounts (set by an account above them), and what each
-- cap window has used. A send counts its credits (and one message) when it reserves them,
-- in the same transaction, with a conditional upsert on the window's row: two racing sends
-- cannot both pass the last unit, and a send that fails later (no credits) takes its count
-- back with its rollback. Refunds do not give cap room back: a cap bounds what was sent.
CREATE TABLE spending_caps (
    tenant_id             uuid        NOT NULL,
    account_id            uuid        NOT NULL,
    time_zone             text        NOT NULL DEFAULT 'UTC' CHECK (char_length(time_zone) <= 64),
    sms_per_day           bigint      CHECK (sms_per_day >= 0),
    sms_per_month         bigint      CHECK (sms_per_month >= 0),
    mms_per_day           bigint      CHECK (mms_per_day >= 0),
    mms_per_month         bigint      CHECK (mms_per_month >= 0),
    messages_per_minute   bigint      CHECK (messages_per_minute >= 0),
    -- Calling codes a message may go to; NULL: anywhere.
    allowed_countries     text[]      CHECK (cardinality(allowed_countries) <= 300),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, account_id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id)
);

-- One row per account, window kind, counter (sms, mms, messages) and window start.
CREATE TABLE cap_usage (
    tenant_id     uuid        NOT NULL,
    account_id    uuid        NOT NULL,
    window_kind   text        NOT NULL CHECK (window_kind IN ('day', 'month', 'minute')),
    counter       text        NOT NULL CHECK (counter IN ('sms', 'mms', 'messages')),
    starts_at     timestamptz NOT NULL,
    used          bigint      NOT NULL CHECK (used >= 0),
    PRIMARY KEY (tenant_id, account_id, window_kind, counter, starts_at),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id)
);
