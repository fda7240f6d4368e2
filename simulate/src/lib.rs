//! `carepath simulate`: a synthetic cohort walked through the real engine and store on a
//! skipped clock, checking the invariants the engine promises.
//!
//! The network ([`network`]) is registered through the engine's administration; each client
//! ([`model`]) registers, consents, is assessed and admitted, referred on (to several
//! providers at once, who acknowledge, accept, decline with a reason, waitlist, answer late or
//! not at all), moves, arrives or does not, relapses and steps up, leaves against advice or is
//! discharged by the program, is discharged as planned with aftercare booked, attends or
//! misses it, and takes buprenorphine, methadone or XR-naltrexone with refills, doses and
//! injections picked up or missed — every change an `Engine::execute` of a real command by a
//! real actor (a case manager, a partner, a coordinator), on the engine's skipped clock: from
//! one moment of the agenda to the next, `Engine::advance_clock_to` fires every timer due on
//! the way at its due time and offers freed slots, as it does for `serve --time-skipping`.
//! The report ([`report`]) ends with the invariants ([`check`]).
//!
//! **Boundary:** reaches only the engine (`tests/it/architecture.rs`); never a row of the
//! store directly.
//! **Invariant:** the same seed and options give the same report but for the wall time and
//! the memory: one random stream per client (`rng`), decisions that take a slot made one
//! after another in client order, everything else concurrently per moment (which changes
//! only when the writes reach the database, not what they are).

pub mod check;
pub mod model;
pub mod network;
pub mod rates;
pub mod report;
pub mod rng;

pub use rates::Rates;
pub use report::{BrokerCount, Report, print_measures};

use carepath_engine::Engine;
use carepath_engine::ids::{ClientId, StaffId};
use chrono::{DateTime, Duration, Utc};
use futures_util::StreamExt as _;
use model::{Action, Agent, Item, Stats, World};
use std::collections::BTreeMap;

/// Why a simulation could not run (a failed invariant is not an error: it is in the
/// [`Report`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the engine failed: {0}")]
    Engine(#[from] carepath_engine::Error),
    #[error("the database is not empty ({0}): simulate needs a new one")]
    NotEmpty(String),
    #[error("the pathway has no level \"{0}\": simulate walks the default ASAM continuum")]
    Pathway(String),
    #[error("{0}")]
    Options(String),
    #[error("writing the report: {0}")]
    Report(#[from] std::io::Error),
    #[error(
        "the engine keeps the wall clock: simulate runs on a skipped clock (an engine opened \
         with TimeMode::Skipping)"
    )]
    WallClock,
    #[error(
        "the database's clock stands at {stands}, not at the start ({start}): use a new database"
    )]
    Clock {
        stands: DateTime<Utc>,
        start: DateTime<Utc>,
    },
}

/// What to simulate.
#[derive(Clone, Debug)]
pub struct Options {
    pub clients: u32,
    pub days: u32,
    pub seed: u64,
    /// The simulated clock's start (midnight UTC is best: the model acts on whole hours).
    pub start: DateTime<Utc>,
    /// Clients acting at once at one moment (their writes share SQLite commits).
    pub concurrency: usize,
    /// Names the database in the report (`sqlite`, `postgres`).
    pub backend: String,
    pub rates: Rates,
}

impl Options {
    pub fn check(&self) -> Result<(), Error> {
        if !(1..=1_000_000).contains(&self.clients) {
            return Err(Error::Options("--clients runs from 1 to 1000000".into()));
        }
        if !(1..=3650).contains(&self.days) {
            return Err(Error::Options("--days runs from 1 to 3650".into()));
        }
        if self.concurrency == 0 {
            return Err(Error::Options("concurrency is at least 1".into()));
        }
        self.rates.check().map_err(Error::Options)
    }
}

/// Agenda keys: when, which client, and the order entries were made in.
type Key = (DateTime<Utc>, u32, u64);

/// Walk the cohort through `engine`, which must hold nothing yet and run on a skipped clock
/// standing at `opts.start` (`Engine::open_in` with `TimeMode::Skipping { start }`): the
/// database is marked for time skipping, so a normal `serve` refuses it, and it is left at
/// the end of the window.
pub async fn run(engine: &Engine, opts: &Options) -> Result<Report, Error> {
    let started = std::time::Instant::now();
    opts.check()?;
    let Some(stands) = engine.time_skipping() else {
        return Err(Error::WallClock);
    };
    let admin = carepath_engine::domain::Actor::new(
        carepath_engine::ids::OrgId(uuid::Uuid::nil()),
        carepath_engine::domain::Role::Admin,
    );
    if !engine.census(&admin).await?.is_empty() {
        return Err(Error::NotEmpty("it has providers".into()));
    }
    if !engine
        .list_clients(&admin, None, None, None, None, 1)
        .await?
        .is_empty()
    {
        return Err(Error::NotEmpty("it has clients".into()));
    }
    if stands != opts.start {
        return Err(Error::Clock {
            stands,
            start: opts.start,
        });
    }
    let mut rng = rng::Rng::new(opts.seed, 0);
    let net = network::Network::build(
        engine,
        &mut rng,
        opts.clients,
        opts.days,
        opts.rates.capacity_factor,
    )
    .await?;
    let end = opts.start + Duration::days(i64::from(opts.days));
    let world = World {
        engine,
        net: &net,
        rates: &opts.rates,
        stats: Default::default(),
        end,
    };

    let mut agenda: BTreeMap<Key, Item> = BTreeMap::new();
    let mut pending: BTreeMap<u32, u32> = BTreeMap::new();
    let mut made: u64 = 0;
    let mut add = |agenda: &mut BTreeMap<Key, Item>,
                   pending: &mut BTreeMap<u32, u32>,
                   idx: u32,
                   at: DateTime<Utc>,
                   item: Item| {
        made += 1;
        agenda.insert((at, idx, made), item);
        *pending.entry(idx).or_default() += 1;
    };
    for idx in 0..opts.clients {
        let day = rng.between(0, i64::from(opts.days) - 1);
        let hour = rng.between(8, 17) as u32;
        let at = model::at_hour(opts.start, day, hour);
        add(
            &mut agenda,
            &mut pending,
            idx,
            at,
            Item {
                action: Action::Intake,
                generation: None,
            },
        );
    }
    let mut roster: Vec<Option<(ClientId, StaffId)>> = vec![None; opts.clients as usize];
    let mut agents: BTreeMap<u32, Agent> = BTreeMap::new();

    while let Some((&(t, _, _), _)) = agenda.first_key_value() {
        if t > end {
            break;
        }
        // An entry an action put before the clock (a booking earlier on its day) is done
        // at the clock's time: the clock never goes back.
        let stands = engine.time_skipping().unwrap_or(t);
        let moved = engine.advance_clock_to(t.max(stands)).await?;
        world.stats.lock().expect("stats").advanced(&moved);
        // Everything due now, per client.
        let mut now: BTreeMap<u32, Vec<Item>> = BTreeMap::new();
        while let Some(entry) = agenda.first_entry() {
            if entry.key().0 != t {
                break;
            }
            let ((_, idx, _), item) = entry.remove_entry();
            *pending.get_mut(&idx).expect("counted") -= 1;
            now.entry(idx).or_default().push(item);
        }
        let mut take = |idx: u32| {
            agents.remove(&idx).unwrap_or_else(|| {
                let a = Agent::new(idx, opts.seed, &net);
                roster[idx as usize] = Some((a.id, a.case_manager.staff.expect("a person")));
                a
            })
        };
        let (serial, concurrent): (Vec<_>, Vec<_>) = now
            .into_iter()
            .map(|(idx, items)| (idx, take(idx), items))
            .partition(|(_, _, items)| items.iter().any(|i| i.action.takes_capacity()));
        let world = &world;
        let turn = |(idx, mut agent, items): (u32, Agent, Vec<Item>)| async move {
            let mut next = Vec::new();
            for item in items {
                if agent.current(&item) {
                    next.extend(agent.act(world, item, t).await?);
                }
            }
            Ok::<_, Error>((idx, agent, next))
        };
        let mut done: Vec<(u32, Agent, model::Next)> = Vec::new();
        let results: Vec<Result<_, Error>> =
            futures_util::stream::iter(concurrent.into_iter().map(turn))
                .buffer_unordered(opts.concurrency)
                .collect()
                .await;
        for r in results {
            done.push(r?);
        }
        // Who gets a slot is decided one client after another, in client order.
        for job in serial {
            done.push(turn(job).await?);
        }
        done.sort_by_key(|(idx, _, _)| *idx);
        for (idx, agent, next) in done {
            for (at, item) in next {
                add(&mut agenda, &mut pending, idx, at, item);
            }
            if pending.get(&idx).copied().unwrap_or(0) > 0 {
                agents.insert(idx, agent);
            } else {
                pending.remove(&idx);
            }
        }
        // Slots this moment's work freed go to waitlists now, as the sweeper would give them
        // (the clock does not move: that is the next advance's).
        let offered = engine.offer_freed_slots().await? as u64;
        world.stats.lock().expect("stats").slots_offered += offered;
    }
    let moved = engine.advance_clock_to(end).await?;
    let stats: Stats = {
        let mut s = world.stats.lock().expect("stats").clone();
        s.advanced(&moved);
        s
    };
    drop(agents);
    let roster: Vec<(ClientId, StaffId)> = roster.into_iter().flatten().collect();
    let audit = check::audit(engine, &admin, &roster, end).await?;
    let mut measures = String::new();
    print_measures(engine, opts.start, end, &mut measures).await?;
    let mut report = Report {
        clients: opts.clients,
        days: opts.days,
        seed: opts.seed,
        start: opts.start,
        end,
        backend: opts.backend.clone(),
        commands: 0,
        commands_by_name: BTreeMap::new(),
        expected_refusals: BTreeMap::new(),
        unexpected_refusals: BTreeMap::new(),
        admissions: 0,
        readmissions: 0,
        bed_waits: 0,
        timers_fired: 0,
        slots_offered: 0,
        events: audit.events,
        events_by_type: audit.events_by_type,
        invariants: audit.invariants,
        broker: BrokerCount::Skipped,
        measures,
        wall_seconds: 0.0,
        peak_memory_kb: None,
    };
    report.stats(stats);
    report.set_broker(BrokerCount::Skipped);
    report.wall_seconds = started.elapsed().as_secs_f64();
    report.peak_memory_kb = report::peak_memory_kb();
    Ok(report)
}
