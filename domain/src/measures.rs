//! Measures of continuity, computed from the care events — the facts, as they happened — and
//! nothing else. Pure: the engine streams each client's events in order through a [`Tally`]
//! and asks for the [`Measures`] at the end.
//!
//! Each item is counted in the period its start falls in (a referral sent, a handoff started,
//! a discharge, a follow-up check due, a client lost to care) and judged on everything known
//! as of `Scope::as_of`; an item whose outcome cannot be known yet (a referral not yet due, a
//! client still in transit, a 7-day window still open) is left out of the denominator rather
//! than counted as a miss. `provider` and `level` narrow referrals and handoffs to the
//! receiving side, and discharges, follow-ups and MOUD at handoffs to the side left.
//!
//! - Referrals: hours to acknowledge and to answer (accept, decline or waitlist) per
//!   receiving provider (p50, p90); the share answered by its deadline; the share of groups
//!   that ran out (escalated); decline reasons by count.
//! - Handoffs: arrived vs missed, days in transit.
//! - HEDIS FUI-7 and FUI-30: the engine's own 7- and 30-day checks after an exit from a level
//!   followed up on exit (`followup.met` vs `followup.missed`), each counted in the period it
//!   fell due in, its last judgment standing (a late report re-judges a miss as met), and
//!   left out once superseded (`followup.superseded`: back in high-intensity care within the
//!   window, only the last exit counts). See docs/measures.md.
//! - Closing the loop: arrivals confirmed by the receiving provider, of all arrivals, and
//!   visits, doses and refills kept or missed as reported by the booking's provider, of all
//!   such reports (the rest relayed by the sender).
//! - MOUD continuity (the spirit of NQF 3175 at handoffs): gap days after each handoff made
//!   on MOUD until the next dose or supply (a supply "through D" followed by one on D+1 leaves
//!   none), gap days per client in the period, and clients discharged on MOUD who got a dose
//!   or refill within 7 days.
//! - Discharges: planned ones with an aftercare appointment booked, and with one attended
//!   within 30 days; the share that were unplanned (against advice, administrative).
//! - Lost to care: clients lost in the period, and how many re-engaged.

use crate::event::{CareEvent, EventData, ReportedBy};
use crate::ids::*;
use crate::pathway::{DischargeKind, LevelId};
use crate::state::{DeclineCode, Medication};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// Which items count: those starting in `[from, to)`, at `provider` and `level` when given,
/// judged as of `as_of` (now).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scope {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub provider: Option<OrgId>,
    pub level: Option<LevelId>,
    pub as_of: DateTime<Utc>,
}

impl Scope {
    fn period(&self, at: DateTime<Utc>) -> bool {
        at >= self.from && at < self.to
    }

    fn place(&self, level: Option<&LevelId>, provider: Option<OrgId>) -> bool {
        self.level.as_ref().is_none_or(|l| Some(l) == level)
            && self.provider.is_none_or(|p| Some(p) == provider)
    }
}

/// A share: `numerator` of `denominator`, and the clients behind each miss (once each, in
/// id order).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Ratio {
    pub numerator: u64,
    pub denominator: u64,
    pub missed: Vec<ClientId>,
}

impl Ratio {
    fn hit(&mut self) {
        self.numerator += 1;
        self.denominator += 1;
    }

    fn miss(&mut self, client: ClientId) {
        self.denominator += 1;
        self.missed.push(client);
    }

    fn count(&mut self, hit: bool, client: ClientId) {
        if hit { self.hit() } else { self.miss(client) }
    }

    /// `numerator / denominator`, `None` with nothing counted.
    pub fn rate(&self) -> Option<f64> {
        (self.denominator > 0).then(|| self.numerator as f64 / self.denominator as f64)
    }

    fn tidy(&mut self) {
        self.missed.sort();
        self.missed.dedup();
    }
}

/// A distribution: how many, the median and the 90th percentile (nearest rank).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Spread {
    pub count: u64,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
}

impl Spread {
    fn of(mut values: Vec<f64>) -> Self {
        values.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            let n = values.len();
            (n > 0).then(|| values[((p * n as f64).ceil() as usize).clamp(1, n) - 1])
        };
        Spread {
            count: values.len() as u64,
            p50: rank(0.5),
            p90: rank(0.9),
        }
    }
}

/// Hours, per receiving provider.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProviderHours {
    pub provider: OrgId,
    pub hours: Spread,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ReferralMeasures {
    pub sent: u64,
    /// Hours from a referral's notice to the partner's intake (its arrival) to the first
    /// read of it by one of them: not a care event but the notification center's record of
    /// who was told and when they read it ([`first_reads`]), filled in beside the fold.
    pub time_to_first_read: Vec<ProviderHours>,
    pub time_to_acknowledge: Vec<ProviderHours>,
    pub time_to_answer: Vec<ProviderHours>,
    /// Answered (accepted, declined, waitlisted) by the deadline, of those answered or past
    /// it (withdrawn before either: not counted).
    pub answered_in_time: Ratio,
    /// Groups that ran out (`referral.escalated`), of the groups sent: a lower share is
    /// better; `missed` lists the clients escalated.
    pub escalated: Ratio,
    pub decline_reasons: Vec<(DeclineCode, u64)>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HandoffMeasures {
    /// Arrived, of the handoffs that ended (arrived or missed).
    pub arrived: Ratio,
    /// Started in the period and still under way.
    pub in_transit: u64,
    pub days_in_transit: Spread,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct MoudMeasures {
    /// Handoffs (a move between organizations, a discharge) made on MOUD that left no gap
    /// day before the next dose or supply.
    pub handoffs_without_gap: Ratio,
    /// Gap days after those handoffs, in all.
    pub gap_days_after_handoffs: u64,
    /// Per client on MOUD in the period: gap days within it.
    pub gap_days_per_client: Spread,
    /// Discharged on MOUD, then a dose, refill or injection within 7 days.
    pub dosed_within_7_days: Ratio,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DischargeMeasures {
    /// Planned discharges with an aftercare appointment booked at the time.
    pub planned_with_booking: Ratio,
    /// Planned discharges followed by an attended aftercare appointment within 30 days.
    pub planned_with_attended: Ratio,
    /// Unplanned (against advice, administrative), of all discharges: a lower share is
    /// better; `missed` lists the clients discharged unplanned.
    pub unplanned: Ratio,
    pub against_advice: u64,
    pub administrative: u64,
}

/// Who closed the loop: the receiving side, or the sender relaying its report.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LoopMeasures {
    /// Arrivals (handoffs and transfers out that arrived) confirmed by the receiving
    /// provider, of all arrivals; `missed` lists the clients whose arrival was relayed.
    pub arrivals_by_receiver: Ratio,
    /// Visits, doses and refills kept or missed as reported by the booking's provider, of all
    /// such outcomes; `missed` lists the clients with one relayed.
    pub outcomes_by_receiver: Ratio,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Measures {
    pub scope: Scope,
    pub clients: u64,
    pub referrals: ReferralMeasures,
    pub handoffs: HandoffMeasures,
    pub fui_7: Ratio,
    pub fui_30: Ratio,
    pub moud: MoudMeasures,
    pub discharges: DischargeMeasures,
    /// Re-engaged, of the clients lost to care in the period.
    pub lost_to_care: Ratio,
    pub closed_loop: LoopMeasures,
}

/// Hours to the first read, per provider, in provider order.
pub fn first_reads(reads: Vec<(OrgId, f64)>) -> Vec<ProviderHours> {
    let mut by: BTreeMap<OrgId, Vec<f64>> = BTreeMap::new();
    for (org, h) in reads {
        by.entry(org).or_default().push(h);
    }
    by.into_iter()
        .map(|(provider, v)| ProviderHours {
            provider,
            hours: Spread::of(v),
        })
        .collect()
}

/// Days after a planned discharge an attended aftercare appointment counts.
const ATTENDED_WITHIN_DAYS: i64 = 30;
/// Days after a discharge on MOUD a dose or supply counts.
const DOSED_WITHIN_DAYS: i64 = 7;

/// The running count over every client's events: what counts ([`Scope`]) beside the counts.
pub struct Tally {
    scope: Scope,
    n: Counts,
}

/// The counts so far: the measures being built and the samples their spreads come from.
struct Counts {
    ack_hours: BTreeMap<OrgId, Vec<f64>>,
    answer_hours: BTreeMap<OrgId, Vec<f64>>,
    transit_days: Vec<f64>,
    gap_days_per_client: Vec<f64>,
    declines: BTreeMap<DeclineCode, u64>,
    m: Measures,
}

impl Tally {
    pub fn new(scope: Scope) -> Self {
        Tally {
            n: Counts {
                m: Measures {
                    scope: scope.clone(),
                    clients: 0,
                    referrals: ReferralMeasures::default(),
                    handoffs: HandoffMeasures::default(),
                    fui_7: Ratio::default(),
                    fui_30: Ratio::default(),
                    moud: MoudMeasures::default(),
                    discharges: DischargeMeasures::default(),
                    lost_to_care: Ratio::default(),
                    closed_loop: LoopMeasures::default(),
                },
                ack_hours: BTreeMap::new(),
                answer_hours: BTreeMap::new(),
                transit_days: Vec::new(),
                gap_days_per_client: Vec::new(),
                declines: BTreeMap::new(),
            },
            scope,
        }
    }

    /// One client's events, all of them, in sequence order.
    pub fn client(&mut self, events: &[CareEvent]) {
        let Some(first) = events.first() else {
            return;
        };
        self.n.m.clients += 1;
        let mut c = ClientScan::new(first.client);
        for e in events {
            c.event(&self.scope, &mut self.n, e);
        }
        c.finish(&self.scope, &mut self.n);
    }

    /// The measures, with the hours from each referral's arrival notice to its first read
    /// (`reads`: the receiving provider and the hours, of the notices told in the period
    /// and read; the notification center's record, not an event).
    pub fn finish_with_reads(self, reads: Vec<(OrgId, f64)>) -> Measures {
        let mut m = self.finish();
        m.referrals.time_to_first_read = first_reads(reads);
        m
    }

    pub fn finish(self) -> Measures {
        let mut n = self.n;
        let per_provider = |m: BTreeMap<OrgId, Vec<f64>>| {
            m.into_iter()
                .map(|(provider, v)| ProviderHours {
                    provider,
                    hours: Spread::of(v),
                })
                .collect()
        };
        let m = &mut n.m;
        m.referrals.time_to_acknowledge = per_provider(n.ack_hours);
        m.referrals.time_to_answer = per_provider(n.answer_hours);
        m.referrals.decline_reasons = n.declines.into_iter().collect();
        m.handoffs.days_in_transit = Spread::of(n.transit_days);
        m.moud.gap_days_per_client = Spread::of(n.gap_days_per_client);
        for r in [
            &mut m.referrals.answered_in_time,
            &mut m.referrals.escalated,
            &mut m.handoffs.arrived,
            &mut m.fui_7,
            &mut m.fui_30,
            &mut m.moud.handoffs_without_gap,
            &mut m.moud.dosed_within_7_days,
            &mut m.discharges.planned_with_booking,
            &mut m.discharges.planned_with_attended,
            &mut m.discharges.unplanned,
            &mut m.lost_to_care,
            &mut m.closed_loop.arrivals_by_receiver,
            &mut m.closed_loop.outcomes_by_receiver,
        ] {
            r.tidy();
        }
        n.m
    }
}

struct SentReferral {
    provider: OrgId,
    sent_at: DateTime<Utc>,
    answer_by: DateTime<Utc>,
    counted: bool,
    answered: bool,
}

struct OpenHandoff {
    at: DateTime<Utc>,
    counted: bool,
}

/// A follow-up check: counted where and when it first fell due, its last judgment, and
/// whether a later exit superseded it.
struct FollowupItem {
    days: u32,
    counted: bool,
    met: bool,
    superseded: bool,
}

/// A handoff or discharge made on MOUD, waiting for the next dose or supply.
struct GapWatch {
    covered_through: NaiveDate,
    counted: bool,
}

struct DoseWatch {
    discharged_on: NaiveDate,
    counted: bool,
}

struct PlannedDischarge {
    at: DateTime<Utc>,
    counted: bool,
}

/// What one client's scan keeps between events.
struct ClientScan {
    client: ClientId,
    referrals: BTreeMap<ReferralId, SentReferral>,
    groups: BTreeMap<ReferralGroupId, bool>,
    handoff: Option<OpenHandoff>,
    /// The level and provider the client last left (for follow-ups).
    left: Option<(LevelId, OrgId)>,
    /// The level and provider each exit left, by the exit's event.
    exits: BTreeMap<EventId, (LevelId, OrgId)>,
    /// The follow-up checks, by exit (or the judging event, for a check armed before exits
    /// were named) and days.
    followups: BTreeMap<(EventId, u32), FollowupItem>,
    /// The level and provider the client is at.
    at: Option<(LevelId, OrgId)>,
    /// Aftercare bookings still to come: when.
    aftercare: BTreeMap<BookingId, DateTime<Utc>>,
    planned: Vec<PlannedDischarge>,
    lost: Option<bool>,
    /// On MOUD: the last day covered.
    moud: Option<Option<NaiveDate>>,
    on_moud_in_period: bool,
    gap_days: i64,
    gap_watch: Vec<GapWatch>,
    dose_watch: Vec<DoseWatch>,
}

fn is_moud(m: Medication) -> bool {
    matches!(
        m,
        Medication::Buprenorphine | Medication::Methadone | Medication::NaltrexoneXr
    )
}

impl ClientScan {
    fn new(client: ClientId) -> Self {
        ClientScan {
            client,
            referrals: BTreeMap::new(),
            groups: BTreeMap::new(),
            handoff: None,
            left: None,
            exits: BTreeMap::new(),
            followups: BTreeMap::new(),
            at: None,
            aftercare: BTreeMap::new(),
            planned: Vec::new(),
            lost: None,
            moud: None,
            on_moud_in_period: false,
            gap_days: 0,
            gap_watch: Vec::new(),
            dose_watch: Vec::new(),
        }
    }

    /// Days with no dose in hand in `(covered, until)` — after the last covered day, before
    /// the day supply is in hand again — that fall in the period.
    fn gap_in_period(scope: &Scope, covered: NaiveDate, until: NaiveDate) -> i64 {
        let first = (covered + Duration::days(1)).max(scope.from.date_naive());
        let end = until.min(scope.to.date_naive());
        (end - first).num_days().max(0)
    }

    /// A dose or supply is in hand on `on`, covering through `through`.
    fn dosed(&mut self, scope: &Scope, t: &mut Counts, on: NaiveDate, through: Option<NaiveDate>) {
        if let Some(Some(covered)) = self.moud {
            self.gap_days += Self::gap_in_period(scope, covered, on);
        }
        for w in self.gap_watch.drain(..) {
            let gap = (on - w.covered_through).num_days() - 1;
            if w.counted {
                t.m.moud.handoffs_without_gap.count(gap <= 0, self.client);
                t.m.moud.gap_days_after_handoffs += gap.max(0) as u64;
            }
        }
        for w in self.dose_watch.drain(..) {
            if w.counted {
                let within = (on - w.discharged_on).num_days() <= DOSED_WITHIN_DAYS;
                t.m.moud.dosed_within_7_days.count(within, self.client);
            }
        }
        if let Some(covered) = self.moud.as_mut() {
            let through = through.unwrap_or(on);
            *covered = Some(covered.map_or(through, |c| c.max(through)));
        }
    }

    /// The client leaves a placement (a handoff between organizations or a discharge): on
    /// MOUD, watch for the next dose.
    fn leaves_on_moud(&mut self, scope: &Scope, at: DateTime<Utc>, counted: bool) {
        if let Some(Some(covered)) = self.moud {
            self.gap_watch.push(GapWatch {
                covered_through: covered,
                counted: counted && scope.period(at),
            });
        }
    }

    fn event(&mut self, scope: &Scope, t: &mut Counts, e: &CareEvent) {
        let in_period = scope.period(e.at);
        if self.moud.is_some() && in_period {
            self.on_moud_in_period = true;
        }
        match &e.data {
            EventData::ReferralSent {
                referral,
                group,
                provider,
                to_level,
                answer_by,
                ..
            } => {
                let counted = in_period && scope.place(Some(to_level), Some(*provider));
                if counted {
                    t.m.referrals.sent += 1;
                }
                self.referrals.insert(
                    *referral,
                    SentReferral {
                        provider: *provider,
                        sent_at: e.at,
                        answer_by: *answer_by,
                        counted,
                        answered: false,
                    },
                );
                if !self.groups.contains_key(group) {
                    self.groups.insert(*group, counted);
                    if counted {
                        t.m.referrals.escalated.denominator += 1;
                    }
                }
            }
            EventData::ReferralAcknowledged { referral, .. } => {
                if let Some(r) = self.referrals.get(referral).filter(|r| r.counted) {
                    t.ack_hours
                        .entry(r.provider)
                        .or_default()
                        .push(hours(e.at - r.sent_at));
                }
            }
            EventData::ReferralAccepted {
                referral,
                from_waitlist,
                ..
            } if !from_waitlist => self.answered(t, *referral, e.at),
            EventData::ReferralWaitlisted { referral, .. } => self.answered(t, *referral, e.at),
            EventData::ReferralDeclined {
                referral, reason, ..
            } => {
                if self.referrals.get(referral).is_some_and(|r| r.counted) {
                    *t.declines.entry(*reason).or_default() += 1;
                }
                self.answered(t, *referral, e.at);
            }
            EventData::ReferralExpired {
                referral,
                hold_released,
                ..
            } if !hold_released => {
                if let Some(r) = self.referrals.get_mut(referral)
                    && !r.answered
                {
                    r.answered = true;
                    if r.counted {
                        t.m.referrals.answered_in_time.miss(self.client);
                    }
                }
            }
            EventData::ReferralEscalated { group, .. } if self.groups.get(group) == Some(&true) => {
                t.m.referrals.escalated.numerator += 1;
                t.m.referrals.escalated.missed.push(self.client);
            }
            EventData::ClientAdmitted {
                level, provider, ..
            } => self.at = Some((level.clone(), *provider)),
            EventData::HandoffStarted {
                from_level,
                from_provider,
                to_level,
                to_provider,
                ..
            } => {
                self.handoff = Some(OpenHandoff {
                    at: e.at,
                    counted: in_period && scope.place(Some(to_level), Some(*to_provider)),
                });
                self.left = Some((from_level.clone(), *from_provider));
                self.exits
                    .insert(e.id, (from_level.clone(), *from_provider));
                self.at = None;
                let counted = scope.place(Some(from_level), Some(*from_provider));
                self.leaves_on_moud(scope, e.at, counted);
            }
            EventData::TransitionCompleted {
                from_level,
                from_provider,
                to_level,
                to_provider,
                reported_by,
                ..
            } => {
                match self.handoff.take() {
                    Some(h) => {
                        if h.counted {
                            t.m.handoffs.arrived.hit();
                            t.transit_days.push(hours(e.at - h.at) / 24.0);
                            self.arrival_reported(t, *reported_by);
                        }
                    }
                    // A move within one organization: the client never left its care.
                    None => {
                        self.left = Some((from_level.clone(), *from_provider));
                        self.exits
                            .insert(e.id, (from_level.clone(), *from_provider));
                    }
                }
                self.at = Some((to_level.clone(), *to_provider));
            }
            EventData::TransferArrived { reported_by, .. } => {
                if let Some(h) = self.handoff.take()
                    && h.counted
                {
                    t.m.handoffs.arrived.hit();
                    t.transit_days.push(hours(e.at - h.at) / 24.0);
                    self.arrival_reported(t, *reported_by);
                }
            }
            EventData::HandoffMissed { .. } => {
                if let Some(h) = self.handoff.take()
                    && h.counted
                {
                    t.m.handoffs.arrived.miss(self.client);
                }
                // A missed handoff between two levels of high-intensity care is an exit.
                if let Some(left) = &self.left {
                    self.exits.insert(e.id, left.clone());
                }
            }
            EventData::DischargeCompleted {
                kind,
                from_level,
                from_provider,
                to_provider,
                ..
            } => {
                let counted = in_period && scope.place(Some(from_level), Some(*from_provider));
                self.discharged(scope, e, from_level, *from_provider, counted);
                if counted {
                    t.m.discharges.unplanned.denominator += 1;
                }
                if *kind == DischargeKind::Planned && counted {
                    let booked = self.aftercare.values().any(|at| *at >= day_start(e.at));
                    t.m.discharges
                        .planned_with_booking
                        .count(booked, self.client);
                    self.planned.push(PlannedDischarge { at: e.at, counted });
                }
                if let (DischargeKind::TransferOut, Some(_)) = (kind, to_provider) {
                    self.handoff = Some(OpenHandoff {
                        at: e.at,
                        counted: in_period && scope.level.is_none() && scope.provider.is_none(),
                    });
                }
            }
            EventData::DischargeUnplanned {
                kind,
                from_level,
                from_provider,
                ..
            } => {
                let counted = in_period && scope.place(Some(from_level), Some(*from_provider));
                self.discharged(scope, e, from_level, *from_provider, counted);
                if counted {
                    t.m.discharges.unplanned.hit();
                    t.m.discharges.unplanned.missed.push(self.client);
                    match kind {
                        DischargeKind::AgainstMedicalAdvice => t.m.discharges.against_advice += 1,
                        _ => t.m.discharges.administrative += 1,
                    }
                }
            }
            EventData::FollowupMet { days, exit, .. }
            | EventData::FollowupMissed { days, exit, .. } => {
                let met = matches!(e.data, EventData::FollowupMet { .. });
                let key = (exit.unwrap_or(e.id), *days);
                if let Some(item) = self.followups.get_mut(&key) {
                    // Re-judged: a late report met a check missed at its due time.
                    item.met |= met;
                } else {
                    let left = exit.and_then(|x| self.exits.get(&x)).or(self.left.as_ref());
                    let (level, provider) = match left {
                        Some((l, p)) => (Some(l), Some(*p)),
                        None => (None, None),
                    };
                    self.followups.insert(
                        key,
                        FollowupItem {
                            days: *days,
                            counted: in_period && scope.place(level, provider),
                            met,
                            superseded: false,
                        },
                    );
                }
            }
            EventData::FollowupSuperseded { days, exit, .. } => {
                if let Some(item) = self.followups.get_mut(&(*exit, *days)) {
                    item.superseded = true;
                } else {
                    // Superseded before it fell due: never counted.
                    self.followups.insert(
                        (*exit, *days),
                        FollowupItem {
                            days: *days,
                            counted: false,
                            met: false,
                            superseded: true,
                        },
                    );
                }
            }
            EventData::AftercareAttended {
                provider,
                reported_by,
                ..
            }
            | EventData::AftercareMissed {
                provider,
                reported_by,
                ..
            }
            | EventData::MatDoseDispensed {
                provider,
                reported_by,
                ..
            }
            | EventData::MatRefillPickedUp {
                provider,
                reported_by,
                ..
            }
            | EventData::MatVisitAttended {
                provider,
                reported_by,
                ..
            }
            | EventData::MatBookingMissed {
                provider,
                reported_by,
                ..
            } if in_period && scope.place(e.level.as_ref(), Some(*provider)) => {
                t.m.closed_loop
                    .outcomes_by_receiver
                    .count(*reported_by == Some(ReportedBy::Receiver), self.client);
                self.outcome(scope, t, e);
            }
            EventData::AftercareScheduled { booking, at, .. } => {
                self.aftercare.insert(*booking, *at);
            }
            EventData::AftercareRescheduled { booking, at, .. } => {
                self.aftercare.insert(*booking, *at);
            }
            EventData::AftercareCancelled { .. }
            | EventData::AftercareMissed { .. }
            | EventData::AftercareAttended { .. }
            | EventData::MatDoseDispensed { .. }
            | EventData::MatRefillPickedUp { .. }
            | EventData::MatVisitAttended { .. }
            | EventData::MatBookingMissed { .. } => self.outcome(scope, t, e),
            EventData::MatPlanRecorded {
                medication,
                covered_through,
            } => {
                self.moud = is_moud(*medication).then_some(Some(*covered_through));
                if self.moud.is_some() && in_period {
                    self.on_moud_in_period = true;
                }
            }
            EventData::MatPlanEnded => {
                if let Some(Some(covered)) = self.moud {
                    self.gap_days += Self::gap_in_period(scope, covered, e.at.date_naive());
                }
                self.moud = None;
            }
            EventData::ClientLostToCare { .. }
                if in_period && scope.place(e.level.as_ref(), None) =>
            {
                self.lost = Some(false);
            }
            EventData::ClientReengaged { .. } if self.lost == Some(false) => {
                self.lost = Some(true);
                t.m.lost_to_care.hit();
            }
            _ => {}
        }
    }

    /// An arrival counted in the period: confirmed by the receiving provider, or relayed.
    fn arrival_reported(&self, t: &mut Counts, reported_by: Option<ReportedBy>) {
        t.m.closed_loop
            .arrivals_by_receiver
            .count(reported_by == Some(ReportedBy::Receiver), self.client);
    }

    /// What became of a booking: the aftercare appointments still to come, the planned
    /// discharges an attended appointment follows, the MOUD supply a dose or refill extends.
    fn outcome(&mut self, scope: &Scope, t: &mut Counts, e: &CareEvent) {
        match &e.data {
            EventData::AftercareCancelled { booking, .. }
            | EventData::AftercareMissed { booking, .. } => {
                self.aftercare.remove(booking);
            }
            EventData::AftercareAttended { booking, .. } => {
                self.aftercare.remove(booking);
                self.planned.retain(|d| {
                    let kept = e.at >= d.at && e.at <= d.at + Duration::days(ATTENDED_WITHIN_DAYS);
                    if kept && d.counted {
                        t.m.discharges.planned_with_attended.hit();
                    }
                    !kept
                });
            }
            EventData::MatDoseDispensed {
                covered_through, ..
            }
            | EventData::MatRefillPickedUp {
                covered_through, ..
            } => self.dosed(scope, t, e.at.date_naive(), *covered_through),
            _ => {}
        }
    }

    fn answered(&mut self, t: &mut Counts, referral: ReferralId, at: DateTime<Utc>) {
        let Some(r) = self.referrals.get_mut(&referral) else {
            return;
        };
        if r.answered {
            return;
        }
        r.answered = true;
        if r.counted {
            t.answer_hours
                .entry(r.provider)
                .or_default()
                .push(hours(at - r.sent_at));
            t.m.referrals
                .answered_in_time
                .count(at <= r.answer_by, self.client);
        }
    }

    /// Out of care: every discharge counts toward the unplanned share's denominator (the
    /// caller says which way); on MOUD, the next dose is watched for.
    fn discharged(
        &mut self,
        scope: &Scope,
        e: &CareEvent,
        from_level: &LevelId,
        from_provider: OrgId,
        counted: bool,
    ) {
        self.left = Some((from_level.clone(), from_provider));
        self.at = None;
        self.leaves_on_moud(scope, e.at, counted);
        if self.moud.is_some() {
            self.dose_watch.push(DoseWatch {
                discharged_on: e.at.date_naive(),
                counted,
            });
        }
    }

    /// What is still open at the end: misses when their time is up as of `as_of`, nothing
    /// when it is not.
    fn finish(self, scope: &Scope, t: &mut Counts) {
        let today = scope.as_of.date_naive();
        let mut gap_days = self.gap_days;
        if let Some(Some(covered)) = self.moud {
            gap_days += Self::gap_in_period(scope, covered, today);
        }
        if self.on_moud_in_period {
            t.gap_days_per_client.push(gap_days as f64);
        }
        for r in self.referrals.values() {
            if r.counted && !r.answered && r.answer_by < scope.as_of {
                t.m.referrals.answered_in_time.miss(self.client);
            }
        }
        if let Some(h) = self.handoff
            && h.counted
        {
            t.m.handoffs.in_transit += 1;
        }
        for w in self.gap_watch {
            // No dose since: the gap runs until today.
            let gap = (today - w.covered_through).num_days() - 1;
            if w.counted && gap > 0 {
                t.m.moud.handoffs_without_gap.miss(self.client);
                t.m.moud.gap_days_after_handoffs += gap as u64;
            }
        }
        for w in self.dose_watch {
            if w.counted && (today - w.discharged_on).num_days() > DOSED_WITHIN_DAYS {
                t.m.moud.dosed_within_7_days.miss(self.client);
            }
        }
        for d in self.planned {
            if d.counted && scope.as_of > d.at + Duration::days(ATTENDED_WITHIN_DAYS) {
                t.m.discharges.planned_with_attended.miss(self.client);
            }
        }
        if self.lost == Some(false) {
            t.m.lost_to_care.miss(self.client);
        }
        for item in self.followups.values() {
            if !item.counted || item.superseded {
                continue;
            }
            match item.days {
                7 => t.m.fui_7.count(item.met, self.client),
                30 => t.m.fui_30.count(item.met, self.client),
                _ => {}
            }
        }
    }
}

fn hours(d: Duration) -> f64 {
    d.num_seconds() as f64 / 3600.0
}

fn day_start(at: DateTime<Utc>) -> DateTime<Utc> {
    at.date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pathway::TransitionKind;
    use crate::state::{AftercareKind, LostReason};
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 4, 9, 0, 0).unwrap()
    }

    fn org(n: u128) -> OrgId {
        OrgId(uuid::Uuid::from_u128(n))
    }

    fn level(s: &str) -> LevelId {
        LevelId::new(s)
    }

    /// One client's events, built in order.
    struct Story {
        client: ClientId,
        events: Vec<CareEvent>,
    }

    impl Story {
        fn new(n: u128) -> Self {
            Story {
                client: ClientId(uuid::Uuid::from_u128(n)),
                events: Vec::new(),
            }
        }

        fn at(mut self, hours: i64, data: EventData) -> Self {
            let seq = self.events.len() as i64 + 1;
            self.events.push(CareEvent {
                id: EventId::for_seq(self.client, seq),
                client: self.client,
                seq,
                at: t0() + Duration::hours(hours),
                level: None,
                actor_org: None,
                recipient_org: None,
                data,
            });
            self
        }
    }

    fn scope(days: i64) -> Scope {
        Scope {
            from: t0() - Duration::days(1),
            to: t0() + Duration::days(days),
            provider: None,
            level: None,
            as_of: t0() + Duration::days(days),
        }
    }

    fn measure(scope: Scope, stories: &[Story]) -> Measures {
        let mut t = Tally::new(scope);
        for s in stories {
            t.client(&s.events);
        }
        t.finish()
    }

    fn sent(n: u128, group: u128, provider: OrgId, answer_in: i64) -> EventData {
        EventData::ReferralSent {
            referral: ReferralId(uuid::Uuid::from_u128(n)),
            group: ReferralGroupId(uuid::Uuid::from_u128(group)),
            provider,
            to_level: level("residential"),
            answer_by: t0() + Duration::hours(answer_in),
            consent: None,
        }
    }

    fn rid(n: u128) -> ReferralId {
        ReferralId(uuid::Uuid::from_u128(n))
    }

    #[test]
    fn referrals_time_to_acknowledge_and_answer_deadlines_and_escalations() {
        let (a, b) = (org(20), org(21));
        let one = Story::new(1)
            .at(0, sent(1, 100, a, 24))
            .at(0, sent(2, 100, b, 24))
            .at(
                1,
                EventData::ReferralAcknowledged {
                    referral: rid(1),
                    provider: a,
                    to_level: level("residential"),
                },
            )
            .at(
                3,
                EventData::ReferralAccepted {
                    referral: rid(1),
                    provider: a,
                    to_level: level("residential"),
                    hold_until: None,
                    from_waitlist: false,
                },
            )
            .at(
                30,
                EventData::ReferralDeclined {
                    referral: rid(2),
                    provider: b,
                    to_level: level("residential"),
                    reason: DeclineCode::NoCapacity,
                },
            );
        let two = Story::new(2)
            .at(0, sent(3, 200, b, 24))
            .at(
                24,
                EventData::ReferralExpired {
                    referral: rid(3),
                    provider: b,
                    to_level: level("residential"),
                    escalate: true,
                    hold_released: false,
                },
            )
            .at(
                24,
                EventData::ReferralEscalated {
                    group: ReferralGroupId(uuid::Uuid::from_u128(200)),
                    to_level: level("residential"),
                    case_manager: None,
                },
            );
        // Sent, not due yet: not counted either way.
        let three = Story::new(3).at(24 * 9, sent(4, 300, a, 24 * 11));
        let m = measure(scope(10), &[one, two, three]);
        let r = &m.referrals;
        assert_eq!(r.sent, 4);
        assert_eq!(r.time_to_acknowledge[0].provider, a);
        assert_eq!(r.time_to_acknowledge[0].hours.p50, Some(1.0));
        let answer: BTreeMap<_, _> = r
            .time_to_answer
            .iter()
            .map(|p| (p.provider, p.hours.p50))
            .collect();
        assert_eq!(answer[&a], Some(3.0));
        assert_eq!(answer[&b], Some(30.0));
        // Accepted in time; declined late; expired unanswered: 1 of 3.
        assert_eq!(
            (r.answered_in_time.numerator, r.answered_in_time.denominator),
            (1, 3)
        );
        assert_eq!(
            r.answered_in_time.missed,
            [
                ClientId(uuid::Uuid::from_u128(1)),
                ClientId(uuid::Uuid::from_u128(2))
            ]
        );
        assert_eq!((r.escalated.numerator, r.escalated.denominator), (1, 3));
        assert_eq!(r.decline_reasons, [(DeclineCode::NoCapacity, 1)]);
    }

    fn started(to_provider: OrgId) -> EventData {
        EventData::HandoffStarted {
            kind: TransitionKind::StepDown,
            from_level: level("residential"),
            to_level: level("iop"),
            from_provider: org(20),
            to_provider,
            referral: None,
            arrive_by: t0() + Duration::days(3),
            overridden: vec![],
        }
    }

    #[test]
    fn handoffs_arrive_or_are_missed_and_follow_ups_count_visits() {
        let arrived = Story::new(1).at(0, started(org(40))).at(
            48,
            EventData::TransitionCompleted {
                kind: TransitionKind::StepDown,
                from_level: level("residential"),
                to_level: level("iop"),
                from_provider: org(20),
                to_provider: org(40),
                referral: None,
                overridden: vec![],
                reported_by: None,
            },
        );
        let missed = Story::new(2)
            .at(0, started(org(41)))
            .at(
                72,
                EventData::HandoffMissed {
                    to_level: Some(level("iop")),
                    provider: org(41),
                    referral: None,
                    arrive_by: t0() + Duration::days(3),
                    reason: crate::event::MissReason::Deadline,
                    reported_by: None,
                },
            )
            .at(
                72,
                EventData::ClientLostToCare {
                    reason: LostReason::MissedArrival,
                },
            )
            .at(
                24 * 7,
                EventData::FollowupMissed {
                    days: 7,
                    episode: EpisodeId(uuid::Uuid::from_u128(9)),
                    exit: None,
                },
            );
        let underway = Story::new(3).at(0, started(org(40))).at(
            24 * 7,
            EventData::FollowupMet {
                days: 7,
                episode: EpisodeId(uuid::Uuid::from_u128(8)),
                provider: org(40),
                exit: None,
                report_delay_days: None,
            },
        );
        let m = measure(scope(10), &[arrived, missed, underway]);
        assert_eq!(
            (m.handoffs.arrived.numerator, m.handoffs.arrived.denominator),
            (1, 2)
        );
        assert_eq!(
            m.handoffs.arrived.missed,
            [ClientId(uuid::Uuid::from_u128(2))]
        );
        assert_eq!(m.handoffs.in_transit, 1);
        assert_eq!(m.handoffs.days_in_transit.p50, Some(2.0));
        assert_eq!((m.fui_7.numerator, m.fui_7.denominator), (1, 2));
        assert_eq!(
            (m.lost_to_care.numerator, m.lost_to_care.denominator),
            (0, 1)
        );
        // Narrowed to the receiving provider that saw the arrival.
        let mut s = scope(10);
        s.provider = Some(org(41));
        let narrowed = measure(
            s,
            &[
                Story::new(2).at(0, started(org(41))),
                Story::new(1).at(0, started(org(40))),
            ],
        );
        assert_eq!(narrowed.handoffs.in_transit, 1);
    }

    #[test]
    fn moud_gap_days_at_handoffs_follow_domains_definition() {
        let through = t0().date_naive() + Duration::days(2);
        let plan = EventData::MatPlanRecorded {
            medication: Medication::Buprenorphine,
            covered_through: through,
        };
        let refill = |days_after_supply: i64| EventData::MatRefillPickedUp {
            booking: BookingId(uuid::Uuid::from_u128(5)),
            provider: org(30),
            covered_through: Some(through + Duration::days(days_after_supply + 30)),
            reported_by: None,
        };
        // Supply through D, next supply on D+1: no gap day.
        let on_time = Story::new(1)
            .at(0, plan.clone())
            .at(1, started(org(40)))
            .at(24 * 3, refill(1));
        // On D+3: two gap days.
        let late = Story::new(2)
            .at(0, plan.clone())
            .at(1, started(org(40)))
            .at(24 * 5, refill(3));
        let m = measure(scope(20), &[on_time, late]);
        let moud = &m.moud;
        assert_eq!(
            (
                moud.handoffs_without_gap.numerator,
                moud.handoffs_without_gap.denominator
            ),
            (1, 2)
        );
        assert_eq!(
            moud.handoffs_without_gap.missed,
            [ClientId(uuid::Uuid::from_u128(2))]
        );
        assert_eq!(moud.gap_days_after_handoffs, 2);
        assert_eq!(moud.gap_days_per_client.count, 2);
        assert_eq!(moud.gap_days_per_client.p90, Some(2.0));
    }

    #[test]
    fn discharges_planned_with_booked_and_attended_aftercare_and_unplanned() {
        let booking = BookingId(uuid::Uuid::from_u128(6));
        let planned = Story::new(1)
            .at(
                0,
                EventData::AftercareScheduled {
                    booking,
                    provider: org(50),
                    kind: AftercareKind::Outpatient,
                    at: t0() + Duration::days(3),
                },
            )
            .at(
                24,
                EventData::DischargeCompleted {
                    kind: DischargeKind::Planned,
                    episode: EpisodeId(uuid::Uuid::from_u128(9)),
                    from_level: level("iop"),
                    from_provider: org(40),
                    to_provider: None,
                    overridden: vec![],
                },
            )
            .at(
                24 * 3,
                EventData::AftercareAttended {
                    booking,
                    provider: org(50),
                    kind: AftercareKind::Outpatient,
                    reported_by: None,
                },
            );
        let ama = Story::new(2).at(
            5,
            EventData::DischargeUnplanned {
                kind: DischargeKind::AgainstMedicalAdvice,
                episode: EpisodeId(uuid::Uuid::from_u128(10)),
                from_level: level("residential"),
                from_provider: org(20),
                at_risk: false,
            },
        );
        let m = measure(scope(40), &[planned, ama]);
        let d = &m.discharges;
        assert_eq!(
            (
                d.planned_with_booking.numerator,
                d.planned_with_booking.denominator
            ),
            (1, 1)
        );
        assert_eq!(
            (
                d.planned_with_attended.numerator,
                d.planned_with_attended.denominator
            ),
            (1, 1)
        );
        assert_eq!((d.unplanned.numerator, d.unplanned.denominator), (1, 2));
        assert_eq!(d.against_advice, 1);
        // Before the period: nothing counts.
        let mut later = scope(40);
        later.from = t0() + Duration::days(2);
        let none = measure(later, &[Story::new(2).at(5, EventData::MatPlanEnded)]);
        assert_eq!(none.discharges.unplanned.denominator, 0);
        assert_eq!(none.discharges.unplanned.rate(), None);
    }

    fn unplanned(n: u128) -> EventData {
        EventData::DischargeUnplanned {
            kind: DischargeKind::AgainstMedicalAdvice,
            episode: EpisodeId(uuid::Uuid::from_u128(n)),
            from_level: level("detox"),
            from_provider: org(10),
            at_risk: true,
        }
    }

    #[test]
    fn a_followup_counts_its_last_judgment_and_not_once_superseded() {
        let ep = EpisodeId(uuid::Uuid::from_u128(5));
        // Client 1: missed at day 8, met on a late report at day 9 — one hit.
        let late = Story::new(1).at(0, unplanned(5));
        let exit = late.events[0].id;
        let late = late
            .at(
                8 * 24,
                EventData::FollowupMissed {
                    days: 7,
                    episode: ep,
                    exit: Some(exit),
                },
            )
            .at(
                9 * 24,
                EventData::FollowupMet {
                    days: 7,
                    episode: ep,
                    provider: org(40),
                    exit: Some(exit),
                    report_delay_days: Some(4),
                },
            );
        // Client 2: missed, then back in detox within 30 days — only the last exit counts.
        let back = Story::new(2).at(0, unplanned(6));
        let first = back.events[0].id;
        let back = back
            .at(
                8 * 24,
                EventData::FollowupMissed {
                    days: 7,
                    episode: ep,
                    exit: Some(first),
                },
            )
            .at(
                10 * 24,
                EventData::FollowupSuperseded {
                    days: 7,
                    episode: ep,
                    exit: first,
                },
            )
            .at(
                10 * 24,
                EventData::FollowupSuperseded {
                    days: 30,
                    episode: ep,
                    exit: first,
                },
            );
        let m = measure(scope(40), &[late, back]);
        assert_eq!((m.fui_7.numerator, m.fui_7.denominator), (1, 1));
        assert_eq!(m.fui_30.denominator, 0);
    }

    #[test]
    fn arrivals_and_outcomes_confirmed_by_the_receiving_side_are_a_share_of_their_own() {
        let arrived = |by| EventData::TransitionCompleted {
            kind: TransitionKind::StepDown,
            from_level: level("detox"),
            to_level: level("residential"),
            from_provider: org(10),
            to_provider: org(20),
            referral: None,
            overridden: vec![],
            reported_by: by,
        };
        let kept = |by| EventData::AftercareAttended {
            booking: BookingId(uuid::Uuid::from_u128(70)),
            provider: org(40),
            kind: AftercareKind::Outpatient,
            reported_by: by,
        };
        let confirmed = Story::new(1)
            .at(0, started(org(20)))
            .at(20, arrived(Some(ReportedBy::Receiver)))
            .at(30, kept(Some(ReportedBy::Receiver)));
        let relayed = Story::new(2)
            .at(0, started(org(20)))
            .at(20, arrived(Some(ReportedBy::Relayed)))
            .at(30, kept(Some(ReportedBy::Relayed)));
        let m = measure(scope(10), &[confirmed, relayed]);
        let r = &m.closed_loop.arrivals_by_receiver;
        assert_eq!((r.numerator, r.denominator), (1, 2));
        assert_eq!(r.missed, vec![ClientId(uuid::Uuid::from_u128(2))]);
        let o = &m.closed_loop.outcomes_by_receiver;
        assert_eq!((o.numerator, o.denominator), (1, 2));
        assert_eq!(m.handoffs.arrived.numerator, 2);
    }
}
