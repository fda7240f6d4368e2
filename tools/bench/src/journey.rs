//! One synthetic client through the whole continuum, as real users would drive it: the case
//! manager, partner providers answering fanned-out referrals, the coordinator booking
//! aftercare and MAT refills.

use super::client::Client;
use chrono::{Duration, Utc};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};

pub const LEVELS: [(&str, f64); 5] = [
    ("detox", 40.0),
    ("residential", 30.0),
    ("php", 25.0),
    ("iop", 12.0),
    ("outpatient", 2.0),
];

/// Organizations and tokens of the network the journeys run in.
#[derive(Clone)]
pub struct Cast {
    pub cm: String,
    pub coordinator: String,
    pub pharmacy: String,
    pub aftercare_clinic: String,
    pub consent_recipients: Vec<String>,
    /// Per level: (provider id, partner token), two providers each.
    pub providers: Vec<Vec<(String, String)>>,
}

/// What one journey did.
#[derive(Default, Clone, Copy)]
pub struct Tally {
    pub mutations: u64,
    pub transitions: u64,
}

const R: &str = "{ clientId version createdIds }";

pub async fn run(c: &Client, cast: &Cast, index: usize) -> anyhow::Result<(String, Tally)> {
    let mut t = Tally::default();
    let today = Utc::now().date_naive();
    let count = AtomicU64::new(0);
    let m = async |token: &str, q: &str, v: Value| -> anyhow::Result<Value> {
        count.fetch_add(1, Ordering::Relaxed);
        c.mutate(token, q, v).await
    };
    let d = m(
        &cast.cm,
        &format!("mutation {{ registerClient(input: {{ birthYear: 1985 }}) {R} }}"),
        json!({}),
    )
    .await?;
    let id = d["registerClient"]["clientId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    m(
        &cast.cm,
        &format!("mutation($c: UUID!, $r: [UUID!]!, $on: NaiveDate!) {{ recordConsent(input: {{ clientId: $c, recipientIds: $r, purpose: \"treatment\", information: \"referrals, MAT, appointments\", expiry: END_OF_TREATMENT, signedOn: $on }}) {R} }}"),
        json!({ "c": id, "r": cast.consent_recipients, "on": today }),
    )
    .await?;
    let pick = index % 2;
    m(
        &cast.cm,
        &format!("mutation($c: UUID!, $p: UUID!) {{ admit(input: {{ clientId: $c, level: \"detox\", providerId: $p, plannedHoursPerWeek: 40 }}) {R} }}"),
        json!({ "c": id, "p": cast.providers[0][pick].0 }),
    )
    .await?;
    m(
        &cast.cm,
        &format!("mutation($c: UUID!, $s: NaiveDate!) {{ recordMatPlan(input: {{ clientId: $c, medication: BUPRENORPHINE, supplyThrough: $s }}) {R} }}"),
        json!({ "c": id, "s": today + Duration::days(7) }),
    )
    .await?;
    m(
        &cast.coordinator,
        &format!("mutation($c: UUID!, $p: UUID!, $on: NaiveDate!) {{ scheduleMatRefill(input: {{ clientId: $c, providerId: $p, kind: REFILL, on: $on }}) {R} }}"),
        json!({ "c": id, "p": cast.pharmacy, "on": today + Duration::days(6) }),
    )
    .await?;
    for (i, (level, hours)) in LEVELS.iter().enumerate().skip(1) {
        m(
            &cast.cm,
            &format!("mutation($c: UUID!, $l: String!) {{ recordAssessment(input: {{ clientId: $c, recommendedLevel: $l, dimensions: [1,1,2,2,2,1] }}) {R} }}"),
            json!({ "c": id, "l": level }),
        )
        .await?;
        // Fanned out to both providers of the level; one accepts, the other is withdrawn.
        let both: Vec<&str> = cast.providers[i].iter().map(|p| p.0.as_str()).collect();
        let sent = m(
            &cast.cm,
            &format!("mutation($c: UUID!, $l: String!, $p: [UUID!]!) {{ sendReferral(input: {{ clientId: $c, toLevel: $l, providerIds: $p }}) {R} }}"),
            json!({ "c": id, "l": level, "p": both }),
        )
        .await?;
        let referral = sent["sendReferral"]["createdIds"][pick].clone();
        m(
            &cast.providers[i][pick].1,
            &format!("mutation($r: UUID!) {{ acceptReferral(referralId: $r) {R} }}"),
            json!({ "r": referral }),
        )
        .await?;
        if *level == "outpatient" {
            m(
                &cast.coordinator,
                &format!("mutation($c: UUID!, $p: UUID!, $at: DateTime!) {{ scheduleAftercare(input: {{ clientId: $c, providerId: $p, kind: OUTPATIENT, at: $at }}) {R} }}"),
                json!({ "c": id, "p": cast.aftercare_clinic, "at": Utc::now() + Duration::days(3) }),
            )
            .await?;
        }
        m(
            &cast.cm,
            &format!("mutation($c: UUID!, $l: String!, $h: Float!) {{ transition(input: {{ clientId: $c, kind: STEP_DOWN, toLevel: $l, plannedHoursPerWeek: $h }}) {R} }}"),
            json!({ "c": id, "l": level, "h": hours }),
        )
        .await?;
        // The receiving provider confirms the arrival: the new placement starts.
        m(
            &cast.providers[i][pick].1,
            &format!("mutation($c: UUID!) {{ confirmArrival(clientId: $c) {R} }}"),
            json!({ "c": id }),
        )
        .await?;
        t.transitions += 1;
    }
    m(
        &cast.cm,
        &format!(
            "mutation($c: UUID!) {{ discharge(input: {{ clientId: $c, kind: PLANNED }}) {R} }}"
        ),
        json!({ "c": id }),
    )
    .await?;
    t.transitions += 1;
    t.mutations = count.load(Ordering::Relaxed);
    Ok((id, t))
}
