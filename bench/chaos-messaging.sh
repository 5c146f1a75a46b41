#!/usr/bin/env bash
# Fault test of the sending engine: a campaign of RECIPIENTS through a real Kannel (bearerbox,
# smsbox, fake SMSC, delivery reports on) while the daemon is SIGKILLed KILLS times (as the
# campaign passes fixed fractions of its messages) and PostgreSQL is restarted once. Passes
# when afterwards every message is in a final state, no reservation is pending, the client's
# credits equal what it was given minus what the gateway accepted (failures refunded),
# `creditdesk verify` is clean, and the fake SMSC saw every accepted message, at most
# KILLS × 384 (the batches in flight) of them twice. Prints the counts.
# Uses the debug build (`make test` already made it): this checks correctness, not speed.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
RECIPIENTS=${CHAOS_RECIPIENTS:-20000}
KILLS=${CHAOS_KILLS:-3}
TIMEOUT=${CHAOS_TIMEOUT:-900}
IN_FLIGHT=384
BIN=.build/debug/creditdesk
TOOL=.build/debug/creditdesk-bench
DATA=.bench/chaos-messaging-data
LOG=.bench/chaos-messaging-server.log
fresh_run "$DATA" "$LOG"

DAEMON=""
# Kannel first (its hook), then the daemon, then the cluster the first daemon started.
trap 'eval "$EXIT_HOOKS"; [ -n "$DAEMON" ] && kill -9 "$DAEMON" 2>/dev/null; stop_cluster "$DATA"' EXIT

start_daemon
bootstrap "$BIN" "$DATA"
cluster_url "$DATA"
RESELLER=$(api "$KEY" POST /v1/accounts "{\"parent_id\":\"$PLATFORM\",\"kind\":\"reseller\",\"name\":\"Chaos Reseller\"}" | json_id)
CLIENT=$(api "$KEY" POST /v1/accounts "{\"parent_id\":\"$RESELLER\",\"kind\":\"client\",\"name\":\"Chaos Campaigner\"}" | json_id)
for account in "$RESELLER" "$CLIENT"; do api "$KEY" PATCH "/v1/accounts/$account/features" '{"campaigns":true}' > /dev/null; done
GIVEN=$((RECIPIENTS + 1000))
api "$KEY" POST "/v1/accounts/$PLATFORM/credits/transfer" "{\"unit\":\"sms\",\"amount\":$GIVEN,\"to_account_id\":\"$RESELLER\"}" > /dev/null
api "$KEY" POST "/v1/accounts/$RESELLER/credits/transfer" "{\"unit\":\"sms\",\"amount\":$GIVEN,\"to_account_id\":\"$CLIENT\"}" > /dev/null
kannel_ports
INBOUND=$(api "$KEY" POST "/v1/accounts/$CLIENT/gateways" \
  "{\"provider\":\"kannel\",\"name\":\"Kannel\",\"base_url\":\"http://127.0.0.1:$((KANNEL_PORTS + 3))\",\"username\":\"creditdesk\",\"password\":\"kannel-test-password\",\"sender\":\"+6421000000\",\"home_prefix\":\"64\"}" \
  | jq -r '.inbound_url + "?token=" + .callback_token')
start_kannel "$TOOL" "$INBOUND" chaos-messaging
SMSC_LOG="$(jq -r .directory "$KANNEL_JSON")/fakesmsc.out"

echo "chaos-messaging: a campaign of $RECIPIENTS …" >&2
CAMPAIGN=$(campaign "$CLIENT" "$RECIPIENTS" 25 'Chaos offer for {{first_name}}')
api "$KEY" POST "/v1/campaigns/$CAMPAIGN/confirm" '{"accept_terms":true}' > /dev/null
accepted() { sql "SELECT count(*) FROM messages WHERE campaign_id = '$CAMPAIGN' AND sent_at IS NOT NULL" 2>/dev/null || echo 0; }

# Faults as the campaign passes 1/(KILLS+1), 2/(KILLS+1), … of its messages: SIGKILL (no
# graceful anything) and a new daemon; at the second, PostgreSQL restarted before it starts.
PG_RESTARTS=0
DEADLINE=$(( $(date +%s) + TIMEOUT ))
for kill_number in $(seq 1 "$KILLS"); do
  until [ "$(accepted)" -ge $((RECIPIENTS * kill_number / (KILLS + 1))) ]; do
    [ "$(date +%s)" -gt "$DEADLINE" ] && { echo "chaos-messaging: the campaign stalled at $(accepted); see $LOG" >&2; exit 1; }
    sleep 0.2
  done
  fault "$kill_number" "after $(accepted) accepted"
  start_daemon
done

# Drained: no message waiting and no job open; then a few seconds for the last delivery reports.
until [ "$(sql "SELECT count(*) FROM jobs WHERE done_at IS NULL")" = 0 ]; do
  [ "$(date +%s)" -gt "$DEADLINE" ] && { echo "chaos-messaging: not drained after $TIMEOUT s" >&2; break; }
  sleep 1
done
for _ in $(seq 1 15); do
  [ "$(sql "SELECT count(*) FROM messages WHERE campaign_id = '$CAMPAIGN' AND status = 'sent'")" = 0 ] && break
  sleep 1
done

read -r TOTAL NOT_FINAL SENT DELIVERED FAILED CHARGED < <(sql "
  SELECT count(*), count(*) FILTER (WHERE status NOT IN ('sent', 'delivered', 'failed', 'cancelled')),
         count(*) FILTER (WHERE status = 'sent'), count(*) FILTER (WHERE status = 'delivered'),
         count(*) FILTER (WHERE status = 'failed'), coalesce(sum(credits) FILTER (WHERE status IN ('sent', 'delivered')), 0)
  FROM messages WHERE campaign_id = '$CAMPAIGN'" | tr '|' ' ')
# Jobs a killed daemon held, claimed again by the next (their message may have been delivered meanwhile).
RECLAIMED=$(sql "SELECT count(*) FROM jobs WHERE attempts > 1")
PENDING=$(sql "SELECT count(*) FROM reservations WHERE account_id = '$CLIENT' AND status = 'pending'")
read -r POSTED RESERVED < <(sql "SELECT posted, reserved FROM balances WHERE account_id = '$CLIENT' AND unit = 'sms'" | tr '|' ' ')
# What the fake SMSC got: one line per message it took, `Got message N: <FROM TO text BODY>`.
# Its log is written in bursts and can lag the delivery reports: read it until it has every
# accepted message (or 30 s have passed).
smsc_counts() {
  grep 'Got message' "$SMSC_LOG" | grep 'Chaos offer' \
    | awk '{for (i = 1; i <= NF; i++) if ($i ~ /^<\+?[0-9]/) {print $(i + 1); break}}' | sort | uniq -c \
    | awk '{seen += $1; distinct++} END {print seen + 0, distinct + 0}'
}
for _ in $(seq 1 30); do
  read -r SEEN DISTINCT < <(smsc_counts)
  [ "$DISTINCT" -ge $((SENT + DELIVERED)) ] && break
  sleep 1
done
DUPLICATES=$((SEEN - DISTINCT))
VERIFY_STATUS=0
"$BIN" verify --data-dir "$DATA" --log-level warning > .bench/chaos-messaging-verify.txt 2>&1 || VERIFY_STATUS=$?

printf '\n%-52s %10s\n' "measure" "count"
printf '%-52s %10s\n' "daemon SIGKILLs / PostgreSQL restarts" "$KILLS / $PG_RESTARTS"
printf '%-52s %10s\n' "campaign messages" "$TOTAL"
printf '%-52s %10s\n' "  delivered / sent (no report yet) / failed" "$DELIVERED / $SENT / $FAILED"
printf '%-52s %10s\n' "  not in a final state" "$NOT_FINAL"
printf '%-52s %10s\n' "jobs claimed again after a kill" "$RECLAIMED"
printf '%-52s %10s\n' "reservations pending" "$PENDING"
printf '%-52s %10s\n' "credits given / charged / left (posted, reserved)" "$GIVEN / $CHARGED / $POSTED, $RESERVED"
printf '%-52s %10s\n' "fake SMSC: messages seen / distinct recipients" "$SEEN / $DISTINCT"
printf '%-52s %10s\n' "duplicates at the SMSC (at most $KILLS × $IN_FLIGHT)" "$DUPLICATES"
printf '%-52s %10s\n' "creditdesk verify exit status" "$VERIFY_STATUS"
jq -n --argjson total "$TOTAL" --argjson duplicates "$DUPLICATES" --argjson kills "$KILLS" --argjson verify "$VERIFY_STATUS" \
  --argjson reclaimed "$RECLAIMED" \
  '{messages: $total, kills: $kills, jobs_claimed_again: $reclaimed, duplicates_at_smsc: $duplicates, verify_exit_status: $verify}' > .bench/chaos-messaging.json

FAILURES=()
[ "$TOTAL" = "$RECIPIENTS" ] || FAILURES+=("$TOTAL messages, not $RECIPIENTS")
[ "$NOT_FINAL" = 0 ] || FAILURES+=("$NOT_FINAL messages not in a final state")
[ "$PENDING" = 0 ] && [ "$RESERVED" = 0 ] || FAILURES+=("$PENDING reservations pending, $RESERVED credits reserved")
[ "$POSTED" = $((GIVEN - CHARGED)) ] || FAILURES+=("credits left $POSTED, expected $GIVEN - $CHARGED")
[ "$DISTINCT" = $((SENT + DELIVERED)) ] || FAILURES+=("the SMSC saw $DISTINCT recipients, the gateway accepted $((SENT + DELIVERED))")
[ "$DUPLICATES" -le $((KILLS * IN_FLIGHT)) ] || FAILURES+=("$DUPLICATES duplicates, more than $KILLS × $IN_FLIGHT")
[ "$VERIFY_STATUS" = 0 ] || { FAILURES+=("verify exit status $VERIFY_STATUS"); cat .bench/chaos-messaging-verify.txt >&2; }
if [ ${#FAILURES[@]} -gt 0 ]; then
  printf 'CHAOS-MESSAGING FAILED: %s\n' "${FAILURES[@]}" >&2
  exit 1
fi
echo "chaos-messaging: every message final, credits exact, verify clean, $DUPLICATES duplicates at the SMSC"
