-- Contacts, lists and campaigns (issue 5, DESIGN.md §4).

-- A client's address book. Numbers are E.164 or absent; a contact without a mobile, or without
-- SMS consent, is kept and reported per recipient, never silently dropped.
CREATE TABLE contacts (
    tenant_id    uuid        NOT NULL,
    id           uuid        NOT NULL,
    account_id   uuid        NOT NULL REFERENCES accounts (id),
    first_name   text        NOT NULL CHECK (char_length(first_name) BETWEEN 1 AND 100),
    last_name    text        CHECK (char_length(last_name) <= 100),
    mobile       text        CHECK (mobile ~ '^\+[1-9][0-9]{7,14}$'),
    work_phone   text        CHECK (work_phone ~ '^\+[1-9][0-9]{7,14}$'),
    home_phone   text        CHECK (home_phone ~ '^\+[1-9][0-9]{7,14}$'),
    email        text        CHECK (char_length(email) <= 254),
    sms_consent  boolean     NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT contacts_id_unique UNIQUE (id)
);
CREATE INDEX contacts_account ON contacts (account_id, lower(first_name), id);
-- Reply linking looks a number up in each phone field, oldest contact first.
CREATE INDEX contacts_mobile ON contacts (account_id, mobile, created_at, id) WHERE mobile IS NOT NULL;
CREATE INDEX contacts_work_phone ON contacts (account_id, work_phone, created_at, id) WHERE work_phone IS NOT NULL;
CREATE INDEX contacts_home_phone ON contacts (account_id, home_phone, created_at, id) WHERE home_phone IS NOT NULL;

CREATE TABLE contact_lists (
    tenant_id   uuid        NOT NULL,
    id          uuid        NOT NULL,
    account_id  uuid        NOT NULL REFERENCES accounts (id),
    name        text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT contact_lists_id_unique UNIQUE (id)
);
CREATE UNIQUE INDEX contact_lists_name ON contact_lists (account_id, lower(name));

CREATE TABLE contact_list_members (
    tenant_id   uuid        NOT NULL,
    list_id     uuid        NOT NULL REFERENCES contact_lists (id),
    contact_id  uuid        NOT NULL REFERENCES contacts (id),
    -- The order members joined in (a batch keeps its own order): a campaign goes in this order.
    seq         bigint      GENERATED ALWAYS AS IDENTITY,
    added_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, list_id, contact_id)
);

-- Per client account: the order in which a reply's number is looked up among contacts' phones.
CREATE TABLE messaging_settings (
    tenant_id          uuid        NOT NULL,
    account_id         uuid        NOT NULL REFERENCES accounts (id),
    reply_match_order  text[]      NOT NULL DEFAULT '{mobile,work_phone,home_phone}'
                                   CHECK (reply_match_order <@ '{mobile,work_phone,home_phone}'::text[]
                                          AND cardinality(reply_match_order) BETWEEN 1 AND 3),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, account_id),
    CONSTRAINT messaging_settings_account_unique UNIQUE (account_id)
);

-- A campaign: a template sent to a list. Drafts can be quoted and test-sent; confirming (terms
-- accepted) snapshots the recipients, renders each text and reserves the whole campaign's
-- credits as one reservation batch; each message then goes by the ordinary send path.
CREATE TABLE campaigns (
    tenant_id          uuid        NOT NULL,
    id                 uuid        NOT NULL,
    account_id         uuid        NOT NULL REFERENCES accounts (id),
    user_id            uuid        REFERENCES users (id),
    list_id            uuid        NOT NULL REFERENCES contact_lists (id),
    name               text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    template           text        NOT NULL CHECK (char_length(template) BETWEEN 1 AND 2000),
    media_urls         text[]      NOT NULL DEFAULT '{}',
    status             text        NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'confirmed', 'cancelled')),
    send_at            timestamptz,
    terms_accepted_at  timestamptz,
    terms_accepted_by  uuid,
    batch_id           uuid,
    recipients         integer     NOT NULL DEFAULT 0,
    skipped            integer     NOT NULL DEFAULT 0,
    unit               text        CHECK (unit IN ('sms', 'mms')),
    credits            bigint      NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL DEFAULT now(),
    confirmed_at       timestamptz,
    cancelled_at       timestamptz,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT campaigns_id_unique UNIQUE (id)
);
CREATE INDEX campaigns_account ON campaigns (account_id, created_at, id);

-- One row per list member at confirmation: the message sent, or why none was.
CREATE TABLE campaign_recipients (
    tenant_id    uuid    NOT NULL,
    campaign_id  uuid    NOT NULL REFERENCES campaigns (id),
    position     integer NOT NULL,
    contact_id   uuid    NOT NULL,
    phone        text,
    message_id   uuid,
    skip_reason  text,
    PRIMARY KEY (tenant_id, campaign_id, position),
    CONSTRAINT campaign_recipients_outcome CHECK ((message_id IS NULL) <> (skip_reason IS NULL))
);

ALTER TABLE messages ADD COLUMN campaign_id uuid;
CREATE INDEX messages_campaign ON messages (campaign_id) WHERE campaign_id IS NOT NULL;
-- Gateways may post the same inbound message twice; their id makes the second a no-op.
ALTER TABLE messages ADD COLUMN gateway_message_id text CHECK (char_length(gateway_message_id) <= 100);
CREATE UNIQUE INDEX messages_gateway_message ON messages (connection_id, gateway_message_id)
    WHERE gateway_message_id IS NOT NULL;
