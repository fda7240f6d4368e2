#!/usr/bin/env bash
# The care record read as FHIR R4, as an EHR, an HIE or a payer would read it: a case manager
# admits a client to detox, refers them to residential care (accepted) and records a
# buprenorphine plan; then each resource type is read with curl from /fhir/R4, and a bulk
# export is kicked off, polled and downloaded as NDJSON. Needs curl and python3, and a server
# started on the database the commands below open (the README's `cargo run --release --
# serve`, or set CAREPATH_URL and CAREPATH_DATABASE_URL).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
FHIR="$URL/fhir/R4"
# A searchset's resources, one line each: type, id, status.
entries() { python3 -c '
import json, sys
b = json.load(sys.stdin)
for e in b.get("entry", []):
    r = e["resource"]
    print(r["resourceType"], r["id"], r.get("status", ""))'; }

home=$($CP orgs create --name "Harbor Case Management")
detox=$($CP orgs create --name "Bayview Detox" --offers detox=12)
residential=$($CP orgs create --name "Cedar House Residential" --offers residential=16)
cm=$($CP tokens create --org "$home" --role case_manager --label "Harbor EHR")
partner=$($CP tokens create --org "$residential" --role partner --label "Cedar House intake system")
admin=$($CP tokens create --org "$home" --role admin --label "Records office export")
today=$(date -u +%F)

client=$(gql "$cm" '{"query":"mutation { registerClient(input: { birthYear: 1990, displayName: \"Ana Quintero\", recordNumber: \"MRN-'$RANDOM$RANDOM'\" }) { clientId } }"}' | get registerClient.clientId)
gql "$cm" '{"query":"mutation($c: UUID!, $r: [UUID!]!, $on: NaiveDate!) { recordConsent(input: { clientId: $c, recipientIds: $r, purpose: \"treatment\", information: \"level of care, referrals, MAT\", expiry: END_OF_TREATMENT, signedOn: $on }) { version } }","variables":{"c":"'$client'","r":["'$detox'","'$residential'"],"on":"'$today'"}}' >/dev/null
gql "$cm" '{"query":"mutation($c: UUID!, $p: UUID!) { admit(input: { clientId: $c, level: \"detox\", providerId: $p, plannedHoursPerWeek: 40 }) { version } }","variables":{"c":"'$client'","p":"'$detox'"}}' >/dev/null
referral=$(gql "$cm" '{"query":"mutation($c: UUID!, $p: [UUID!]!) { sendReferral(input: { clientId: $c, toLevel: \"residential\", providerIds: $p }) { createdIds } }","variables":{"c":"'$client'","p":["'$residential'"]}}' | get sendReferral.createdIds.0)
gql "$partner" '{"query":"mutation($r: UUID!) { acceptReferral(referralId: $r) { version } }","variables":{"r":"'$referral'"}}' >/dev/null
gql "$cm" '{"query":"mutation($c: UUID!, $t: NaiveDate!) { recordMatPlan(input: { clientId: $c, medication: BUPRENORPHINE, supplyThrough: $t }) { version } }","variables":{"c":"'$client'","t":"'$today'"}}' >/dev/null
echo "client $client in detox, referral $referral accepted by Cedar House"

# What the server reads, and the client's resources, one search per type.
curl -sS "$FHIR/metadata" | get fhirVersion
curl -sS "$FHIR/Patient/$client" -H "Authorization: Bearer $cm" | get name.0.text
for type in EpisodeOfCare ServiceRequest Task Consent MedicationStatement; do
  curl -sS "$FHIR/$type?patient=Patient/$client" -H "Authorization: Bearer $cm" | entries
done
curl -sS "$FHIR/Task/$referral" -H "Authorization: Bearer $cm" | get businessStatus.coding.0.display
curl -sS "$FHIR/Organization/$residential" -H "Authorization: Bearer $cm" | get name
# The receiving provider, named in the consent, sees its own referral and the client's name
# (to recognise the person arriving), as on every other door.
curl -sS "$FHIR/ServiceRequest?patient=$client" -H "Authorization: Bearer $partner" | entries
curl -sS "$FHIR/Patient/$client" -H "Authorization: Bearer $partner" | python3 -c 'import json,sys; print("name shown to the partner:", "name" in json.load(sys.stdin))'
# A partner no consent names is told nothing exists.
stranger=$($CP orgs create --name "Elsewhere Clinic" --offers outpatient=10)
outsider=$($CP tokens create --org "$stranger" --role partner --label "Elsewhere")
curl -sS -o /dev/null -w 'outsider: HTTP %{http_code}\n' "$FHIR/Patient/$client" -H "Authorization: Bearer $outsider"

# A bulk export (FHIR Bulk Data): kick off, poll the status URL until the manifest comes, then
# fetch each NDJSON file (one resource per line) with the same token.
status=$(curl -sS -o /dev/null -D - "$FHIR/\$export" -H "Authorization: Bearer $admin" \
  -H 'Accept: application/fhir+json' -H 'Prefer: respond-async' |
  tr -d '\r' | sed -n 's/^[Cc]ontent-[Ll]ocation: //p')
echo "export started: $status"
for _ in $(seq 100); do
  code=$(curl -sS -o /tmp/carepath-manifest.$$ -w '%{http_code}' "$status" -H "Authorization: Bearer $admin")
  [ "$code" = 200 ] && break
  sleep 0.2
done
python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
for f in m["output"]:
    print(f["type"], f["count"], f["url"])' /tmp/carepath-manifest.$$ >/tmp/carepath-files.$$
rm -f /tmp/carepath-manifest.$$
while read -r type count url; do
  lines=$(curl -sS "$url" -H "Authorization: Bearer $admin" | python3 -c '
import json, sys
print(sum(1 for line in sys.stdin if json.loads(line)["resourceType"]))')
  echo "exported $type: $lines of $count"
done </tmp/carepath-files.$$
rm -f /tmp/carepath-files.$$
