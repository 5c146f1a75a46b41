#!/usr/bin/env bash
# Console render benchmark: the Clients page of a reseller with 10,000 clients, as it opens
# (by name) and sorted by SMS available (the first page of 50 each), timed from the client side
# on loopback next to /healthz measured the same way in the same run. Prints p50/p99 and ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
CLIENTS=${CONSOLE_CLIENTS:-10000}
REQUESTS=${CONSOLE_REQUESTS:-300}
BIN=.build/release/creditdesk
DATA=.bench/console-bench-data
serve_fresh "$BIN" "$DATA" .bench/console-bench-server.log
PG_PORT=$(sed -n 4p "$DATA/pgdata/postmaster.pid")
DB_URL="postgresql://creditdesk:$(cat "$DATA/password")@127.0.0.1:$PG_PORT/creditdesk"

RESELLER=$(api "$KEY" POST /v1/accounts "{\"parent_id\":\"$PLATFORM\",\"kind\":\"reseller\",\"name\":\"Bench Reseller\"}" | jq -r .id)
ADMIN=$(api "$KEY" POST "/v1/accounts/$RESELLER/users" '{"name":"Bench Admin","role":"admin","email":"bench@reseller.example"}' | jq -r .id)
echo "console bench: $CLIENTS clients …" >&2
# Bench data only: the clients in one statement (the API would take minutes of round trips).
psql -q "$DB_URL" -v reseller="$RESELLER" -v count="$CLIENTS" > /dev/null <<'SQL'
INSERT INTO accounts (tenant_id, id, parent_id, kind, name, path)
SELECT r.tenant_id, c.id, r.id, 'client', 'Client ' || c.n, r.path || c.id
FROM accounts r, LATERAL (SELECT n, gen_random_uuid() AS id FROM generate_series(1, :count) n) c
WHERE r.id = :'reseller';
-- Every account has its two balance rows, as AccountStore.create makes them; varied amounts.
INSERT INTO balances (tenant_id, account_id, unit, posted)
SELECT a.tenant_id, a.id, u.unit, (random() * 5000)::bigint
FROM accounts a CROSS JOIN (VALUES ('sms'), ('mms')) u (unit)
WHERE a.parent_id = :'reseller';
-- What autovacuum does soon after a bulk load: the planner then knows the tables' sizes.
ANALYZE accounts;
ANALYZE balances;
SQL
echo "bench password 1" | "$BIN" users password --user "$ADMIN" --api-key "$KEY" --data-dir "$DATA" --log-level warning > /dev/null

JAR=.bench/console-bench-cookies
rm -f "$JAR"
CSRF=$(curl -sf -c "$JAR" "$BASE/console/sign-in" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p')
curl -sf -b "$JAR" -c "$JAR" -o /dev/null --data-urlencode "csrf=$CSRF" \
  --data-urlencode "email=bench@reseller.example" --data-urlencode "password=bench password 1" "$BASE/console/sign-in"
PAGE="$BASE/console/clients?sort=sms_available&order=desc"
curl -sf -b "$JAR" "$PAGE" > .bench/console-bench-page.html || true
grep -q "Client " .bench/console-bench-page.html || { echo "console bench: the Clients page did not render (.bench/console-bench-page.html)" >&2; exit 1; }

# timings URL: REQUESTS client-side times in ms, one per line, sorted (keep-alive, one curl).
timings() {
  local args=()
  for _ in $(seq 1 "$REQUESTS"); do args+=(-o /dev/null -w '%{time_total}\n' "$1"); done
  curl -sf -b "$JAR" "${args[@]}" | awk '{printf "%.3f\n", $1 * 1000}' | sort -n
}
percentile() { awk -v p="$2" '{v[NR]=$1} END {i=int(NR*p/100); if (i < 1) i = 1; print v[i]}' "$1"; }
timings "$BASE/healthz" > .bench/console-bench-healthz
H50=$(percentile .bench/console-bench-healthz 50); H99=$(percentile .bench/console-bench-healthz 99)
printf '%-58s %10s %10s %14s\n' "measure ($REQUESTS requests)" "p50 ms" "p99 ms" "p50 / healthz"
printf '%-58s %10s %10s\n' "GET /healthz (the anchor)" "$H50" "$H99"
for view in "by name (as it opens)|$BASE/console/clients" "by SMS available, descending|$PAGE"; do
  timings "${view#*|}" > .bench/console-bench-clients
  P50=$(percentile .bench/console-bench-clients 50); P99=$(percentile .bench/console-bench-clients 99)
  printf '%-58s %10s %10s %14s   (target p99 < 50)\n' "Clients page, $CLIENTS clients, ${view%%|*}" "$P50" "$P99" \
    "$(echo "scale=1; $P50 / $H50" | bc)"
done
