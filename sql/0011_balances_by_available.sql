-- "Clients → Show All" sorted by SMS or MMS available: the first page of a reseller with
-- thousands of clients read in index order, not sorted whole. The cost: an update that changes
-- a balance also updates this index (no longer a HOT update), measured in make bench.
CREATE INDEX balances_available ON balances (tenant_id, unit, (posted - reserved + credit_limit), account_id);
