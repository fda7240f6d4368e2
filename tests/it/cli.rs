//! The `carepath` binary, run as a newcomer would.

use std::process::Command;

pub(crate) fn carepath() -> Command {
    Command::new(env!("CARGO_BIN_EXE_carepath"))
}

/// The standard output of a run that must have succeeded (else both outputs, in the panic).
pub(crate) fn succeeded(out: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What the README's `workflows check workflows/pathways/*.toml` finds: every file there is a
/// pathway that passes (a glob over `workflows/*.toml` also caught the crate's Cargo.toml).
#[test]
fn bundled_workflows_pass_the_check() {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(root().join("workflows/pathways"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    let out = carepath()
        .args(["workflows", "check"])
        .args(&files)
        .output()
        .unwrap();
    let stdout = succeeded(&out);
    assert!(stdout.contains("asam-continuum.toml: ok"));
    assert!(stdout.contains("ma-bsas.toml: ok"));
    assert!(stdout.contains("Acute treatment services (ATS)"));
}

#[test]
fn broken_fixtures_fail_naming_file_and_line() {
    for (fixture, expected) in [
        (
            "unknown-gate.toml",
            "unknown-gate.toml:27: transition #1 (step_down from iop): unknown gate \"bed_check\"",
        ),
        (
            "duplicate-level.toml",
            "duplicate-level.toml:14: level \"iop\": duplicate level",
        ),
        (
            "unreachable-level.toml",
            "unreachable-level.toml:13: level \"outpatient\": unreachable",
        ),
        (
            "nowhere.toml",
            "nowhere.toml:23: transition #1 (step_down from iop): transition to nowhere",
        ),
        (
            "hours-contradict.toml",
            "hours-contradict.toml:9: level \"iop\": weekly hours 20-30 h/week contradict ASAM 2.1",
        ),
    ] {
        let path = root().join("tests/fixtures").join(fixture);
        let out = carepath()
            .args(["workflows", "check"])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{fixture} passed");
        assert!(
            stderr.contains(expected),
            "{fixture}: expected `{expected}` in:\n{stderr}"
        );
    }
}

/// `carepath disclosures` writes a client's Part 2 accounting as CSV, for a period.
async fn disclosures_export_as_csv(b: crate::support::Backend) {
    let w = crate::support::World::new(b).await;
    let c = w.client_at("detox", 40.0).await;
    w.refer(c, "residential", &[w.residential]).await;
    let run = |extra: &[&str]| {
        let out = carepath()
            .args(["disclosures", "--client", &c.to_string()])
            .args(extra)
            .env("CAREPATH_DATABASE_URL", &w._db.url)
            .output()
            .expect("run carepath");
        succeeded(&out)
    };
    let csv = run(&[]);
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        [
            "disclosed_at",
            "recipient_id",
            "recipient_name",
            "what",
            "consent_id",
            "legal_basis",
            "event_id"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert_eq!(&rows[0][1], w.detox.to_string());
    assert_eq!(&rows[0][3], "admission to level detox");
    assert!(!rows[0][4].is_empty(), "under a consent: {csv}");
    assert_eq!(&rows[1][1], w.residential.to_string());
    assert!(!rows[1][2].is_empty(), "the recipient's name: {csv}");
    // A period before any of it: the header alone.
    let before = (crate::support::start_time() - chrono::Duration::days(1)).date_naive();
    let empty = run(&["--to", &before.to_string()]);
    assert_eq!(empty.lines().count(), 1, "{empty}");
    // A bad moment is refused by name.
    let out = carepath()
        .args([
            "disclosures",
            "--client",
            &c.to_string(),
            "--from",
            "yesterday",
        ])
        .env("CAREPATH_DATABASE_URL", &w._db.url)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("yesterday"));
}

crate::on_both_backends!(disclosures_export_as_csv);

/// A wrong offer creates no organization; a reader that stops early is no crash.
async fn orgs_create_is_all_or_nothing(b: crate::support::Backend) {
    let db = crate::support::TestDb::new(b).await;
    let engine = db
        .engine(std::sync::Arc::new(carepath_engine::clock::SystemClock))
        .await;
    let admin = carepath_engine::domain::Actor::new(
        carepath_engine::ids::OrgId(uuid::Uuid::nil()),
        carepath_engine::domain::Role::Admin,
    );
    let before = engine.census(&admin).await.unwrap().len();
    let out = carepath()
        .args([
            "orgs",
            "create",
            "--name",
            "Nowhere",
            "--offers",
            "iop=4",
            "--offers",
            "nosuchlevel=4",
        ])
        .env("CAREPATH_DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nosuchlevel"));
    // Before the fix the organization was created and offered IOP before the bad offer.
    assert_eq!(
        engine.census(&admin).await.unwrap().len(),
        before,
        "nothing was created"
    );
}

crate::on_both_backends!(orgs_create_is_all_or_nothing);

/// `orgs list`: every organization a newcomer created, by name, with what it offers.
async fn orgs_list_shows_what_each_offers(b: crate::support::Backend) {
    let db = crate::support::TestDb::new(b).await;
    let run = |args: &[&str]| {
        succeeded(
            &carepath()
                .args(args)
                .env("CAREPATH_DATABASE_URL", &db.url)
                .output()
                .unwrap(),
        )
    };
    let iop = run(&[
        "orgs",
        "create",
        "--name",
        "Northside IOP",
        "--offers",
        "iop=40",
    ]);
    let otp = run(&[
        "orgs",
        "create",
        "--name",
        "Harbor OTP",
        "--mat-services",
        "otp,prescriber",
    ]);
    let list = run(&["orgs", "list"]);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(
        lines,
        [
            "id,name,offers,mat_services".to_owned(),
            format!("{},Harbor OTP,,\"otp,prescriber\"", otp.trim()),
            format!("{},Northside IOP,iop=40,", iop.trim()),
        ],
        "{list}"
    );
}

crate::on_both_backends!(orgs_list_shows_what_each_offers);

/// `orgs create --mat-services` records what the organization provides, `orgs
/// set-mat-services` replaces it, and a service that does not exist is refused by name.
async fn orgs_record_their_mat_services(b: crate::support::Backend) {
    use carepath_engine::domain::MatService;
    use carepath_engine::ids::OrgId;
    let db = crate::support::TestDb::new(b).await;
    let run = |args: &[&str]| {
        carepath()
            .args(args)
            .env("CAREPATH_DATABASE_URL", &db.url)
            .output()
            .unwrap()
    };
    let out = run(&[
        "orgs",
        "create",
        "--name",
        "Harbor OTP",
        "--mat-services",
        "otp,prescriber",
    ]);
    let org = OrgId(uuid::Uuid::parse_str(succeeded(&out).trim()).expect("the new id"));
    let engine = db
        .engine(std::sync::Arc::new(carepath_engine::clock::SystemClock))
        .await;
    let services = async || engine.mat_services(&[org]).await.unwrap()[&org].clone();
    assert_eq!(
        services().await,
        [MatService::Otp, MatService::Prescriber].into()
    );
    let out = run(&[
        "orgs",
        "set-mat-services",
        "--org",
        &org.to_string(),
        "--mat-services",
        "injection",
    ]);
    assert!(succeeded(&out).contains("provides: injection"));
    // The engine here caches organizations for a while: read what was stored.
    let stored = async || {
        db.engine(std::sync::Arc::new(carepath_engine::clock::SystemClock))
            .await
            .mat_services(&[org])
            .await
            .unwrap()[&org]
            .clone()
    };
    assert_eq!(stored().await, [MatService::Injection].into());
    // Left out: none.
    succeeded(&run(&[
        "orgs",
        "set-mat-services",
        "--org",
        &org.to_string(),
    ]));
    assert!(stored().await.is_empty());
    let out = run(&[
        "orgs",
        "create",
        "--name",
        "Nowhere",
        "--mat-services",
        "otp,methadone",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("\"methadone\" is not a MAT service"),
        "{stderr}"
    );
}

crate::on_both_backends!(orgs_record_their_mat_services);

#[test]
fn workflows_check_into_a_closed_pipe_does_not_panic() {
    use std::process::Stdio;
    let mut child = carepath()
        .args(["workflows", "check"])
        .arg(root().join("workflows/pathways/asam-continuum.toml"))
        .arg(root().join("workflows/pathways/ma-bsas.toml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away at once, as `| head -0` would.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success(), "{stderr}");
}

/// `seed-demo` prints every client it made and every organization's id, so a newcomer can
/// try the API on them.
async fn seed_demo_names_every_client_and_organization(b: crate::support::Backend) {
    let db = crate::support::TestDb::new(b).await;
    let out = carepath()
        .arg("seed-demo")
        .env("CAREPATH_DATABASE_URL", &db.url)
        .output()
        .unwrap();
    let stdout = succeeded(&out);
    let clients: Vec<&str> = stdout
        .split_once("clients:")
        .unwrap_or_else(|| panic!("no clients in {stdout}"))
        .1
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(clients.len(), 9, "{stdout}");
    assert!(
        clients.iter().all(|c| uuid::Uuid::parse_str(c).is_ok()),
        "{stdout}"
    );
    // Each provider's census line carries its id.
    let census = stdout.split_once("clients:").unwrap().0;
    let ids = census
        .split_whitespace()
        .filter(|w| uuid::Uuid::parse_str(w).is_ok())
        .count();
    assert!(
        ids >= 9,
        "providers, pharmacy and home each with an id:\n{stdout}"
    );
}

crate::on_both_backends!(seed_demo_names_every_client_and_organization);

/// `carepath serve` stops on SIGTERM with the broker connected and says nothing is wrong: no
/// error line (lapin logged the channels' close racing the connection's as errors).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_shutdown_logs_no_error() {
    let vh = crate::broker::TestVhost::new();
    let db = crate::support::TestDb::new(crate::support::Backend::Sqlite).await;
    let mut child = carepath()
        .arg("serve")
        .env("CAREPATH_DATABASE_URL", &db.url)
        .env("CAREPATH_LISTEN", "127.0.0.1:0")
        .env("CAREPATH_AMQP_URL", vh.url())
        .env("CAREPATH_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    // Wait until the relay's three connections are up: the inbound consumer says so last.
    let started = std::time::Instant::now();
    while vh.connections() < 3 && started.elapsed() < std::time::Duration::from_secs(30) {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(vh.connections() >= 3, "the relay never connected");
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status}");
    let lines = log.join().unwrap();
    assert!(
        lines.iter().any(|l| l.contains("shutting down")),
        "{lines:#?}"
    );
    let errors: Vec<&String> = lines.iter().filter(|l| l.contains("ERROR")).collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

/// `seed-demo` run a second time changes nothing and says so (it stopped half-way on the
/// record number of the first client, already taken).
async fn seed_demo_twice_seeds_once(b: crate::support::Backend) {
    use carepath_engine::domain::{Actor, Role};
    use carepath_engine::ids::OrgId;
    let db = crate::support::TestDb::new(b).await;
    let seed = || {
        carepath()
            .arg("seed-demo")
            .env("CAREPATH_DATABASE_URL", &db.url)
            .output()
            .unwrap()
    };
    let first = succeeded(&seed());
    assert!(first.contains("demo network seeded:"), "{first}");
    // The demo's case-management organization's clients, each at its version.
    let home = first
        .lines()
        .find_map(|l| l.strip_prefix("home organization \"Harbor Case Management\": "))
        .map(|id| OrgId(uuid::Uuid::parse_str(id.trim()).unwrap()))
        .unwrap_or_else(|| panic!("no home organization in {first}"));
    let clients = async || {
        let engine = db
            .engine(std::sync::Arc::new(carepath_engine::clock::SystemClock))
            .await;
        let mut rows: Vec<(uuid::Uuid, i64)> = engine
            .list_clients(
                &Actor::new(home, Role::CaseManager),
                None,
                None,
                None,
                None,
                100,
            )
            .await
            .unwrap()
            .into_iter()
            .map(|state| (state.id.0, state.version))
            .collect();
        rows.sort();
        rows
    };
    let before = clients().await;
    assert_eq!(before.len(), 9, "{before:?}");
    let second = succeeded(&seed());
    assert!(
        second.contains("the demo network is already seeded; nothing changed"),
        "{second}"
    );
    assert_eq!(clients().await, before, "the second run changed nothing");
    // The census it prints is the first run's.
    let census = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| l.contains("occupied") || l.contains("pharmacy"))
            .map(String::from)
            .collect()
    };
    assert_eq!(census(&second), census(&first), "{second}");
}

crate::on_both_backends!(seed_demo_twice_seeds_once);

/// `tokens create --staff` without `--label` keeps the person's name (before, the new token,
/// the person's newest, left their name empty); a person with no name yet is asked for one.
async fn a_staff_token_without_a_label_keeps_the_name(b: crate::support::Backend) {
    let db = crate::support::TestDb::new(b).await;
    let run = |args: &[&str]| {
        carepath()
            .args(args)
            .env("CAREPATH_DATABASE_URL", &db.url)
            .output()
            .unwrap()
    };
    let org = succeeded(&run(&[
        "orgs",
        "create",
        "--name",
        "Harbor Case Management",
    ]));
    let org = org.trim();
    let tokens = || -> Vec<csv::StringRecord> {
        let list = succeeded(&run(&["tokens", "list"]));
        csv::Reader::from_reader(list.as_bytes())
            .records()
            .map(|r| r.unwrap())
            .collect()
    };
    succeeded(&run(&[
        "tokens",
        "create",
        "--org",
        org,
        "--role",
        "case_manager",
        "--label",
        "Dana Reyes",
    ]));
    let staff = tokens()[0][1].to_owned();
    succeeded(&run(&[
        "tokens",
        "create",
        "--org",
        org,
        "--role",
        "case_manager",
        "--staff",
        &staff,
    ]));
    let rows = tokens();
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_eq!(
            (&row[1], &row[4]),
            (staff.as_str(), "Dana Reyes"),
            "{rows:?}"
        );
    }
    // A desk token with no name: its next token needs one.
    succeeded(&run(&["tokens", "create", "--org", org, "--role", "admin"]));
    let desk = tokens()[2][1].to_owned();
    let out = run(&[
        "tokens", "create", "--org", org, "--role", "admin", "--staff", &desk,
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("has no name yet: give it with --label"),
        "{stderr}"
    );
    assert_eq!(tokens().len(), 3, "nothing was created");
}

crate::on_both_backends!(a_staff_token_without_a_label_keeps_the_name);

/// `carepath --help` says what each command does: `measures` its own text, not the
/// disclosures' (the doc comment had slid onto the wrong command).
#[test]
fn help_describes_each_command_with_its_own_text() {
    let help = succeeded(&carepath().arg("--help").output().unwrap());
    let line = |name: &str| {
        help.lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} in:\n{help}"))
            .to_owned()
    };
    assert!(
        line("measures").contains("Measures of continuity"),
        "{help}"
    );
    assert!(!line("measures").contains("disclosures"), "{help}");
    assert!(
        line("disclosures").contains("accounting of disclosures"),
        "{help}"
    );
    let measures = succeeded(&carepath().args(["measures", "--help"]).output().unwrap());
    assert!(!measures.contains("42 CFR Part 2"), "{measures}");
}

/// The printing commands into a pipe whose reader went away (`carepath measures | head`):
/// no "Broken pipe", no panic, success.
#[test]
fn printing_commands_into_a_closed_pipe_succeed_quietly() {
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display());
    succeeded(
        &carepath()
            .args([
                "orgs",
                "create",
                "--name",
                "Northside IOP",
                "--offers",
                "iop=40",
            ])
            .env("CAREPATH_DATABASE_URL", &db)
            .output()
            .unwrap(),
    );
    for args in [
        &["measures"][..],
        &["measures", "--format", "csv"],
        &["graphql-schema"],
        &["orgs", "list"],
        &["tokens", "list"],
        &["seed-demo"],
    ] {
        let mut child = carepath()
            .args(args)
            .env("CAREPATH_DATABASE_URL", &db)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before the command writes, as `| head -0` would.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("Broken pipe") && !stderr.contains("panicked"),
            "{args:?}: {stderr}"
        );
        assert!(out.status.success(), "{args:?}: {}: {stderr}", out.status);
    }
}

/// `simulate --database-url` naming a PostgreSQL database that does not exist fails saying
/// how to make it, and makes nothing.
#[tokio::test]
async fn simulate_on_a_missing_postgres_database_says_how_to_create_it() {
    use sea_orm::{ConnectionTrait as _, Database};
    let admin_url = crate::support::postgres_admin_url();
    let base = admin_url.rsplit_once('/').unwrap().0.to_owned();
    let name = format!("carepath_test_{}", uuid::Uuid::new_v4().simple());
    let out = carepath()
        .args([
            "simulate",
            "--clients",
            "5",
            "--days",
            "5",
            "--database-url",
        ])
        .arg(format!("{base}/{name}"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the database \"{name}\" does not exist: create it first, empty (createdb -h "
        )) && stderr.contains(&format!(" {name}), or leave out --database-url")),
        "{stderr}"
    );
    let admin = Database::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is not reachable at {admin_url}: {e}"));
    let found = admin
        .query_all_raw(sea_orm::Statement::from_string(
            admin.get_database_backend(),
            format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"),
        ))
        .await
        .unwrap();
    assert!(found.is_empty(), "no database was created");
}
