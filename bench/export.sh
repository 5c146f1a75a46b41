#!/usr/bin/env bash
# Export benchmark: 1,000,000 ledger entries across 1,000 clients; the API's streamed
# CSV export against `COPY (same rows) TO STDOUT` on the same server, and the daemon's RSS.
# Prints a table and writes .bench/export.json. Uses a release build and its own cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ENTRIES=${ENTRIES:-1000000}
CLIENTS=${CLIENTS:-1000}
BIN=.build/release/creditdesk
DATA=.bench/export-data
fresh_run "$DATA" .bench/export-server.log

"$BIN" serve --data-dir "$DATA" --port "$PORT" --log-level warning 2> .bench/export-server.log &
SERVER=$!
cleanup() { kill -INT "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; }
trap cleanup EXIT
wait_ready "$BASE" .bench/export-server.log

bootstrap "$BIN" "$DATA"
PG_PORT=$(sed -n 4p "$DATA/pgdata/postmaster.pid")
URL="postgresql://creditdesk:$(cat "$DATA/password")@127.0.0.1:$PG_PORT/creditdesk"
RESELLER=$(api "$KEY" POST /v1/accounts "{\"parent_id\":\"$PLATFORM\",\"kind\":\"reseller\",\"name\":\"Bench Reseller\"}" | jq -r .id)

echo "generating $CLIENTS clients and $ENTRIES entries …" >&2
psql -q -v ON_ERROR_STOP=1 "$URL" > /dev/null <<SQL
WITH ids AS (SELECT gen_random_uuid() AS id, g FROM generate_series(1, $CLIENTS) AS g)
INSERT INTO accounts (tenant_id, id, parent_id, kind, name, path)
SELECT '$RESELLER', id, '$RESELLER', 'client', 'Client ' || g || ', "bench"', ARRAY['$PLATFORM', '$RESELLER', id]::uuid[]
FROM ids;
INSERT INTO balances (tenant_id, account_id, unit)
SELECT '$RESELLER', id, u FROM accounts, (VALUES ('sms'), ('mms')) AS v (u) WHERE parent_id = '$RESELLER';
WITH clients AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM accounts WHERE parent_id = '$RESELLER')
INSERT INTO ledger_entries (tenant_id, operation_id, kind, unit, amount, debit_account_id, credit_account_id, reason, created_at)
SELECT '$RESELLER', gen_random_uuid(),
       CASE WHEN g % 2 = 0 THEN 'adjust' ELSE 'charge' END, 'sms', 1 + g % 50,
       CASE WHEN g % 2 = 0 THEN '00000000-0000-0000-0000-000000000001'::uuid ELSE c.id END,
       CASE WHEN g % 2 = 0 THEN c.id ELSE '00000000-0000-0000-0000-000000000002'::uuid END,
       'bench row ' || g, now() - (g % (20 * 86400)) * interval '1 second'
FROM generate_series(1, $ENTRIES) AS g JOIN clients c ON c.n = g % $CLIENTS;
ANALYZE;
SQL

FROM=$(date -u -d '-25 days' +%F)
TO=$(date -u -d '+1 day' +%F)
now() { date +%s.%N; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$SERVER/status"; }

RSS_BEFORE=$(rss_kb)
PEAK_FILE=$(mktemp)
echo "$RSS_BEFORE" > "$PEAK_FILE"
( while kill -0 "$SERVER" 2>/dev/null; do r=$(rss_kb); p=$(cat "$PEAK_FILE"); [ "$r" -gt "$p" ] && echo "$r" > "$PEAK_FILE"; sleep 0.05; done ) &
SAMPLER=$!

START=$(now)
EXPORT_BYTES=$(curl -s -o .bench/export.csv -w '%{size_download}' -H "Authorization: Bearer $KEY" \
  "http://127.0.0.1:$PORT/v1/accounts/$RESELLER/usage/export?from=$FROM&to=$TO&scope=descendants&detail=entries&format=csv")
EXPORT_SECONDS=$(echo "$(now) - $START" | bc -l)
kill "$SAMPLER" 2>/dev/null || true
RSS_PEAK=$(cat "$PEAK_FILE")
EXPORT_ROWS=$(($(wc -l < .bench/export.csv) - 1))

START=$(now)
psql -q -v ON_ERROR_STOP=1 "$URL" -c "\\copy (SELECT e.id, to_char(e.created_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.MS'), a.id, a.name, e.kind, e.unit,
    CASE WHEN e.credit_account_id = a.id THEN e.amount ELSE -e.amount END,
    CASE WHEN e.credit_account_id = a.id THEN e.debit_account_id ELSE e.credit_account_id END, e.reason, e.request_id
  FROM ledger_entries e JOIN accounts a ON a.id = e.credit_account_id OR a.id = e.debit_account_id
  WHERE a.parent_id = '$RESELLER' AND NOT e.pending
    AND e.created_at >= '$FROM'::date AND e.created_at < '$TO'::date) TO '.bench/copy.csv' CSV HEADER"
COPY_SECONDS=$(echo "$(now) - $START" | bc -l)
COPY_ROWS=$(($(wc -l < .bench/copy.csv) - 1))

RATIO=$(echo "$COPY_SECONDS / $EXPORT_SECONDS" | bc -l)
printf '\n%-34s %14s\n' "measure" "value"
printf '%-34s %14d\n' "rows exported (API)" "$EXPORT_ROWS"
printf '%-34s %14d\n' "rows copied (COPY TO STDOUT)" "$COPY_ROWS"
printf '%-34s %14.2f\n' "API export seconds" "$EXPORT_SECONDS"
printf '%-34s %14.0f\n' "API export rows/s" "$(echo "$EXPORT_ROWS / $EXPORT_SECONDS" | bc -l)"
printf '%-34s %14.2f\n' "COPY seconds" "$COPY_SECONDS"
printf '%-34s %14.0f\n' "COPY rows/s" "$(echo "$COPY_ROWS / $COPY_SECONDS" | bc -l)"
printf '%-34s %14.2f\n' "API/COPY throughput ratio" "$RATIO"
printf '%-34s %14d\n' "API export MB" "$((EXPORT_BYTES / 1000000))"
printf '%-34s %14d\n' "daemon RSS before (MB)" "$((RSS_BEFORE / 1024))"
printf '%-34s %14d\n' "daemon RSS peak (MB)" "$((RSS_PEAK / 1024))"
printf '%-34s %14d\n' "daemon RSS growth (MB)" "$(((RSS_PEAK - RSS_BEFORE) / 1024))"
cat > .bench/export.json <<JSON
{"entries": $ENTRIES, "clients": $CLIENTS, "export_rows": $EXPORT_ROWS, "copy_rows": $COPY_ROWS,
 "export_seconds": $EXPORT_SECONDS, "copy_seconds": $COPY_SECONDS, "ratio": $RATIO,
 "rss_before_kb": $RSS_BEFORE, "rss_peak_kb": $RSS_PEAK}
JSON
rm -f .bench/export.csv .bench/copy.csv "$PEAK_FILE"
