#!/usr/bin/env bash
# Credit-path benchmark. Starts its own PostgreSQL (through a release build of the
# daemon, under .bench/credit-data) and measures in one run:
#   pgbench -M prepared, tpcb-like, on a separate database of the same server;
#   credit adjustments through the API (16 keep-alive clients: distinct accounts, one hot account);
#   balance reads through the API; bulk reservations of 100,000 messages per request;
#   /healthz on the same daemon and pgbench -S (select-only) as the read anchors;
#   the daemon's RSS idle, at its peak, and a minute after the load.
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
    r=$(rss_kb "$SERVER")
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
sleep 2
RSS_IDLE_KB=$(rss_kb "$SERVER")

echo "pgbench: scale $CLIENTS, $CLIENTS clients, ${SECONDS_EACH}s, tpcb-like then select-only …" >&2
PGBENCH_TPS=$(pgbench_tps "$DATA" "$CLIENTS" "$SECONDS_EACH")
PGBENCH_SELECT_TPS=$(pgbench_select_tps "$DATA" "$CLIENTS" "$SECONDS_EACH")

load() { "$LOAD" load --base-url "$BASE" --clients "$CLIENTS" --seconds "$SECONDS_EACH" "$@"; }
echo "/healthz on the daemon …" >&2
HEALTHZ=$(load --mode healthz --accounts "$HOT")
echo "API adjust, distinct accounts …" >&2
ADJUST=$(load --mode adjust --accounts "$DISTINCT")
echo "API adjust, one hot account …" >&2
ADJUST_HOT=$(load --mode adjust --accounts "$HOT")
echo "API balance reads …" >&2
BALANCE=$(load --mode balance --accounts "$DISTINCT")
echo "bulk reservations of $BULK_MESSAGES messages …" >&2
BULK=$("$LOAD" bulk --base-url "$BASE" --account "$BULK_ACCOUNT" --messages "$BULK_MESSAGES" --repeats 3)
RSS_PEAK_KB=$(cat "$PEAK_FILE")
echo "a minute idle, for the RSS to settle …" >&2
sleep "${SETTLE_SECONDS:-60}"
RSS_SETTLED_KB=$(rss_kb "$SERVER")

field() { echo "$1" | jq -r ".$2"; }
ratio() { echo "$1 / $2" | bc -l; }
ADJUST_OPS=$(field "$ADJUST" ops_per_second)
HOT_OPS=$(field "$ADJUST_HOT" ops_per_second)
BALANCE_OPS=$(field "$BALANCE" ops_per_second)
HEALTHZ_OPS=$(field "$HEALTHZ" ops_per_second)
BULK_RATE=$(field "$BULK" messages_per_second_median)
ADJUST_RATIO=$(ratio "$ADJUST_OPS" "$PGBENCH_TPS")
HOT_RATIO=$(ratio "$HOT_OPS" "$PGBENCH_TPS")
BALANCE_RATIO=$(ratio "$BALANCE_OPS" "$HEALTHZ_OPS")
BALANCE_SELECT_RATIO=$(ratio "$BALANCE_OPS" "$PGBENCH_SELECT_TPS")
BULK_RATIO=$(ratio "$BULK_RATE" "$ADJUST_OPS")
for result in "$HEALTHZ" "$ADJUST" "$ADJUST_HOT" "$BALANCE"; do
  [ "$(field "$result" errors)" = 0 ] || echo "warning: errors in $(field "$result" mode): $(field "$result" first_error)" >&2
done

row() { printf '%-48s %14s %10s %10s\n' "$@"; }
measured() { row "$1" "$(printf %.0f "$(field "$2" ops_per_second)")" "$(printf %.2f "$(field "$2" p50_ms)")" "$(printf %.2f "$(field "$2" p99_ms)")"; }
echo
row "measure" "per second" "p50 ms" "p99 ms"
row "pgbench tpcb-like (-M prepared, $CLIENTS clients)" "$(printf %.0f "$PGBENCH_TPS")" "" ""
row "pgbench select-only (-S -M prepared)" "$(printf %.0f "$PGBENCH_SELECT_TPS")" "" ""
measured "/healthz on the daemon" "$HEALTHZ"
measured "API adjust, $CLIENTS distinct accounts" "$ADJUST"
measured "API adjust, one hot account" "$ADJUST_HOT"
measured "API balance reads" "$BALANCE"
row "bulk reservation, messages ($BULK_MESSAGES/request)" "$(printf %.0f "$BULK_RATE")" "" ""
echo
target() { printf '%-48s %14s   (target %s)\n' "$1" "$2" "$3"; }
target "API adjust / pgbench tpcb-like" "$(printf %.2f "$ADJUST_RATIO")" "≥ 0.7"
target "hot-account adjust / pgbench tpcb-like" "$(printf %.2f "$HOT_RATIO")" "≥ 0.5"
target "API adjust p99 (ms)" "$(printf %.1f "$(field "$ADJUST" p99_ms)")" "< 50"
target "API balance read / /healthz" "$(printf %.2f "$BALANCE_RATIO")" "≥ 0.5"
target "API balance read / pgbench select-only" "$(printf %.2f "$BALANCE_SELECT_RATIO")" "none; for reference"
target "bulk reservation, messages per second" "$(printf %.0f "$BULK_RATE")" "≥ 100,000"
target "bulk messages / single adjust" "$(printf %.1f "$BULK_RATIO")" "≥ 20"
target "daemon RSS idle → peak (MB)" "$((RSS_IDLE_KB / 1024)) → $((RSS_PEAK_KB / 1024))" "peak < 100"
target "daemon RSS a minute after the load (MB)" "$((RSS_SETTLED_KB / 1024))" "≤ idle + 10"
jq -n --argjson adjust "$ADJUST" --argjson hot "$ADJUST_HOT" --argjson balance "$BALANCE" --argjson bulk "$BULK" \
  --argjson healthz "$HEALTHZ" --arg tps "$PGBENCH_TPS" --arg select "$PGBENCH_SELECT_TPS" \
  --arg ar "$ADJUST_RATIO" --arg hr "$HOT_RATIO" --arg balr "$BALANCE_RATIO" --arg bsr "$BALANCE_SELECT_RATIO" \
  --arg br "$BULK_RATIO" --arg rss "$RSS_PEAK_KB" --arg idle "$RSS_IDLE_KB" --arg settled "$RSS_SETTLED_KB" \
  --arg clients "$CLIENTS" --arg pool "$POOL_SIZE" \
  '{clients: ($clients|tonumber), pool_size: ($pool|tonumber), pgbench_tps: ($tps|tonumber),
    pgbench_select_tps: ($select|tonumber), healthz: $healthz, adjust: $adjust, adjust_hot: $hot,
    balance: $balance, bulk: $bulk, ratio_adjust_pgbench: ($ar|tonumber), ratio_hot_pgbench: ($hr|tonumber),
    ratio_balance_healthz: ($balr|tonumber), ratio_balance_pgbench_select: ($bsr|tonumber),
    ratio_bulk_single: ($br|tonumber), rss_idle_kb: ($idle|tonumber), rss_peak_kb: ($rss|tonumber),
    rss_settled_kb: ($settled|tonumber)}' > .bench/credit.json
