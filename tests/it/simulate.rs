//! `carepath simulate` at a small size, on both databases: the invariants hold, the same seed
//! gives the same report (but for time and memory), another seed another one; and the
//! command line runs it and exits zero.

use crate::on_both_backends;
use crate::support::{Backend, TestDb};
use carepath_engine::Engine;
use carepath_engine::pathway;
use carepath_simulate::{Options, Rates, Report};
use chrono::NaiveDate;
use std::sync::Arc;

fn options(seed: u64, backend: Backend) -> Options {
    Options {
        clients: 60,
        days: 60,
        seed,
        start: NaiveDate::from_ymd_opt(2026, 1, 5)
            .expect("a date")
            .and_time(chrono::NaiveTime::MIN)
            .and_utc(),
        concurrency: 16,
        backend: format!("{backend:?}").to_lowercase(),
        rates: Rates::default(),
    }
}

async fn simulate(backend: Backend, seed: u64) -> Report {
    let db = TestDb::new(backend).await;
    let opts = options(seed, backend);
    let engine = Engine::open_in(
        &db.url,
        8,
        Arc::new(pathway::default_pathway()),
        carepath_engine::TimeMode::Skipping {
            start: Some(opts.start),
        },
    )
    .await
    .expect("engine");
    let report = carepath_simulate::run(&engine, &opts)
        .await
        .expect("the simulation runs");
    // A database that holds a cohort is no place for another.
    assert!(matches!(
        carepath_simulate::run(&engine, &opts).await,
        Err(carepath_simulate::Error::NotEmpty(_))
    ));
    // Nor is it production: it is marked for time skipping, at the end of the window.
    let served = Engine::open_in(
        &db.url,
        2,
        Arc::new(pathway::default_pathway()),
        carepath_engine::TimeMode::Wall,
    )
    .await;
    assert!(
        matches!(served, Err(carepath_engine::Error::TimeMode(_))),
        "a normal serve refuses a simulated database"
    );
    let skipping = Engine::open_in(
        &db.url,
        2,
        Arc::new(pathway::default_pathway()),
        carepath_engine::TimeMode::Skipping { start: None },
    )
    .await
    .expect("serve --time-skipping opens it");
    assert_eq!(
        skipping.time_skipping(),
        Some(opts.start + chrono::Duration::days(i64::from(opts.days)))
    );
    report
}

async fn a_small_cohort_keeps_every_promise_and_replays_from_its_seed(backend: Backend) {
    let first = simulate(backend, 7).await;
    assert!(first.passed(), "{}", first.text());
    assert!(
        first.unexpected_refusals.is_empty(),
        "the model met refusals it did not expect:\n{}",
        first.text()
    );
    for kind in [
        "client.admitted",
        "referral.sent",
        "referral.declined",
        "handoff.started",
        "transition.completed",
        "discharge.completed",
        "discharge.unplanned",
        "aftercare.appointment.attended",
        "mat.refill.scheduled",
        "followup.met",
        "review.due",
    ] {
        assert!(
            first.events_by_type.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} in\n{}",
            first.text()
        );
    }
    for checked in &first.invariants {
        assert!(
            checked.skipped.is_some() || checked.checked > 0,
            "{} checked nothing",
            checked.name
        );
    }
    let again = simulate(backend, 7).await;
    assert_eq!(first.body(), again.body(), "the same seed, another report");
    let other = simulate(backend, 8).await;
    assert_ne!(first.body(), other.body(), "another seed, the same report");
    assert!(other.passed(), "{}", other.text());
}

on_both_backends!(a_small_cohort_keeps_every_promise_and_replays_from_its_seed);

/// The binary: a new SQLite file of its own, the report on standard output, exit 0.
#[test]
fn the_command_line_simulates_and_says_what_held() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_carepath"))
        .args([
            "simulate",
            "--clients",
            "30",
            "--days",
            "30",
            "--seed",
            "3",
            "--format",
            "text",
        ])
        .env_remove("CAREPATH_DATABASE_URL")
        .output()
        .expect("carepath runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("carepath simulate: 30 clients, 30 days"),
        "{stdout}"
    );
    assert!(
        stdout.contains("[skip] events in the store equal"),
        "{stdout}"
    );
    for measure in [
        "measures from 2026-01-05",
        "fui_7",
        "handoffs_arrived",
        "referral_groups_escalated",
    ] {
        assert!(stdout.contains(measure), "{measure} in {stdout}");
    }
    assert!(stdout.contains("peak memory (VmHWM)"), "{stdout}");
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_carepath"))
        .args([
            "simulate",
            "--clients",
            "5",
            "--days",
            "5",
            "--accept",
            "0.9",
        ])
        .output()
        .expect("carepath runs");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--accept"));
}

/// `--amqp-url`: the relay runs beside the simulation (in a RabbitMQ vhost of the test's own)
/// and every event in the store is published — the report's broker check passes, with the
/// relay's count equal to the store's.
#[test]
fn the_relay_beside_a_simulation_publishes_every_event() {
    let vh = crate::broker::TestVhost::new();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_carepath"))
        .args([
            "simulate",
            "--clients",
            "30",
            "--days",
            "30",
            "--seed",
            "5",
            "--format",
            "json",
            "--amqp-url",
            &vh.url(),
        ])
        .env_remove("CAREPATH_DATABASE_URL")
        .env_remove("CAREPATH_AMQP_URL")
        .output()
        .expect("carepath runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("the report as JSON");
    let events = report["events"].as_u64().expect("events");
    assert!(events > 0, "{report}");
    assert_eq!(
        report["broker"],
        serde_json::json!({ "broker": "published", "published": events }),
        "the relay published the store's events"
    );
    let check = report["invariants"]
        .as_array()
        .expect("invariants")
        .iter()
        .find(|i| i["name"] == carepath_simulate::check::BROKER)
        .expect("the broker check");
    assert_eq!(check["skipped"], serde_json::Value::Null, "{check}");
    assert_eq!(check["checked"].as_u64(), Some(events), "{check}");
    assert_eq!(check["failures"].as_u64(), Some(0), "{check}");
}

/// What HEDIS FUI counts, recounted from the care events alone — not through
/// `domain::measures` nor the engine's follow-up checks: each exit from high-intensity care
/// (a discharge from it, a departure or a move within one organization to a lower level, a
/// missed handoff between two high-intensity levels dated when the client left) has a 7- and
/// a 30-day check, due as its last day ends and counted in the period it falls due in; a
/// visit (an aftercare appointment or MAT booking kept, on its booked day; an arrival or
/// admission at a lower level) on a date after the exit's, through day 7 (30), meets it,
/// whenever it was reported; a return to high-intensity care within 30 days leaves only the
/// later exit counted.
#[derive(Default)]
struct Recount {
    fui_7: (u64, u64),
    fui_30: (u64, u64),
}

fn recount(
    events: &[carepath_engine::domain::CareEvent],
    pathway: &carepath_engine::pathway::Pathway,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
    out: &mut Recount,
) {
    use carepath_engine::domain::EventData;
    use chrono::Duration;
    use std::collections::HashMap;
    let high = |l: &carepath_engine::pathway::LevelId| {
        pathway.level(l).is_some_and(|l| l.followup_on_exit)
    };
    // (exit day, superseded)
    let mut exits: Vec<(NaiveDate, bool)> = Vec::new();
    let mut visits: Vec<NaiveDate> = Vec::new();
    let mut booked: HashMap<carepath_engine::ids::BookingId, NaiveDate> = HashMap::new();
    // The handoff under way: (from high, to high, left on, missed).
    let mut transit: Option<(bool, bool, NaiveDate, bool)> = None;
    let back_in = |exits: &mut Vec<(NaiveDate, bool)>, on: NaiveDate| {
        for (exit, superseded) in exits.iter_mut() {
            if on <= *exit + Duration::days(30) {
                *superseded = true;
            }
        }
    };
    for e in events {
        let day = e.at.date_naive();
        match &e.data {
            EventData::ClientAdmitted { level, .. } => {
                if high(level) {
                    back_in(&mut exits, day);
                } else {
                    visits.push(day);
                }
            }
            EventData::HandoffStarted {
                from_level,
                to_level,
                ..
            } => {
                let (from_high, to_high) = (high(from_level), high(to_level));
                if from_high && !to_high {
                    exits.push((day, false));
                }
                transit = Some((from_high, to_high, day, false));
            }
            EventData::HandoffMissed { .. } => {
                if let Some((from_high, to_high, left, missed)) = transit.as_mut() {
                    if *from_high && *to_high {
                        exits.push((*left, false));
                    }
                    *missed = true;
                }
            }
            EventData::TransitionCompleted {
                from_level,
                to_level,
                from_provider,
                to_provider,
                ..
            } => {
                if transit.is_none()
                    && from_provider == to_provider
                    && high(from_level)
                    && !high(to_level)
                {
                    exits.push((day, false));
                }
                transit = None;
                if high(to_level) {
                    back_in(&mut exits, day);
                } else {
                    visits.push(day);
                }
            }
            EventData::DischargeCompleted { from_level, .. }
            | EventData::DischargeUnplanned { from_level, .. } => {
                let exited_before =
                    transit.is_some_and(|(_, to_high, _, missed)| missed || !to_high);
                if high(from_level) && !exited_before {
                    exits.push((day, false));
                }
                transit = None;
            }
            EventData::AftercareScheduled { booking, at, .. }
            | EventData::AftercareRescheduled { booking, at, .. } => {
                booked.insert(*booking, at.date_naive());
            }
            EventData::MatRefillScheduled { booking, on, .. }
            | EventData::MatBookingRescheduled { booking, on, .. } => {
                booked.insert(*booking, *on);
            }
            EventData::AftercareAttended { booking, .. }
            | EventData::MatDoseDispensed { booking, .. }
            | EventData::MatRefillPickedUp { booking, .. }
            | EventData::MatVisitAttended { booking, .. } => {
                visits.extend(booked.get(booking).copied());
            }
            _ => {}
        }
    }
    for (exit, superseded) in exits {
        for (days, tally) in [(7, &mut out.fui_7), (30, &mut out.fui_30)] {
            let due = (exit + Duration::days(days + 1))
                .and_time(chrono::NaiveTime::MIN)
                .and_utc();
            if superseded || due < from || due >= to {
                continue;
            }
            tally.1 += 1;
            if visits
                .iter()
                .any(|v| *v > exit && *v <= exit + Duration::days(days))
            {
                tally.0 += 1;
            }
        }
    }
}

/// The `n/d` of a measure in the report's table.
fn reported(report: &Report, measure: &str) -> (u64, u64) {
    let line = report
        .measures
        .lines()
        .find(|l| l.split_whitespace().next() == Some(measure))
        .unwrap_or_else(|| panic!("no {measure} in\n{}", report.measures));
    let (n, d) = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.split_once('/'))
        .unwrap_or_else(|| panic!("{line}"));
    (n.parse().unwrap(), d.parse().unwrap())
}

async fn the_reported_fui_agrees_with_a_recount_from_the_care_events(backend: Backend) {
    use carepath_engine::domain::{Actor, Role};
    use carepath_engine::ids::{ClientId, OrgId};
    use sea_orm::{ConnectionTrait, Statement};
    let db = TestDb::new(backend).await;
    let mut opts = options(11, backend);
    opts.clients = 120;
    let pathway = pathway::default_pathway();
    let engine = Engine::open_in(
        &db.url,
        8,
        Arc::new(pathway.clone()),
        carepath_engine::TimeMode::Skipping {
            start: Some(opts.start),
        },
    )
    .await
    .expect("engine");
    let report = carepath_simulate::run(&engine, &opts)
        .await
        .expect("the simulation runs");
    assert!(report.passed(), "{}", report.text());
    let sql = db.sql().await;
    let rows = sql
        .query_all_raw(Statement::from_string(
            sql.get_database_backend(),
            "SELECT client_id FROM care_events WHERE seq = 1",
        ))
        .await
        .expect("clients");
    let admin = Actor::new(OrgId(uuid::Uuid::nil()), Role::Admin);
    let mut counted = Recount::default();
    for row in rows {
        let client = ClientId(row.try_get_by_index::<uuid::Uuid>(0).expect("an id"));
        let events = engine
            .read_events(&admin, client, 0, 1_000_000)
            .await
            .expect("events");
        recount(&events, &pathway, report.start, report.end, &mut counted);
    }
    assert!(
        counted.fui_7.1 > 0 && counted.fui_30.1 > 0,
        "nothing to count"
    );
    assert_eq!(reported(&report, "fui_7"), counted.fui_7, "FUI-7");
    assert_eq!(reported(&report, "fui_30"), counted.fui_30, "FUI-30");
}

on_both_backends!(the_reported_fui_agrees_with_a_recount_from_the_care_events);
