//! The measures of continuity over HTTP against `serve --time-skipping`: what the skipped
//! clock made happen — a referral expired and escalated, follow-ups met and missed — is what
//! `measures` counts, and `carepath measures` prints the same.

use crate::cli::{carepath, succeeded};
use crate::on_both_backends;
use crate::skipping::{advance, book_outpatient, clock, skipping_net};
use crate::support::Backend;
use chrono::Duration;
use serde_json::{Value, json};

const MEASURES: &str = "query($from: DateTime!, $to: DateTime!) { measures(from: $from, to: $to) {
    clients
    referrals { sent answeredInTime { numerator denominator missedClientIds }
                escalated { numerator denominator missedClientIds }
                timeToAnswer { provider { name } hours { count p50 } } }
    fui7 { numerator denominator rate missedClientIds }
    fui30 { numerator denominator missedClientIds }
    discharges { plannedWithBooking { numerator denominator }
                 plannedWithAttended { numerator denominator missedClientIds } unplanned { numerator denominator } }
    handoffs { arrived { numerator denominator } inTransit } } }";

fn pair(v: &Value) -> (u64, u64) {
    (
        v["numerator"].as_u64().unwrap(),
        v["denominator"].as_u64().unwrap(),
    )
}

async fn the_measures_count_what_the_skipped_clock_made_happen(b: Backend) {
    let (n, admin) = skipping_net(b).await;
    let start = clock(&n.s);

    // A referral nobody answers: expired at its deadline, escalated.
    let waiting = n.admitted("detox", 40.0).await;
    n.refer(&waiting, "residential").await;

    // Two planned discharges from residential care with aftercare booked: one kept, one not.
    let discharge =
        "mutation($c: UUID!) { discharge(input: { clientId: $c, kind: PLANNED }) { version } }";
    let kept = n.admitted("residential", 30.0).await;
    let visit = book_outpatient(&n, &kept, 5).await;
    n.cm(discharge, json!({ "c": kept })).await;
    let missed = n.admitted("residential", 30.0).await;
    book_outpatient(&n, &missed, 3).await;
    n.cm(discharge, json!({ "c": missed })).await;

    advance(&n.s, &admin, "P5DT1H").await;
    n.s.ok(
        n.partner("outpatient"),
        "mutation($c: UUID!, $b: UUID!) { recordBookingOutcome(input: { clientId: $c, bookingId: $b, outcome: ATTENDED }) { version } }",
        json!({ "c": kept, "b": visit }),
    )
    .await;
    advance(&n.s, &admin, "P31D").await;

    let from = start - Duration::hours(1);
    let to = clock(&n.s);
    let m = n.cm(MEASURES, json!({ "from": from, "to": to })).await["measures"].clone();
    assert_eq!(m["clients"], 3, "{m:#}");
    let r = &m["referrals"];
    assert_eq!(r["sent"], 1);
    assert_eq!(pair(&r["answeredInTime"]), (0, 1), "{r:#}");
    assert_eq!(r["answeredInTime"]["missedClientIds"], json!([waiting]));
    assert_eq!(pair(&r["escalated"]), (1, 1));
    assert_eq!(pair(&m["fui7"]), (1, 2), "{m:#}");
    assert_eq!(m["fui7"]["rate"], 0.5);
    assert_eq!(m["fui7"]["missedClientIds"], json!([missed]));
    assert_eq!(pair(&m["fui30"]), (1, 2));
    let d = &m["discharges"];
    assert_eq!(pair(&d["plannedWithBooking"]), (2, 2));
    assert_eq!(pair(&d["plannedWithAttended"]), (1, 2));
    assert_eq!(d["plannedWithAttended"]["missedClientIds"], json!([missed]));
    assert_eq!(pair(&d["unplanned"]), (0, 2));

    // Before any of it: nothing counted, no rate.
    let before = n
        .cm(
            MEASURES,
            json!({ "from": start - Duration::days(30), "to": start - Duration::hours(1) }),
        )
        .await["measures"]
        .clone();
    assert_eq!(pair(&before["fui7"]), (0, 0));
    assert_eq!(before["fui7"]["rate"], Value::Null);

    // A partner has no measures of the organization's clients; a backwards period is bad input.
    let (code, _) =
        n.s.code(
            Some(n.partner("detox")),
            MEASURES,
            json!({ "from": from, "to": to }),
        )
        .await;
    assert_eq!(code, "FORBIDDEN");
    let (code, _) =
        n.s.code(Some(&n.cm), MEASURES, json!({ "from": to, "to": from }))
            .await;
    assert_eq!(code, "BAD_INPUT");

    // The command line prints the same, on the database's own (skipped) clock.
    let out = carepath()
        .args(["measures", "--format", "csv", "--from"])
        .arg(from.to_rfc3339())
        .args(["--to"])
        .arg(to.to_rfc3339())
        .env("CAREPATH_DATABASE_URL", &n.s.db_url)
        .output()
        .expect("run carepath");
    let csv = succeeded(&out);
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    let row = |name: &str| {
        rows.iter()
            .find(|r| &r[0] == name)
            .unwrap_or_else(|| panic!("{name} in {csv}"))
            .clone()
    };
    let fui7 = row("fui_7");
    assert_eq!((&fui7[2], &fui7[3], &fui7[4]), ("1", "2", "0.50"), "{csv}");
    assert_eq!(&fui7[8], missed.as_str());
    assert_eq!(&row("referral_groups_escalated")[2], "1");
    let table = succeeded(
        &carepath()
            .args(["measures", "--from"])
            .arg(from.to_rfc3339())
            .env("CAREPATH_DATABASE_URL", &n.s.db_url)
            .output()
            .expect("run carepath"),
    );
    assert!(
        table.contains("fui_7") && table.contains("1/2 (50.0 %)"),
        "{table}"
    );
}

on_both_backends!(the_measures_count_what_the_skipped_clock_made_happen);

/// `/metrics` shows the measures as figures — numerators, denominators, rates, counts — and
/// never a client id.
async fn the_metrics_endpoint_shows_the_measures_and_no_client(b: Backend) {
    let n = crate::api::Net::on(
        crate::server::TestServer::start_with(b, &[("CAREPATH_MEASURES_INTERVAL_SECS", "1")]).await,
    )
    .await;
    let c = n.admitted("residential", 30.0).await;
    n.cm(
        "mutation($c: UUID!) { discharge(input: { clientId: $c, kind: AGAINST_MEDICAL_ADVICE }) { version } }",
        json!({ "c": c }),
    )
    .await;
    let mut body = String::new();
    for _ in 0..50 {
        let (status, text) = n.s.get("/metrics").await;
        assert_eq!(status, 200);
        body = text;
        if body.contains("carepath_measure_denominator{measure=\"unplanned_discharges\"}") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    for name in [
        "carepath_measure_numerator{measure=\"fui_7\"}",
        "carepath_measure_denominator{measure=\"unplanned_discharges\"}",
        "carepath_measure_count{measure=\"discharges_against_advice\"}",
    ] {
        assert!(body.contains(name), "{name} in {body}");
    }
    assert!(!body.contains(&c), "no client id in the metrics");
}

on_both_backends!(the_metrics_endpoint_shows_the_measures_and_no_client);
