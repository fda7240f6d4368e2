#!/usr/bin/env bash
# A step-down end to end, as the systems around Carepath would drive it over HTTP: a case
# manager admits a client to residential care and refers them to an IOP, the IOP accepts and
# confirms the arrival; a retried mutation with the same idempotency key is answered from the
# first run. Needs curl and python3, and a server started on the database the commands below
# open (the README's `cargo run --release -- serve`, or set CAREPATH_URL and
# CAREPATH_DATABASE_URL).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

home=$($CP orgs create --name "Harbor Case Management")
residential=$($CP orgs create --name "Cedar House Residential" --offers residential=16)
iop=$($CP orgs create --name "Northside IOP" --offers iop=40)
cm=$($CP tokens create --org "$home" --role case_manager --label "Harbor EHR")
partner=$($CP tokens create --org "$iop" --role partner --label "Northside intake system")
today=$(date -u +%F)

client=$(gql "$cm" '{"query":"mutation { registerClient(input: { birthYear: 1990, displayName: \"Ana Quintero\", recordNumber: \"MRN-'$RANDOM$RANDOM'\" }) { clientId } }"}' | get registerClient.clientId)
echo "client $client registered"
gql "$cm" '{"query":"mutation($c: UUID!, $r: [UUID!]!, $on: NaiveDate!) { recordConsent(input: { clientId: $c, recipientIds: $r, purpose: \"treatment\", information: \"level of care, referrals\", expiry: END_OF_TREATMENT, signedOn: $on }) { version } }","variables":{"c":"'$client'","r":["'$residential'","'$iop'"],"on":"'$today'"}}' >/dev/null
gql "$cm" '{"query":"mutation($c: UUID!, $p: UUID!) { admit(input: { clientId: $c, level: \"residential\", providerId: $p, plannedHoursPerWeek: 30 }) { version } }","variables":{"c":"'$client'","p":"'$residential'"}}' >/dev/null
echo "admitted to residential care"

# The referral, sent twice with one idempotency key: the second answer is the first, replayed.
send='{"query":"mutation($c: UUID!, $p: [UUID!]!) { sendReferral(input: { clientId: $c, toLevel: \"iop\", providerIds: $p }, idempotencyKey: \"refer-iop-1\") { version replayed createdIds } }","variables":{"c":"'$client'","p":["'$iop'"]}}'
first=$(gql "$cm" "$send")
again=$(gql "$cm" "$send")
referral=$(echo "$first" | get sendReferral.createdIds.0)
echo "referral $referral sent; retried: replayed=$(echo "$again" | get sendReferral.replayed), same version=$(echo "$again" | get sendReferral.version)"

# The IOP sees it in its inbox and accepts (a slot is held for the client).
gql "$partner" '{"query":"{ referralInbox { edges { node { id toLevel status } } } }"}' | get referralInbox.edges.0.node.status
gql "$partner" '{"query":"mutation($r: UUID!) { acceptReferral(referralId: $r) { version } }","variables":{"r":"'$referral'"}}' >/dev/null
echo "accepted by the IOP"

# The step-down: the client leaves residential care and is in transit until the IOP
# confirms the arrival.
gql "$cm" '{"query":"mutation($c: UUID!) { transition(input: { clientId: $c, kind: STEP_DOWN, toLevel: \"iop\", plannedHoursPerWeek: 12 }) { events { type } } }","variables":{"c":"'$client'"}}' | get transition.events.0.type
gql "$partner" '{"query":"mutation($c: UUID!) { confirmArrival(clientId: $c) { events { type } } }","variables":{"c":"'$client'"}}' | get confirmArrival.events.0.type
gql "$cm" '{"query":"query($c: UUID!) { client(id: $c) { status placement { level provider { name } } identity { displayName } } }","variables":{"c":"'$client'"}}'
