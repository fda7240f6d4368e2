//! `carepath serve`: the HTTP server and the background loops.

use crate::cli;
use crate::config::Config;
use anyhow::Context as _;
use carepath_engine::Engine;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub async fn run(config: Config) -> anyhow::Result<()> {
    let engine = cli::engine(&config).await?;
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    // Tests and scripts read this line to find a random port; in the JSON log format it is
    // JSON too, so every line the process writes parses as JSON.
    if config.log_format == "json" {
        println!(
            "{}",
            serde_json::json!({ "message": "carepath listening", "address": format!("http://{addr}") })
        );
    } else {
        println!("carepath listening on http://{addr}");
    }
    tracing::info!(%addr, pathway = engine.pathway().id, "serving");

    let (stop_tx, stop_rx) = watch::channel(false);
    let sweeper = tokio::spawn(sweep_timers(
        engine.clone(),
        Duration::from_secs(config.timer_interval_secs.max(1)),
        config.idempotency_days,
        stop_rx.clone(),
    ));

    let relay_status = Arc::new(carepath_relay::Status::default());
    let mut tasks = vec![sweeper];
    let mut ready_checks: Vec<carepath_graphql::ReadyCheck> = Vec::new();
    if config.relay_enabled {
        let mut opts = carepath_relay::Options::new(config.amqp_url.clone());
        opts.source = config.event_source.clone();
        opts.stuck_after = Duration::from_secs(config.relay_stuck_secs);
        opts.poll = Duration::from_millis(config.relay_poll_ms);
        if config.database_url.starts_with("postgres") {
            opts.postgres_url = Some(config.database_url.clone());
        }
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
    .layer(tower_http::trace::TraceLayer::new_for_http());
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("HTTP server")?;
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
    }
    Ok(())
}

/// Fire due timers every `every`; prune old idempotency records hourly.
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
