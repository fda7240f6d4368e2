# What the examples share (sourced by them): where the server and the binary are, and two
# helpers over curl and python3.
URL=${CAREPATH_URL:-http://127.0.0.1:8080}
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
CP=${CAREPATH_BIN:-$CARGO_TARGET_DIR/release/carepath}

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
