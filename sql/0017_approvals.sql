-- Four-eyes approvals: a manual credit movement (an adjustment, a transfer or grant) above
-- its account's threshold is held as a request until a second admin approves it.

-- Per account and unit: movements made by the account's users of more than `threshold`
-- credits need a second admin of the account or an account above it.
CREATE TABLE approval_thresholds (
    tenant_id   uuid        NOT NULL,
    account_id  uuid        NOT NULL,
    unit        text        NOT NULL CHECK (unit IN ('sms', 'mms')),
    threshold   bigint      NOT NULL CHECK (threshold > 0),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, account_id, unit),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id)
);

-- A held movement. `account_id` is the account whose threshold held it (the requester's);
-- `target_account_id` the account adjusted or the transfer's destination. A grant from the
-- platform crosses tenants (the platform is its own tenant), so the row belongs to the
-- target's tenant and refers to the requester's account by id alone.
CREATE TABLE approval_requests (
    tenant_id          uuid        NOT NULL,
    id                 uuid        NOT NULL,
    -- Orders requests for pages, newest first.
    position           bigint      NOT NULL GENERATED ALWAYS AS IDENTITY,
    account_id         uuid        NOT NULL REFERENCES accounts (id),
    target_account_id  uuid        NOT NULL,
    source_account_id  uuid        REFERENCES accounts (id),
    kind               text        NOT NULL CHECK (kind IN ('adjust', 'transfer')),
    unit               text        NOT NULL CHECK (unit IN ('sms', 'mms')),
    -- An adjustment's signed change; a transfer's (positive) amount.
    amount             bigint      NOT NULL CHECK (amount <> 0),
    reason             text        CHECK (char_length(reason) <= 500),
    requested_by       uuid        NOT NULL,
    requested_at       timestamptz NOT NULL DEFAULT now(),
    expires_at         timestamptz NOT NULL,
    status             text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    decided_by         uuid,
    decided_at         timestamptz,
    entry_id           bigint,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, target_account_id) REFERENCES accounts (tenant_id, id),
    CONSTRAINT approval_requests_kind_source CHECK ((kind = 'transfer') = (source_account_id IS NOT NULL)),
    CONSTRAINT approval_requests_decided CHECK ((status = 'pending') = (decided_by IS NULL)),
    CONSTRAINT approval_requests_applied CHECK ((status = 'approved') = (entry_id IS NOT NULL)),
    -- Four eyes, whoever writes the row: an approval is never its requester's (a withdrawal may be).
    CONSTRAINT approval_requests_four_eyes CHECK (status <> 'approved' OR decided_by <> requested_by)
);
CREATE INDEX approval_requests_id ON approval_requests (id);
CREATE INDEX approval_requests_account ON approval_requests (account_id, position);
