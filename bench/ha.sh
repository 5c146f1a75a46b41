#!/usr/bin/env bash
# Failover test (make ha-test): a primary and a synchronous standby managed by pg_auto_failover
# (a monitor and two nodes, each a PostgreSQL of its own on loopback), two CreditDesk daemons
# pointed at both nodes with a multi-host URL (target_session_attrs=read-write), retrying
# clients with idempotency keys on both daemons (as make chaos), and the primary killed mid-run
# (its postmaster and its keeper, SIGKILL). Passes when every acknowledged operation was applied
# exactly once on the new primary, `creditdesk verify` is clean, both daemons answer again by
# themselves, and /readyz said not-ready while no primary was reachable. Prints the time
# without writes (from the daemons' request logs) and the failover's.
#
# pg_auto_failover's health checks are tightened for the test (a node unhealthy after 4 s, a
# lost primary demoted after 5 s instead of 30 s); production keeps its defaults or sets them
# for its network. Uses the debug build; checks correctness, not speed.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
DURATION=${DURATION:-30}
WORKERS=${WORKERS:-8}
BIN=.build/debug/creditdesk
TOOL=.build/debug/creditdesk-bench
# Under /tmp: the postgres system user must reach it through every parent directory.
HA=$(mktemp -d /tmp/creditdesk-ha.XXXXXX)
PG_BIN=$(dirname "$PG_CTL")
BASE_PORT=$((30000 + RANDOM % 5000 * 4))
MONITOR_PORT=$BASE_PORT NODE1_PORT=$((BASE_PORT + 1)) NODE2_PORT=$((BASE_PORT + 2))
MONITOR_URL="postgres://autoctl_node@127.0.0.1:$MONITOR_PORT/pg_auto_failover?sslmode=disable"
URL="postgresql://postgres@127.0.0.1:$NODE1_PORT,127.0.0.1:$NODE2_PORT/creditdesk?target_session_attrs=read-write&connect_timeout=2"
command -v pg_autoctl > /dev/null || { echo "pg_autoctl is missing: make ha-test installs postgresql-15-auto-failover" >&2; exit 1; }

mkdir -p .bench
chown postgres "$HA" 2>/dev/null || true
# autoctl NODE ARGS…: pg_autoctl as the cluster owner, with NODE's own configuration and state.
autoctl() {
  local node=$1
  shift
  as_pg_owner env XDG_CONFIG_HOME="$HA/config-$node" XDG_DATA_HOME="$HA/share-$node" XDG_RUNTIME_DIR="$HA/run-$node" \
    pg_autoctl "$@"
}
# start_node NODE ARGS…: `pg_autoctl create … --run` in a session of its own (killed as a group).
start_node() {
  local node=$1
  shift
  setsid bash -c "$(declare -f as_pg_owner autoctl); HA=$HA; autoctl $node $* > $HA/$node.log 2>&1" &
  echo $! > "$HA/$node.pid"
  disown
}
kill_node() { [ -f "$HA/$1.pid" ] && kill -9 -- "-$(cat "$HA/$1.pid")" 2>/dev/null || true; }
DAEMONS=()
cleanup() {
  for pid in "${DAEMONS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for node in node1 node2 monitor; do kill_node "$node"; done
  sleep 1
  for node in node1 node2 monitor; do pkill -9 -f -- "-D $HA/$node" 2>/dev/null || true; done
  # Kept when the test failed: the nodes' logs are there.
  if [ "$PASSED" = 1 ]; then rm -rf "$HA"; else echo "ha: the nodes' data and logs are in $HA" >&2; fi
}
PASSED=0
trap cleanup EXIT
state() { autoctl monitor show state --pgdata "$HA/monitor" 2>/dev/null || true; }
# until_true SECONDS COMMAND…: polls COMMAND every 0.5 s; fails after SECONDS.
until_true() {
  local deadline=$(( $(date +%s) + $1 ))
  shift
  until "$@"; do [ "$(date +%s)" -lt "$deadline" ] || return 1; sleep 0.5; done
}

echo "ha: monitor and two nodes (pg_auto_failover) …" >&2
start_node monitor create monitor --pgdata "$HA/monitor" --pgport "$MONITOR_PORT" --hostname 127.0.0.1 --auth trust \
  --no-ssl --pgctl "$PG_CTL" --run
monitor_up() { psql -qAt -h 127.0.0.1 -p "$MONITOR_PORT" -U postgres -d pg_auto_failover -c "SELECT 1" > /dev/null 2>&1; }
until_true 60 monitor_up || { cat "$HA/monitor.log" >&2; exit 1; }
psql -q -h 127.0.0.1 -p "$MONITOR_PORT" -U postgres -d pg_auto_failover \
  -c "ALTER SYSTEM SET pgautofailover.health_check_period = 1000" \
  -c "ALTER SYSTEM SET pgautofailover.health_check_retry_delay = 500" \
  -c "ALTER SYSTEM SET pgautofailover.health_check_timeout = 1000" \
  -c "ALTER SYSTEM SET pgautofailover.node_considered_unhealthy_timeout = 4000" \
  -c "ALTER SYSTEM SET pgautofailover.primary_demote_timeout = 5000" -c "SELECT pg_reload_conf()" > /dev/null
for node in node1 node2; do
  port=$NODE1_PORT; [ "$node" = node2 ] && port=$NODE2_PORT
  start_node "$node" create postgres --pgdata "$HA/$node" --pgport "$port" --hostname 127.0.0.1 --name "$node" \
    --auth trust --no-ssl --pgctl "$PG_CTL" --dbname creditdesk --monitor "'$MONITOR_URL'" --run
  until_true 60 bash -c "psql -qAt -h 127.0.0.1 -p $NODE1_PORT -U postgres -d creditdesk -c 'SELECT 1' > /dev/null 2>&1"
done
# The standby's base backup waits for a checkpoint; ask for one rather than wait for it. Ready
# once node2 is a secondary and the primary waits for it at each commit.
secondary_ready() {
  psql -qAt -h 127.0.0.1 -p "$NODE1_PORT" -U postgres -d creditdesk -c "CHECKPOINT" > /dev/null 2>&1 || true
  state | grep -q "node2 .* secondary *| *secondary" &&
    [ -n "$(psql -qAt -h 127.0.0.1 -p "$NODE1_PORT" -U postgres -d creditdesk -c "SHOW synchronous_standby_names")" ]
}
until_true 120 secondary_ready || { state >&2; cat "$HA/node2.log" >&2; exit 1; }
SYNC=$(psql -qAt -h 127.0.0.1 -p "$NODE1_PORT" -U postgres -d creditdesk -c "SHOW synchronous_standby_names")
echo "ha: node1 primary, node2 synchronous standby ($SYNC)" >&2

# Two daemons on both nodes; the first migrates.
mkdir -p .bench
for i in 1 2; do
  port=$((20000 + RANDOM % 10000))
  : > ".bench/ha-daemon$i.log"
  DATABASE_URL=$URL "$BIN" serve --port "$port" --log-level info >> ".bench/ha-daemon$i.log" 2>&1 &
  DAEMONS+=($!)
  disown
  eval "BASE$i=http://127.0.0.1:$port"
  wait_ready "http://127.0.0.1:$port" ".bench/ha-daemon$i.log"
done
out=$("$BIN" bootstrap --database-url "$URL" --log-level warning)
KEY=$(echo "$out" | sed -n 's/.*store it now): //p')
PLATFORM=$(echo "$out" | awk '/platform account/ {print $3}')
BASE=$BASE1
chaos_accounts HA

"$TOOL" chaos --base-url "$BASE1" --also-base-url "$BASE2" --key "$RESELLER_KEY" --reseller "$RESELLER" \
  --clients "$CLIENT_IDS" --workers "$WORKERS" --seconds "$DURATION" --key-prefix "$PREFIX" \
  > .bench/ha-chaos.json &
CLIENT_PID=$!
# /readyz of the first daemon, every 0.2 s, with the time: was it not-ready while no primary was?
( while kill -0 "$CLIENT_PID" 2>/dev/null; do
    echo "$(date +%s.%N) $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE1/readyz")"
    sleep 0.2
  done ) > .bench/ha-readyz.txt &

sleep $((DURATION / 3))
KILLED_AT=$(date +%s.%N)
kill_node node1
echo "ha: primary killed (postmaster and keeper, SIGKILL)" >&2
promoted() { [ "$(psql -qAt -h 127.0.0.1 -p "$NODE2_PORT" -U postgres -d creditdesk -c 'SELECT NOT pg_is_in_recovery()' 2>/dev/null)" = t ]; }
until_true 120 promoted || { state >&2; exit 1; }
PROMOTED_AT=$(date +%s.%N)
echo "ha: node2 promoted" >&2

STATUS=0
wait "$CLIENT_PID" || STATUS=$?
# The longest stretch without a successful mutation through either daemon, around the kill.
GAP=$(cat .bench/ha-daemon1.log .bench/ha-daemon2.log | jq -r 'select(.message == "request" and (."http.method" == "POST")
  and ((."http.status" | tonumber) < 300)) | .time' 2>/dev/null | sort | python3 -c '
import sys, datetime
times = [datetime.datetime.fromisoformat(line.strip().replace("Z", "+00:00")).timestamp() for line in sys.stdin if line.strip()]
print(f"{max((b - a for a, b in zip(times, times[1:])), default=0):.2f}")')
NOT_READY=$(awk -v from="$KILLED_AT" -v to="$PROMOTED_AT" '$1 >= from && $1 <= to + 1 && $2 != "200" { n++ } END { print n + 0 }' .bench/ha-readyz.txt)
READY_AFTER=0
for base in "$BASE1" "$BASE2"; do curl -sf "$base/readyz" > /dev/null && READY_AFTER=$((READY_AFTER + 1)); done

chaos_verdict "$URL" "$PREFIX" .bench/ha-chaos.json "$STATUS" \
  "failover (kill → standby promoted), s|$(echo "$PROMOTED_AT - $KILLED_AT" | bc | xargs printf '%.2f')" \
  "longest time without a write, s|$GAP" "/readyz not-ready answers in the gap|$NOT_READY" \
  "daemons ready again by themselves|$READY_AFTER of 2" -- "$BIN" verify --database-url "$URL" --log-level warning
if [ "$NOT_READY" = 0 ] || [ "$READY_AFTER" != 2 ]; then
  echo "FAILED: /readyz not-ready answers $NOT_READY, daemons ready after $READY_AFTER of 2" >&2
  exit 1
fi
PASSED=1
echo "ha-test: every acknowledged operation applied exactly once across the failover; verify clean; daemons reconnected"
