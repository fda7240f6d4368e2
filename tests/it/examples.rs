//! The README's examples, run as written: `examples/step-down.sh` against the real server on
//! a database of its own.

use crate::on_both_backends;
use crate::server::TestServer;
use crate::support::Backend;

async fn the_step_down_example_runs_as_the_readme_says(b: Backend) {
    let s = TestServer::start_with(b, &[]).await;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/step-down.sh");
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
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
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

on_both_backends!(the_step_down_example_runs_as_the_readme_says);
