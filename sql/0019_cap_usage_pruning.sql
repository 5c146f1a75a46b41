-- Cap windows that can no longer matter are deleted by the daemons' housekeeping (a minute
-- row an hour on, a day row 40 days on; month rows, twelve a year, stay): an account with a
-- per-minute cap would otherwise add a row every minute it sends. The index lets that
-- delete find old rows without reading every account's current windows.
CREATE INDEX cap_usage_by_window_start ON cap_usage (window_kind, starts_at);
