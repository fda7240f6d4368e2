#!/usr/bin/env bash
# Fuzz the GraphQL API with schemathesis against a real server: every answer must be JSON with
# a typed error code, never INTERNAL (tests/fuzz/internal_check.py). Bounded by FUZZ_SECONDS
# (default 120) and FUZZ_EXAMPLES per operation (default 50). Needs PostgreSQL on
# 127.0.0.1:5432 and `pip install schemathesis`; builds and uses the debug binary.
#   tests/fuzz/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v schemathesis >/dev/null || { echo "install schemathesis first: pip install schemathesis" >&2; exit 2; }
cargo build -q -p carepath
bin="${CARGO_TARGET_DIR:-target}/debug/carepath"
db="carepath_fuzz_$$"
port="${FUZZ_PORT:-18777}"
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $db"
export CAREPATH_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db"
export CAREPATH_RELAY_ENABLED=false CAREPATH_LISTEN="127.0.0.1:$port" CAREPATH_LOG=error
log=$(mktemp)
cleanup() {
  kill "${server:-}" 2>/dev/null || true
  wait "${server:-}" 2>/dev/null || true
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"
  rm -f "$log"
}
trap cleanup EXIT
"$bin" migrate >/dev/null
home=$("$bin" orgs create --name "Fuzz case management")
"$bin" orgs create --name "Fuzz IOP" --offers iop=10 --offers detox=10 >/dev/null
token=$("$bin" tokens create --org "$home" --role case_manager --label fuzz)
"$bin" serve >"$log" 2>&1 &
server=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
# The committed SDL is the contract the fuzzer reads; requests go to the running server.
SCHEMATHESIS_HOOKS=internal_check PYTHONPATH=tests/fuzz schemathesis run \
  graphql/schema.graphql --url "http://127.0.0.1:$port/graphql" \
  -H "Authorization: Bearer $token" \
  --checks no_internal_error \
  --max-examples "${FUZZ_EXAMPLES:-50}" \
  --max-time "${FUZZ_SECONDS:-120}" \
  --no-color
