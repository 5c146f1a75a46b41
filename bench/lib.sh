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
