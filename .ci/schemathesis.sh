#!/usr/bin/env bash
# Fuzzes the API against its own OpenAPI document with schemathesis: a live
# server on a fresh SQLite database, authenticated as an organization admin
# with a real JWT. Fails on any 5xx, any response that violates the document,
# and any accepted input that the document forbids.
#
# Usage: bash .ci/schemathesis.sh [seconds]   (needs a built target/debug/lead-routing)
set -euo pipefail
cd "$(dirname "$0")/.."
budget=${1:-90}
work=$(mktemp -d)
venv=${SCHEMATHESIS_VENV:-$work/venv}
port=39${RANDOM:0:3}
cleanup() { [ -n "${server:-}" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis>=4,<5"
fi

(cd "$work" && PORT=$port RUST_LOG=warn exec "$OLDPWD/target/debug/lead-routing") > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/ready" >/dev/null && break; sleep 0.2; done

json() { python3 -c "import sys, json; print(json.load(sys.stdin)$1)"; }
base="http://127.0.0.1:$port"
org=$(curl -sf -X POST "$base/organizations" -H 'x-api-key: dev_key_123' -H 'content-type: application/json' \
  -d '{"name": "fuzz-org"}' | json '["data"]["id"]')
curl -sf -X POST "$base/auth/register" -H 'content-type: application/json' \
  -d "{\"username\": \"fuzzadmin\", \"email\": \"admin@fuzz.test\", \"password\": \"fuzz-password-123\", \"orgId\": \"$org\"}" >/dev/null
token=$(curl -sf -X POST "$base/auth/login" -H 'content-type: application/json' \
  -d '{"email": "admin@fuzz.test", "password": "fuzz-password-123"}' | json '["tokens"]["accessToken"]')

"$venv/bin/schemathesis" run "$base/openapi.json" \
  -H "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection \
  --phases examples,coverage,fuzzing \
  --max-time "$budget" --seed 20261129 --workers 1 --no-color
