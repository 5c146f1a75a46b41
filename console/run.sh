#!/usr/bin/env bash
# The console in a real browser: Debian's chromium and chromedriver, driven by selenium (PyPI,
# in .venv-console), against a running daemon on its own embedded cluster. Flows as a person
# clicks them, for a reseller admin and a client user; screenshots of each page at 1440 and
# 375 px into .build/console-screens/. Uses the debug build `make test` made.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
BIN=.build/debug/creditdesk
VENV=$(realpath -m "${CONSOLE_VENV:-.venv-console}")
DATA=.bench/console-data
LOG=.bench/console-server.log
python_venv "$VENV" console/requirements.txt selenium
serve_fresh "$BIN" "$DATA" "$LOG"

# The fixture: a reseller with MMS and campaigns to give, its admin, a client and its user,
# another reseller's client, a Twilio connection on the client for an inbound MMS, the desk
# user's own connection to a real Kannel (see creditdesk-bench kannel), and an opted-out number.
id() { jq -r .id; }
RESELLER=$(api "$KEY" POST /v1/accounts "{\"parent_id\":\"$PLATFORM\",\"kind\":\"reseller\",\"name\":\"Acme Messaging\"}" | id)
api "$KEY" PATCH "/v1/accounts/$RESELLER/features" '{"mms":true,"inbound":true,"campaigns":true}' > /dev/null
ADMIN=$(api "$KEY" POST "/v1/accounts/$RESELLER/users" '{"name":"Rita Admin","role":"admin","email":"rita@acme.example"}' | id)
BILLING=$(api "$KEY" POST "/v1/accounts/$RESELLER/users" '{"name":"Bea Billing","role":"billing","email":"bea@acme.example"}' | id)
CLIENT=$(api "$KEY" POST /v1/accounts "{\"parent_id\":\"$RESELLER\",\"kind\":\"client\",\"name\":\"Harbour Dental\"}" | id)
api "$KEY" POST /v1/accounts "{\"parent_id\":\"$RESELLER\",\"kind\":\"client\",\"name\":\"Corner Bakery\"}" > /dev/null
api "$KEY" PATCH "/v1/accounts/$CLIENT/features" '{"inbound":true,"campaigns":true}' > /dev/null
OFFICE=$(api "$KEY" POST "/v1/accounts/$CLIENT/users" '{"name":"Front Desk","role":"user","email":"desk@harbour.example"}' | id)
RIVAL=$(api "$KEY" POST /v1/accounts "{\"parent_id\":\"$PLATFORM\",\"kind\":\"reseller\",\"name\":\"Rival\"}" | id)
RIVAL_CLIENT=$(api "$KEY" POST /v1/accounts "{\"parent_id\":\"$RIVAL\",\"kind\":\"client\",\"name\":\"Rival Client\"}" | id)
for unit in sms mms; do
  api "$KEY" POST "/v1/accounts/$PLATFORM/credits/transfer" "{\"unit\":\"$unit\",\"amount\":100000,\"to_account_id\":\"$RESELLER\"}" > /dev/null
done
api "$KEY" POST "/v1/accounts/$RESELLER/credits/transfer" "{\"unit\":\"sms\",\"amount\":2500,\"to_account_id\":\"$CLIENT\"}" > /dev/null
TOKEN=$(api "$KEY" POST "/v1/accounts/$CLIENT/gateways" \
  '{"provider":"twilio","name":"Twilio","base_url":"http://127.0.0.1:9","username":"AC1","password":"p","sender":"+6421000000","home_prefix":"64"}' \
  | jq -r '.id + " " + .callback_token')
kannel_ports
DESK_KANNEL=$(api "$KEY" POST "/v1/accounts/$CLIENT/gateways" \
  "{\"provider\":\"kannel\",\"name\":\"Desk Kannel\",\"base_url\":\"http://127.0.0.1:$((KANNEL_PORTS + 3))\",\"username\":\"creditdesk\",\"password\":\"kannel-test-password\",\"sender\":\"+6421000001\",\"home_prefix\":\"64\",\"user_id\":\"$OFFICE\"}" \
  | jq -r '.inbound_url + "?token=" + .callback_token')
start_kannel .build/debug/creditdesk-bench "$DESK_KANNEL" console
KANNEL_DIR=$(jq -r .directory "$KANNEL_JSON")
api "$KEY" POST "/v1/accounts/$CLIENT/opt-outs" '{"phones":["+64215550000"]}' > /dev/null
# Passwords through the command line, from standard input.
for user in "$ADMIN" "$BILLING" "$OFFICE"; do
  echo "console password 1" | "$BIN" users password --user "$user" --api-key "$KEY" --data-dir "$DATA" --log-level warning > /dev/null
done

export BASE CLIENT RIVAL_CLIENT KANNEL_DIR GATEWAY="${TOKEN% *}" GATEWAY_TOKEN="${TOKEN#* }"
export SCREENS=.build/console-screens PASSWORD="console password 1"
mkdir -p "$SCREENS"
"$VENV/bin/python" console/browser_test.py
