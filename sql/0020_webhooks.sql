-- Webhooks: endpoints per account, an outbox of events, and one delivery per endpoint and
-- event, which is itself the delivery queue (leased with SKIP LOCKED, as jobs are).
--
-- Events are written by triggers in the transaction that made the change, so an event is
-- never lost and never sent for a change that rolled back, whichever program made it:
--   message.status    a message's status changed (sent, delivered, failed, cancelled)
--   message.inbound   a message was received
--   credits.changed   credits moved in or out by hand or by the tree (grant, adjustment,
--                     transfer, package sale, expiry); not each message's consumption
-- campaign.finished is written by the daemons' notifier when a confirmed campaign has nothing
-- left to send; balance.low and balance.recovered by the low-balance alerts.
--
-- Order per object: a trigger runs after its statement, once the changed row is locked, so a
-- later change of the same object (a message, an account's credits) gets a later delivery id;
-- a delivery is claimed only when no earlier one of its endpoint and object is pending.

CREATE TABLE webhook_endpoints (
    tenant_id        uuid        NOT NULL,
    id               uuid        NOT NULL,
    account_id       uuid        NOT NULL,
    url              text        NOT NULL CHECK (char_length(url) BETWEEN 1 AND 2000),
    description      text        CHECK (char_length(description) <= 200),
    events           text[]      NOT NULL CHECK (cardinality(events) >= 1 AND events <@ ARRAY[
                         'message.status', 'message.inbound', 'campaign.finished', 'balance.low',
                         'balance.recovered', 'credits.changed']::text[]),
    -- The signing secret, sealed like gateway credentials (AES-256-GCM, key named by id).
    secret_sealed    bytea       NOT NULL,
    secret_key_id    text        NOT NULL,
    enabled          boolean     NOT NULL DEFAULT true,
    disabled_reason  text        CHECK (char_length(disabled_reason) <= 500),
    -- Since when every attempt failed (NULL: the last one succeeded, or none was made).
    failing_since    timestamptz,
    max_concurrency  integer     NOT NULL DEFAULT 4 CHECK (max_concurrency BETWEEN 1 AND 32),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id)
);
CREATE INDEX webhook_endpoints_account ON webhook_endpoints (tenant_id, account_id);
-- A movement's sides are accounts of possibly two tenants (a grant from the platform): found by id.
CREATE INDEX webhook_endpoints_enabled ON webhook_endpoints (account_id) WHERE enabled;

CREATE TABLE webhook_events (
    tenant_id   uuid        NOT NULL,
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    account_id  uuid        NOT NULL,
    type        text        NOT NULL,
    object_id   text        NOT NULL,
    data        jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id)
);

CREATE TABLE webhook_deliveries (
    tenant_id         uuid        NOT NULL,
    id                bigint      GENERATED ALWAYS AS IDENTITY,
    endpoint_id       uuid        NOT NULL,
    event_id          uuid        NOT NULL,
    object_id         text        NOT NULL,
    status            text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts          integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    locked_until      timestamptz,
    last_attempt_at   timestamptz,
    last_status_code  integer,
    last_answer       text        CHECK (char_length(last_answer) <= 500),
    last_latency_ms   integer,
    delivered_at      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, event_id) REFERENCES webhook_events (tenant_id, id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (endpoint_id, object_id, id) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (tenant_id, endpoint_id, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (tenant_id, event_id);
-- The daemons' housekeeping deletes deliveries and events 30 days old.
CREATE INDEX webhook_deliveries_age ON webhook_deliveries (created_at);
CREATE INDEX webhook_events_age ON webhook_events (created_at);

-- When a confirmed campaign had nothing left to send (the notifier sets it, once).
ALTER TABLE campaigns ADD COLUMN finished_at timestamptz;
CREATE INDEX campaigns_unfinished ON campaigns (confirmed_at) WHERE status = 'confirmed' AND finished_at IS NULL;

CREATE FUNCTION webhook_time(at timestamptz) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- Queues one event per object for every enabled endpoint of its account that wants the type.
CREATE FUNCTION webhook_enqueue(event_type text, tenant_ids uuid[], account_ids uuid[], object_ids text[], payloads jsonb[])
RETURNS void LANGUAGE sql AS $$
    WITH candidates AS (
        SELECT * FROM unnest(tenant_ids, account_ids, object_ids, payloads) AS c (tenant_id, account_id, object_id, data)
    ), events AS (
        INSERT INTO webhook_events (tenant_id, account_id, type, object_id, data)
        SELECT c.tenant_id, c.account_id, event_type, c.object_id, c.data FROM candidates c
        WHERE EXISTS (SELECT 1 FROM webhook_endpoints e
                      WHERE e.tenant_id = c.tenant_id AND e.account_id = c.account_id AND e.enabled
                        AND event_type = ANY (e.events))
        RETURNING tenant_id, id, account_id, object_id
    )
    INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id, object_id)
    SELECT ev.tenant_id, e.id, ev.id, ev.object_id
    FROM events ev JOIN webhook_endpoints e ON e.tenant_id = ev.tenant_id AND e.account_id = ev.account_id
    WHERE e.enabled AND event_type = ANY (e.events)
    ORDER BY ev.object_id, e.id
$$;

-- message.status after an UPDATE of messages, message.inbound after an INSERT.
CREATE FUNCTION webhook_messages_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    event_type text := CASE TG_OP WHEN 'INSERT' THEN 'message.inbound' ELSE 'message.status' END;
    tenants uuid[]; accounts uuid[]; objects text[]; payloads jsonb[];
BEGIN
    -- Most statements change messages nobody subscribed to: leave before reading them.
    IF NOT EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled AND event_type = ANY (events)) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(n.tenant_id), array_agg(n.account_id), array_agg(n.id::text), array_agg(jsonb_build_object(
                   'id', n.id, 'account_id', n.account_id, 'user_id', n.user_id, 'gateway_id', n.connection_id,
                   'direction', n.direction, 'unit', n.unit, 'from', n.sender, 'to', n.recipient, 'text', n.body,
                   'media_urls', to_jsonb(n.media_urls), 'segments', n.segments, 'credits', n.credits,
                   'status', n.status, 'failure_reason', n.failure_reason, 'contact_id', n.contact_id,
                   'created_at', webhook_time(n.created_at)))
        INTO tenants, accounts, objects, payloads
        FROM new_rows n
        WHERE n.direction = 'inbound'
          AND EXISTS (SELECT 1 FROM webhook_endpoints e
                      WHERE e.tenant_id = n.tenant_id AND e.account_id = n.account_id AND e.enabled
                        AND event_type = ANY (e.events));
    ELSE
        SELECT array_agg(n.tenant_id), array_agg(n.account_id), array_agg(n.id::text), array_agg(jsonb_build_object(
                   'id', n.id, 'account_id', n.account_id, 'user_id', n.user_id, 'campaign_id', n.campaign_id,
                   'direction', n.direction, 'unit', n.unit, 'to', n.recipient, 'segments', n.segments,
                   'credits', n.credits, 'status', n.status, 'previous_status', o.status,
                   'failure_reason', n.failure_reason, 'sent_at', webhook_time(n.sent_at),
                   'delivered_at', webhook_time(n.delivered_at), 'updated_at', webhook_time(n.updated_at)))
        INTO tenants, accounts, objects, payloads
        FROM new_rows n JOIN old_rows o ON o.tenant_id = n.tenant_id AND o.id = n.id
        WHERE n.status IS DISTINCT FROM o.status
          AND EXISTS (SELECT 1 FROM webhook_endpoints e
                      WHERE e.tenant_id = n.tenant_id AND e.account_id = n.account_id AND e.enabled
                        AND event_type = ANY (e.events));
    END IF;
    IF tenants IS NOT NULL THEN
        PERFORM webhook_enqueue(event_type, tenants, accounts, objects, payloads);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER messages_webhook_inserted AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION webhook_messages_changed();
CREATE TRIGGER messages_webhook_updated AFTER UPDATE ON messages
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION webhook_messages_changed();

-- credits.changed: each customer side of a movement made by hand or by the tree, with the
-- balance it left (a move inserts its entry after its balance updates). A row trigger whose
-- WHEN skips the entries of messages (reserve, post, void, charge, refund) without a call.
CREATE FUNCTION webhook_entry_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    tenants uuid[]; accounts uuid[]; objects text[]; payloads jsonb[];
BEGIN
    IF NOT EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled AND 'credits.changed' = ANY (events)) THEN
        RETURN NULL;
    END IF;
    SELECT array_agg(b.tenant_id), array_agg(s.account_id), array_agg(s.account_id::text), array_agg(jsonb_build_object(
               'account_id', s.account_id, 'entry_id', NEW.id, 'kind', NEW.kind, 'unit', NEW.unit, 'amount', s.amount,
               'counterparty_id', s.counterparty, 'reason', NEW.reason, 'created_at', webhook_time(NEW.created_at),
               'balance', jsonb_build_object('posted', b.posted, 'reserved', b.reserved,
                                             'available', b.posted - b.reserved + b.credit_limit)))
    INTO tenants, accounts, objects, payloads
    FROM (VALUES (NEW.debit_account_id, -NEW.amount, NEW.credit_account_id),
                 (NEW.credit_account_id, NEW.amount, NEW.debit_account_id)) AS s (account_id, amount, counterparty)
    JOIN LATERAL (SELECT e.tenant_id FROM webhook_endpoints e
                  WHERE e.account_id = s.account_id AND e.enabled AND 'credits.changed' = ANY (e.events) LIMIT 1) e ON true
    JOIN balances b ON b.tenant_id = e.tenant_id AND b.account_id = s.account_id AND b.unit = NEW.unit;
    IF tenants IS NOT NULL THEN
        PERFORM webhook_enqueue('credits.changed', tenants, accounts, objects, payloads);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER ledger_entries_webhook AFTER INSERT ON ledger_entries
    FOR EACH ROW WHEN (NEW.kind IN ('grant', 'adjust', 'transfer', 'sale', 'expire'))
    EXECUTE FUNCTION webhook_entry_inserted();
