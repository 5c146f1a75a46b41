-- Per-gateway sending limits, held across every daemon sending through the connection.
-- `max_concurrency`: submissions on the wire at once. Each live dispatcher takes a share of
-- it (see `dispatchers` below), so the shares add up to the limit.
-- `max_messages_per_second`: NULL for none; otherwise a token bucket in
-- `gateway_send_tokens` that every daemon draws from.
ALTER TABLE gateway_connections
    ADD COLUMN max_concurrency integer NOT NULL DEFAULT 16 CHECK (max_concurrency BETWEEN 1 AND 256),
    ADD COLUMN max_messages_per_second integer CHECK (max_messages_per_second BETWEEN 1 AND 10000);

-- The token bucket of a rate-limited connection: `tokens` as of `refilled_at`; a daemon takes
-- a few at a time in one UPDATE that first adds what the elapsed time earned (at most a tenth
-- of a second's worth is kept, so the rate holds over any second).
CREATE TABLE gateway_send_tokens (
    tenant_id      uuid             NOT NULL,
    connection_id  uuid             NOT NULL,
    tokens         double precision NOT NULL CHECK (tokens >= 0),
    refilled_at    timestamptz      NOT NULL,
    PRIMARY KEY (tenant_id, connection_id),
    FOREIGN KEY (tenant_id, connection_id) REFERENCES gateway_connections (tenant_id, id) ON DELETE CASCADE
);

-- The dispatchers alive now, each daemon's one row refreshed every few seconds; a row not
-- seen for 10 s is a daemon gone. Platform data, not a tenant's.
CREATE TABLE dispatchers (
    id             uuid        PRIMARY KEY,
    started_at     timestamptz NOT NULL DEFAULT now(),
    seen_at        timestamptz NOT NULL DEFAULT now()
);

-- Who holds a claimed job: a dispatcher's id. A job whose holder has stopped beating (its
-- daemon killed) is claimable again once the holder has been silent for
-- `DispatcherStore.reclaimSeconds`, long before its lease would end; NULL (claimed by a build
-- without this column) waits out the lease.
ALTER TABLE jobs ADD COLUMN locked_by uuid;
