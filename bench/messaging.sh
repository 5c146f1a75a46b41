#!/usr/bin/env bash
# Messaging benchmark (make bench-messaging): a release daemon on its own embedded cluster and
# a real Kannel (bearerbox, smsbox, fake SMSC; delivery reports on). Measures, in one run:
#   1. Kannel's own rate: sendsms straight to smsbox from the same concurrency (the anchor);
#   2. a campaign of RECIPIENTS: confirm time, end-to-end rate (confirm → last acceptance),
#      delivery reports applied per second, daemon peak RSS;
#   3. single sends of another client while the campaign drains: API request → gateway
#      acceptance, p50/p99.
# Prints a table and writes .bench/messaging.json.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
RECIPIENTS=${MESSAGING_RECIPIENTS:-100000}
ANCHOR_REQUESTS=${MESSAGING_ANCHOR_REQUESTS:-20000}
CONCURRENCY=${MESSAGING_CONCURRENCY:-16}
TRANSACTIONAL=${MESSAGING_TRANSACTIONAL:-50}
TIMEOUT=${MESSAGING_TIMEOUT:-3600}
BIN=.build/release/creditdesk
LOAD=.build/release/creditdesk-bench
DATA=.bench/messaging-data
LOG=.bench/messaging-server.log
serve_fresh "$BIN" "$DATA" "$LOG"
PG_PORT=$(sed -n 4p "$DATA/pgdata/postmaster.pid")
DB_URL="postgresql://creditdesk:$(cat "$DATA/password")@127.0.0.1:$PG_PORT/creditdesk"
sql() { psql -qAt "$DB_URL" -c "$1"; }

id() { jq -r .id; }
RESELLER=$(api "$KEY" POST /v1/accounts "{\"parent_id\":\"$PLATFORM\",\"kind\":\"reseller\",\"name\":\"Bench Reseller\"}" | id)
api "$KEY" PATCH "/v1/accounts/$RESELLER/features" '{"campaigns":true}' > /dev/null
CAMPAIGNER=$(api "$KEY" POST /v1/accounts "{\"parent_id\":\"$RESELLER\",\"kind\":\"client\",\"name\":\"Big Campaigner\"}" | id)
OFFICE=$(api "$KEY" POST /v1/accounts "{\"parent_id\":\"$RESELLER\",\"kind\":\"client\",\"name\":\"Small Office\"}" | id)
api "$KEY" PATCH "/v1/accounts/$CAMPAIGNER/features" '{"campaigns":true}' > /dev/null
api "$KEY" POST "/v1/accounts/$PLATFORM/credits/transfer" "{\"unit\":\"sms\",\"amount\":$((RECIPIENTS + 100000)),\"to_account_id\":\"$RESELLER\"}" > /dev/null
for client in "$CAMPAIGNER" "$OFFICE"; do
  api "$KEY" POST "/v1/accounts/$RESELLER/credits/transfer" "{\"unit\":\"sms\",\"amount\":$((RECIPIENTS / 2 + 10000)),\"to_account_id\":\"$client\"}" > /dev/null
done
api "$KEY" POST "/v1/accounts/$RESELLER/credits/transfer" "{\"unit\":\"sms\",\"amount\":$((RECIPIENTS / 2)),\"to_account_id\":\"$CAMPAIGNER\"}" > /dev/null

# One Kannel; both clients' office connections submit to it.
kannel_ports
gateway() {
  api "$KEY" POST "/v1/accounts/$1/gateways" \
    "{\"provider\":\"kannel\",\"name\":\"Kannel\",\"base_url\":\"http://127.0.0.1:$((KANNEL_PORTS + 3))\",\"username\":\"creditdesk\",\"password\":\"kannel-test-password\",\"sender\":\"+6421000000\",\"home_prefix\":\"64\"}" \
    | jq -r '.inbound_url + "?token=" + .callback_token'
}
INBOUND=$(gateway "$CAMPAIGNER")
gateway "$OFFICE" > /dev/null
start_kannel "$LOAD" "$INBOUND" messaging
SEND_URL=$(jq -r .send_url "$KANNEL_JSON")

echo "messaging bench: Kannel's own rate, $ANCHOR_REQUESTS sendsms from $CONCURRENCY clients …" >&2
ANCHOR=$(KANNEL_PASSWORD=kannel-test-password "$LOAD" sendsms --send-url "$SEND_URL" --requests "$ANCHOR_REQUESTS" --clients "$CONCURRENCY")
# The fake SMSC drains the anchor's messages before the campaign starts.
sleep 5

echo "messaging bench: $RECIPIENTS contacts …" >&2
LIST=$(api "$KEY" POST "/v1/accounts/$CAMPAIGNER/contact-lists" '{"name":"Everyone"}' | id)
for start in $(seq 0 10000 $((RECIPIENTS - 1))); do
  count=$(( RECIPIENTS - start < 10000 ? RECIPIENTS - start : 10000 ))
  awk -v s="$start" -v n="$count" -v list="$LIST" 'BEGIN {
    printf "{\"list_id\":\"%s\",\"contacts\":[", list
    for (i = 0; i < n; i++) printf "%s{\"first_name\":\"C%d\",\"mobile\":\"+6423%07d\",\"sms_consent\":true}", (i ? "," : ""), s + i, s + i
    printf "]}" }' > .bench/messaging-contacts.json
  curl -sf -X POST -H "Authorization: Bearer $KEY" -H "Idempotency-Key: contacts-$start" -H "Content-Type: application/json" \
    --data-binary @.bench/messaging-contacts.json "$BASE/v1/accounts/$CAMPAIGNER/contacts/batch" > /dev/null
done
CAMPAIGN=$(api "$KEY" POST "/v1/accounts/$CAMPAIGNER/campaigns" \
  "{\"name\":\"Bench\",\"list_id\":\"$LIST\",\"template\":\"Hello {{first_name}}, your offer is ready\"}" | id)

echo "messaging bench: confirming and draining the campaign …" >&2
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
"$BIN" verify --data-dir "$DATA" --log-level warning > .bench/messaging-verify.txt 2>&1 && VERIFY=clean || VERIFY=FAILED

KANNEL_RATE=$(echo "$ANCHOR" | jq .per_second)
E2E_RATE=$(echo "scale=1; $ACCEPTED / $E2E_SECONDS" | bc)
DLR_RATE=$(echo "scale=1; $DELIVERED / ($DLR_SECONDS + 0.001)" | bc)
RATIO=$(echo "scale=3; $E2E_RATE / $KANNEL_RATE" | bc)
printf '%-58s %12s\n' "measure ($RECIPIENTS recipients, $CONCURRENCY connections)" "value"
printf '%-58s %12.0f   (the anchor)\n' "Kannel's own rate, sendsms/s" "$KANNEL_RATE"
printf '%-58s %12.2f   (target ≤ 5)\n' "campaign confirm, seconds" "$CONFIRM_SECONDS"
printf '%-58s %12s\n' "campaign end to end (confirm → last acceptance), msg/s" "$E2E_RATE"
printf '%-58s %12s   (target ≥ 0.5)\n' "ratio end to end / Kannel's own rate" "$RATIO"
printf '%-58s %12s\n' "delivery reports applied, per second" "$DLR_RATE"
printf '%-58s %12s   (target ≤ 2000)\n' "single sends during the campaign, p50 / p99 ms ($TCOUNT)" "$T50 / $T99"
printf '%-58s %12s   (target < 150)\n' "daemon peak RSS, MB" "$((PEAK_KB / 1024))"
printf '%-58s %12s\n' "creditdesk verify" "$VERIFY"
jq -n --argjson anchor "$ANCHOR" --arg recipients "$RECIPIENTS" --arg confirm "$CONFIRM_SECONDS" --arg e2e "$E2E_RATE" \
  --arg ratio "$RATIO" --arg dlr "$DLR_RATE" --arg t50 "$T50" --arg t99 "$T99" --arg rss "$((PEAK_KB / 1024))" --arg verify "$VERIFY" \
  '{recipients: ($recipients | tonumber), kannel: $anchor, confirm_seconds: ($confirm | tonumber),
    end_to_end_per_second: ($e2e | tonumber), ratio_to_kannel: ($ratio | tonumber), delivery_reports_per_second: ($dlr | tonumber),
    transactional_ms: {p50: ($t50 | tonumber), p99: ($t99 | tonumber)}, peak_rss_mb: ($rss | tonumber), verify: $verify}' \
  > .bench/messaging.json
[ "$VERIFY" = clean ]
