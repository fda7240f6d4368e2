//! All configuration, in one place: built-in defaults, then an optional TOML file, then
//! `CAREPATH_*` environment variables, then command-line flags.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `sqlite://carepath.db?mode=rwc` (default) or `postgres://user@host/db`.
    pub database_url: String,
    pub db_max_connections: u32,
    /// Address the HTTP server listens on.
    pub listen: String,
    /// A pathway file; the bundled ASAM continuum when unset.
    pub pathway: Option<PathBuf>,
    /// RabbitMQ.
    pub amqp_url: String,
    /// RabbitMQ's management API (`orgs link-amqp-user` writes the linked user's permissions
    /// through it).
    pub amqp_management_url: String,
    /// Publish events and consume inbound messages (off: events wait in the outbox).
    pub relay_enabled: bool,
    /// The CloudEvents `source` of published events.
    pub event_source: String,
    /// `/readyz` fails when an event has waited in the outbox longer than this.
    pub relay_stuck_secs: u64,
    /// Milliseconds an event may wait to be published after its commit, while the broker
    /// answers, before commands are paced (each waits for the relay to catch up, at most this
    /// long) and `/healthz` and `/metrics` say the events are behind; 0: never paced.
    pub relay_lag_limit_ms: u64,
    /// Milliseconds between the relay's reads of the outbox when nothing wakes it (a commit
    /// in this process, or on PostgreSQL a NOTIFY from another).
    pub relay_poll_ms: u64,
    /// Seconds between timer sweeps.
    pub timer_interval_secs: u64,
    /// Seconds between recomputations of the measures the metrics endpoint shows (the 30
    /// days to now, every organization); 0: never.
    pub measures_interval_secs: u64,
    /// Days an idempotency record is kept.
    pub idempotency_days: i64,
    /// Days a new API token is valid (`tokens create --days` overrides it).
    pub token_days: u32,
    /// The address people reach the console at (`https://carepath.example.org`): the links
    /// the CLI prints (invitations, password resets) start with it, and a session cookie is
    /// `Secure` when it is https. Default: `http://` and the listening address.
    pub public_url: Option<String>,
    /// Minutes a session of a role that reads client records may sit idle (default 30; at
    /// most the 12-hour lifetime).
    pub session_idle_minutes: Option<u32>,
    /// The SMTP server notices are e-mailed through: `smtp://host:587?tls=required`
    /// (STARTTLS, refused without it), `smtps://host:465` (TLS from the start),
    /// `smtp://host:587?tls=opportunistic` (STARTTLS when offered), `smtp://host:25` (plain:
    /// only to a relay on this machine), with `user:password@` for AUTH. Unset: no e-mail
    /// (the console's notification center and webhooks still).
    pub smtp_url: Option<String>,
    /// The `From:` of notification e-mail.
    pub mail_from: String,
    /// The longest pause, in milliseconds, between the notifier's passes when nothing wakes
    /// it (a notice written in this process wakes it at once).
    pub notify_poll_ms: u64,
    /// `text` or `json`.
    pub log_format: String,
    /// `serve` on a skipped clock that only `advanceClock` moves, for tests and training —
    /// never the default. The database is marked either way when first served, and a
    /// database marked for the other clock is refused.
    pub time_skipping: bool,
}

impl Config {
    /// The console's address for links people are sent: `public_url`, else `http://` and
    /// the listening address.
    pub fn public_base(&self) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "sqlite://carepath.db?mode=rwc".into(),
            db_max_connections: 16,
            listen: "127.0.0.1:8080".into(),
            pathway: None,
            amqp_url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            amqp_management_url: "http://guest:guest@127.0.0.1:15672".into(),
            relay_enabled: true,
            event_source: "/carepath".into(),
            relay_stuck_secs: 60,
            relay_lag_limit_ms: 2000,
            relay_poll_ms: 500,
            timer_interval_secs: 5,
            measures_interval_secs: 300,
            idempotency_days: 7,
            token_days: 90,
            public_url: None,
            session_idle_minutes: None,
            smtp_url: None,
            mail_from: "Carepath <carepath@localhost>".into(),
            notify_poll_ms: 2000,
            log_format: "text".into(),
            time_skipping: false,
        }
    }
}

/// Flags that override the configuration; unset flags leave it alone.
#[derive(Clone, Debug, Default, Serialize, clap::Args)]
pub struct Overrides {
    /// Database URL [env: CAREPATH_DATABASE_URL]
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// Address to listen on [env: CAREPATH_LISTEN]
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Care pathway file [env: CAREPATH_PATHWAY]
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pathway: Option<PathBuf>,
    /// RabbitMQ URL [env: CAREPATH_AMQP_URL]
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amqp_url: Option<String>,
    /// `serve --time-skipping` (set by that flag, not a global one).
    #[arg(skip)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_skipping: Option<bool>,
}

impl Config {
    /// The configuration's keys, as in the file (and, upper-cased, after `CAREPATH_`).
    fn keys() -> Vec<String> {
        match serde_json::to_value(Config::default()) {
            Ok(serde_json::Value::Object(m)) => m.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// Load from `file` (if given; `carepath.toml` if present), the environment and flags.
    pub fn load(file: Option<&PathBuf>, flags: &Overrides) -> Result<Self, Box<figment::Error>> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => fig = fig.merge(Toml::file_exact(path)),
            None => fig = fig.merge(Toml::file("carepath.toml")),
        }
        // Only the environment variables that name a key: others with the prefix (CAREPATH_LOG,
        // the log filter; CAREPATH_CONFIG, the file; a script's CAREPATH_BIN) are not ours to
        // refuse. Unknown keys in the file are still errors.
        let keys = Config::keys();
        fig.merge(Env::prefixed("CAREPATH_").filter(move |k| {
            keys.iter()
                .any(|known| k.as_str().eq_ignore_ascii_case(known))
        }))
        .merge(Serialized::globals(flags))
        .extract()
        .map_err(Box::new)
    }

    /// This configuration with `CAREPATH_*` variables given as pairs instead of read from the
    /// environment, parsed as the environment's are (for an application built in-process, as
    /// the integration tests do). A name that is no configuration key is an error.
    pub fn with_vars(self, vars: &[(&str, &str)]) -> Result<Self, Box<figment::Error>> {
        let keys = Config::keys();
        let mut fig = Figment::from(Serialized::defaults(self));
        for (name, value) in vars {
            let key = name
                .strip_prefix("CAREPATH_")
                .map(str::to_ascii_lowercase)
                .filter(|k| keys.contains(k))
                .ok_or_else(|| {
                    Box::new(figment::Error::from(format!(
                        "{name} is not a configuration variable"
                    )))
                })?;
            let value: figment::value::Value = value.parse().unwrap_or_else(|e| match e {});
            fig = fig.merge((key, value));
        }
        fig.extract().map_err(Box::new)
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return figment::Error
mod tests {
    use super::*;

    #[test]
    fn vars_as_pairs_parse_as_the_environment() {
        let c = Config::default()
            .with_vars(&[
                ("CAREPATH_RELAY_STUCK_SECS", "3"),
                ("CAREPATH_RELAY_ENABLED", "false"),
                ("CAREPATH_AMQP_URL", "amqp://x/%2f"),
            ])
            .unwrap();
        assert_eq!(c.relay_stuck_secs, 3);
        assert!(!c.relay_enabled);
        assert_eq!(c.amqp_url, "amqp://x/%2f");
        assert!(!c.time_skipping, "never the default");
        let c = Config::default()
            .with_vars(&[("CAREPATH_TIME_SKIPPING", "true")])
            .unwrap();
        assert!(c.time_skipping);
        let e = Config::default()
            .with_vars(&[("CAREPATH_LOG", "debug")])
            .unwrap_err();
        assert!(e.to_string().contains("CAREPATH_LOG"), "{e}");
    }

    #[test]
    fn layers_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("c.toml", "listen = \"0.0.0.0:1\"\ndb_max_connections = 3")?;
            jail.set_env("CAREPATH_LISTEN", "127.0.0.1:2");
            jail.set_env("CAREPATH_LOG", "debug");
            jail.set_env("CAREPATH_TEST_POSTGRES_URL", "postgres://x");
            let c = Config::load(Some(&"c.toml".into()), &Overrides::default()).map_err(|e| *e)?;
            assert_eq!(c.listen, "127.0.0.1:2");
            assert_eq!(c.db_max_connections, 3);
            let flags = Overrides {
                listen: Some("127.0.0.1:3".into()),
                ..Default::default()
            };
            let c = Config::load(Some(&"c.toml".into()), &flags).map_err(|e| *e)?;
            assert_eq!(c.listen, "127.0.0.1:3");
            assert_eq!(c.database_url, Config::default().database_url);
            assert!(!c.time_skipping);
            let flags = Overrides {
                time_skipping: Some(true),
                ..Default::default()
            };
            let c = Config::load(Some(&"c.toml".into()), &flags).map_err(|e| *e)?;
            assert!(c.time_skipping, "--time-skipping");
            Ok(())
        });
    }

    #[test]
    fn unknown_environment_variables_are_not_ours() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("CAREPATH_BIN", "/usr/local/bin/carepath");
            jail.set_env("CAREPATH_RELAY_POLL_MS", "250");
            let c = Config::load(None, &Overrides::default()).map_err(|e| *e)?;
            assert_eq!(c.relay_poll_ms, 250);
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_errors() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("c.toml", "lisen = \"x\"")?;
            assert!(Config::load(Some(&"c.toml".into()), &Overrides::default()).is_err());
            Ok(())
        });
    }
}
