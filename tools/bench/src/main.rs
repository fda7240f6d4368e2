//! `carepath-bench`, the load tool: client journeys end to end over GraphQL and RabbitMQ, side
//! by side with PostgreSQL's own limit (pgbench on `tools/bench/pgbench/transition.sql`). It is its
//! own workspace member, so the product binary links none of it (reqwest, hdrhistogram).
//!
//! It talks to the server only over HTTP and AMQP; what it sets up before the server starts
//! (organizations, tokens, a seeded population) goes through the engine's own commands.
//!
//! `run` starts a fresh database and the real server (`carepath serve`, the binary built
//! beside this one, or `--server`) as a child process, walks N
//! synthetic clients detox → residential → PHP → IOP → outpatient → planned discharge at a
//! fixed concurrency, counts the events on RabbitMQ, checks the result, then runs pgbench at
//! the same concurrency and prints the ratio. `seed` makes a large population for the
//! query figures.

mod client;
mod consumer;
mod cpu;
mod journey;
mod peer;
mod seed;

use anyhow::{Context as _, bail, ensure};
use carepath_engine::Engine;
use carepath_engine::clock::SystemClock;
use carepath_engine::domain::{Actor, MatService, Role};
use carepath_engine::ids::OrgId;
use carepath_engine::pathway::{self, LevelId};
use clap::{Args, Parser, Subcommand};
use hdrhistogram::Histogram;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Carepath's load tool.
#[derive(Debug, Parser)]
#[command(name = "carepath-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: BenchCmd,
}

#[derive(Debug, Subcommand)]
enum BenchCmd {
    /// Walk synthetic clients through the continuum and report throughput and latency.
    Run(RunArgs),
    /// Add a large population (clients across levels and providers) to a database.
    Seed(SeedArgs),
    /// Time `census` and `clients(level, first: 50)` against a running server.
    Queries(QueryArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Database for the run: `sqlite://…` (default: a fresh file) or a PostgreSQL URL whose
    /// database name starts with `carepath_bench` (dropped and created anew).
    #[arg(long)]
    database_url: Option<String>,
    #[arg(long, default_value_t = 200)]
    clients: usize,
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Cap on mutations per second across all workers (default: as fast as it goes).
    #[arg(long)]
    rate: Option<f64>,
    /// Then walk half as many clients again, paced at half the mutation rate just measured,
    /// and report that phase's latencies (the "at half the maximum rate" figures).
    #[arg(long)]
    half_rate: bool,
    /// Active clients to seed before the run (server memory with a large census).
    #[arg(long, default_value_t = 0)]
    seed_clients: usize,
    #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    amqp_url: String,
    /// pgbench script (its schema beside it, `transition-schema.sql`); skipped when absent.
    /// The default is the copy in this crate (`tools/bench/pgbench/`).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/pgbench/transition.sql"))]
    pgbench_script: PathBuf,
    #[arg(long, default_value_t = 20)]
    pgbench_seconds: u64,
    /// Seconds the hand-written peer runs (one transaction and one confirmed publish per
    /// transition, on the run's database kind and broker, at the same concurrency).
    #[arg(long, default_value_t = 10)]
    peer_seconds: u64,
    /// PostgreSQL server for pgbench's own database.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pgbench_admin_url: String,
    /// The `carepath` binary to serve with (default: the one built beside this tool).
    #[arg(long)]
    server: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct SeedArgs {
    #[arg(long)]
    database_url: String,
    #[arg(long, default_value_t = 1_000_000)]
    clients: usize,
}

#[derive(Debug, Args)]
struct QueryArgs {
    /// The server, e.g. http://127.0.0.1:8080
    #[arg(long)]
    url: String,
    #[arg(long)]
    token: String,
    #[arg(long, default_value_t = 100)]
    repeat: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        BenchCmd::Run(a) => run_journeys(a).await,
        BenchCmd::Seed(a) => {
            let engine = prepare(&a.database_url, false).await?;
            seed_population(&engine, a.clients).await
        }
        BenchCmd::Queries(a) => {
            let c = client::Client::new(&a.url, client::Pacer::new(None));
            time_queries(&c, &a.token, a.repeat).await
        }
    }
}

/// Seed `clients` active clients and say how long it took.
async fn seed_population(engine: &Engine, clients: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    seed::population(engine, clients).await?;
    println!(
        "seeded {clients} active clients in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The engine on `url` (creating a PostgreSQL database named `carepath_bench*` anew when
/// `fresh`), its schema up to date.
async fn prepare(url: &str, fresh: bool) -> anyhow::Result<Engine> {
    if fresh && url.starts_with("postgres") {
        let (base, name) = url.rsplit_once('/').context("a database name in the URL")?;
        ensure!(
            name.starts_with("carepath_bench"),
            "bench recreates its database: name it carepath_bench…"
        );
        let admin = sea_orm::Database::connect(format!("{base}/postgres")).await?;
        use sea_orm::ConnectionTrait;
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await?;
        admin.close().await?;
    }
    Ok(Engine::open(
        url,
        16,
        Arc::new(pathway::default_pathway()),
        Arc::new(SystemClock),
    )
    .await?)
}

/// The `carepath` binary: `--server`, or the one cargo built beside this tool.
fn server_binary(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(p) = given {
        return Ok(p);
    }
    let exe = std::env::current_exe()?;
    let beside = exe
        .parent()
        .context("the tool's directory")?
        .join(format!("carepath{}", std::env::consts::EXE_SUFFIX));
    ensure!(
        beside.exists(),
        "no server binary at {}: build it first (cargo build --release -p carepath) or pass --server",
        beside.display()
    );
    Ok(beside)
}

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(binary: &std::path::Path, db: &str, amqp: &str) -> anyhow::Result<Self> {
        let mut child = Command::new(binary)
            .arg("serve")
            .env("CAREPATH_DATABASE_URL", db)
            .env("CAREPATH_LISTEN", "127.0.0.1:0")
            .env("CAREPATH_AMQP_URL", amqp)
            .env("CAREPATH_LOG", "warn,lapin=off")
            .env("CAREPATH_DB_MAX_CONNECTIONS", "32")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
        let line = lines.next().context("the server printed nothing")??;
        std::thread::spawn(move || for _ in lines {});
        let url = line.rsplit(' ').next().context("address")?.to_owned();
        Ok(Server { child, url })
    }

    fn proc_status(&self, field: &str) -> Option<u64> {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        s.lines()
            .find(|l| l.starts_with(field))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }
}

/// Walk the clients numbered `range` through the continuum, `concurrency` at a time: their ids,
/// and the mutations and level transitions committed.
async fn walk(
    c: &client::Client,
    cast: &journey::Cast,
    range: std::ops::Range<usize>,
    concurrency: usize,
) -> anyhow::Result<(Vec<String>, u64, u64)> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(range.start));
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (c, cast, next, end) = (c.clone(), cast.clone(), next.clone(), range.end);
        workers.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= end {
                    return Ok::<_, anyhow::Error>(out);
                }
                out.push(journey::run(&c, &cast, i).await?);
            }
        }));
    }
    let mut clients = Vec::new();
    let (mut mutations, mut transitions) = (0u64, 0u64);
    for w in workers {
        for (id, t) in w.await?? {
            mutations += t.mutations;
            transitions += t.transitions;
            clients.push(id);
        }
    }
    Ok((clients, mutations, transitions))
}

/// Wait until nothing new has reached the consumer for a second (at most a minute).
async fn settle(seen: &Mutex<consumer::Seen>) {
    let started = Instant::now();
    let mut last = seen.lock().expect("seen").messages;
    while started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = seen.lock().expect("seen").messages;
        if now == last {
            return;
        }
        last = now;
    }
}

/// A quantile of a summary in `/metrics` text: the line starting `prefix` (the metric's name
/// and `{`, and any labels before the quantile's) with `quantile="q"`.
fn summary(metrics: &str, prefix: &str, q: &str) -> Option<f64> {
    let line = format!("{prefix}quantile=\"{q}\"}}");
    metrics
        .lines()
        .find(|l| l.starts_with(&line))?
        .rsplit(' ')
        .next()?
        .parse()
        .ok()
}

fn pct(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

/// A phase's mutation latencies and, when events arrived, its commit→consumer latencies.
fn print_latencies(mutations: &Histogram<u64>, to_consumer: Option<&Histogram<u64>>) {
    println!(
        "mutation latency    p50 {:.2} ms  p95 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        pct(mutations, 0.5),
        pct(mutations, 0.95),
        pct(mutations, 0.99),
        mutations.max() as f64 / 1000.0
    );
    if let Some(h) = to_consumer {
        println!(
            "commit→consumer     p50 {:.2} ms  p99 {:.2} ms",
            pct(h, 0.5),
            pct(h, 0.99)
        );
    }
}

async fn setup_cast(engine: &Engine) -> anyhow::Result<journey::Cast> {
    let admin = Actor::new(OrgId(uuid::Uuid::nil()), Role::Admin);
    let org = async |name: &str, level: Option<&str>| -> anyhow::Result<OrgId> {
        let id = OrgId::new();
        engine.register_org(&admin, id, name).await?;
        if let Some(l) = level {
            engine
                .set_capacity(&admin, id, &LevelId::new(l), 100_000)
                .await?;
        }
        Ok(id)
    };
    let home = org("Bench case management", None).await?;
    let pharmacy = org("Bench pharmacy", None).await?;
    // The journeys book buprenorphine refills there.
    engine
        .set_mat_services(&admin, pharmacy, &[MatService::Pharmacy])
        .await?;
    let hub = org("Bench aftercare hub", None).await?;
    let mut providers = Vec::new();
    let mut recipients = vec![pharmacy.to_string(), hub.to_string()];
    for (level, _) in journey::LEVELS {
        let mut pair = Vec::new();
        for i in 0..2 {
            let id = org(&format!("Bench {level} {i}"), Some(level)).await?;
            recipients.push(id.to_string());
            pair.push((
                id.to_string(),
                engine
                    .create_token(id, Role::Partner, Some("bench"), 1, None)
                    .await?,
            ));
        }
        providers.push(pair);
    }
    Ok(journey::Cast {
        cm: engine
            .create_token(home, Role::CaseManager, Some("bench"), 1, None)
            .await?,
        coordinator: engine
            .create_token(hub, Role::AftercareCoordinator, Some("bench"), 1, None)
            .await?,
        pharmacy: pharmacy.to_string(),
        aftercare_clinic: providers[4][0].0.clone(),
        consent_recipients: recipients,
        providers,
    })
}

async fn run_journeys(a: RunArgs) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let db_url = a.database_url.clone().unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rwc",
            tmp.path().join("bench.db").display()
        )
    });
    let backend = if db_url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let binary = server_binary(a.server.clone())?;
    let engine = prepare(&db_url, true).await?;
    if a.seed_clients > 0 {
        seed_population(&engine, a.seed_clients).await?;
    }
    let cast = setup_cast(&engine).await?;
    // The seeded population's events wait in the outbox for the server's relay.
    let seeded_events = engine.outbox_lag().await?.0;
    // The server is its own process from here on; this one talks to it over HTTP and AMQP.
    drop(engine);
    let seen = Arc::new(Mutex::new(consumer::Seen::default()));
    let consumer = consumer::start(&a.amqp_url, seen.clone())
        .await
        .context("RabbitMQ consumer")?;
    let server = Server::start(&binary, &db_url, &a.amqp_url)?;
    println!(
        "carepath bench: {} clients, concurrency {}, {backend}, server {} (pid {})",
        a.clients,
        a.concurrency,
        server.url,
        server.child.id()
    );
    let c = client::Client::new(&server.url, client::Pacer::new(a.rate));
    // Warm up the connection pool and the server.
    c.query(&cast.cm, "{ census { level } }", json!({})).await?;
    c.latencies.lock().expect("h").reset();
    // The seeded population's events reach the consumer first, and count in no latency.
    let wait = Instant::now();
    while (seen.lock().expect("seen").ids.len() as u64) < seeded_events
        && wait.elapsed() < Duration::from_secs(600)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    seen.lock().expect("seen").take_latencies();

    let machine0 = cpu::Snapshot::take();
    let started = Instant::now();
    let (mut clients, mutations, transitions) =
        walk(&c, &cast, 0..a.clients, a.concurrency).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let (server_pid, tool_pid) = (server.child.id(), std::process::id());
    let split = cpu::Snapshot::take().since(&machine0, |pid, comm| match comm {
        _ if pid == server_pid => Some("server"),
        _ if pid == tool_pid => Some("tool"),
        "postgres" => Some("postgres"),
        "beam.smp" => Some("rabbitmq"),
        _ => None,
    });
    let (cpu, tool_cpu) = (split.of("server"), split.of("tool"));
    let stages = reqwest::get(format!("{}/metrics", server.url))
        .await?
        .text()
        .await?;

    // Phase 1's latencies, once its last events have arrived (nothing new for a second).
    settle(&seen).await;
    let lat = c.latencies.lock().expect("h").clone();
    let to_consumer = seen.lock().expect("seen").take_latencies();
    let half = if a.half_rate {
        let rate = mutations as f64 / elapsed / 2.0;
        let paced = client::Client::new(&server.url, client::Pacer::new(Some(rate)));
        let n = (a.clients / 2).max(1);
        let (more, _, _) = walk(&paced, &cast, a.clients..a.clients + n, a.concurrency).await?;
        clients.extend(more);
        settle(&seen).await;
        let lat = paced.latencies.lock().expect("h").clone();
        Some((rate, n, lat, seen.lock().expect("seen").take_latencies()))
    } else {
        None
    };

    // Every event of every journey, on RabbitMQ.
    let expected: u64 = {
        let mut sum = 0;
        for id in &clients {
            let d = c.query(&cast.cm, "query($c: UUID!) { client(id: $c) { status } careEvents(clientId: $c, first: 100) { edges { cursor } } }", json!({ "c": id })).await?;
            ensure!(
                d["client"]["status"] == json!("DISCHARGED"),
                "client {id} ended {}",
                d["client"]["status"]
            );
            sum += d["careEvents"]["edges"]
                .as_array()
                .map_or(0, |e| e.len() as u64);
        }
        sum + seeded_events
    };
    let wait = Instant::now();
    while seen.lock().expect("seen").ids.len() < expected as usize
        && wait.elapsed() < Duration::from_secs(120)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let peak_rss_kb = server.proc_status("VmHWM:").unwrap_or(0);
    drop(server);
    consumer.abort();
    let seen = std::mem::take(&mut *seen.lock().expect("seen"));
    let gaps = seen
        .sequences
        .values()
        .filter(|seqs| {
            let mut first: Vec<u64> = Vec::new();
            for s in seqs.iter() {
                if !first.contains(s) {
                    first.push(*s);
                }
            }
            first != (1..=first.len() as u64).collect::<Vec<_>>()
        })
        .count();

    println!("\n== engine ({backend}, relay on)");
    println!("journeys            {} in {elapsed:.2} s", a.clients);
    println!("transitions/s       {:.1}", transitions as f64 / elapsed);
    println!(
        "mutations/s         {:.1}  ({mutations} mutations)",
        mutations as f64 / elapsed
    );
    print_latencies(&lat, to_consumer.as_ref());
    println!("server peak RSS     {:.1} MB", peak_rss_kb as f64 / 1024.0);
    // The command's stages, and the relay's per round (read the outbox, publish and await the
    // confirms, record: delete and disclosures).
    for (metric, stage, label) in [
        ("carepath_stage_seconds", "load", "stage load"),
        ("carepath_stage_seconds", "decide", "stage decide"),
        ("carepath_stage_seconds", "commit", "stage commit"),
        ("carepath_relay_stage_seconds", "read", "relay read"),
        ("carepath_relay_stage_seconds", "publish", "relay publish"),
        ("carepath_relay_stage_seconds", "record", "relay record"),
    ] {
        let q = |quantile: &str| {
            summary(&stages, &format!("{metric}{{stage=\"{stage}\","), quantile)
                .map_or("?".to_owned(), |v| format!("{:.3}", v * 1000.0))
        };
        println!("{label:<20}p50 {} ms  p99 {} ms", q("0.5"), q("0.99"));
    }
    let batch = |quantile: &str| {
        summary(&stages, "carepath_relay_batch_events{", quantile)
            .map_or("?".to_owned(), |v| format!("{v:.0}"))
    };
    println!(
        "relay events/round  p50 {}  p99 {}",
        batch("0.5"),
        batch("0.99")
    );
    println!(
        "server CPU          {cpu:.2} s, {:.3} ms per transition",
        1000.0 * cpu / transitions.max(1) as f64
    );
    println!(
        "load tool CPU       {tool_cpu:.2} s (HTTP client and consumer, same machine), wall {elapsed:.2} s × 2 cores"
    );
    // Per committed mutation, where the machine's CPU went (PostgreSQL: its processes alive
    // at the end of the journeys, the server's pool among them).
    let per = |s: f64| 1000.0 * s / mutations.max(1) as f64;
    let (pg, mq) = (split.of("postgres"), split.of("rabbitmq"));
    println!(
        "CPU per mutation    {:.3} ms machine = server {:.3} + PostgreSQL {:.3} + RabbitMQ {:.3} + load tool {:.3} + rest {:.3}",
        per(split.machine.busy),
        per(cpu),
        per(pg),
        per(mq),
        per(tool_cpu),
        per(split.machine.busy - cpu - pg - mq - tool_cpu),
    );
    println!(
        "host steal          {:.1} % of the cores' time (the VM's host ran something else; not counted above)",
        100.0 * split.machine.steal_share()
    );
    if let Some((rate, n, lat, to_consumer)) = &half {
        println!("\n== half the rate: {n} more journeys paced at {rate:.1} mutations/s");
        print_latencies(lat, to_consumer.as_ref());
    }
    println!("\n== checks");
    // Every client walked (both phases) was checked discharged above.
    let walked = a.clients + half.as_ref().map_or(0, |h| h.1);
    let discharged = clients.len();
    println!(
        "every client discharged     {}",
        if discharged == walked { "yes" } else { "NO" }
    );
    println!(
        "events on RabbitMQ          {} unique of {expected} committed ({} messages, {} duplicates by ce-id)",
        seen.ids.len(),
        seen.messages,
        seen.duplicates
    );
    println!(
        "copies to other orgs        {} (referrals, handoffs and coordination events, per consent)",
        seen.copies_to_others
    );
    println!("clients with a sequence gap {gaps}");
    let ok = discharged == walked
        && seen.ids.len() as u64 == expected
        && seen.duplicates == 0
        && gaps == 0;
    println!(
        "result                      {}",
        if ok { "OK" } else { "FAILED" }
    );

    let engine_tps = transitions as f64 / elapsed;
    let engine_mps = mutations as f64 / elapsed;
    match peer::run(
        backend == "PostgreSQL",
        &a.pgbench_admin_url,
        tmp.path(),
        &a.amqp_url,
        a.concurrency,
        a.peer_seconds,
    )
    .await
    {
        Ok(p) => {
            println!(
                "\n== hand-written peer ({backend}, concurrency {}, {:.0} s): one transaction + one confirmed publish per transition",
                a.concurrency, p.seconds
            );
            println!("peer transitions/s  {:.1}", p.rate());
            println!(
                "peer latency        p50 {:.2} ms  p99 {:.2} ms",
                pct(&p.latency, 0.5),
                pct(&p.latency, 0.99)
            );
            println!(
                "CPU per transition  {:.3} ms machine (host steal {:.1} %)",
                p.machine_ms,
                100.0 * p.steal_share
            );
            println!(
                "committed mutations / peer    {:.3}  (the price of the engine's guarantees)",
                engine_mps / p.rate()
            );
        }
        Err(e) => println!("\nhand-written peer not run: {e:#}"),
    }
    if a.pgbench_script.exists() {
        match pgbench(
            &a.pgbench_admin_url,
            &a.pgbench_script,
            a.concurrency,
            a.pgbench_seconds,
        ) {
            Ok(run) => {
                let tps = run.tps;
                println!(
                    "\n== pgbench transition.sql, concurrency {}, {} s",
                    a.concurrency, a.pgbench_seconds
                );
                println!("pgbench tps         {tps:.1}");
                println!(
                    "CPU per transaction {:.3} ms machine = pgbench client {:.3} + PostgreSQL and the rest {:.3}",
                    run.machine_ms,
                    run.client_ms,
                    run.machine_ms - run.client_ms
                );
                println!(
                    "host steal          {:.1} % of the cores' time",
                    100.0 * run.steal_share
                );
                println!("level transitions / pgbench   {:.3}", engine_tps / tps);
                println!(
                    "committed mutations / pgbench {:.3}  (each is what transition.sql models)",
                    engine_mps / tps
                );
            }
            Err(e) => println!("\npgbench not run: {e:#}"),
        }
    } else {
        println!(
            "\npgbench not run: {} not found",
            a.pgbench_script.display()
        );
    }
    if !ok {
        bail!("the run's checks failed");
    }
    Ok(())
}

/// What pgbench did: its rate, and the machine's CPU per transaction (all of it, and pgbench's
/// own client's share).
struct PgbenchRun {
    tps: f64,
    machine_ms: f64,
    /// The share of the cores' time the virtual machine's host took during the run.
    steal_share: f64,
    client_ms: f64,
}

/// pgbench's rate on the durable-transition script, in a database of its own.
fn pgbench(
    admin_url: &str,
    script: &std::path::Path,
    clients: usize,
    seconds: u64,
) -> anyhow::Result<PgbenchRun> {
    let base = admin_url.rsplit_once('/').map_or(admin_url, |(b, _)| b);
    let db_url = format!("{base}/carepath_baseline");
    let sh = |cmd: &mut Command| -> anyhow::Result<String> {
        let out = cmd.output()?;
        ensure!(
            out.status.success(),
            "{:?}: {}",
            cmd,
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    sh(Command::new("psql").args([
        admin_url,
        "-qc",
        "DROP DATABASE IF EXISTS carepath_baseline WITH (FORCE)",
    ]))?;
    sh(Command::new("psql").args([admin_url, "-qc", "CREATE DATABASE carepath_baseline"]))?;
    let schema = script.with_file_name("transition-schema.sql");
    sh(Command::new("psql")
        .args([db_url.as_str(), "-q", "-f"])
        .arg(&schema))?;
    let (machine0, children0) = (cpu::Machine::read(), cpu::children_seconds());
    let out = sh(Command::new("pgbench")
        .args([
            "-n",
            "-M",
            "prepared",
            "-T",
            &seconds.to_string(),
            "-c",
            &clients.to_string(),
            "-j",
            "2",
            "-f",
        ])
        .arg(script)
        .arg(&db_url))?;
    let tps: f64 = out
        .lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|x| x.parse().ok())
        .context("no tps line in pgbench's output")?;
    let txns = (tps * seconds as f64).max(1.0);
    let machine = cpu::Machine::read().since(machine0);
    Ok(PgbenchRun {
        tps,
        steal_share: machine.steal_share(),
        machine_ms: 1000.0 * machine.busy / txns,
        client_ms: 1000.0 * (cpu::children_seconds() - children0) / txns,
    })
}

async fn time_queries(c: &client::Client, token: &str, repeat: usize) -> anyhow::Result<()> {
    for (name, q) in [
        (
            "census",
            "{ census { level provider { name } capacity activeClients openSlots pendingReferrals } }",
        ),
        (
            "clients(level: iop, first: 50)",
            "{ clients(level: \"iop\", first: 50) { pageInfo { hasNextPage endCursor } edges { node { id level status placement { provider { name } } } } } }",
        ),
    ] {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
        c.query(token, q, json!({})).await?;
        for _ in 0..repeat {
            let t = Instant::now();
            c.query(token, q, json!({})).await?;
            h.record(t.elapsed().as_micros().max(1) as u64)?;
        }
        println!(
            "{name:<32} p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
            pct(&h, 0.5),
            pct(&h, 0.99),
            h.max() as f64 / 1000.0
        );
    }
    Ok(())
}
