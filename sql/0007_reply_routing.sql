-- Reply routing (issue 5): a user's replies forwarded to their email or mobile.

-- Per user: where replies to their messages go. `email` overrides the user's own address.
CREATE TABLE reply_routing (
    tenant_id   uuid        NOT NULL,
    user_id     uuid        NOT NULL REFERENCES users (id),
    channel     text        NOT NULL CHECK (channel IN ('none', 'email', 'mobile')),
    mobile      text        CHECK (mobile ~ '^\+[1-9][0-9]{7,14}$'),
    email       text        CHECK (char_length(email) <= 254),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id),
    CONSTRAINT reply_routing_user_unique UNIQUE (user_id)
);

-- Where an inbound message was forwarded ("email a@b.example", "mobile +61…") or why not.
ALTER TABLE messages ADD COLUMN routed_to text;
-- Finding who last wrote to a number, for routing its reply.
CREATE INDEX messages_recipient ON messages (account_id, recipient, created_at) WHERE direction = 'outbound';

ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check CHECK (kind IN ('send_message', 'route_reply'));
