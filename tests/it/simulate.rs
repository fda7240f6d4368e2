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
