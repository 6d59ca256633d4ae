#!/usr/bin/env bash
# The README's walkthrough, as a script: an organization, its first admin,
# two agents, a pool and a rule, a lead routed to an agent, a manager who
# rejects that proposal, approves the next one, then assigns the lead by
# hand; the lead's timeline.
#
# Run it against a server of yours (`cargo run --release` in another
# terminal): `bash docs/walkthrough.sh [http://127.0.0.1:3000]`. It needs
# curl and python3, and stops at the first answer that is not the expected
# one. CI runs it against a fresh server and compares its output with the
# README (`.ci/walkthrough.sh`).
set -euo pipefail
BASE=${1:-http://127.0.0.1:3000}
AUTH="x-api-key: dev_key_123" # the development key: a platform super admin

# api METHOD PATH [JSON]: one request as $AUTH; prints it and the answer,
# and stops the script unless the status is 2xx.
api() {
  local out status
  out=$(curl -sS -X "$1" "$BASE$2" ${AUTH:+-H "$AUTH"} -H "Content-Type: application/json" \
    ${3:+-d "$3"} -w '\n%{http_code}')
  status=${out##*$'\n'}
  BODY=${out%$'\n'*}
  printf '\n> %s %s%s\n%s %s\n' "$1" "$2" "${3:+ $3}" "$status" "$BODY"
  [[ $status == 2* ]] || { echo "expected a 2xx answer" >&2; exit 1; }
}

# get FIELD: a field of the last answer, e.g. `get data.id`.
get() {
  python3 -c 'import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[int(k)] if k.isdigit() else v[k]
print(v)' "$1" <<<"$BODY"
}

# 1. A platform admin creates an organization, reads and updates it.
api POST /organizations '{"name": "test-org-2", "displayName": "Test Organization 2", "email": "admin@testorg2.com", "tier": "standard"}'
ORG=$(get data.id)
api GET "/organizations?isActive=true&tier=standard&limit=10"
api GET "/organizations/$ORG/stats"
api PUT "/organizations/$ORG" '{"displayName": "Test Org 2 (Updated)", "tier": "enterprise", "settings": {"maxAgents": 50}}'

# Invalid input is a 400 naming every field.
out=$(curl -sS -X POST "$BASE/organizations" -H "$AUTH" -H "Content-Type: application/json" \
  -d '{"name": "Bad Name", "email": "nope"}' -w '\n%{http_code}')
printf '\n> POST /organizations {"name": "Bad Name", "email": "nope"}\n%s %s\n' "${out##*$'\n'}" "${out%$'\n'*}"
[[ ${out##*$'\n'} == 400 ]]

# 2. The organization's first admin registers (no credentials while it has
#    no users), signs in, and from now on acts with its token.
AUTH=
api POST /auth/register "{\"username\": \"admin2\", \"email\": \"admin@testorg2.com\", \"password\": \"SecurePass123!\", \"orgId\": \"$ORG\"}"
api POST /auth/login '{"email": "admin@testorg2.com", "password": "SecurePass123!"}'
AUTH="Authorization: Bearer $(get tokens.accessToken)"
api GET /auth/me

# An API key for a form backend: its secret is shown once.
api POST /api-keys '{"name": "web form", "role": "agent"}'

# 3. Routing: two agents, a round-robin pool, a rule for French leads.
api POST /agents '{"name": "Ann", "email": "ann@testorg2.com", "skills": ["french"], "capacity": 20}'
ANN=$(get data.id)
api POST /agents '{"name": "Bob", "email": "bob@testorg2.com", "skills": ["french"]}'
BOB=$(get data.id)
api POST /routing/pools "{\"name\": \"France\", \"method\": \"round_robin\", \"memberIds\": [\"$ANN\", \"$BOB\"]}"
POOL=$(get data.id)
api POST /routing/rules "{\"name\": \"French leads\", \"priority\": 10, \"conditions\": [{\"field\": \"country\", \"op\": \"eq\", \"value\": \"FR\"}], \"poolId\": \"$POOL\", \"requiredSkills\": [\"french\"]}"

# 4. A lead arrives; the engine proposes Ann, with the trace of its choice.
api POST /leads '{"externalId": "form-1", "name": "Jane Doe", "email": "jane@globex.fr", "country": "FR", "score": 72}'
LEAD=$(get data.lead.id)
FIRST=$(get data.proposal.id)

# 5. The manager's queue. Rejecting Ann's proposal routes the lead again,
#    never back to Ann: Bob is proposed. Approving Bob assigns the lead.
api GET "/manager/proposals?status=pending"
api POST "/manager/proposals/$FIRST/reject" '{"note": "Ann is on holiday"}'
NEXT=$(get data.proposal.id)
api POST "/manager/proposals/$NEXT/approve" '{"note": "Bob speaks French"}'
api GET "/leads/$LEAD"

# 6. After the first proposal: a manager gives the lead to Ann by hand
#    (`warnings` says when the engine would not have chosen her now), and
#    the lead's timeline tells who did what, in order.
api POST "/leads/$LEAD/assign" "{\"agentId\": \"$ANN\", \"note\": \"Ann is back\"}"
api GET "/leads/$LEAD/timeline"

# 7. A platform admin deactivates, reactivates and deletes the organization.
AUTH="x-api-key: dev_key_123"
api DELETE "/organizations/$ORG"
api POST "/organizations/$ORG/activate"
api DELETE "/organizations/$ORG?hard=true"
