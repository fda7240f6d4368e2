//! Logging. Log lines carry ids, never names (42 CFR Part 2, minimum necessary).

use tracing::Level;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

/// Whatever the filter asks for, the AMQP client logs errors only: below that it prints
/// frames and returned messages whole, event bodies included.
fn may_log(meta: &tracing::Metadata<'_>) -> bool {
    !meta.target().starts_with("lapin") || *meta.level() <= Level::ERROR
}

pub fn init(format: &str) {
    init_with(format, "info,sqlx=warn,sea_orm=warn,lapin=error");
}

/// As [`init`], with `default` as the filter when `CAREPATH_LOG` and `RUST_LOG` set none
/// (`carepath simulate` logs warnings only: a line per command would be millions).
pub fn init_with(format: &str, default: &str) {
    let filter = EnvFilter::try_from_env("CAREPATH_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new(default));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let layer = if format == "json" {
        fmt::layer().json().with_writer(std::io::stderr).boxed()
    } else {
        fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(ansi)
            .boxed()
    };
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(filter).with_filter(filter_fn(may_log)))
        .try_init();
}
