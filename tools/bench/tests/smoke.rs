//! The load tool's smoke run: `carepath-bench run` against the real server (the `carepath`
//! binary cargo built beside it: `cargo test --workspace` builds both), on a vhost of its own.

use std::process::Command;

/// The integration tests' RabbitMQ helpers: a vhost of this test's own, removed when it ends.
#[allow(dead_code)]
#[path = "../../../tests/it/broker.rs"]
mod broker;

/// The load tool runs end to end (real server, relay, a consumer on RabbitMQ) and its own
/// checks pass: every client discharged, every event once, no sequence gap — beside a seeded
/// population.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_runs_and_checks_itself() {
    let vh = broker::TestVhost::new();
    let out = tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_carepath-bench"))
            .args([
                "run",
                "--clients",
                "4",
                "--concurrency",
                "2",
                "--half-rate",
                "--seed-clients",
                "50",
                "--pgbench-script",
                "/nonexistent",
                "--amqp-url",
            ])
            .arg(vh.url())
            .env("CAREPATH_LOG", "warn,lapin=off")
            .output()
            .unwrap();
        drop(vh);
        out
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("result                      OK"),
        "{stdout}"
    );
    assert!(stdout.contains("mutation latency"), "{stdout}");
    // The seeded population is there beside the journeys' clients.
    assert!(stdout.contains("seeded 50 active clients"), "{stdout}");
    // Where the CPU went: the machine's and the server's share per mutation, both measured.
    let split = stdout
        .lines()
        .find(|l| l.starts_with("CPU per mutation"))
        .unwrap_or_else(|| panic!("no CPU split in {stdout}"));
    let figure = |after: &str| -> f64 {
        split
            .split_once(after)
            .and_then(|(_, r)| r.split_whitespace().next())
            .and_then(|x| x.parse().ok())
            .unwrap_or_else(|| panic!("no {after:?} figure in {split}"))
    };
    let (machine, server) = (figure("CPU per mutation"), figure("server"));
    assert!(
        machine > 0.0 && server > 0.0 && server <= machine,
        "{split}"
    );
    // The host's share, which the machine figure leaves out, is a percentage.
    let steal: f64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("host steal"))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|x| x.parse().ok())
        .unwrap_or_else(|| panic!("no host steal figure in {stdout}"));
    assert!((0.0..=100.0).contains(&steal), "{stdout}");
    // The second phase, at half the measured rate, reports its own latencies.
    let half = stdout
        .split_once("== half the rate")
        .unwrap_or_else(|| panic!("no half-rate phase in {stdout}"))
        .1;
    assert!(half.contains("mutation latency    p50"), "{stdout}");
}
