//! The engine's promises, checked from what it recorded: each client's events (read as the
//! organization holding the record) and the timer table, one client at a time.

use crate::Error;
use carepath_engine::Engine;
use carepath_engine::domain::followup_due;
use carepath_engine::domain::{Actor, CareEvent, EventData, MissReason};
use carepath_engine::ids::{BookingId, ClientId, EpisodeId, EventId, ReferralId, StaffId, TimerId};
use carepath_engine::pathway::{DischargeKind, Gate, LevelId, Pathway, TransitionKind};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// Examples of a failure kept for the report.
const EXAMPLES: usize = 5;

/// One promise and how it fared.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Invariant {
    pub name: &'static str,
    /// How many cases were looked at.
    pub checked: u64,
    pub failures: u64,
    /// A few failures, by client id and what was wrong.
    pub examples: Vec<String>,
    /// Why it was not checked, when it was not.
    pub skipped: Option<String>,
}

impl Invariant {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            checked: 0,
            failures: 0,
            examples: Vec::new(),
            skipped: None,
        }
    }

    pub fn skipped(name: &'static str, why: impl Into<String>) -> Self {
        Self {
            skipped: Some(why.into()),
            ..Self::new(name)
        }
    }

    pub fn holds(&self) -> bool {
        self.failures == 0
    }

    fn case(&mut self, ok: bool, what: impl FnOnce() -> String) {
        self.checked += 1;
        if !ok {
            self.failures += 1;
            if self.examples.len() < EXAMPLES {
                self.examples.push(what());
            }
        }
    }
}

pub const PLANNED_DISCHARGES: &str = "every planned discharge had a booked aftercare appointment";
pub const MOUD_GAPS: &str = "no gated handoff left a MOUD gap day";
pub const REFERRAL_DEADLINES: &str = "every referral was answered or escalated by its deadline";
pub const TIMERS: &str =
    "every follow-up, review and arrival timer fired exactly once, on its due time";
pub const TIMER_TABLE: &str =
    "no timer due in the window is left pending, and each fired at its due time";
pub const BROKER: &str = "events in the store equal the events the relay published";

/// What the audit found.
#[derive(Clone, Debug, Default)]
pub struct Audit {
    pub events_by_type: BTreeMap<String, u64>,
    pub events: u64,
    pub invariants: Vec<Invariant>,
}

/// Read every client's events and the timer table, and check the promises up to `end`.
pub async fn audit(
    engine: &Engine,
    admin: &Actor,
    clients: &[(ClientId, StaffId)],
    end: DateTime<Utc>,
) -> Result<Audit, Error> {
    let pathway = engine.pathway();
    let mut planned = Invariant::new(PLANNED_DISCHARGES);
    let mut moud = Invariant::new(MOUD_GAPS);
    let mut referrals = Invariant::new(REFERRAL_DEADLINES);
    let mut timers = Invariant::new(TIMERS);
    let mut by_type: BTreeMap<String, u64> = BTreeMap::new();
    let mut total = 0;
    for (client, case_manager) in clients {
        let events = engine.read_events(admin, *client, 0, 1_000_000).await?;
        total += events.len() as u64;
        for e in &events {
            *by_type.entry(e.event_type().to_owned()).or_default() += 1;
        }
        let mut c = ClientAudit::new(pathway, *client, *case_manager, end);
        c.walk(
            &events,
            &mut planned,
            &mut moud,
            &mut referrals,
            &mut timers,
        );
    }
    let table = timer_table(engine, admin, end).await?;
    Ok(Audit {
        events_by_type: by_type,
        events: total,
        invariants: vec![planned, moud, referrals, timers, table],
    })
}

async fn timer_table(
    engine: &Engine,
    admin: &Actor,
    end: DateTime<Utc>,
) -> Result<Invariant, Error> {
    let mut inv = Invariant::new(TIMER_TABLE);
    let mut after: Option<TimerId> = None;
    loop {
        let rows = engine.timer_audit(admin, after, 2000).await?;
        let Some(last) = rows.last() else { break };
        after = Some(last.id);
        for t in rows {
            match t.status.as_str() {
                "pending" => inv.case(t.due_at > end, || {
                    format!(
                        "client {}: {} timer due {} never fired",
                        t.client,
                        t.kind.name(),
                        t.due_at
                    )
                }),
                "fired" => inv.case(t.fired_at == Some(t.due_at), || {
                    format!(
                        "client {}: {} timer due {} fired at {:?}",
                        t.client,
                        t.kind.name(),
                        t.due_at,
                        t.fired_at
                    )
                }),
                _ => {}
            }
        }
    }
    Ok(inv)
}

struct Pending {
    answer_by: DateTime<Utc>,
    done: bool,
}

/// One client's events replayed for the checks.
struct ClientAudit<'a> {
    pathway: &'a Pathway,
    client: ClientId,
    case_manager: StaffId,
    end: DateTime<Utc>,
    episode: Option<EpisodeId>,
    /// The placement under way: episode, level, since.
    placement: Option<(EpisodeId, LevelId, DateTime<Utc>)>,
    reviews_seen: Vec<(EpisodeId, LevelId, DateTime<Utc>)>,
    /// The follow-up checks due by the end: (exit event, days, due time).
    followups_due: Vec<(EventId, u32, DateTime<Utc>)>,
    /// The checks judged at a timer's firing: (exit event, days, when).
    followups_seen: Vec<(EventId, u32, DateTime<Utc>)>,
    /// A handoff under way: its deadline.
    transit: Option<DateTime<Utc>>,
    /// The handoff under way: the levels it leaves and goes to, when it left.
    transit_levels: Option<(LevelId, LevelId, DateTime<Utc>)>,
    /// The handoff under way was missed (still in transit).
    transit_missed: bool,
    referrals: BTreeMap<ReferralId, Pending>,
    mat_active: bool,
    mat_through: Option<NaiveDate>,
    mat_booked: BTreeMap<BookingId, NaiveDate>,
    aftercare: BTreeMap<BookingId, DateTime<Utc>>,
}

impl<'a> ClientAudit<'a> {
    fn new(
        pathway: &'a Pathway,
        client: ClientId,
        case_manager: StaffId,
        end: DateTime<Utc>,
    ) -> Self {
        Self {
            pathway,
            client,
            case_manager,
            end,
            episode: None,
            placement: None,
            reviews_seen: Vec::new(),
            followups_due: Vec::new(),
            followups_seen: Vec::new(),
            transit: None,
            transit_levels: None,
            transit_missed: false,
            referrals: BTreeMap::new(),
            mat_active: false,
            mat_through: None,
            mat_booked: BTreeMap::new(),
            aftercare: BTreeMap::new(),
        }
    }

    fn followup_level(&self, level: &LevelId) -> bool {
        self.pathway
            .level(level)
            .is_some_and(|l| l.followup_on_exit)
    }

    /// An exit (the event `exit`, out of high-intensity care since `left_at`): a check per
    /// follow-up day, due as the last day of its window ends.
    fn exit_followups(&mut self, exit: EventId, left_at: DateTime<Utc>) {
        for days in &self.pathway.settings.followup_days {
            let due = followup_due(left_at.date_naive(), *days);
            if due <= self.end {
                self.followups_due.push((exit, *days, due));
            }
        }
    }

    /// Discharged on the way: the exit was the handoff's start (to a lower level) or its
    /// miss, which armed the checks already.
    fn exited_in_transit(&self) -> bool {
        self.transit_levels
            .as_ref()
            .is_some_and(|(_, to, _)| self.transit_missed || !self.followup_level(to))
    }

    /// The placement under way ends at `at`: the reviews it was due are checked.
    fn end_placement(&mut self, at: DateTime<Utc>, timers: &mut Invariant) {
        let Some((episode, level, since)) = self.placement.take() else {
            return;
        };
        let interval = self
            .pathway
            .level(&level)
            .map(|l| Duration::days(i64::from(l.review_interval_days)))
            .unwrap_or(Duration::days(1));
        let until = at.min(self.end);
        let mut expected = Vec::new();
        let mut due = since + interval;
        while due <= until {
            expected.push(due);
            due += interval;
        }
        let mut seen: Vec<DateTime<Utc>> = self
            .reviews_seen
            .iter()
            .filter(|(e, l, t)| *e == episode && *l == level && *t >= since && *t <= at)
            .map(|(_, _, t)| *t)
            .collect();
        seen.sort();
        let client = self.client;
        timers.case(seen == expected, || {
            format!("client {client}: reviews at {level} since {since}: expected {expected:?}, fired {seen:?}")
        });
    }

    /// Whether the MAT plan, at a gated move at `at`, has its next supply booked with no gap
    /// day: on or before the day after the last covered day (today, if it already ran out).
    fn mat_covered(&self, at: DateTime<Utc>) -> bool {
        if !self.mat_active {
            return true;
        }
        let today = at.date_naive();
        let through = self.mat_through.unwrap_or(today - Duration::days(1));
        let latest = through.max(today - Duration::days(1)) + Duration::days(1);
        self.mat_booked
            .values()
            .any(|on| *on >= today && *on <= latest)
    }

    fn walk(
        &mut self,
        events: &[CareEvent],
        planned: &mut Invariant,
        moud: &mut Invariant,
        referrals: &mut Invariant,
        timers: &mut Invariant,
    ) {
        let client = self.client;
        for (i, e) in events.iter().enumerate() {
            let at = e.at;
            match &e.data {
                EventData::ClientAdmitted { episode, level, .. } => {
                    self.episode = Some(*episode);
                    self.placement = Some((*episode, level.clone(), at));
                }
                EventData::ReviewDue { level, episode } => {
                    self.reviews_seen.push((*episode, level.clone(), at));
                }
                // A check judged by its timer (a late report's re-judgment is no firing).
                EventData::FollowupMet {
                    days,
                    exit: Some(exit),
                    report_delay_days: None,
                    ..
                }
                | EventData::FollowupMissed {
                    days,
                    exit: Some(exit),
                    ..
                } => {
                    self.followups_seen.push((*exit, *days, at));
                }
                // Superseded before it fell due: its timer was cancelled.
                EventData::FollowupSuperseded { days, exit, .. } => {
                    self.followups_due
                        .retain(|(x, d, due)| !(x == exit && d == days && *due > at));
                }
                EventData::HandoffStarted {
                    kind,
                    from_level,
                    to_level,
                    arrive_by,
                    overridden,
                    ..
                } => {
                    self.end_placement(at, timers);
                    if self.followup_level(from_level) && !self.followup_level(to_level) {
                        self.exit_followups(e.id, at);
                    }
                    self.transit = Some(*arrive_by);
                    self.transit_levels = Some((from_level.clone(), to_level.clone(), at));
                    self.transit_missed = false;
                    let gated = matches!(kind, TransitionKind::StepDown | TransitionKind::Lateral)
                        && !overridden.iter().any(|o| o.gate == Gate::MatContinuity);
                    if gated {
                        moud.case(self.mat_covered(at), || {
                            format!("client {client}: {kind} to {to_level} at {at} with MAT covered through {:?} and bookings {:?}", self.mat_through, self.mat_booked.values().collect::<Vec<_>>())
                        });
                    }
                }
                EventData::TransitionCompleted {
                    from_level,
                    to_level,
                    from_provider,
                    to_provider,
                    ..
                } => {
                    if from_provider == to_provider {
                        // A move within one organization: no handoff.
                        self.end_placement(at, timers);
                        if self.followup_level(from_level) && !self.followup_level(to_level) {
                            self.exit_followups(e.id, at);
                        }
                    }
                    self.transit = None;
                    self.transit_levels = None;
                    self.transit_missed = false;
                    if let Some(ep) = self.episode {
                        self.placement = Some((ep, to_level.clone(), at));
                    }
                }
                EventData::HandoffMissed {
                    arrive_by, reason, ..
                } => {
                    let expected = self.transit.take();
                    // A missed handoff between two levels of high-intensity care is the exit.
                    if let Some((from, to, left)) = self.transit_levels.clone()
                        && self.followup_level(&from)
                        && self.followup_level(&to)
                    {
                        self.exit_followups(e.id, left);
                    }
                    self.transit_missed = true;
                    if *reason == MissReason::Deadline {
                        timers.case(expected == Some(*arrive_by) && at == *arrive_by, || {
                            format!("client {client}: arrival deadline {arrive_by} missed at {at} (transit due {expected:?})")
                        });
                    }
                }
                EventData::DischargeCompleted {
                    kind,
                    from_level,
                    overridden,
                    ..
                } => {
                    self.end_placement(at, timers);
                    self.transit = None;
                    if self.followup_level(from_level) && !self.exited_in_transit() {
                        self.exit_followups(e.id, at);
                    }
                    self.transit_levels = None;
                    self.transit_missed = false;
                    if *kind == DischargeKind::Planned {
                        let window = i64::from(self.pathway.settings.aftercare_window_days);
                        let first = at.date_naive();
                        let last = first + Duration::days(window);
                        let booked = self
                            .aftercare
                            .values()
                            .any(|t| t.date_naive() >= first && t.date_naive() <= last);
                        planned.case(booked, || {
                            format!("client {client}: planned discharge at {at} with no appointment booked by {last}")
                        });
                    }
                    if matches!(kind, DischargeKind::Planned | DischargeKind::TransferOut)
                        && !overridden.iter().any(|o| o.gate == Gate::MatContinuity)
                    {
                        moud.case(self.mat_covered(at), || {
                            format!("client {client}: {kind} discharge at {at} with MAT covered through {:?}", self.mat_through)
                        });
                    }
                }
                EventData::DischargeUnplanned { from_level, .. } => {
                    self.end_placement(at, timers);
                    self.transit = None;
                    if self.followup_level(from_level) && !self.exited_in_transit() {
                        self.exit_followups(e.id, at);
                    }
                    self.transit_levels = None;
                    self.transit_missed = false;
                }
                EventData::ReferralSent {
                    referral,
                    answer_by,
                    ..
                } => {
                    self.referrals.insert(
                        *referral,
                        Pending {
                            answer_by: *answer_by,
                            done: false,
                        },
                    );
                }
                EventData::ReferralAccepted { referral, .. }
                | EventData::ReferralDeclined { referral, .. }
                | EventData::ReferralWaitlisted { referral, .. }
                | EventData::ReferralWithdrawn { referral, .. } => {
                    if let Some(p) = self.referrals.get_mut(referral)
                        && !p.done
                    {
                        p.done = true;
                        let by = p.answer_by;
                        referrals.case(at <= by, || {
                            format!(
                                "client {client}: referral {referral} answered at {at}, due {by}"
                            )
                        });
                    }
                }
                EventData::ReferralExpired {
                    referral,
                    escalate,
                    hold_released,
                    ..
                } => {
                    if !hold_released && let Some(p) = self.referrals.get_mut(referral) {
                        let by = p.answer_by;
                        let first = !p.done;
                        p.done = true;
                        referrals.case(first && at == by, || {
                            format!(
                                "client {client}: referral {referral} expired at {at}, due {by}"
                            )
                        });
                    }
                    if *escalate {
                        let next = events.get(i + 1).map(|n| &n.data);
                        let me = self.case_manager;
                        let named = matches!(
                            next,
                            Some(EventData::ReferralEscalated { case_manager: Some(cm), .. }) if *cm == me
                        );
                        referrals.case(named, || {
                            format!("client {client}: referral {referral} ran out at {at} without an escalation to its case manager")
                        });
                    }
                }
                EventData::MatPlanRecorded {
                    covered_through, ..
                } => {
                    self.mat_active = true;
                    self.mat_through = Some(*covered_through);
                }
                EventData::MatPlanEnded => {
                    self.mat_active = false;
                    self.mat_through = None;
                    self.mat_booked.clear();
                }
                EventData::MatRefillScheduled { booking, on, .. } => {
                    self.mat_booked.insert(*booking, *on);
                }
                EventData::MatBookingRescheduled { booking, on, .. } => {
                    self.mat_booked.insert(*booking, *on);
                }
                EventData::MatDoseDispensed {
                    booking,
                    covered_through,
                    ..
                }
                | EventData::MatRefillPickedUp {
                    booking,
                    covered_through,
                    ..
                } => {
                    self.mat_booked.remove(booking);
                    if covered_through.is_some() {
                        self.mat_through = *covered_through;
                    }
                }
                EventData::MatVisitAttended { booking, .. }
                | EventData::MatBookingMissed { booking, .. }
                | EventData::MatBookingCancelled { booking, .. } => {
                    self.mat_booked.remove(booking);
                }
                EventData::AftercareScheduled {
                    booking, at: when, ..
                } => {
                    self.aftercare.insert(*booking, *when);
                }
                EventData::AftercareRescheduled {
                    booking, at: when, ..
                } => {
                    self.aftercare.insert(*booking, *when);
                }
                EventData::AftercareMissed { booking, .. }
                | EventData::AftercareCancelled { booking, .. } => {
                    self.aftercare.remove(booking);
                }
                _ => {}
            }
        }
        // What is still under way at the end of the window.
        let end = self.end;
        self.end_placement(end, timers);
        if let Some(by) = self.transit
            && by <= end
        {
            timers.case(false, || {
                format!("client {client}: arrival deadline {by} passed without a miss")
            });
        }
        for (id, p) in &self.referrals {
            if !p.done && p.answer_by <= end {
                referrals.case(false, || {
                    format!(
                        "client {client}: referral {id} due {} neither answered nor expired",
                        p.answer_by
                    )
                });
            }
        }
        let mut due = std::mem::take(&mut self.followups_due);
        let mut seen = std::mem::take(&mut self.followups_seen);
        due.sort();
        seen.sort();
        timers.case(due == seen, || {
            format!("client {client}: follow-ups due {due:?}, fired {seen:?}")
        });
    }
}
