//! The hand-written peer: what a service without the engine's guarantees does per transition —
//! one database transaction (the client's state row updated, the transition row inserted)
//! and, after its commit, the event published with a publisher confirm awaited — in Rust with
//! the engine's own crates (sqlx under sea-orm, lapin, tokio), on the run's database kind and
//! broker, at the run's concurrency. No outbox, no consent, no disclosure, no idempotency, no
//! per-client order: a crash between the commit and the publish loses the event. Its rate in
//! the same run as the engine's is the price of those guarantees as one number.

use crate::cpu;
use anyhow::Context as _;
use futures::StreamExt;
use hdrhistogram::Histogram;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Confirmation, Connection, ConnectionProperties, ExchangeKind};
use sea_orm::sqlx::{self, Executor as _};
use std::time::{Duration, Instant};

/// Clients in the peer's table, as in `transition-schema.sql`.
const CLIENTS: i64 = 100_000;
const EXCHANGE: &str = "carepath.bench.peer";

/// What the peer did.
pub struct PeerRun {
    pub transitions: u64,
    pub seconds: f64,
    pub latency: Histogram<u64>,
    /// The machine's CPU per transition, in ms.
    pub machine_ms: f64,
    pub steal_share: f64,
}

impl PeerRun {
    pub fn rate(&self) -> f64 {
        self.transitions as f64 / self.seconds
    }
}

enum Pool {
    Pg(sqlx::PgPool),
    Sqlite(sqlx::SqlitePool),
}

/// Run the peer for `seconds` at `concurrency`: on a fresh PostgreSQL database
/// `carepath_bench_peer` beside `admin_url` when `postgres`, else on a fresh SQLite file in
/// `dir` (WAL, `synchronous = FULL`, as the engine's).
pub async fn run(
    postgres: bool,
    admin_url: &str,
    dir: &std::path::Path,
    amqp_url: &str,
    concurrency: usize,
    seconds: u64,
) -> anyhow::Result<PeerRun> {
    let pool = if postgres {
        let admin = sqlx::PgPool::connect(admin_url).await?;
        admin
            .execute("DROP DATABASE IF EXISTS carepath_bench_peer WITH (FORCE)")
            .await?;
        admin.execute("CREATE DATABASE carepath_bench_peer").await?;
        admin.close().await;
        let base = admin_url.rsplit_once('/').map_or(admin_url, |(b, _)| b);
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(concurrency as u32)
            .connect(&format!("{base}/carepath_bench_peer"))
            .await?;
        pool.execute(
            "CREATE TABLE clients(id bigint PRIMARY KEY, level int NOT NULL, version bigint NOT NULL, updated_at timestamptz NOT NULL);
             INSERT INTO clients SELECT g, 1, 0, now() FROM generate_series(1, 100000) g;
             CREATE TABLE transitions(id bigserial PRIMARY KEY, client_id bigint NOT NULL, from_level int, to_level int, at timestamptz NOT NULL);",
        )
        .await?;
        pool.execute("VACUUM ANALYZE clients").await?;
        Pool::Pg(pool)
    } else {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dir.join("peer.db"))
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(concurrency as u32)
            .connect_with(options)
            .await?;
        pool.execute(
            "CREATE TABLE clients(id integer PRIMARY KEY, level integer NOT NULL, version integer NOT NULL, updated_at text NOT NULL);
             WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 100000)
             INSERT INTO clients SELECT n, 1, 0, datetime('now') FROM g;
             CREATE TABLE transitions(id integer PRIMARY KEY AUTOINCREMENT, client_id integer NOT NULL, from_level integer, to_level integer, at text NOT NULL);",
        )
        .await?;
        Pool::Sqlite(pool)
    };

    let conn = Connection::connect(amqp_url, ConnectionProperties::default())
        .await
        .context("the peer's RabbitMQ connection")?;
    let setup = conn.create_channel().await?;
    setup
        .exchange_declare(
            EXCHANGE.into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    // Its events are taken off the broker as the engine's are (a queue of the run's own).
    let queue = crate::consumer::private_queue(&setup, EXCHANGE).await?;
    let mut consumer = setup
        .basic_consume(
            queue.as_str().into(),
            "peer".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    let drain = tokio::spawn(async move { while let Some(Ok(_)) = consumer.next().await {} });

    let pool = std::sync::Arc::new(pool);
    let machine0 = cpu::Machine::read();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let (pool, ch) = (pool.clone(), conn.create_channel().await?);
        ch.confirm_select(ConfirmSelectOptions::default()).await?;
        workers.push(tokio::spawn(async move {
            let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
            let mut i: i64 = 0;
            while Instant::now() < deadline {
                let client = (w as i64 * 7_919 + i * 104_729) % CLIENTS + 1;
                i += 1;
                let t = Instant::now();
                let now = chrono::Utc::now();
                match pool.as_ref() {
                    Pool::Pg(p) => {
                        let mut tx = p.begin().await?;
                        sqlx::query("UPDATE clients SET level = level % 5 + 1, version = version + 1, updated_at = $2 WHERE id = $1")
                            .bind(client).bind(now).execute(&mut *tx).await?;
                        sqlx::query("INSERT INTO transitions(client_id, from_level, to_level, at) VALUES ($1, 1, 2, $2)")
                            .bind(client).bind(now).execute(&mut *tx).await?;
                        tx.commit().await?;
                    }
                    Pool::Sqlite(p) => {
                        let mut tx = p.begin().await?;
                        sqlx::query("UPDATE clients SET level = level % 5 + 1, version = version + 1, updated_at = ?2 WHERE id = ?1")
                            .bind(client).bind(now).execute(&mut *tx).await?;
                        sqlx::query("INSERT INTO transitions(client_id, from_level, to_level, at) VALUES (?1, 1, 2, ?2)")
                            .bind(client).bind(now).execute(&mut *tx).await?;
                        tx.commit().await?;
                    }
                }
                let body = serde_json::to_vec(&serde_json::json!({
                    "event": "care.transition", "client": client, "from": 1, "to": 2, "at": now,
                }))?;
                let confirm = ch
                    .basic_publish(
                        EXCHANGE.into(),
                        "care.transition".into(),
                        BasicPublishOptions {
                            mandatory: true,
                            ..Default::default()
                        },
                        &body,
                        BasicProperties::default()
                            .with_content_type("application/json".into())
                            .with_delivery_mode(2),
                    )
                    .await?
                    .await?;
                anyhow::ensure!(
                    matches!(confirm, Confirmation::Ack(None)),
                    "the broker refused or returned the peer's event"
                );
                h.record(t.elapsed().as_micros().max(1) as u64)?;
            }
            Ok::<_, anyhow::Error>(h)
        }));
    }
    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for w in workers {
        latency.add(w.await??)?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let machine = cpu::Machine::read().since(machine0);
    drain.abort();
    let _ = conn.close(200, "done".into()).await;
    let transitions = latency.len();
    Ok(PeerRun {
        transitions,
        seconds,
        latency,
        machine_ms: 1000.0 * machine.busy / transitions.max(1) as f64,
        steal_share: machine.steal_share(),
    })
}
