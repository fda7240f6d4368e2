//! The loop is closed by the side that saw it: an arrival the sender relays (a phone call,
//! recorded with who gave it) is told apart from one the receiving provider confirms — in
//! GraphQL, in FHIR (Task `businessStatus`, `performerType`, `owner`) and in the measures —;
//! an admission by anyone but the receiving provider does not complete an accepted referral;
//! what became of an appointment not yet held cannot be recorded.

use crate::api::{Net, RESULT};
use crate::on_both_backends;
use crate::support::Backend;
use chrono::{Duration, Utc};
use serde_json::{Value, json};

const BSER: &str = "http://hl7.org/fhir/us/bser/CodeSystem/TaskBusinessStatusCS";

/// A client in detox with residential care's acceptance, on the way there; the referral.
async fn on_the_way(n: &Net) -> (String, String) {
    let c = n.admitted("detox", 40.0).await;
    let r = n.refer(&c, "residential").await;
    n.accept("residential", &r).await;
    n.cm(
        &Net::transition_query(),
        json!({ "c": c, "k": "STEP_DOWN", "l": "residential", "h": 30.0 }),
    )
    .await;
    (c, r)
}

fn codes(concept: &Value) -> Vec<(String, String)> {
    concept["coding"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["system"].as_str().unwrap_or("").to_owned(),
                c["code"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

async fn a_relayed_arrival_is_told_apart_in_graphql_fhir_and_measures(b: Backend) {
    let n = Net::new(b).await;
    let (relayed, relayed_ref) = on_the_way(&n).await;
    let (confirmed, confirmed_ref) = on_the_way(&n).await;
    let confirm = format!(
        "mutation($c: UUID!, $by: String) {{ confirmArrival(clientId: $c, relayedBy: $by) {RESULT} }}"
    );
    // The sender's click alone is refused: it must say who reported the arrival.
    let (code, _) =
        n.s.code(Some(&n.cm), &confirm, json!({ "c": relayed, "by": null }))
            .await;
    assert_eq!(code, "BAD_INPUT");
    let note = "phone call from intake nurse J. at Riverside";
    let done = n.cm(&confirm, json!({ "c": relayed, "by": note })).await;
    assert_eq!(
        done["confirmArrival"]["events"][0]["type"],
        json!("transition.completed")
    );
    n.arrive(&confirmed, "residential").await;

    // GraphQL: the referral says who closed it; the note is the record holder's, in the
    // record, and the event carries only the capacity.
    let read = "query($c: UUID!) { client(id: $c) { referrals { id status closedBy }
                  relayedReports { eventId note recordedBy { id } } } }";
    let one = n.cm(read, json!({ "c": relayed })).await;
    let referral = &one["client"]["referrals"][0];
    assert_eq!(
        (referral["status"].clone(), referral["closedBy"].clone()),
        (json!("COMPLETED"), json!("RELAYED")),
        "{one}"
    );
    let reports = one["client"]["relayedReports"].as_array().unwrap();
    assert_eq!(reports.len(), 1, "{one}");
    assert_eq!(reports[0]["note"], json!(note));
    assert_eq!(reports[0]["recordedBy"]["id"], json!(n.home.to_string()));
    assert_eq!(
        reports[0]["eventId"],
        done["confirmArrival"]["events"][0]["id"]
    );
    let other = n.cm(read, json!({ "c": confirmed })).await;
    assert_eq!(
        other["client"]["referrals"][0]["closedBy"],
        json!("RECEIVER")
    );
    assert_eq!(other["client"]["relayedReports"], json!([]));
    let events = n
        .cm(
            "query($c: UUID!) { careEvents(clientId: $c, first: 100) { edges { node { type data } } } }",
            json!({ "c": relayed }),
        )
        .await;
    let arrival = events["careEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .find(|e| e["type"] == "transition.completed")
        .unwrap()
        .clone();
    assert_eq!(
        arrival["data"]["reported_by"],
        json!("relayed"),
        "{arrival}"
    );
    assert!(!events.to_string().contains("Riverside"), "{events}");

    // FHIR: the receiving provider's confirmation is BSeR's 7.0; a relayed one is not.
    let residential = n.provider("residential").to_string();
    for (r, by, bser) in [
        (&relayed_ref, "relayed", false),
        (&confirmed_ref, "receiver", true),
    ] {
        let a = crate::fhir::get(&n, Some(&n.cm), &format!("Task/{r}")).await;
        assert_eq!(a.status, 200, "{:#}", a.body);
        let task = a.body;
        assert_eq!(task["status"], json!("completed"), "{task:#}");
        let business = codes(&task["businessStatus"]);
        assert_eq!(
            business.iter().any(|(s, c)| s == BSER && c == "7.0"),
            bser,
            "{task:#}"
        );
        let carepath = if bser {
            "completed"
        } else {
            "completed_relayed"
        };
        assert!(business.iter().any(|(_, c)| c == carepath), "{business:?}");
        assert_eq!(
            codes(&task["performerType"][0])
                .iter()
                .map(|(_, c)| c.as_str())
                .collect::<Vec<_>>(),
            [by],
            "{task:#}"
        );
        assert!(
            task["owner"]["reference"]
                .as_str()
                .unwrap()
                .ends_with(&residential),
            "{task:#}"
        );
        assert!(!task.to_string().contains("Riverside"));
    }

    // Measures: confirmed by the receiver is a share of its own.
    let m = n
        .cm(
            "query($from: DateTime!) { measures(from: $from) { handoffs { arrived { numerator denominator } }
               closedLoop { arrivalsByReceiver { numerator denominator } } } }",
            json!({ "from": Utc::now() - Duration::days(1) }),
        )
        .await;
    assert_eq!(
        m["measures"]["handoffs"]["arrived"],
        json!({ "numerator": 2, "denominator": 2 })
    );
    let share = &m["measures"]["closedLoop"]["arrivalsByReceiver"];
    assert_eq!(
        (share["numerator"].clone(), share["denominator"].clone()),
        (json!(1), json!(2)),
        "{m}"
    );
}

on_both_backends!(a_relayed_arrival_is_told_apart_in_graphql_fhir_and_measures);

async fn only_the_receiver_completes_a_referral_and_an_outcome_waits_for_its_appointment(
    b: Backend,
) {
    let n = Net::new(b).await;
    let c = n.register().await;
    n.consent(&c).await;
    let r = n.refer(&c, "detox").await;
    n.accept("detox", &r).await;
    // The sender admits the client at the provider that accepted: not the receiver's report.
    n.admit(&c, "detox", 40.0).await;
    let read = n
        .cm(
            "query($c: UUID!) { client(id: $c) { status referrals { status closedBy withdrawReason } } }",
            json!({ "c": c }),
        )
        .await;
    assert_eq!(read["client"]["status"], json!("ACTIVE"));
    assert_eq!(
        read["client"]["referrals"][0],
        json!({ "status": "WITHDRAWN", "closedBy": null, "withdrawReason": "CLIENT_MOVED" }),
        "{read}"
    );

    // An appointment later today: nothing can have been kept or missed yet.
    let at = Utc::now() + Duration::hours(2);
    let booked = n
        .s
        .ok(
            &n.coordinator,
            &format!("mutation($c: UUID!, $p: UUID!, $at: DateTime!) {{ scheduleAftercare(input: {{ clientId: $c, providerId: $p, kind: OUTPATIENT, at: $at }}) {RESULT} }}"),
            json!({ "c": c, "p": n.provider("outpatient"), "at": at }),
        )
        .await;
    let booking = booked["scheduleAftercare"]["createdIds"][0].clone();
    let version = n.version(&c).await;
    let (code, e) = n
        .s
        .code(
            Some(n.partner("outpatient")),
            &format!("mutation($c: UUID!, $b: UUID!) {{ recordBookingOutcome(input: {{ clientId: $c, bookingId: $b, outcome: ATTENDED }}) {RESULT} }}"),
            json!({ "c": c, "b": booking }),
        )
        .await;
    assert_eq!(code, "NOT_YET_HAPPENED", "{e}");
    assert!(e["extensions"]["at"].is_string(), "{e}");
    assert_eq!(n.version(&c).await, version, "a refusal changes nothing");
}

on_both_backends!(only_the_receiver_completes_a_referral_and_an_outcome_waits_for_its_appointment);
