#!/usr/bin/env bash
# Contract test: schemathesis (every check) against a running daemon, once as each of three
# roles (platform operator, reseller admin, client user), over a fixture of real objects that
# the generated requests address through contract/schemathesis.toml. Passes with no failure.
# Uses the debug build `make test` made; EXAMPLES= sets the examples per operation.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
EXAMPLES=${EXAMPLES:-50}
BIN=.build/debug/creditdesk
VENV=$(realpath -m "${CONTRACT_VENV:-.venv-contract}")
DATA=.bench/contract-data
LOG=.bench/contract-server.log
python_venv "$VENV" contract/requirements.txt schemathesis
# The fixture's webhooks point at loopback.
export CREDITDESK_WEBHOOK_ALLOW_PRIVATE=1
serve_fresh "$BIN" "$DATA" "$LOG"
source contract/fixture.sh
# The configuration with the fixture's ids filled in.
python3 -c 'import os, sys; sys.stdout.write(os.path.expandvars(open("contract/schemathesis.toml").read()))' \
  > .bench/contract.toml

FAILED=0
for ROLE in operator reseller_admin client_user; do
  case $ROLE in
    operator) ROLE_KEY=$KEY ;;
    reseller_admin) ROLE_KEY=$RESELLER_KEY ;;
    client_user) ROLE_KEY=$CLIENT_USER_KEY ;;
  esac
  echo "== contract as $ROLE"
  if ! ("$VENV/bin/schemathesis" --config-file .bench/contract.toml run openapi.yaml --url "$BASE" --checks all \
      --max-examples "$EXAMPLES" --header "Authorization: Bearer $ROLE_KEY" --no-color --seed 1 \
      > ".bench/contract-$ROLE.log" 2>&1); then
    FAILED=1
  fi
  sed -n '/^Failures:/,/^Seed/p;/generated/p' ".bench/contract-$ROLE.log" | grep -v '^$' || true
  grep -E '^=+ .* in [0-9.]+s =+$' ".bench/contract-$ROLE.log" || true
done
if [ "$FAILED" != 0 ]; then
  echo "contract: failures; the full reports are .bench/contract-*.log" >&2
  exit 1
fi
echo "contract: 0 failures as operator, reseller admin and client user"
