#!/usr/bin/env bash
# Builds the example as a separate package would (CreditDesk by path), runs it on a throwaway
# PostgreSQL cluster, and checks what it prints: the balances after the sale and the send.
set -euo pipefail
cd "$(dirname "$0")"
swift build
output=$(.build/debug/EmbeddedLedger)
echo "$output"
grep -qx "Acme Messaging: 4000 SMS posted, 0 reserved, 4000 available" <<<"$output"
grep -qx "Harbour Dental: 998 SMS posted, 0 reserved, 998 available" <<<"$output"
grep -qx "ledger verified" <<<"$output"
echo "example: OK"
