#!/usr/bin/env bash
# Credit-path benchmark. Starts its own PostgreSQL (through a release build of the
# daemon, under .bench/credit-data) and measures in one run:
#   pgbench -M prepared, tpcb-like, on a separate database of the same server;
#   credit adjustments through the API (16 keep-alive clients: distinct accounts, one hot account);
#   balance reads through the API; bulk reservations of 100,000 messages per request;
#   the daemon's peak RSS over the whole run.
# Prints a table and writes .bench/credit.json.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
CLIENTS=${CLIENTS:-16}
SECONDS_EACH=${SECONDS_EACH:-20}
BULK_MESSAGES=${BULK_MESSAGES:-100000}
POOL_SIZE=${POOL_SIZE:-16}
BIN=.build/release/creditdesk
LOAD=.build/release/creditdesk-bench
DATA=.bench/credit-data
fresh_run "$DATA" .bench/credit-server.log

"$BIN" serve --data-dir "$DATA" --port "$PORT" --pool-size "$POOL_SIZE" --log-level warning 2> .bench/credit-server.log &
SERVER=$!
SAMPLER=""
cleanup() {
  [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null || true
  kill -INT "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
}
trap cleanup EXIT
wait_ready "$BASE" .bench/credit-server.log

PEAK_FILE=.bench/credit-rss-peak
echo 0 > "$PEAK_FILE"
( while kill -0 "$SERVER" 2>/dev/null; do
    r=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER/status" 2>/dev/null || echo 0)
    [ "${r:-0}" -gt "$(cat "$PEAK_FILE")" ] && echo "$r" > "$PEAK_FILE"
    sleep 0.1
  done ) &
SAMPLER=$!

bootstrap "$BIN" "$DATA"
export CREDITDESK_KEY=$KEY

RESELLER=$(api "$KEY" POST /v1/accounts "{\"parent_id\":\"$PLATFORM\",\"kind\":\"reseller\",\"name\":\"Bench Reseller\"}" | jq -r .id)
ACCOUNTS=()
for i in $(seq 1 "$CLIENTS"); do
  ACCOUNTS+=("$(api "$KEY" POST /v1/accounts "{\"parent_id\":\"$RESELLER\",\"kind\":\"client\",\"name\":\"Bench Client $i\"}" | jq -r .id)")
done
DISTINCT=$(IFS=,; echo "${ACCOUNTS[*]}")
HOT=${ACCOUNTS[0]}
BULK_ACCOUNT=${ACCOUNTS[1]}
api "$KEY" POST "/v1/accounts/$BULK_ACCOUNT/credits/adjust" '{"unit":"sms","amount":1000000000,"reason":"bulk benchmark funds"}' > /dev/null

echo "pgbench: scale $CLIENTS, $CLIENTS clients, ${SECONDS_EACH}s …" >&2
PGBENCH_TPS=$(pgbench_tps "$DATA" "$CLIENTS" "$SECONDS_EACH")

load() { "$LOAD" load --base-url "$BASE" --clients "$CLIENTS" --seconds "$SECONDS_EACH" "$@"; }
echo "API adjust, distinct accounts …" >&2
ADJUST=$(load --mode adjust --accounts "$DISTINCT")
echo "API adjust, one hot account …" >&2
ADJUST_HOT=$(load --mode adjust --accounts "$HOT")
echo "API balance reads …" >&2
BALANCE=$(load --mode balance --accounts "$DISTINCT")
echo "bulk reservations of $BULK_MESSAGES messages …" >&2
BULK=$("$LOAD" bulk --base-url "$BASE" --account "$BULK_ACCOUNT" --messages "$BULK_MESSAGES" --repeats 3)
RSS_PEAK_KB=$(cat "$PEAK_FILE")

field() { echo "$1" | jq -r ".$2"; }
ADJUST_OPS=$(field "$ADJUST" ops_per_second)
BULK_RATE=$(field "$BULK" messages_per_second_median)
ADJUST_RATIO=$(echo "$ADJUST_OPS / $PGBENCH_TPS" | bc -l)
BULK_RATIO=$(echo "$BULK_RATE / $ADJUST_OPS" | bc -l)
for result in "$ADJUST" "$ADJUST_HOT" "$BALANCE"; do
  [ "$(field "$result" errors)" = 0 ] || echo "warning: errors in $(field "$result" mode): $(field "$result" first_error)" >&2
done

row() { printf '%-44s %14s %10s %10s\n' "$@"; }
echo
row "measure" "per second" "p50 ms" "p99 ms"
row "pgbench tpcb-like (-M prepared, $CLIENTS clients)" "$(printf %.0f "$PGBENCH_TPS")" "" ""
row "API adjust, $CLIENTS distinct accounts" "$(printf %.0f "$ADJUST_OPS")" "$(printf %.2f "$(field "$ADJUST" p50_ms)")" "$(printf %.2f "$(field "$ADJUST" p99_ms)")"
row "API adjust, one hot account" "$(printf %.0f "$(field "$ADJUST_HOT" ops_per_second)")" "$(printf %.2f "$(field "$ADJUST_HOT" p50_ms)")" "$(printf %.2f "$(field "$ADJUST_HOT" p99_ms)")"
row "API balance reads" "$(printf %.0f "$(field "$BALANCE" ops_per_second)")" "$(printf %.2f "$(field "$BALANCE" p50_ms)")" "$(printf %.2f "$(field "$BALANCE" p99_ms)")"
row "bulk reservation, messages ($BULK_MESSAGES/request)" "$(printf %.0f "$BULK_RATE")" "" ""
echo
printf '%-44s %14.2f   (target ≥ 0.7)\n' "ratio API adjust / pgbench" "$ADJUST_RATIO"
printf '%-44s %14.1f   (target ≥ 20)\n' "ratio bulk messages / single adjust" "$BULK_RATIO"
printf '%-44s %14d   (target < 100)\n' "daemon peak RSS (MB)" "$((RSS_PEAK_KB / 1024))"
jq -n --argjson adjust "$ADJUST" --argjson hot "$ADJUST_HOT" --argjson balance "$BALANCE" --argjson bulk "$BULK" \
  --arg tps "$PGBENCH_TPS" --arg ar "$ADJUST_RATIO" --arg br "$BULK_RATIO" --arg rss "$RSS_PEAK_KB" \
  --arg clients "$CLIENTS" --arg pool "$POOL_SIZE" \
  '{clients: ($clients|tonumber), pool_size: ($pool|tonumber), pgbench_tps: ($tps|tonumber), adjust: $adjust, adjust_hot: $hot,
    balance: $balance, bulk: $bulk, ratio_adjust_pgbench: ($ar|tonumber), ratio_bulk_single: ($br|tonumber),
    rss_peak_kb: ($rss|tonumber)}' > .bench/credit.json
