-- Low-balance alerts and automatic top-ups.
--
-- Both are rules on one balance (account and unit) with an `armed` state: armed while the
-- balance was last seen at or above the rule's line. A balance update that leaves it below an
-- armed rule's line disarms the rule and acts once (an alert; a top-up job); one that leaves it
-- at or above re-arms it. The balance row is locked by every update until commit, so
-- concurrent consumers crossing the line are serialized on it and exactly one of them sees the
-- rule armed. The check is a row trigger on `balances` that runs only for balances with a rule
-- (`watched`): every other balance update pays nothing.
--
-- Lock order: a balance row, then its rules. Setting a rule locks the balance first (by
-- marking it watched), then writes the rule.
-- Alerts by days left ("below N days at the last 7 days' consumption") depend on time, not
-- only on updates: the daemons' notifier evaluates those once a minute, on the alert row alone.

ALTER TABLE balances ADD COLUMN watched boolean NOT NULL DEFAULT false;

ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check CHECK (kind IN ('send_message', 'route_reply', 'balance_notice', 'auto_top_up'));

CREATE TABLE balance_alerts (
    tenant_id      uuid        NOT NULL,
    account_id     uuid        NOT NULL,
    unit           text        NOT NULL CHECK (unit IN ('sms', 'mms')),
    measure        text        NOT NULL CHECK (measure IN ('credits', 'days')),
    below          bigint      NOT NULL CHECK (below >= 1),
    -- Also tell the admins of the account above (the reseller).
    notify_parent  boolean     NOT NULL DEFAULT false,
    armed          boolean     NOT NULL DEFAULT true,
    alerted_at     timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, account_id, unit),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id)
);
CREATE INDEX balance_alerts_by_days ON balance_alerts (tenant_id, account_id) WHERE measure = 'days';

-- What was said about a balance: an alert, a recovery, a failed top-up; mailed by a job.
CREATE TABLE balance_notices (
    tenant_id      uuid        NOT NULL,
    id             uuid        NOT NULL DEFAULT gen_random_uuid(),
    account_id     uuid        NOT NULL,
    unit           text        NOT NULL CHECK (unit IN ('sms', 'mms')),
    kind           text        NOT NULL CHECK (kind IN ('low', 'recovered', 'top_up_failed')),
    available      bigint      NOT NULL,
    threshold      text        NOT NULL CHECK (char_length(threshold) <= 100),
    notify_parent  boolean     NOT NULL,
    detail         text        CHECK (char_length(detail) <= 500),
    created_at     timestamptz NOT NULL DEFAULT now(),
    mailed_to      text[],
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id)
);
CREATE INDEX balance_notices_account ON balance_notices (tenant_id, account_id, created_at);

-- "When available falls below `below`, transfer `amount` from the parent's pool", set by an
-- account above; at most `max_credits_per_day` and `max_credits_per_month` (UTC) moved.
CREATE TABLE auto_top_ups (
    tenant_id              uuid        NOT NULL,
    account_id             uuid        NOT NULL,
    unit                   text        NOT NULL CHECK (unit IN ('sms', 'mms')),
    source_account_id      uuid        NOT NULL,
    below                  bigint      NOT NULL CHECK (below >= 1),
    amount                 bigint      NOT NULL CHECK (amount >= 1),
    max_credits_per_day    bigint      CHECK (max_credits_per_day >= 1),
    max_credits_per_month  bigint      CHECK (max_credits_per_month >= 1),
    -- The user who set it: the transfers are made in their name.
    set_by                 uuid        NOT NULL,
    armed                  boolean     NOT NULL DEFAULT true,
    updated_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, account_id, unit),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, source_account_id) REFERENCES accounts (tenant_id, id)
);

-- One per crossing: the top-up it asked for and what became of it.
CREATE TABLE auto_top_up_runs (
    tenant_id    uuid        NOT NULL,
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    account_id   uuid        NOT NULL,
    unit         text        NOT NULL CHECK (unit IN ('sms', 'mms')),
    status       text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'applied', 'skipped', 'failed')),
    amount       bigint,
    entry_id     bigint,
    detail       text        CHECK (char_length(detail) <= 500),
    created_at   timestamptz NOT NULL DEFAULT now(),
    resolved_at  timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id)
);
CREATE INDEX auto_top_up_runs_account ON auto_top_up_runs (tenant_id, account_id, unit, created_at);

-- Writes a notice, queues its email (not for a recovery) and its webhook event.
CREATE FUNCTION balance_notice(
    tenant uuid, account uuid, balance_unit text, notice_kind text, available bigint, threshold text,
    notify_parent boolean, detail text
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    notice uuid;
BEGIN
    INSERT INTO balance_notices (tenant_id, account_id, unit, kind, available, threshold, notify_parent, detail)
    VALUES (tenant, account, balance_unit, notice_kind, available, threshold, notify_parent, detail)
    RETURNING id INTO notice;
    IF notice_kind <> 'recovered' THEN
        INSERT INTO jobs (tenant_id, kind, subject_id) VALUES (tenant, 'balance_notice', notice);
    END IF;
    IF notice_kind IN ('low', 'recovered') THEN
        PERFORM webhook_enqueue('balance.' || notice_kind, ARRAY[tenant], ARRAY[account], ARRAY[account::text],
            ARRAY[jsonb_build_object('account_id', account, 'unit', balance_unit, 'available', available,
                                     'threshold', threshold, 'notice_id', notice, 'created_at', webhook_time(now()))]);
    END IF;
END
$$;

CREATE FUNCTION balance_rules_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    available bigint := NEW.posted - NEW.reserved + NEW.credit_limit;
    rule record;
BEGIN
    -- A rule whose state no longer matches the balance changes it: below and armed, it
    -- disarms and acts; at or above and disarmed, it re-arms.
    FOR rule IN
        UPDATE balance_alerts SET armed = available >= below,
            alerted_at = CASE WHEN available < below THEN now() ELSE alerted_at END
        WHERE tenant_id = NEW.tenant_id AND account_id = NEW.account_id AND unit = NEW.unit
          AND measure = 'credits' AND armed <> (available >= below)
        RETURNING below, notify_parent, armed
    LOOP
        PERFORM balance_notice(NEW.tenant_id, NEW.account_id, NEW.unit,
            CASE WHEN rule.armed THEN 'recovered' ELSE 'low' END, available,
            'below ' || rule.below || ' credits', rule.notify_parent, NULL);
    END LOOP;
    FOR rule IN
        UPDATE auto_top_ups SET armed = available >= below
        WHERE tenant_id = NEW.tenant_id AND account_id = NEW.account_id AND unit = NEW.unit
          AND armed <> (available >= below)
        RETURNING armed
    LOOP
        CONTINUE WHEN rule.armed;
        WITH run AS (
            INSERT INTO auto_top_up_runs (tenant_id, account_id, unit) VALUES (NEW.tenant_id, NEW.account_id, NEW.unit)
            RETURNING id
        )
        INSERT INTO jobs (tenant_id, kind, subject_id) SELECT NEW.tenant_id, 'auto_top_up', id FROM run;
    END LOOP;
    RETURN NULL;
END
$$;
CREATE TRIGGER balances_rules AFTER UPDATE ON balances
    FOR EACH ROW WHEN (NEW.watched) EXECUTE FUNCTION balance_rules_check();
