# Shared by the bench scripts (sourced): waiting for the daemon, bootstrapping it, API calls.

# wait_ready BASE_URL LOG: until /readyz answers (up to 60 s); fails naming the log otherwise.
wait_ready() {
  for _ in $(seq 1 240); do curl -sf "$1/readyz" > /dev/null && return 0; sleep 0.25; done
  echo "the daemon did not become ready; see $2" >&2
  return 1
}

# bootstrap BIN DATA_DIR: creates the platform and its operator; sets KEY and PLATFORM.
bootstrap() {
  local out
  out=$("$1" bootstrap --data-dir "$2" --log-level warning)
  KEY=$(echo "$out" | sed -n 's/.*store it now): //p')
  PLATFORM=$(echo "$out" | awk '/platform account/ {print $3}')
}

# api KEY METHOD PATH [BODY]: one call to $BASE with a fresh idempotency key; prints the body,
# fails on a non-2xx answer.
api() {
  curl -sf -X "$2" -H "Authorization: Bearer $1" -H "Idempotency-Key: setup-$(uuidgen)" \
    -H "Content-Type: application/json" ${4:+-d "$4"} "$BASE$3"
}

# fresh_run DATA LOG: an empty data dir and log under .bench/, and a free-looking loopback port;
# sets PORT and BASE.
fresh_run() {
  mkdir -p .bench
  rm -rf "$1"
  : > "$2"
  PORT=$((20000 + RANDOM % 10000))
  BASE="http://127.0.0.1:$PORT"
}

# The embedded cluster's pg_ctl, run as its owner (PostgreSQL refuses root).
PG_CTL=$(ls /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V | tail -1)
as_pg_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# stop_cluster DATA: stops the embedded cluster a killed daemon left running, if any.
stop_cluster() {
  [ -f "$1/pgdata/postmaster.pid" ] && as_pg_owner "$PG_CTL" stop -D "$1/pgdata" -m fast -w > /dev/null 2>&1 || true
}

# python_venv VENV REQUIREMENTS MODULE: a venv with the requirements, made once (again if
# MODULE does not import).
python_venv() {
  if [ ! -x "$1/bin/python" ] || ! "$1/bin/python" -c "import $3" 2>/dev/null; then
    python3 -m venv "$1"
    "$1/bin/pip" install --quiet --disable-pip-version-check -r "$2"
  fi
}

# start_daemon: a daemon of BIN on DATA and PORT, logging to LOG, once ready; sets DAEMON (the
# fault tests kill it and start another on the same cluster).
start_daemon() {
  "$BIN" serve --data-dir "$DATA" --port "$PORT" --log-level warning >> "$LOG" 2>&1 &
  DAEMON=$!
  wait_ready "$BASE" "$LOG"
}

# fault N [NOTE]: kills the daemon with SIGKILL (no graceful anything); at the second fault
# restarts PostgreSQL as well (PG_RESTARTS=1). The caller starts the next daemon.
fault() {
  kill -9 "$DAEMON"
  wait "$DAEMON" 2>/dev/null || true
  echo "fault $1: daemon killed (SIGKILL)${2:+ $2}" >&2
  if [ "$1" = 2 ]; then
    as_pg_owner "$PG_CTL" restart -D "$DATA/pgdata" -m fast -w -t 60 -l "$DATA/postgres.log" > /dev/null
    PG_RESTARTS=1
    echo "fault $1: PostgreSQL restarted" >&2
  fi
}

# on_exit COMMAND: runs COMMAND when the script exits, before the daemon and its cluster stop.
EXIT_HOOKS=""
on_exit() { EXIT_HOOKS="$1; $EXIT_HOOKS"; }

# serve_fresh BIN DATA LOG: a daemon on a new embedded cluster in DATA, stopped (with the
# cluster) when the script exits; ready and bootstrapped (sets PORT, BASE, KEY, PLATFORM).
serve_fresh() {
  fresh_run "$2" "$3"
  DAEMON=""
  SERVE_DATA=$2
  trap 'eval "$EXIT_HOOKS"; if [ -n "$DAEMON" ]; then kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null; fi; stop_cluster "$SERVE_DATA"' EXIT
  "$1" serve --data-dir "$2" --port "$PORT" --log-level warning >> "$3" 2>&1 &
  DAEMON=$!
  wait_ready "$BASE" "$3"
  bootstrap "$1" "$2"
}

# kannel_ports: four consecutive free-looking loopback ports for a test Kannel (admin, box,
# SMSC, sendsms = KANNEL_PORTS + 3), chosen before the gateway connection that names them.
kannel_ports() { KANNEL_PORTS=$(( (RANDOM % 5900 + 2000) * 4 )); }

# start_kannel BENCH_BIN INBOUND_URL NAME: a test Kannel (creditdesk-bench kannel) on
# KANNEL_PORTS, stopped when the script exits; waits until it is online and sets KANNEL_JSON
# to the file with its send_url and directory (its log beside it, .bench/NAME-kannel.log).
start_kannel() {
  KANNEL_JSON=.bench/$3-kannel.json
  rm -f "$KANNEL_JSON"
  "$1" kannel --port-base "$KANNEL_PORTS" --inbound-url "$2" > "$KANNEL_JSON" 2> ".bench/$3-kannel.log" &
  KANNEL=$!
  on_exit 'kill $KANNEL 2>/dev/null; wait $KANNEL 2>/dev/null'
  for _ in $(seq 1 600); do [ -s "$KANNEL_JSON" ] && break; kill -0 $KANNEL 2>/dev/null || break; sleep 0.1; done
  [ -s "$KANNEL_JSON" ] || { echo "Kannel did not start; see .bench/$3-kannel.log" >&2; cat ".bench/$3-kannel.log" >&2; return 1; }
}

# cluster_url DATA: sets DB_URL to the embedded cluster in DATA (running), for sql.
cluster_url() {
  DB_URL="postgresql://creditdesk:$(cat "$1/password")@127.0.0.1:$(sed -n 4p "$1/pgdata/postmaster.pid")/creditdesk"
}
# sql QUERY: its rows on DB_URL, unaligned, fields separated by |.
sql() { psql -qAt "$DB_URL" -c "$1"; }
# json_id: the "id" of the JSON object on stdin.
json_id() { jq -r .id; }

# A campaign of $2 contacts (mobiles +64$3…) for account $1 with text $4, ready to confirm: prints its id
# (contacts posted 10,000 a request; uses KEY and BASE).
campaign() {
  local list start count
  list=$(api "$KEY" POST "/v1/accounts/$1/contact-lists" '{"name":"Everyone"}' | json_id)
  for start in $(seq 0 10000 $(($2 - 1))); do
    count=$(( $2 - start < 10000 ? $2 - start : 10000 ))
    awk -v s="$start" -v n="$count" -v list="$list" -v prefix="$3" 'BEGIN {
      printf "{\"list_id\":\"%s\",\"contacts\":[", list
      for (i = 0; i < n; i++) printf "%s{\"first_name\":\"C%d\",\"mobile\":\"+64%s%07d\",\"sms_consent\":true}", (i ? "," : ""), s + i, prefix, s + i
      printf "]}" }' > .bench/messaging-contacts.json
    curl -sf -X POST -H "Authorization: Bearer $KEY" -H "Idempotency-Key: contacts-$1-$start" -H "Content-Type: application/json" \
      --data-binary @.bench/messaging-contacts.json "$BASE/v1/accounts/$1/contacts/batch" > /dev/null
  done
  api "$KEY" POST "/v1/accounts/$1/campaigns" "{\"name\":\"Bench\",\"list_id\":\"$list\",\"template\":\"$4\"}" | json_id
}


# cpu_seconds PID…: the CPU time (user + system) the processes have used so far, in seconds.
cpu_seconds() {
  local ticks=0 pid fields
  for pid in "$@"; do
    fields=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
    ticks=$((ticks + $(echo "$fields" | awk '{print $12 + $13}')))
  done
  echo "scale=2; $ticks / $(getconf CLK_TCK)" | bc
}

# pgbench_tps DATA CLIENTS SECONDS: pgbench -M prepared, tpcb-like, scale CLIENTS, on a database
# of its own in the embedded cluster in DATA (made the first time): the transactions per second.
pgbench_tps() {
  local url="postgresql://creditdesk:$(cat "$1/password")@127.0.0.1:$(sed -n 4p "$1/pgdata/postmaster.pid")"
  if ! psql -qAt "$url/creditdesk" -c "SELECT 1 FROM pg_database WHERE datname = 'pgbench'" | grep -q 1; then
    psql -q "$url/creditdesk" -c "CREATE DATABASE pgbench" > /dev/null
    PGPASSWORD=$(cat "$1/password") pgbench -q -i -s "$2" -h 127.0.0.1 -p "$(sed -n 4p "$1/pgdata/postmaster.pid")" \
      -U creditdesk pgbench > /dev/null 2>&1
  fi
  PGPASSWORD=$(cat "$1/password") pgbench -M prepared -c "$2" -j 2 -T "$3" ${4:-} \
    -h 127.0.0.1 -p "$(sed -n 4p "$1/pgdata/postmaster.pid")" -U creditdesk pgbench 2>/dev/null | awk '/^tps = / {print $3}'
}
# pgbench_select_tps DATA CLIENTS SECONDS: the same database, select-only (-S): a primary-key read a transaction.
pgbench_select_tps() { pgbench_tps "$1" "$2" "$3" -S; }

# rss_kb PID: the process's resident set now, in kB.
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# chaos_accounts NAME: what the fault tests' clients work on (uses KEY, PLATFORM and BASE): a
# reseller with 1,000,000 SMS and an admin key, and six clients with 500 each. Sets RESELLER,
# RESELLER_KEY and CLIENT_IDS (comma-separated), and PREFIX, a fresh idempotency-key prefix.
chaos_accounts() {
  local admin client ids=()
  RESELLER=$(api "$KEY" POST /v1/accounts "{\"parent_id\":\"$PLATFORM\",\"kind\":\"reseller\",\"name\":\"$1 Reseller\"}" | jq -r .id)
  admin=$(api "$KEY" POST "/v1/accounts/$RESELLER/users" "{\"name\":\"$1 Admin\",\"role\":\"admin\"}" | jq -r .id)
  RESELLER_KEY=$(api "$KEY" POST "/v1/users/$admin/keys" '{"label":"chaos"}' | jq -r .secret)
  api "$KEY" POST "/v1/accounts/$PLATFORM/credits/transfer" \
    "{\"unit\":\"sms\",\"amount\":1000000,\"to_account_id\":\"$RESELLER\"}" > /dev/null
  for i in 1 2 3 4 5 6; do
    client=$(api "$RESELLER_KEY" POST /v1/accounts "{\"parent_id\":\"$RESELLER\",\"kind\":\"client\",\"name\":\"$1 Client $i\"}" | jq -r .id)
    api "$RESELLER_KEY" POST "/v1/accounts/$RESELLER/credits/transfer" \
      "{\"unit\":\"sms\",\"amount\":500,\"to_account_id\":\"$client\"}" > /dev/null
    ids+=("$client")
  done
  CLIENT_IDS=$(IFS=,; echo "${ids[*]}")
  PREFIX="$(echo "$1" | tr 'A-Z' 'a-z')-$(uuidgen | cut -c1-8)"
}

# chaos_verdict URL PREFIX JSON CLIENT_STATUS [ROW…] -- VERIFY…: the fault tests' verdict on a
# run of `creditdesk-bench chaos` (its JSON and exit status). Reads, on URL, the chaos keys with
# a stored success and how many of those have their operation in the ledger (every successful
# credit operation writes at least one entry), runs the VERIFY command, prints the rows given
# ("name|value") and the counts, and fails unless every acknowledged operation was applied
# exactly once and verify is clean.
chaos_verdict() {
  local url=$1 prefix=$2 json=$3 status=$4 row stored in_ledger verify_status=0
  shift 4
  printf '\n%-40s %10s\n' "measure" "count"
  while [ "$1" != "--" ]; do printf '%-40s %10s\n' "${1%%|*}" "${1#*|}"; shift; done
  shift
  read -r stored in_ledger <<< "$(psql -At -F ' ' "$url" -c "
    SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM ledger_entries e WHERE e.operation_id = k.operation_id))
    FROM idempotency_keys k WHERE k.key LIKE '$prefix-%' AND k.response_status BETWEEN 200 AND 299")"
  "$@" > .bench/chaos-verify.txt 2>&1 || verify_status=$?
  field() { jq -r ".$1" "$json"; }
  for row in "operations sent|operations_sent" "acknowledged|acknowledged" "  of which applied (2xx)|applied_expected" \
      "  of which refused (insufficient credits)|rejected_insufficient" "HTTP attempts|http_attempts" \
      "retried attempts|retried"; do
    printf '%-40s %10s\n' "${row%%|*}" "$(field "${row#*|}")"
  done
  printf '%-40s %10s\n' "applied per the database (stored 2xx keys)" "$stored"
  printf '%-40s %10s\n' "  of which with ledger entries" "$in_ledger"
  printf '%-40s %10s\n' "unexpected responses" "$(field unexpected)"
  printf '%-40s %10s\n' "unresolved operations" "$(field unresolved)"
  printf '%-40s %10s\n' "balance mismatches" "$(jq '.balance_mismatches | length' "$json")"
  printf '%-40s %10s\n' "creditdesk verify exit status" "$verify_status"
  jq -r '.balance_mismatches[]' "$json" >&2
  if [ "$status" != 0 ] || [ "$verify_status" != 0 ] || [ "$stored" != "$(field applied_expected)" ] || [ "$in_ledger" != "$stored" ]; then
    echo "FAILED: client status $status, verify status $verify_status, stored $stored vs applied $(field applied_expected)" >&2
    cat .bench/chaos-verify.txt >&2
    return 1
  fi
}
