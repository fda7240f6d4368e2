//! What a run prints: the cohort, the commands, the events by type, the invariants, the
//! measures, the time and the memory it took.

use crate::check::Invariant;
use crate::model::Stats;
use carepath_engine::Engine;
use carepath_engine::domain::{Actor, Role};
use carepath_engine::ids::OrgId;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The relay's side of the event count (`--amqp-url`), filled in by the caller that ran it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "broker", rename_all = "snake_case")]
pub enum BrokerCount {
    /// No broker: the comparison is skipped.
    Skipped,
    /// Events the relay published (each acked by the broker with nothing returned).
    Published { published: u64 },
}

/// A run's report. Everything but `wall_seconds` and `peak_memory_kb` is the same for the
/// same seed and options.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub clients: u32,
    pub days: u32,
    pub seed: u64,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub backend: String,
    pub commands: u64,
    pub commands_by_name: BTreeMap<String, u64>,
    pub expected_refusals: BTreeMap<String, u64>,
    pub unexpected_refusals: BTreeMap<String, u64>,
    pub admissions: u64,
    pub readmissions: u64,
    pub bed_waits: u64,
    pub timers_fired: u64,
    pub slots_offered: u64,
    pub events: u64,
    pub events_by_type: BTreeMap<String, u64>,
    pub invariants: Vec<Invariant>,
    pub broker: BrokerCount,
    pub measures: String,
    pub wall_seconds: f64,
    pub peak_memory_kb: Option<u64>,
}

impl Report {
    pub(crate) fn stats(&mut self, s: Stats) {
        self.commands = s.commands.values().sum();
        self.commands_by_name = s
            .commands
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        self.expected_refusals = s.expected_refusals;
        self.unexpected_refusals = s.unexpected_refusals;
        self.admissions = s.admissions;
        self.readmissions = s.readmissions;
        self.bed_waits = s.bed_waits;
        self.timers_fired = s.timers_fired;
        self.slots_offered = s.slots_offered;
    }

    /// Compare the store's events with what the relay published: an invariant of its own,
    /// skipped (and saying so) without a broker.
    pub fn set_broker(&mut self, broker: BrokerCount) {
        self.invariants.retain(|i| i.name != crate::check::BROKER);
        let inv = match &broker {
            BrokerCount::Skipped => {
                Invariant::skipped(crate::check::BROKER, "no --amqp-url: the relay was not run")
            }
            BrokerCount::Published { published } => {
                let mut inv = Invariant::new(crate::check::BROKER);
                inv.checked = self.events;
                if *published != self.events {
                    inv.failures = self.events.abs_diff(*published);
                    inv.examples.push(format!(
                        "{} events in the store, {published} published",
                        self.events
                    ));
                }
                inv
            }
        };
        self.invariants.push(inv);
        self.broker = broker;
    }

    /// Whether every invariant that was checked holds.
    pub fn passed(&self) -> bool {
        self.invariants.iter().all(Invariant::holds)
    }

    /// The invariants that failed.
    pub fn failed(&self) -> Vec<&Invariant> {
        self.invariants.iter().filter(|i| !i.holds()).collect()
    }

    /// Everything a seed decides (no wall time, no memory): what two runs with one seed
    /// must print alike.
    pub fn body(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "carepath simulate: {} clients, {} days ({} to {}), seed {}, {}",
            self.clients,
            self.days,
            self.start.format("%Y-%m-%d"),
            self.end.format("%Y-%m-%d"),
            self.seed,
            self.backend
        );
        let _ = writeln!(
            o,
            "admissions: {} ({} readmissions); a day's wait for a bed: {} times",
            self.admissions, self.readmissions, self.bed_waits
        );
        let _ = writeln!(
            o,
            "commands run: {} (and {} timers fired, {} freed slots offered by the engine)",
            self.commands, self.timers_fired, self.slots_offered
        );
        for (name, n) in &self.commands_by_name {
            let _ = writeln!(o, "  {name:<26} {n:>9}");
        }
        let _ = writeln!(
            o,
            "refused as the model expects (full providers, answers after the deadline or after another provider accepted): {}",
            self.expected_refusals.values().sum::<u64>()
        );
        for (what, n) in &self.expected_refusals {
            let _ = writeln!(o, "  {what:<44} {n:>7}");
        }
        let unexpected: u64 = self.unexpected_refusals.values().sum();
        let _ = writeln!(o, "refused unexpectedly: {unexpected}");
        for (what, n) in &self.unexpected_refusals {
            let _ = writeln!(o, "  {what:<44} {n:>7}");
        }
        let _ = writeln!(o, "events: {}", self.events);
        for (t, n) in &self.events_by_type {
            let _ = writeln!(o, "  {t:<34} {n:>9}");
        }
        let _ = writeln!(o, "invariants:");
        for i in &self.invariants {
            let status = match (&i.skipped, i.holds()) {
                (Some(_), _) => "skip",
                (None, true) => " ok ",
                (None, false) => "FAIL",
            };
            let detail = match &i.skipped {
                Some(why) => format!("skipped: {why}"),
                None => format!("{} checked, {} failed", i.checked, i.failures),
            };
            let _ = writeln!(o, "  [{status}] {} ({detail})", i.name);
            for e in &i.examples {
                let _ = writeln!(o, "         {e}");
            }
        }
        o.push_str(&self.measures);
        o
    }

    /// The body, then the time and memory the run took.
    pub fn text(&self) -> String {
        let mut o = self.body();
        let _ = writeln!(
            o,
            "wall time: {:.1} s; peak memory (VmHWM): {}",
            self.wall_seconds,
            self.peak_memory_kb
                .map(|kb| format!("{:.1} MB", kb as f64 / 1024.0))
                .unwrap_or_else(|| "unknown".into())
        );
        o
    }
}

/// The continuity measures over the simulated window (items starting in it, judged at its
/// end) as a table, appended to the report — part of what a seed must reproduce. Client ids
/// behind the misses are counted, not listed; providers are named.
pub async fn print_measures(
    engine: &Engine,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    out: &mut String,
) -> Result<(), crate::Error> {
    let admin = Actor::new(OrgId(uuid::Uuid::nil()), Role::Admin);
    let m = engine.measures(&admin, from, to, None, None).await?;
    let names = carepath_report::provider_names(engine, &m).await?;
    let mut table = Vec::new();
    carepath_report::write_table(&m, &names, &mut table)?;
    out.push_str(&String::from_utf8_lossy(&table));
    Ok(())
}

/// The process's peak resident set (`VmHWM` in /proc/self/status), in kB.
pub fn peak_memory_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
