# What the examples share (sourced by them, and by the README's tour): where the server and
# the binary are, and two helpers over curl and python3. Paths are the repository's, found
# from this file, so the examples run from any directory: they work in the repository's root,
# where `cargo run --release -- serve` keeps its database (carepath.db) and reads carepath.toml.
CAREPATH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$CAREPATH_ROOT"
URL=${CAREPATH_URL:-http://127.0.0.1:8080}
CP=${CAREPATH_BIN:-${CARGO_TARGET_DIR:-$CAREPATH_ROOT/target}/release/carepath}
if [[ ! -x $CP ]]; then
  echo "no carepath binary at $CP: build it first (cargo build --release), or set CAREPATH_BIN" >&2
  exit 1
fi

# POST one GraphQL request as the holder of token $1; print `data`, fail on `errors`.
gql() {
  curl -sS "$URL/graphql" -H "Authorization: Bearer $1" -H 'content-type: application/json' \
    -d "$2" | python3 -c '
import json, sys
r = json.load(sys.stdin)
if r.get("errors"):
    sys.exit("GraphQL error: " + json.dumps(r["errors"]))
print(json.dumps(r["data"]))'
}
# The value at a dotted path of the JSON on stdin.
get() { python3 -c "import json,sys; v=json.load(sys.stdin)
for k in '$1'.split('.'): v = v[int(k)] if k.isdigit() else v[k]
print(v)"; }
