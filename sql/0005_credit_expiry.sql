-- Credit expiry (issue 4): unused credits can be expired by the account's parent. An `expire`
-- entry moves them from the customer to the consumption account, like a charge, so they are
-- gone for good but stay explained; usage reports show them in their own `expired` column.
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check CHECK (kind IN
    ('grant', 'adjust', 'transfer', 'sale', 'reserve', 'post', 'void', 'charge', 'refund', 'expire'));
