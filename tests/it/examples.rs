//! The README's examples, run as written: `examples/step-down.sh` and `examples/fhir.sh`
//! against the real server on a database of its own.

use crate::on_both_backends;
use crate::server::TestServer;
use crate::support::Backend;

/// Runs `examples/{name}` against `s` as the README says; its standard output.
async fn run_example(s: &TestServer, name: &str) -> String {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name);
    let (url, db_url) = (s.url.clone(), s.db_url.clone());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .arg(script)
            .env("CAREPATH_URL", url)
            .env("CAREPATH_BIN", env!("CARGO_BIN_EXE_carepath"))
            .env("CAREPATH_DATABASE_URL", db_url)
            .output()
    })
    .await
    .unwrap()
    .expect("run bash (the example needs bash, curl and python3)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{name}: {stdout}\n{stderr}");
    stdout
}

async fn the_step_down_example_runs_as_the_readme_says(b: Backend) {
    let s = TestServer::start_with(b, &[]).await;
    let stdout = run_example(&s, "step-down.sh").await;
    for line in [
        "replayed=True, same version=4",
        "accepted by the IOP",
        "handoff.started",
        "transition.completed",
        "\"status\": \"ACTIVE\"",
        "\"name\": \"Northside IOP\"",
    ] {
        assert!(stdout.contains(line), "{line} in:\n{stdout}");
    }
}

async fn the_fhir_example_runs_as_the_readme_says(b: Backend) {
    let s = TestServer::start_with(b, &[]).await;
    let stdout = run_example(&s, "fhir.sh").await;
    for line in [
        "4.0.1",
        "Ana Quintero",
        "EpisodeOfCare ",
        "ServiceRequest ",
        "Consent ",
        "MedicationStatement ",
        "Cedar House Residential",
        "name shown to the partner: False",
        "outsider: HTTP 404",
        "export started: ",
        "exported Patient: 1 of 1",
        "exported Task: 2 of 2",
        "exported Organization: 4 of 4",
        "exported ServiceRequest: 1 of 1",
    ] {
        assert!(stdout.contains(line), "{line} in:\n{stdout}");
    }
}

on_both_backends!(
    the_step_down_example_runs_as_the_readme_says,
    the_fhir_example_runs_as_the_readme_says,
);
