//! `startup`: builds the application from its configuration — the engine on its database, the
//! HTTP router, the timer sweeper and the relay's tasks — and runs it until told to stop. The
//! binary's `serve` and the integration tests (in-process, on port 0, as zero-to-production's
//! `spawn_app` does) start it the same way.

use crate::config::Config;
use anyhow::Context as _;
use carepath_engine::domain::{Actor, Role};
use carepath_engine::ids::OrgId;
use carepath_engine::pathway::{self, Pathway};
use carepath_engine::{Engine, TimeMode};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The pathway the configuration names, or the bundled ASAM continuum.
pub fn load_pathway(config: &Config) -> anyhow::Result<Pathway> {
    match &config.pathway {
        Some(path) => pathway::load_file(path).map_err(|e| anyhow::anyhow!("{e}")),
        None => Ok(pathway::default_pathway()),
    }
}

/// Load the pathway, connect, migrate: a ready engine for the command line's commands, on
/// the clock the database is marked for (a time-skipping database's stored clock, else the
/// wall clock), marking nothing.
pub async fn open_engine(config: &Config) -> anyhow::Result<Engine> {
    open_engine_in(config, TimeMode::AsMarked).await
}

/// The engine `serve` runs: on the wall clock, or with `time_skipping` on a skipped one —
/// marking a database served for the first time, refusing one marked for the other clock.
pub async fn open_serving_engine(config: &Config) -> anyhow::Result<Engine> {
    let mode = if config.time_skipping {
        TimeMode::Skipping { start: None }
    } else {
        TimeMode::Wall
    };
    open_engine_in(config, mode).await
}

async fn open_engine_in(config: &Config, mode: TimeMode) -> anyhow::Result<Engine> {
    let pathway = load_pathway(config)?;
    Engine::open_in(
        &config.database_url,
        config.db_max_connections,
        Arc::new(pathway),
        mode,
    )
    .await
    .with_context(|| format!("opening the database ({})", redact(&config.database_url)))
}

/// A URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The application, built and bound, not yet serving.
pub struct Application {
    engine: Engine,
    listener: TcpListener,
    config: Config,
}

impl Application {
    /// Open the engine and bind the listening address (`127.0.0.1:0` picks a free port).
    /// Refused when the database is marked for the other clock than `time_skipping` asks.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let engine = open_serving_engine(&config).await?;
        engine.set_idle_timeout(
            config
                .session_idle_minutes
                .map(|m| chrono::Duration::minutes(i64::from(m))),
        );
        let listener = TcpListener::bind(&config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        Ok(Self {
            engine,
            listener,
            config,
        })
    }

    pub fn address(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Serve until `shutdown` resolves, then stop the background tasks (each given up to
    /// ten seconds to finish what it holds).
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            engine,
            listener,
            config,
        } = self;
        tracing::info!(addr = %listener.local_addr()?, pathway = engine.pathway().id, "serving");
        if let Some(now) = engine.time_skipping() {
            tracing::warn!(
                clock = %now,
                "time skipping: the clock stands still until an admin's advanceClock moves it \
                 (tests and training only, never production)"
            );
        }
        let (stop_tx, stop_rx) = watch::channel(false);
        let sweeper = tokio::spawn(sweep_timers(
            engine.clone(),
            Duration::from_secs(config.timer_interval_secs.max(1)),
            config.idempotency_days,
            stop_rx.clone(),
        ));

        let relay_status = Arc::new(carepath_relay::Status::default());
        let mut tasks = vec![sweeper];
        let notifier = carepath_notify::Notifier::new(
            engine.clone(),
            carepath_notify::NotifyConfig {
                smtp_url: config.smtp_url.clone(),
                mail_from: config.mail_from.clone(),
                public_url: match &config.public_url {
                    Some(u) => u.trim_end_matches('/').to_owned(),
                    None => format!("http://{}", listener.local_addr()?),
                },
                poll: Duration::from_millis(config.notify_poll_ms.max(50)),
            },
        )?;
        tasks.push(tokio::spawn(notifier.run(stop_rx.clone())));
        if config.measures_interval_secs > 0 {
            tasks.push(tokio::spawn(publish_measures(
                engine.clone(),
                Duration::from_secs(config.measures_interval_secs),
                stop_rx.clone(),
            )));
        }
        let mut ready_checks: Vec<carepath_graphql::ReadyCheck> = Vec::new();
        if config.relay_enabled {
            let mut opts = carepath_relay::Options::new(config.amqp_url.clone());
            opts.source = config.event_source.clone();
            opts.stuck_after = Duration::from_secs(config.relay_stuck_secs);
            opts.poll = Duration::from_millis(config.relay_poll_ms);
            engine.set_event_lag_limit(
                (config.relay_lag_limit_ms > 0)
                    .then(|| Duration::from_millis(config.relay_lag_limit_ms)),
            );
            tasks.push(tokio::spawn(carepath_relay::run_relay(
                engine.clone(),
                opts.clone(),
                relay_status.clone(),
                stop_rx.clone(),
            )));
            tasks.push(tokio::spawn(carepath_relay::run_inbound(
                engine.clone(),
                opts.clone(),
                stop_rx.clone(),
            )));
            tasks.push(tokio::spawn(carepath_relay::run_feed(
                engine.clone(),
                opts.clone(),
                stop_rx.clone(),
            )));
            let status = relay_status.clone();
            ready_checks.push(Box::new(move || status.problem(opts.stuck_after)));
        }
        let app = carepath_graphql::router(
            engine.clone(),
            carepath_graphql::metrics_handle(),
            ready_checks,
        )
        .merge(carepath_console::router(engine.clone()))
        .merge(carepath_fhir::router(engine.clone()))
        .layer(axum::middleware::map_response_with_state(
            engine.clone(),
            say_the_clock,
        ))
        // A request's span holds its method and path, never its query: a sign-in's callback
        // carries the provider's code and state there.
        .layer(
            tower_http::trace::TraceLayer::new_for_http().make_span_with(
                |req: &axum::http::Request<axum::body::Body>| {
                    tracing::debug_span!(
                        "request",
                        method = %req.method(),
                        path = %req.uri().path()
                    )
                },
            ),
        );
        warn_when_plain_http(&config, listener.local_addr()?);
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
        .context("HTTP server")?;
        let _ = stop_tx.send(true);
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
        Ok(())
    }
}

/// The response header a time-skipping server puts on every response (API, pages, health):
/// `skipped <the clock, RFC 3339>`, so no client takes it for production.
pub const CLOCK_HEADER: &str = "carepath-clock";

async fn say_the_clock(
    axum::extract::State(engine): axum::extract::State<Engine>,
    mut resp: axum::response::Response,
) -> axum::response::Response {
    if let Some(now) = engine.time_skipping()
        && let Ok(value) = axum::http::HeaderValue::from_str(&format!(
            "skipped {}",
            now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        ))
    {
        resp.headers_mut().insert(CLOCK_HEADER, value);
    }
    resp
}

/// People sign in with passwords over this server: served on plain HTTP beyond loopback with no
/// https `public_url` (a TLS proxy in front), passwords and session cookies would cross the
/// network in the clear — said loudly at startup.
fn warn_when_plain_http(config: &Config, addr: SocketAddr) {
    let https = config
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    if !https && !addr.ip().is_loopback() {
        tracing::warn!(
            %addr,
            "serving people's sign-in on plain HTTP beyond loopback: put a TLS proxy in front \
             and set public_url to its https address (session cookies are Secure only then)"
        );
    }
}

/// `carepath serve`: build, say where it listens, serve until SIGINT or SIGTERM.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let json = config.log_format == "json";
    let app = Application::build(config).await?;
    let addr = app.address()?;
    // Tests and scripts read this line to find a random port; in the JSON log format it is
    // JSON too, so every line the process writes parses as JSON.
    // On a skipped clock it says so, before the address (scripts take the last word).
    let skipping = app
        .engine()
        .time_skipping()
        .map(|now| now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    if json {
        let mut line = serde_json::json!({ "message": "carepath listening", "address": format!("http://{addr}") });
        if let Some(now) = &skipping {
            line["time_skipping"] = serde_json::json!(true);
            line["clock"] = serde_json::json!(now);
        }
        println!("{line}");
    } else if let Some(now) = &skipping {
        println!("carepath listening with time skipping (clock at {now}) on http://{addr}");
    } else {
        println!("carepath listening on http://{addr}");
    }
    app.run_until(shutdown_signal()).await
}

/// Fire due timers and offer freed slots to waitlists every `every`; prune old idempotency
/// records hourly.
async fn sweep_timers(
    engine: Engine,
    every: Duration,
    idempotency_days: i64,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticks: u64 = 0;
    let prune_every = (3600 / every.as_secs().max(1)).max(1);
    loop {
        match engine.fire_due_timers(500).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(fired = n, "timers fired"),
            Err(e) => tracing::warn!(error = %e, "timer sweep failed"),
        }
        match engine.offer_freed_slots().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(offered = n, "freed slots offered to waitlists"),
            Err(e) => tracing::warn!(error = %e, "waitlist sweep failed"),
        }
        match engine.tell_due_notices().await {
            Ok(s) if s.told + s.dropped + s.escalated == 0 => {}
            Ok(s) => tracing::info!(
                told = s.told,
                dropped = s.dropped,
                escalated = s.escalated,
                "scheduled notices told, silent ones escalated"
            ),
            Err(e) => tracing::warn!(error = %e, "notice sweep failed"),
        }
        if ticks.is_multiple_of(prune_every)
            && let Err(e) = engine.prune_idempotency(idempotency_days).await
        {
            tracing::warn!(error = %e, "idempotency pruning failed");
        }
        ticks += 1;
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Every `every`, the measures of the 30 days to now over every organization's clients as
/// gauges on `/metrics` — `carepath_measure_numerator`, `_denominator` and `_rate` per
/// share, `carepath_measure_count` per count — figures only, never a client id.
async fn publish_measures(engine: Engine, every: Duration, mut stop: watch::Receiver<bool>) {
    let admin = Actor::new(OrgId(uuid::Uuid::nil()), Role::Admin);
    loop {
        let to = engine.clock().now();
        match engine
            .measures(&admin, to - chrono::Duration::days(30), to, None, None)
            .await
        {
            Ok(m) => {
                for row in carepath_report::rows(&m) {
                    if !row.by.is_empty() {
                        continue;
                    }
                    let name = row.measure;
                    if let (Some(n), Some(d)) = (row.numerator, row.denominator) {
                        metrics::gauge!("carepath_measure_numerator", "measure" => name.clone())
                            .set(n as f64);
                        metrics::gauge!("carepath_measure_denominator", "measure" => name.clone())
                            .set(d as f64);
                        if let Some(rate) = row.rate {
                            metrics::gauge!("carepath_measure_rate", "measure" => name).set(rate);
                        }
                    } else if let Some(c) = row.count {
                        metrics::gauge!("carepath_measure_count", "measure" => name).set(c as f64);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "computing the measures failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
