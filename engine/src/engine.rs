//! The engine: one command = load → decide (pure) → commit (one transaction).

use crate::clock::{Clock, SkippedClock, SystemClock};
use crate::dom::{self as domain, Actor, ClientState, Command, Context, DecisionError, Role};
use crate::error::Error;
use crate::ids::*;
use crate::live::Published;
use crate::pathway::Pathway;
use crate::store::{CensusRow, Commit, DueTimer, IdempotencyRecord, Store, StoreError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio::sync::{Notify, broadcast};

/// A command as a caller sends it.
#[derive(Clone, Debug)]
pub struct Request {
    /// `None` only with `RegisterClient`, for which the engine makes the id.
    pub client: Option<ClientId>,
    pub actor: Actor,
    pub expected_version: Option<i64>,
    /// The same key with the same request returns the first result and does nothing more.
    pub idempotency_key: Option<String>,
    pub command: Command,
}

impl Request {
    /// A command the engine sends itself (a timer come due, a freed slot): the system
    /// actor, no pinned version, no idempotency key.
    pub(crate) fn by_engine(client: ClientId, command: Command) -> Self {
        Request {
            client: Some(client),
            actor: Actor::new(OrgId(uuid::Uuid::nil()), Role::System),
            expected_version: None,
            idempotency_key: None,
            command,
        }
    }
}

/// What an accepted command did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub client: ClientId,
    /// The client's version after the command.
    pub version: i64,
    pub events: Vec<EventRef>,
    /// True when this is the stored answer to an earlier request with the same key.
    #[serde(default)]
    pub replayed: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventRef {
    pub id: EventId,
    pub seq: i64,
    pub event_type: String,
}

pub const MAX_IDEMPOTENCY_KEY: usize = 200;

/// An idempotency key: 1 to [`MAX_IDEMPOTENCY_KEY`] bytes, no control character (whichever
/// adapter passed it on).
fn check_idempotency_key(key: &str) -> Result<(), Error> {
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY {
        return Err(Error::BadInput(format!(
            "an idempotency key has 1 to {MAX_IDEMPOTENCY_KEY} bytes"
        )));
    }
    Ok(domain::input::check_text("the idempotency key", key)?)
}

/// Sign-in attempts one address may make: 60 a minute, in bursts of 30 (each step of a
/// sign-in is one; a ward's shared address signs many people in at shift change), past which
/// a script guessing passwords across accounts is held to one a second — and each account
/// locks on its own besides.
const SIGN_IN_QUOTA: governor::Quota =
    governor::Quota::per_minute(std::num::NonZeroU32::new(60).unwrap())
        .allow_burst(std::num::NonZeroU32::new(30).unwrap());

/// The engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

/// How long organization facts (existence, levels offered, MAT services provided) are reused
/// without asking the database. Organizations are never deleted; a level newly offered or a
/// MAT service changed elsewhere is seen within this time (at once in the process that set
/// it).
pub const ORG_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(10);

struct Inner {
    orgs: std::sync::Mutex<std::collections::HashMap<OrgId, (domain::OrgInfo, std::time::Instant)>>,
    store: Store,
    pathway: Arc<Pathway>,
    clock: Arc<dyn Clock>,
    /// The clock when it is a skipped one (`serve --time-skipping`, a simulation), which
    /// only [`Engine::advance_clock`] and [`Engine::advance_clock_to`] move.
    skipped: Option<Arc<SkippedClock>>,
    /// Held while timers fire on a skipped clock: an advance and the sweeper take turns, so
    /// timers fire in due order and the clock never goes back.
    advancing: tokio::sync::Mutex<()>,
    committed: Notify,
    /// Counts commits heard (as `committed` is signalled), for whoever redraws on any change.
    changes: tokio::sync::watch::Sender<u64>,
    /// Sign-in attempts per address (every step counts), in this process.
    sign_in_limiter: governor::DefaultKeyedRateLimiter<std::net::IpAddr>,
    /// The configured idle timeout of client-record sessions, in seconds (0: the default).
    idle_timeout_secs: std::sync::atomic::AtomicI64,
    live: broadcast::Sender<Arc<Published>>,
    /// Organizations' own notification rules, read again after a while.
    notice_rules: crate::notices::RulesCache,
    /// Signalled when notices were written here: wakes this process's notifier.
    noticed: Notify,
    /// Commands paced while events are published late.
    pace: crate::pace::Pace,
}

impl Engine {
    /// Connect to the database at `database_url` (`sqlite://path?mode=rwc` or
    /// `postgres://…`), bring its schema up to date, and build the engine on it.
    pub async fn open(
        database_url: &str,
        max_connections: u32,
        pathway: Arc<Pathway>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, Error> {
        let store = Store::connect(database_url, max_connections).await?;
        store.migrate().await?;
        Ok(Self::new(store, pathway, clock, None))
    }

    pub(crate) fn new(
        store: Store,
        pathway: Arc<Pathway>,
        clock: Arc<dyn Clock>,
        skipped: Option<Arc<SkippedClock>>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                orgs: Default::default(),
                store,
                pathway,
                clock,
                skipped,
                advancing: tokio::sync::Mutex::new(()),
                committed: Notify::new(),
                changes: tokio::sync::watch::channel(0).0,
                live: broadcast::channel(4096).0,
                sign_in_limiter: governor::RateLimiter::keyed(SIGN_IN_QUOTA),
                idle_timeout_secs: std::sync::atomic::AtomicI64::new(0),
                notice_rules: Default::default(),
                noticed: Notify::new(),
                pace: Default::default(),
            }),
        }
    }

    /// The organizations among `ids`, from the cache when every one is fresh in it.
    pub(crate) async fn orgs(&self, ids: &[OrgId]) -> Result<domain::OrgDirectory, Error> {
        {
            let cache = self.inner.orgs.lock().expect("org cache");
            let fresh: Option<Vec<_>> = ids
                .iter()
                .map(|id| {
                    cache
                        .get(id)
                        .filter(|(_, at)| at.elapsed() < ORG_CACHE_TTL)
                        .map(|(info, _)| (*id, info.clone()))
                })
                .collect();
            if let Some(found) = fresh {
                return Ok(domain::OrgDirectory(found.into_iter().collect()));
            }
        }
        let dir = self.inner.store.load_orgs(ids).await?;
        let mut cache = self.inner.orgs.lock().expect("org cache");
        let now = std::time::Instant::now();
        for (id, info) in &dir.0 {
            cache.insert(*id, (info.clone(), now));
        }
        Ok(dir)
    }

    /// Among the organizations the clients' consents name, those that coordinate care (offer
    /// no level of care): what [`domain::audience::audience`] sends coordination events to.
    pub(crate) async fn coordinating_orgs<'a>(
        &self,
        states: impl Iterator<Item = &'a ClientState>,
    ) -> Result<std::collections::BTreeSet<OrgId>, Error> {
        let mut named: Vec<OrgId> = states
            .flat_map(|s| s.consents.iter().flat_map(|c| c.recipients.iter().copied()))
            .collect();
        named.sort();
        named.dedup();
        let dir = self.orgs(&named).await?;
        Ok(dir
            .0
            .values()
            .filter(|o| o.levels.is_empty())
            .map(|o| o.id)
            .collect())
    }

    /// The staff members among `ids` with a live token (none asked: no query).
    async fn staff(&self, ids: &[StaffId]) -> Result<domain::StaffDirectory, Error> {
        let mut dir = domain::StaffDirectory::default();
        for row in self
            .inner
            .store
            .staff_members(ids, self.inner.clock.now())
            .await?
        {
            if let Some(role) = Role::parse(&row.role) {
                dir.0
                    .insert(row.staff, domain::StaffMember { org: row.org, role });
            }
        }
        Ok(dir)
    }

    /// A record number is the organization's one client's: naming another client's is bad
    /// input (the message names neither the number nor the client). The unique index backs
    /// this against a race.
    async fn check_record_number(
        &self,
        command: &Command,
        state: Option<&ClientState>,
        client: ClientId,
    ) -> Result<(), Error> {
        let (home_org, identity) = match (command, state) {
            (
                Command::RegisterClient {
                    home_org,
                    identity: Some(i),
                    ..
                },
                _,
            ) => (*home_org, i),
            (Command::RecordIdentity { identity }, Some(s)) => (s.home_org, identity),
            _ => return Ok(()),
        };
        let Some(number) = &identity.record_number else {
            return Ok(());
        };
        match self
            .inner
            .store
            .record_number_holder(home_org, number)
            .await?
        {
            Some(holder) if holder != client => Err(Error::BadInput(
                "that record number is already another client's in this organization".into(),
            )),
            _ => Ok(()),
        }
    }

    pub(crate) fn forget_org(&self, id: OrgId) {
        self.inner.orgs.lock().expect("org cache").remove(&id);
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(crate) fn sign_in_limiter(&self) -> &governor::DefaultKeyedRateLimiter<std::net::IpAddr> {
        &self.inner.sign_in_limiter
    }

    /// The idle timeout of sessions of the roles that read client records (configuration:
    /// `session_idle_minutes`); `None` keeps the default (30 minutes).
    pub fn set_idle_timeout(&self, idle: Option<chrono::Duration>) {
        self.inner.idle_timeout_secs.store(
            idle.map_or(0, |d| d.num_seconds().max(60)),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    pub(crate) fn idle_timeout(&self) -> Option<chrono::Duration> {
        match self
            .inner
            .idle_timeout_secs
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            0 => None,
            s => Some(chrono::Duration::seconds(s)),
        }
    }

    pub(crate) fn pace(&self) -> &crate::pace::Pace {
        &self.inner.pace
    }

    pub fn pathway(&self) -> &Pathway {
        &self.inner.pathway
    }

    pub fn clock(&self) -> &dyn Clock {
        &*self.inner.clock
    }

    /// The skipped clock, when the engine keeps one.
    pub(crate) fn skipped(&self) -> Option<&SkippedClock> {
        self.inner.skipped.as_deref()
    }

    /// Taken while timers fire on a skipped clock (an advance, or the sweeper's pass).
    pub(crate) fn advancing(&self) -> &tokio::sync::Mutex<()> {
        &self.inner.advancing
    }

    /// Signalled after every commit (the relay's in-process wake-up; a signal given while
    /// nobody waits is kept for the next wait).
    pub(crate) fn committed(&self) -> &Notify {
        &self.inner.committed
    }

    /// A commit was made here (or, heard through LISTEN, by another process): wake the relay
    /// and whoever watches [`Self::changes`].
    pub(crate) fn signal_commit(&self) {
        self.inner.committed.notify_one();
        self.inner.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub(crate) fn rules_cache(&self) -> &crate::notices::RulesCache {
        &self.inner.notice_rules
    }

    /// Notices were written here: wake this process's notifier.
    pub(crate) fn wake_notifier(&self) {
        self.inner.noticed.notify_one();
    }

    /// Notices were written or read outside a commit (told, escalated, read): wake the
    /// notifier, and redraw pages.
    pub(crate) fn notices_changed(&self) {
        self.wake_notifier();
        self.inner.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Wait until notices are written in this process (or a short while passes: another
    /// process may have written some) — the notifier's wake-up.
    pub async fn next_notice(&self, at_most: std::time::Duration) {
        let _ = tokio::time::timeout(at_most, self.inner.noticed.notified()).await;
    }

    /// A counter that goes up after every commit this process makes or hears of, and says
    /// nothing of what was committed: for a page that redraws what it shows when anything
    /// may have changed (the console's census board).
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    /// Is the database answering?
    pub async fn ping(&self) -> Result<(), Error> {
        Ok(self.inner.store.ping().await?)
    }

    pub(crate) fn live(&self) -> &broadcast::Sender<Arc<Published>> {
        &self.inner.live
    }

    /// Run one command, whichever adapter asked (GraphQL, the console's forms, the inbound
    /// queue): counted in `carepath_commands_total{command, outcome}` and timed in
    /// `carepath_command_seconds{command}`.
    pub async fn execute(&self, req: Request) -> Result<Outcome, Error> {
        let name = req.command.name();
        let started = std::time::Instant::now();
        self.paced().await;
        let result = self.execute_inner(req, None).await;
        let outcome = if result.is_ok() { "ok" } else { "rejected" };
        metrics::counter!("carepath_commands_total", "command" => name, "outcome" => outcome)
            .increment(1);
        metrics::histogram!("carepath_command_seconds", "command" => name)
            .record(started.elapsed().as_secs_f64());
        result
    }

    /// A caller that pinned no version means "apply to the latest": when another command
    /// changed the client between our load and our commit, load, decide and commit again
    /// (at most [`MAX_RACE_RETRIES`] times, after a short jittered pause). The answer is then
    /// that of the command applied to the latest state — which may be a refusal, such as a
    /// move that no longer applies — and `Conflict` only when the races never end. A pinned
    /// `expectedVersion` that is stale is a conflict at once; a timer's firing is not retried
    /// (the next sweep sees the client as it is).
    async fn execute_inner(
        &self,
        req: Request,
        fired_timer: Option<TimerId>,
    ) -> Result<Outcome, Error> {
        // Bad input is refused before anything is read (an unknown level is BAD_INPUT, not
        // the NOT_FOUND of the client it names), once, not on every retry.
        let checked = domain::input::Checked::new(req.command.clone(), &self.inner.pathway)?;
        if let Some(key) = &req.idempotency_key {
            check_idempotency_key(key)?;
        }
        let retry = req.expected_version.is_none() && fired_timer.is_none();
        let mut attempt = 0;
        loop {
            match self.attempt(&req, &checked, fired_timer).await {
                Err(Error::Conflict(_)) if retry && attempt < MAX_RACE_RETRIES => {
                    attempt += 1;
                    metrics::counter!("carepath_version_race_retries_total").increment(1);
                    tokio::time::sleep(race_pause(attempt)).await;
                }
                other => return other,
            }
        }
    }

    async fn attempt(
        &self,
        req: &Request,
        checked: &domain::input::Checked,
        fired_timer: Option<TimerId>,
    ) -> Result<Outcome, Error> {
        let req = req.clone();
        let store = &self.inner.store;
        if req.expected_version.is_some_and(|v| v < 0) {
            return Err(Error::BadInput(
                "expectedVersion is a client version: 0 or more".into(),
            ));
        }
        let client = match (&req.command, req.client) {
            (Command::RegisterClient { .. }, id) => id.unwrap_or_default(),
            (_, Some(id)) => id,
            // An answer to a referral names the referral; its client is the engine's to find
            // (after the caller was authenticated: the adapter built the actor first).
            (
                Command::AcknowledgeReferral { referral }
                | Command::AcceptReferral { referral }
                | Command::DeclineReferral { referral, .. }
                | Command::WaitlistReferral { referral }
                | Command::WithdrawReferral { referral },
                None,
            ) => self.client_of_referral(*referral).await?,
            (_, None) => return Err(Error::BadInput("a client id is required".into())),
        };
        // A referral's answer is hashed with the client it was found to be about, as when
        // the caller named it (a new client's id is the engine's, not part of the request).
        let mut req = req;
        if !matches!(req.command, Command::RegisterClient { .. }) {
            req.client = Some(client);
        }
        let hash = request_hash(&req);
        if let Some(key) = &req.idempotency_key
            && let Some(previous) = self.replay(req.actor.org, key, &hash).await?
        {
            return Ok(previous);
        }

        let stage = std::time::Instant::now();
        let state = store.load_client(client).await?;
        self.check_record_number(&req.command, state.as_ref(), client)
            .await?;
        let orgs = self.orgs(&req.command.orgs(state.as_ref())).await?;
        let staff = self.staff(&req.command.staff()).await?;
        metrics::histogram!("carepath_stage_seconds", "stage" => "load")
            .record(stage.elapsed().as_secs_f64());
        let stage = std::time::Instant::now();
        let now = self.inner.clock.now();
        let ctx = Context {
            pathway: &self.inner.pathway,
            now,
            orgs: &orgs,
            staff: &staff,
        };
        let decision = domain::decide_checked(
            state.as_ref(),
            client,
            req.actor,
            req.expected_version,
            checked,
            &ctx,
        );
        metrics::histogram!("carepath_stage_seconds", "stage" => "decide")
            .record(stage.elapsed().as_secs_f64());
        let decision = decision?;
        let outcome = Outcome {
            client,
            version: decision.state.version,
            events: decision
                .events
                .iter()
                .map(|e| EventRef {
                    id: e.id,
                    seq: e.seq,
                    event_type: e.event_type().to_owned(),
                })
                .collect(),
            replayed: false,
        };
        let idempotency = req.idempotency_key.as_ref().map(|key| IdempotencyRecord {
            actor_org: req.actor.org,
            key: key.clone(),
            request_hash: hash.clone(),
            response: serde_json::to_value(&outcome).expect("outcome serializes"),
        });
        let (notices, settled) = self.notices_of(&decision, now).await?;
        let commit = Commit {
            prev_version: state.as_ref().map(|s| s.version),
            decision: &decision,
            fired_timer,
            idempotency,
            now,
            wall: SystemClock.now(),
            notices: &notices,
            settled: &settled,
        };
        let stage = std::time::Instant::now();
        let committed = store.commit(commit).await;
        metrics::histogram!("carepath_stage_seconds", "stage" => "commit")
            .record(stage.elapsed().as_secs_f64());
        match committed {
            Ok(()) => {
                // The commit's own signal below redraws pages; the notifier is woken here.
                if !notices.is_empty() {
                    self.wake_notifier();
                }
            }
            // A twin request with the same key committed first: answer as it did.
            Err(StoreError::Conflict(_)) if req.idempotency_key.is_some() => {
                let key = req.idempotency_key.as_deref().expect("checked");
                if let Some(previous) = self.replay(req.actor.org, key, &hash).await? {
                    return Ok(previous);
                }
                return Err(Error::Conflict(format!(
                    "client {client} changed concurrently; reload and retry"
                )));
            }
            Err(e) => return Err(e.into()),
        }
        self.signal_commit();
        tracing::info!(
            client = %client,
            command = req.command.name(),
            version = outcome.version,
            events = outcome.events.len(),
            "command committed"
        );
        Ok(outcome)
    }

    async fn replay(&self, org: OrgId, key: &str, hash: &str) -> Result<Option<Outcome>, Error> {
        match self.inner.store.find_idempotent(org, key).await? {
            None => Ok(None),
            Some(stored) if stored.request_hash == hash => {
                let mut outcome: Outcome = serde_json::from_value(stored.response)
                    .map_err(|e| Error::Storage(StoreError::Corrupt(e.to_string())))?;
                outcome.replayed = true;
                Ok(Some(outcome))
            }
            Some(_) => Err(Error::IdempotencyKeyReused),
        }
    }

    async fn client_of_referral(&self, referral: ReferralId) -> Result<ClientId, Error> {
        self.inner
            .store
            .referral_row(referral)
            .await?
            .map(|r| r.client)
            .ok_or_else(|| Error::NotFound(format!("referral {referral}")))
    }

    /// Fire the timers that are due; returns how many produced events. On a skipped clock
    /// it waits for an advance under way to finish (which fired them in due order).
    pub async fn fire_due_timers(&self, limit: u64) -> Result<usize, Error> {
        let _turn = match self.skipped() {
            Some(_) => Some(self.inner.advancing.lock().await),
            None => None,
        };
        let now = self.inner.clock.now();
        let due = self.inner.store.due_timers(now, limit).await?;
        Ok(self.fire(due).await?.fired)
    }

    /// Fire these timers come due, one system command each, in the order given.
    pub(crate) async fn fire(&self, due: Vec<DueTimer>) -> Result<Firing, Error> {
        let mut done = Firing::default();
        for t in due {
            let req = Request::by_engine(t.client, Command::FireTimer { timer: t.kind });
            match self.execute_inner(req, Some(t.id)).await {
                Ok(_) => done.fired += 1,
                Err(Error::Rejected(DecisionError::StaleTimer(why))) => {
                    tracing::debug!(timer = %t.id, why, "stale timer dropped");
                    self.inner.store.mark_timer_stale(t.id).await?;
                    done.dropped += 1;
                }
                // Another process fired it, or the client moved meanwhile: next sweep.
                Err(Error::Conflict(_)) => done.raced += 1,
                Err(e) => {
                    tracing::warn!(timer = %t.id, error = %e, "timer failed");
                    done.failed.push(t.id);
                }
            }
        }
        Ok(done)
    }

    /// Give each slot neither occupied nor held to the head of its provider's waitlist for
    /// that level (level-triggered: whatever freed the slot, the next sweep sees it; a slot
    /// someone else took first is no longer offered). Returns how many were offered.
    pub async fn offer_freed_slots(&self) -> Result<usize, Error> {
        let heads = self.inner.store.waitlist_heads().await?;
        let mut offered = 0;
        for head in heads {
            let req = Request::by_engine(
                head.client,
                Command::OfferFreedSlot {
                    referral: head.referral,
                },
            );
            match self.execute_inner(req, None).await {
                Ok(_) => offered += 1,
                // Off the waitlist meanwhile, or the slot went to someone else first.
                Err(Error::Rejected(DecisionError::StaleTimer(_)))
                | Err(Error::NoCapacity { .. })
                | Err(Error::Conflict(_)) => {}
                Err(e) => {
                    tracing::warn!(referral = %head.referral, error = %e, "offering a freed slot failed");
                }
            }
        }
        Ok(offered)
    }

    // ---- reads ---------------------------------------------------------------------------

    /// A waitlisted referral's place on its provider's waitlist (1 = next); `None` when it is
    /// not waitlisted. For a referral the caller was allowed to read.
    pub async fn waitlist_position(&self, referral: ReferralId) -> Result<Option<u64>, Error> {
        Ok(self.inner.store.waitlist_position(referral).await?)
    }

    /// Per provider and level: capacity, occupancy, pending referrals — organizations'
    /// figures, no client in them; any signed-in role reads them (`policy::read_census`).
    pub async fn census(&self, actor: &Actor) -> Result<Vec<CensusRow>, Error> {
        domain::policy::read_census(actor)?;
        Ok(self.inner.store.census().await?)
    }
}

/// What became of timers given to [`Engine::fire`].
#[derive(Debug, Default)]
pub(crate) struct Firing {
    /// Fired: their events committed.
    pub fired: usize,
    /// No longer applied (marked stale, never offered again).
    pub dropped: usize,
    /// Lost a race (fired elsewhere, or the client changed meanwhile): still pending.
    pub raced: usize,
    /// Failed otherwise (logged): still pending.
    pub failed: Vec<TimerId>,
}

/// Retries of a command with no pinned version that lost a race to another writer.
pub const MAX_RACE_RETRIES: u32 = 12;

/// The pause before retry `attempt` (1, 2, …): up to 1, 2, 4, 8… ms, capped at 50 ms, at
/// random within that, so racing writers do not meet again in step.
pub(crate) fn race_pause(attempt: u32) -> std::time::Duration {
    let ceiling_us = (1000u64 << attempt.min(6)).min(50_000);
    let r = (uuid::Uuid::new_v4().as_u128() as u64) % ceiling_us;
    std::time::Duration::from_micros(ceiling_us / 4 + r * 3 / 4)
}

/// What makes two requests "the same" for idempotency: the command, the client when the
/// caller named it, and the expected version.
fn request_hash(req: &Request) -> String {
    let body = serde_json::json!({
        "client": req.client,
        "expected_version": req.expected_version,
        "command": req.command,
    });
    let digest = Sha256::digest(body.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
