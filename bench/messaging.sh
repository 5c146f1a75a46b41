#!/usr/bin/env bash
# Messaging benchmark (make bench-messaging): a release daemon on its own embedded cluster and
# a real Kannel (bearerbox, smsbox, fake SMSC; delivery reports on). Measures, in one run:
#   1. Kannel's own rate: sendsms straight to smsbox from the same concurrency (the anchor);
#   2. a campaign of RECIPIENTS: confirm time, end-to-end rate (confirm → last acceptance),
#      delivery reports applied per second, daemon peak RSS;
#   3. single sends of another client while the campaign drains: API request → gateway
#      acceptance, p50/p99;
#   4. a campaign of LIMITED_RECIPIENTS through a connection limited to LIMITED_RATE msg/s:
#      the rate the fake SMSC observed (its log, per whole second);
#   5. single sends through the API from CONCURRENCY keep-alive clients for SEND_SECONDS, next
#      to pgbench tpcb-like on the same server.
# Prints a table and writes .bench/messaging.json.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
RECIPIENTS=${MESSAGING_RECIPIENTS:-100000}
ANCHOR_REQUESTS=${MESSAGING_ANCHOR_REQUESTS:-20000}
CONCURRENCY=${MESSAGING_CONCURRENCY:-16}
TRANSACTIONAL=${MESSAGING_TRANSACTIONAL:-50}
TIMEOUT=${MESSAGING_TIMEOUT:-3600}
LIMITED_RECIPIENTS=${MESSAGING_LIMITED_RECIPIENTS:-4000}
LIMITED_RATE=${MESSAGING_LIMITED_RATE:-200}
SEND_SECONDS=${MESSAGING_SEND_SECONDS:-10}
BIN=.build/release/creditdesk
LOAD=.build/release/creditdesk-bench
DATA=.bench/messaging-data
LOG=.bench/messaging-server.log
serve_fresh "$BIN" "$DATA" "$LOG"
cluster_url "$DATA"
RESELLER=$(api "$KEY" POST /v1/accounts "{\"parent_id\":\"$PLATFORM\",\"kind\":\"reseller\",\"name\":\"Bench Reseller\"}" | json_id)
api "$KEY" PATCH "/v1/accounts/$RESELLER/features" '{"campaigns":true}' > /dev/null
CAMPAIGNER=$(api "$KEY" POST /v1/accounts "{\"parent_id\":\"$RESELLER\",\"kind\":\"client\",\"name\":\"Big Campaigner\"}" | json_id)
OFFICE=$(api "$KEY" POST /v1/accounts "{\"parent_id\":\"$RESELLER\",\"kind\":\"client\",\"name\":\"Small Office\"}" | json_id)
LIMITED=$(api "$KEY" POST /v1/accounts "{\"parent_id\":\"$RESELLER\",\"kind\":\"client\",\"name\":\"Limited Shop\"}" | json_id)
for client in "$CAMPAIGNER" "$LIMITED"; do api "$KEY" PATCH "/v1/accounts/$client/features" '{"campaigns":true}' > /dev/null; done
api "$KEY" POST "/v1/accounts/$PLATFORM/credits/transfer" "{\"unit\":\"sms\",\"amount\":$((RECIPIENTS + LIMITED_RECIPIENTS + 140000)),\"to_account_id\":\"$RESELLER\"}" > /dev/null
for client in "$CAMPAIGNER" "$OFFICE"; do
  api "$KEY" POST "/v1/accounts/$RESELLER/credits/transfer" "{\"unit\":\"sms\",\"amount\":$((RECIPIENTS / 2 + 10000)),\"to_account_id\":\"$client\"}" > /dev/null
done
api "$KEY" POST "/v1/accounts/$RESELLER/credits/transfer" "{\"unit\":\"sms\",\"amount\":$((RECIPIENTS / 2)),\"to_account_id\":\"$CAMPAIGNER\"}" > /dev/null
api "$KEY" POST "/v1/accounts/$RESELLER/credits/transfer" "{\"unit\":\"sms\",\"amount\":$LIMITED_RECIPIENTS,\"to_account_id\":\"$LIMITED\"}" > /dev/null

# One Kannel; both clients' office connections submit to it.
kannel_ports
gateway() {
  api "$KEY" POST "/v1/accounts/$1/gateways" \
    "{\"provider\":\"kannel\",\"name\":\"Kannel\",\"base_url\":\"http://127.0.0.1:$((KANNEL_PORTS + 3))\",\"username\":\"creditdesk\",\"password\":\"kannel-test-password\",\"sender\":\"+6421000000\",\"home_prefix\":\"64\"${2:-}}" \
    | jq -r '.inbound_url + "?token=" + .callback_token'
}
INBOUND=$(gateway "$CAMPAIGNER")
gateway "$OFFICE" > /dev/null
gateway "$LIMITED" ",\"max_messages_per_second\":$LIMITED_RATE" > /dev/null
start_kannel "$LOAD" "$INBOUND" messaging
SEND_URL=$(jq -r .send_url "$KANNEL_JSON")

echo "messaging bench: Kannel's own rate, $ANCHOR_REQUESTS sendsms from $CONCURRENCY clients …" >&2
ANCHOR=$(KANNEL_PASSWORD=kannel-test-password "$LOAD" sendsms --send-url "$SEND_URL" --requests "$ANCHOR_REQUESTS" --clients "$CONCURRENCY")
# The same requests CreditDesk makes: delivery reports asked for (to the daemon's /healthz, the
# cheapest answer it has), so Kannel does the work per message it does for the campaign.
sleep 5
ANCHOR_DLR=$(KANNEL_PASSWORD=kannel-test-password "$LOAD" sendsms --send-url "$SEND_URL" --requests "$ANCHOR_REQUESTS" \
  --clients "$CONCURRENCY" --dlr-url "$BASE/healthz")
# The fake SMSC drains the anchors' messages (and Kannel their reports) before the campaign starts.
sleep 10

echo "messaging bench: $RECIPIENTS contacts …" >&2
CAMPAIGN=$(campaign "$CAMPAIGNER" "$RECIPIENTS" 23 'Hello {{first_name}}, your offer is ready')

# Where the time goes: CPU seconds per part of the set-up while the campaign drains.
POSTMASTER=$(head -1 "$DATA/pgdata/postmaster.pid")
cpu_by_part() {
  echo "$(cpu_seconds "$DAEMON") $(cpu_seconds "$POSTMASTER" $(pgrep -P "$POSTMASTER")) $(cpu_seconds $(pgrep -x bearerbox)) $(cpu_seconds $(pgrep -x smsbox)) $(cpu_seconds $(pgrep -x fakesmsc))"
}
echo "messaging bench: confirming and draining the campaign …" >&2
read -r -a CPU_BEFORE <<< "$(cpu_by_part)"
CONFIRM_START=$(date +%s.%N)
api "$KEY" POST "/v1/campaigns/$CAMPAIGN/confirm" '{"accept_terms":true}' > /dev/null
CONFIRM_SECONDS=$(echo "$(date +%s.%N) - $CONFIRM_START" | bc)
# Transactional sends from the other client while the campaign drains, a few per second.
for i in $(seq 1 "$TRANSACTIONAL"); do
  api "$KEY" POST "/v1/accounts/$OFFICE/messages" "{\"to\":\"+64219$(printf %06d "$i")\",\"text\":\"Your appointment is at 10\"}" > /dev/null
  sleep 0.2
done &
SENDER=$!
PEAK_KB=0
DAEMON_PID=$DAEMON
DEADLINE=$(( $(date +%s) + TIMEOUT ))
while :; do
  if [ "$(date +%s)" -gt "$DEADLINE" ]; then echo "messaging bench: not drained after $TIMEOUT s" >&2; break; fi
  RSS=$(awk '/VmRSS/ {print $2}' "/proc/$DAEMON_PID/status" 2>/dev/null || echo 0)
  [ "$RSS" -gt "$PEAK_KB" ] && PEAK_KB=$RSS
  LEFT=$(sql "SELECT count(*) FROM messages WHERE status IN ('queued', 'scheduled') OR (status = 'sent' AND campaign_id IS NOT NULL)")
  [ "$LEFT" = 0 ] && ! kill -0 "$SENDER" 2>/dev/null && break
  sleep 1
done
wait "$SENDER" 2>/dev/null || true
read -r -a CPU_AFTER <<< "$(cpu_by_part)"
DRAIN_SECONDS=$(echo "$(date +%s.%N) - $CONFIRM_START" | bc)

# Everything else from the database: the times each message reached the gateway and came back.
read -r ACCEPTED E2E_SECONDS DELIVERED DLR_SECONDS < <(sql "
  SELECT count(*) FILTER (WHERE sent_at IS NOT NULL),
         extract(epoch FROM max(sent_at) - (SELECT confirmed_at FROM campaigns WHERE id = '$CAMPAIGN')),
         count(*) FILTER (WHERE status = 'delivered'),
         extract(epoch FROM max(delivered_at) - min(delivered_at))
  FROM messages WHERE campaign_id = '$CAMPAIGN'" | tr '|' ' ')
read -r T50 T99 TCOUNT < <(sql "
  SELECT round(1000 * percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM sent_at - created_at)))::bigint,
         round(1000 * percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM sent_at - created_at)))::bigint,
         count(*)
  FROM messages WHERE account_id = '$OFFICE' AND sent_at IS NOT NULL" | tr '|' ' ')
echo "messaging bench: $LIMITED_RECIPIENTS through a connection limited to $LIMITED_RATE msg/s …" >&2
LIMITED_CAMPAIGN=$(campaign "$LIMITED" "$LIMITED_RECIPIENTS" 24 'Limited offer for {{first_name}}')
api "$KEY" POST "/v1/campaigns/$LIMITED_CAMPAIGN/confirm" '{"accept_terms":true}' > /dev/null
until [ "$(sql "SELECT count(*) FROM messages WHERE campaign_id = '$LIMITED_CAMPAIGN' AND status IN ('queued', 'scheduled')")" = 0 ]; do
  [ "$(date +%s)" -gt "$DEADLINE" ] && { echo "messaging bench: limited campaign not drained" >&2; break; }
  sleep 1
done
sleep 2
# The fake SMSC logs each message it gets with a timestamp to the second: count per second,
# leaving out the first and last (partial) seconds.
read -r LIMITED_MEDIAN LIMITED_MAX LIMITED_SECONDS < <(grep 'Got message' "$(jq -r .directory "$KANNEL_JSON")/fakesmsc.out" \
  | grep 'Limited offer' | awk '{print $1" "$2}' | uniq -c | awk '{print $1}' | sed '1d;$d' | sort -n \
  | awk '{v[NR] = $1} END {if (NR == 0) print "0 0 0"; else print v[int((NR + 1) / 2)], v[NR], NR}')
echo "messaging bench: single sends through the API, $CONCURRENCY clients on as many shops, $SEND_SECONDS s; pgbench …" >&2
# As the credit bench's adjustments: one account per client (each its own balance row, as
# pgbench's clients mostly update different rows), each shop with its own connection.
SHOPS=()
for i in $(seq 1 "$CONCURRENCY"); do
  SHOP=$(api "$KEY" POST /v1/accounts "{\"parent_id\":\"$RESELLER\",\"kind\":\"client\",\"name\":\"Shop $i\"}" | json_id)
  api "$KEY" POST "/v1/accounts/$RESELLER/credits/transfer" "{\"unit\":\"sms\",\"amount\":2500,\"to_account_id\":\"$SHOP\"}" > /dev/null
  gateway "$SHOP" > /dev/null
  SHOPS+=("$SHOP")
done
SENDS=$(CREDITDESK_KEY=$KEY "$LOAD" load --base-url "$BASE" --mode send --accounts "$(IFS=,; echo "${SHOPS[*]}")" \
  --clients "$CONCURRENCY" --seconds "$SEND_SECONDS")
PGBENCH_TPS=$(pgbench_tps "$DATA" "$CONCURRENCY" "$SEND_SECONDS")
until [ "$(sql "SELECT count(*) FROM messages WHERE status IN ('queued', 'scheduled')")" = 0 ]; do
  [ "$(date +%s)" -gt "$DEADLINE" ] && { echo "messaging bench: single sends not drained" >&2; break; }
  sleep 1
done
SEND_RATE=$(echo "$SENDS" | jq .ops_per_second)
SEND_RATIO=$(echo "scale=3; $SEND_RATE / $PGBENCH_TPS" | bc)
"$BIN" verify --data-dir "$DATA" --log-level warning > .bench/messaging-verify.txt 2>&1 && VERIFY=clean || VERIFY=FAILED

KANNEL_RATE=$(echo "$ANCHOR" | jq .per_second)
E2E_RATE=$(echo "scale=1; $ACCEPTED / $E2E_SECONDS" | bc)
DLR_RATE=$(echo "scale=1; $DELIVERED / ($DLR_SECONDS + 0.001)" | bc)
RATIO=$(echo "scale=3; $E2E_RATE / $KANNEL_RATE" | bc)
KANNEL_DLR_RATE=$(echo "$ANCHOR_DLR" | jq .per_second)
RATIO_DLR=$(echo "scale=3; $E2E_RATE / $KANNEL_DLR_RATE" | bc)
printf '%-58s %12s\n' "measure ($RECIPIENTS recipients, $CONCURRENCY connections)" "value"
printf '%-58s %12.0f   (the anchor)\n' "Kannel's own rate, sendsms/s" "$KANNEL_RATE"
printf '%-58s %12.0f   (the anchor)\n' "Kannel's own rate asking for delivery reports, sendsms/s" "$KANNEL_DLR_RATE"
printf '%-58s %12.2f   (target ≤ 5)\n' "campaign confirm, seconds" "$CONFIRM_SECONDS"
printf '%-58s %12s\n' "campaign end to end (confirm → last acceptance), msg/s" "$E2E_RATE"
printf '%-58s %12s   (target ≥ 0.5)\n' "ratio end to end / Kannel's own rate" "$RATIO"
printf '%-58s %12s\n' "ratio end to end / Kannel's own rate with reports" "$RATIO_DLR"
printf '%-58s %12s\n' "delivery reports applied, per second" "$DLR_RATE"
printf '%-58s %12s   (target ≤ 2000)\n' "single sends during the campaign, p50 / p99 ms ($TCOUNT)" "$T50 / $T99"
printf '%-58s %12s   (target < 150)\n' "daemon peak RSS, MB" "$((PEAK_KB / 1024))"
printf '%-58s %12s   (target %s ± 10 %%)\n' "limited to $LIMITED_RATE/s: fake SMSC per second, median / max ($LIMITED_SECONDS s)" "$LIMITED_MEDIAN / $LIMITED_MAX" "$LIMITED_RATE"
printf '%-58s %12.0f   (the anchor)\n' "pgbench tpcb-like, $CONCURRENCY clients, TPS" "$PGBENCH_TPS"
printf '%-58s %12s\n' "single sends through the API, per second (p99 $(echo "$SENDS" | jq .p99_ms) ms)" "$(printf %.0f "$SEND_RATE")"
printf '%-58s %12s   (target ≥ 0.5)\n' "ratio single sends / pgbench" "$SEND_RATIO"
printf '%-58s %12s\n' "creditdesk verify" "$VERIFY"
printf '\n%-58s %12s %12s\n' "CPU while the campaign drained ($DRAIN_SECONDS s)" "cores" "ms/message"
PARTS=("daemon" "PostgreSQL" "bearerbox" "smsbox" "fakesmsc")
CPU_JSON="{}"
for i in "${!PARTS[@]}"; do
  used=$(echo "${CPU_AFTER[$i]} - ${CPU_BEFORE[$i]}" | bc)
  printf '%-58s %12.2f %12.3f\n' "  ${PARTS[$i]}" "$(echo "$used / $DRAIN_SECONDS" | bc -l)" "$(echo "1000 * $used / ($ACCEPTED + 1)" | bc -l)"
  CPU_JSON=$(echo "$CPU_JSON" | jq --arg part "${PARTS[$i]}" --arg used "$used" '. + {($part): ($used | tonumber)}')
done
jq -n --argjson sends "$SENDS" --arg pgbench "$PGBENCH_TPS" --arg send_ratio "$SEND_RATIO" \
  --argjson cpu "$CPU_JSON" --argjson anchor "$ANCHOR" --argjson anchor_dlr "$ANCHOR_DLR" --arg ratio_dlr "$RATIO_DLR" --arg recipients "$RECIPIENTS" --arg confirm "$CONFIRM_SECONDS" --arg e2e "$E2E_RATE" \
  --arg ratio "$RATIO" --arg dlr "$DLR_RATE" --arg t50 "$T50" --arg t99 "$T99" --arg rss "$((PEAK_KB / 1024))" --arg verify "$VERIFY" \
  --arg limit "$LIMITED_RATE" --arg lmedian "$LIMITED_MEDIAN" --arg lmax "$LIMITED_MAX" \
  '{recipients: ($recipients | tonumber), kannel: $anchor, kannel_with_reports: $anchor_dlr,
    ratio_to_kannel_with_reports: ($ratio_dlr | tonumber), confirm_seconds: ($confirm | tonumber),
    end_to_end_per_second: ($e2e | tonumber), ratio_to_kannel: ($ratio | tonumber), delivery_reports_per_second: ($dlr | tonumber),
    transactional_ms: {p50: ($t50 | tonumber), p99: ($t99 | tonumber)},
    limited: {limit_per_second: ($limit | tonumber), observed_median: ($lmedian | tonumber), observed_max: ($lmax | tonumber)},
    single_sends: $sends, pgbench_tps: ($pgbench | tonumber), ratio_sends_to_pgbench: ($send_ratio | tonumber),
    cpu_seconds_while_draining: $cpu, peak_rss_mb: ($rss | tonumber), verify: $verify}' \
  > .bench/messaging.json
[ "$VERIFY" = clean ]
