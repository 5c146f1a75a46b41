#!/usr/bin/env bash
# Fault test: concurrent clients run mixed credit operations with idempotency keys
# and retries while the daemon is killed with SIGKILL and restarted several times and
# PostgreSQL is restarted once. Passes when every acknowledged operation was applied exactly
# once (balances equal the clients' model; one stored response per key) and `creditdesk verify`
# is clean. Prints the counts; exits non-zero on any discrepancy.
# Uses the debug build (`make test` already made it): this checks correctness, not speed.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
DURATION=${DURATION:-45}
KILLS=${KILLS:-5}
WORKERS=${WORKERS:-8}
BIN=.build/debug/creditdesk
TOOL=.build/debug/creditdesk-bench
DATA=.bench/chaos-data
LOG=.bench/chaos-server.log
fresh_run "$DATA" "$LOG"

DAEMON=""
cleanup() {
  [ -n "$DAEMON" ] && kill -9 "$DAEMON" 2>/dev/null || true
  # The first daemon started the cluster and was killed: stop the cluster here.
  stop_cluster "$DATA"
}
trap cleanup EXIT

start_daemon
bootstrap "$BIN" "$DATA"
chaos_accounts Chaos

"$TOOL" chaos --base-url "$BASE" --key "$RESELLER_KEY" --reseller "$RESELLER" \
  --clients "$CLIENT_IDS" --workers "$WORKERS" --seconds "$DURATION" --key-prefix "$PREFIX" \
  > .bench/chaos.json &
CLIENT_PID=$!

# Faults, spread over the first part of the run: SIGKILL the daemon (no graceful anything) and
# start a new one; once, restart PostgreSQL under the running daemon as well.
PG_RESTARTS=0
for kill_number in $(seq 1 "$KILLS"); do
  sleep $((2 + RANDOM % 4)).$((RANDOM % 10))
  kill -0 "$CLIENT_PID" 2>/dev/null || break
  fault "$kill_number"
  sleep 0.$((RANDOM % 10))
  start_daemon
done

STATUS=0
wait "$CLIENT_PID" || STATUS=$?
cat .bench/chaos.json > /dev/null
PG_PORT=$(sed -n 4p "$DATA/pgdata/postmaster.pid")
URL="postgresql://creditdesk:$(cat "$DATA/password")@127.0.0.1:$PG_PORT/creditdesk"
chaos_verdict "$URL" "$PREFIX" .bench/chaos.json "$STATUS" \
  "daemon SIGKILLs|$KILLS" "PostgreSQL restarts|$PG_RESTARTS" -- "$BIN" verify --data-dir "$DATA" --log-level warning
echo "chaos: every acknowledged operation applied exactly once; verify clean"
