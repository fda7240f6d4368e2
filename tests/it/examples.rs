//! The README's examples, run as written: its ten-minute tour, `examples/step-down.sh` and
//! `examples/fhir.sh`, each against the real server on a database of its own; and the paths
//! its code tour names.

use crate::on_both_backends;
use crate::server::TestServer;
use crate::support::Backend;

fn root() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `bash args…` in `cwd` against `s` (its URL, its database, this build's binary); its
/// standard output, once it succeeded.
async fn run_bash(s: &TestServer, cwd: &std::path::Path, args: Vec<String>, what: &str) -> String {
    let (url, db_url, cwd) = (s.url.clone(), s.db_url.clone(), cwd.to_owned());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .args(args)
            .current_dir(cwd)
            .env("CAREPATH_URL", url)
            .env("CAREPATH_BIN", env!("CARGO_BIN_EXE_carepath"))
            .env("CAREPATH_DATABASE_URL", db_url)
            .output()
    })
    .await
    .unwrap()
    .expect("run bash (the examples need bash, curl and python3)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what}: {stdout}\n{stderr}");
    stdout
}

/// Runs `examples/{name}` against `s` from a directory outside the repository (an example
/// finds its own way to it); its standard output.
async fn run_example(s: &TestServer, name: &str) -> String {
    let elsewhere = tempfile::tempdir().unwrap();
    let script = root().join("examples").join(name);
    run_bash(
        s,
        elsewhere.path(),
        vec![script.display().to_string()],
        name,
    )
    .await
}

/// The README's section under `## {heading}`, up to the next `## `.
fn readme_section(heading: &str) -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find(&format!("\n## {heading}\n"))
        .unwrap_or_else(|| panic!("no section {heading:?} in the README"));
    let rest = &readme[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |e| e + 3);
    rest[..end].to_owned()
}

/// The ` ```sh ` blocks of the README's tour, run in order as one bash script from the
/// repository's root, as the README says: register, consent, admit, refer, accept, step down,
/// arrive, book aftercare, discharge.
async fn the_readme_tour_runs_as_written(b: Backend) {
    let tour = readme_section("A ten-minute tour");
    let mut script = String::from("set -euo pipefail\n");
    let mut blocks = 0;
    for block in tour.split("```sh\n").skip(1) {
        let (code, _) = block.split_once("```").expect("a closed block");
        script.push_str(code);
        blocks += 1;
    }
    assert!(blocks >= 5, "the tour's blocks: {blocks}");
    let s = TestServer::start_with(b, &[]).await;
    let stdout = run_bash(&s, root(), vec!["-c".into(), script], "the README's tour").await;
    for line in [
        "/welcome/cpl_",
        "client.admitted",
        "\"status\": \"PENDING\"",
        "referral.accepted",
        "handoff.started",
        "transition.completed",
        "aftercare.scheduled",
        "discharge.completed",
        "\"status\": \"DISCHARGED\"",
        "\"displayName\": \"Ana Quintero\"",
        "\"name\": \"Community Outpatient Clinic\"",
    ] {
        assert!(stdout.contains(line), "{line} in:\n{stdout}");
    }
}

/// Every path the README's code tour names exists: a path with a `/` from the repository's
/// root, a bare file name under one of the directories its item names.
#[test]
fn the_readme_code_tour_names_paths_that_exist() {
    let tour = readme_section("Code tour");
    fn files_under(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                files_under(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    // Items are the numbered lines, each with the lines that continue it.
    let mut items: Vec<String> = Vec::new();
    for line in tour.lines() {
        let numbered = line
            .split_once(". ")
            .is_some_and(|(n, _)| n.parse::<u32>().is_ok());
        match items.last_mut() {
            Some(item) if !numbered => item.push_str(line),
            _ if numbered => items.push(line.to_owned()),
            _ => {}
        }
    }
    assert!(items.len() >= 8, "{items:?}");
    let mut checked = 0;
    for item in &items {
        let names: Vec<&str> = item
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|n| !n.contains(' ') && (n.contains('/') || n.contains('.')))
            .collect();
        let mut dirs: Vec<std::path::PathBuf> = Vec::new();
        for name in names {
            let found = if name.contains('/') {
                std::iter::once(root().join(name))
                    .chain(dirs.iter().map(|d| d.join(name)))
                    .find(|p| p.exists())
            } else {
                dirs.iter().find_map(|dir| {
                    let mut files = Vec::new();
                    files_under(dir, &mut files);
                    files
                        .into_iter()
                        .find(|f| f.file_name().is_some_and(|f| f == name))
                })
            };
            let path = found.unwrap_or_else(|| panic!("{name} ({item}) does not exist"));
            if name.contains('/') {
                dirs.push(if path.is_dir() {
                    path
                } else {
                    path.parent().unwrap().to_owned()
                });
            }
            checked += 1;
        }
    }
    assert!(checked > 30, "the code tour's paths: {checked}");
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
        "name shown to the partner: True",
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
    the_readme_tour_runs_as_written,
    the_step_down_example_runs_as_the_readme_says,
    the_fhir_example_runs_as_the_readme_says,
);
