//! The decision core: `(state, command, pathway, now) → new state + events + effects`, or a
//! typed error. Pure: no I/O, no clock, no randomness. Everything it wants to happen outside
//! (timers, disclosures, occupancy, the referral rows it changes) comes back as data to be
//! committed in the same transaction: the store writes what the decision says and works out
//! nothing itself.
//!
//! This module only dispatches: the `Draft` being built and what every command shares
//! live in `draft.rs`, each family of commands in a file of its own (`placement` — a folder,
//! one file per command —, `referrals`, `consent`, `care_plan`, `handoff`, `timers`).

mod care_plan;
mod case_manager;
mod consent;
mod draft;
#[cfg(test)]
mod fixture;
mod handoff;
#[cfg(test)]
mod next_steps;
#[cfg(test)]
mod notices;
mod placement;
mod referrals;
mod timers;

use super::command::*;
use super::error::DecisionError;
use super::event::{CareEvent, Disclosure, OccupancyChange, TimerOp};
use super::state::*;
use crate::ids::*;
use crate::pathway::{LevelId, Pathway};
use chrono::{DateTime, Utc};
use draft::{Draft, Exceptions};
use std::collections::{BTreeMap, BTreeSet};

/// What the engine knows about the organizations a command names.
#[derive(Clone, Debug, Default)]
pub struct OrgDirectory(pub BTreeMap<OrgId, OrgInfo>);

#[derive(Clone, Debug)]
pub struct OrgInfo {
    pub id: OrgId,
    /// Levels of care it offers (empty for a pharmacy or a case-management program).
    pub levels: Vec<LevelId>,
    /// The MAT services it provides: which MAT bookings it can take
    /// ([`MatBookingKind::delivered_by`]).
    pub mat_services: BTreeSet<MatService>,
}

impl OrgInfo {
    /// Whether it provides a service that can take a `kind` booking.
    pub fn delivers(&self, kind: MatBookingKind) -> bool {
        kind.delivered_by()
            .iter()
            .any(|s| self.mat_services.contains(s))
    }
}

impl OrgDirectory {
    pub fn get(&self, id: OrgId) -> Option<&OrgInfo> {
        self.0.get(&id)
    }

    /// Add an organization offering `levels` (none for a pharmacy or a case-management
    /// program) and no MAT service, or replace it.
    pub fn add(&mut self, id: OrgId, levels: Vec<LevelId>) {
        self.add_with_mat(id, levels, &[]);
    }

    /// Add an organization offering `levels` and providing `mat_services`, or replace it.
    pub fn add_with_mat(&mut self, id: OrgId, levels: Vec<LevelId>, mat_services: &[MatService]) {
        let mat_services = mat_services.iter().copied().collect();
        self.0.insert(
            id,
            OrgInfo {
                id,
                levels,
                mat_services,
            },
        );
    }
}

/// What the engine knows about the staff members a command names: who holds a live token,
/// of which organization, in which role.
#[derive(Clone, Debug, Default)]
pub struct StaffDirectory(pub BTreeMap<StaffId, StaffMember>);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaffMember {
    pub org: OrgId,
    pub role: Role,
}

impl StaffDirectory {
    /// No staff member known: for the commands that name none.
    pub fn none() -> &'static StaffDirectory {
        static NONE: StaffDirectory = StaffDirectory(BTreeMap::new());
        &NONE
    }

    pub fn get(&self, id: StaffId) -> Option<&StaffMember> {
        self.0.get(&id)
    }
}

/// The inputs besides state and command.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    pub pathway: &'a Pathway,
    pub now: DateTime<Utc>,
    pub orgs: &'a OrgDirectory,
    pub staff: &'a StaffDirectory,
}

/// An accepted command's consequences, committed together or not at all.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub state: ClientState,
    pub events: Vec<CareEvent>,
    pub timers: Vec<TimerOp>,
    pub disclosures: Vec<Disclosure>,
    pub occupancy: Vec<OccupancyChange>,
    /// The referrals this decision created or changed, as it leaves them (in the state's
    /// order): the rows of the referral projection (inbox, denial log) to write.
    pub referrals: Vec<Referral>,
    /// The client's display name and record number to keep beside the record (never in
    /// it, never in an event).
    pub identity: Option<ClientIdentity>,
}

/// Decide a command, its input checked first ([`crate::input::check_command`]). `state` is
/// `None` only for a client not yet registered.
pub fn decide(
    state: Option<&ClientState>,
    env: &Envelope,
    ctx: &Context<'_>,
) -> Result<Decision, DecisionError> {
    crate::input::check_command(&env.command, ctx.pathway)?;
    decide_screened(state, env, ctx)
}

/// Decide a command whose input was checked ([`crate::input::Checked`]) for `actor` on
/// `client`: the engine's path, which checks a command once before it reads anything.
pub fn decide_checked(
    state: Option<&ClientState>,
    client: ClientId,
    actor: Actor,
    expected_version: Option<i64>,
    command: &crate::input::Checked,
    ctx: &Context<'_>,
) -> Result<Decision, DecisionError> {
    let env = Envelope {
        client,
        actor,
        expected_version,
        command: command.command().clone(),
    };
    decide_screened(state, &env, ctx)
}

/// Decide a command whose input was checked.
fn decide_screened(
    state: Option<&ClientState>,
    env: &Envelope,
    ctx: &Context<'_>,
) -> Result<Decision, DecisionError> {
    if let Command::RegisterClient {
        home_org,
        birth_year,
        identity,
    } = &env.command
    {
        let mut d = placement::register_client(state, env, *home_org, *birth_year, ctx)?;
        d.identity = identity.clone();
        return Ok(d);
    }
    let mut d = Draft::open(state, env, ctx)?;
    d.apply(&env.command)?;
    Ok(d.conclude())
}

impl Draft<'_> {
    /// Hand a command on a registered client to its family.
    fn apply(&mut self, command: &Command) -> Result<(), DecisionError> {
        match command {
            Command::RegisterClient { .. } => unreachable!("decided by placement::register_client"),
            Command::Admit {
                level,
                provider,
                planned_hours_per_week,
                track,
                overrides,
                emergency,
            } => self.admit(
                level,
                *provider,
                *planned_hours_per_week,
                track,
                overrides,
                emergency.as_ref(),
            ),
            Command::RecordConsent {
                recipients,
                purpose,
                information,
                expiry,
                signed_on,
            } => self.record_consent(recipients, purpose, information, *expiry, *signed_on),
            Command::RevokeConsent { consent } => self.revoke_consent(*consent),
            Command::SendReferral {
                to_level,
                providers,
            } => self.send_referral(to_level, providers),
            Command::ResendReferral { group, providers } => self.resend_referral(*group, providers),
            Command::AssignCaseManager { staff } => self.assign_case_manager(*staff),
            Command::RecordIdentity { identity } => self.record_identity(identity),
            Command::AcknowledgeReferral { referral } => self.acknowledge_referral(*referral),
            Command::AcceptReferral { referral } => self.accept_referral(*referral),
            Command::WaitlistReferral { referral } => self.waitlist_referral(*referral),
            Command::DeclineReferral { referral, reason } => {
                self.decline_referral(*referral, reason)
            }
            Command::WithdrawReferral { referral } => self.withdraw_referral(*referral),
            Command::RecordAssessment {
                recommended_level,
                dimensions,
                assessed_at,
            } => self.record_assessment(recommended_level, *dimensions, *assessed_at),
            Command::RecordMatPlan {
                medication,
                supply_through,
                last_injection_on,
            } => self.record_mat_plan(*medication, *supply_through, *last_injection_on),
            Command::EndMatPlan => self.end_mat_plan(),
            Command::ScheduleAftercare { provider, kind, at } => {
                self.schedule_aftercare(*provider, *kind, *at)
            }
            Command::ScheduleMatRefill { provider, kind, on } => {
                self.schedule_mat_refill(*provider, *kind, *on)
            }
            Command::RecordBookingOutcome {
                booking,
                outcome,
                relayed_by,
            } => self.record_booking_outcome(*booking, outcome, relayed_by.as_ref()),
            Command::PlanHandoff { target, on } => self.plan_handoff(target, *on),
            Command::Transition {
                kind,
                to_level,
                provider,
                planned_hours_per_week,
                track,
                overrides,
                emergency,
            } => self.transition(
                *kind,
                to_level,
                *provider,
                *planned_hours_per_week,
                track,
                Exceptions {
                    overrides,
                    emergency: emergency.as_ref(),
                },
            ),
            Command::Discharge {
                kind,
                provider,
                overrides,
            } => self.discharge(*kind, *provider, overrides),
            Command::ConfirmArrival { relayed_by } => self.confirm_arrival(relayed_by.as_ref()),
            Command::ReportNoShow { relayed_by } => self.report_no_show(relayed_by.as_ref()),
            Command::FireTimer { timer } => self.fire_timer(timer),
            Command::OfferFreedSlot { referral } => self.offer_freed_slot(*referral),
        }
    }
}
