//! The decision being built, and what every family of commands shares: opening a draft on
//! the client (authorization, input, version), appending events, the checks on levels,
//! organizations, hours and text, the gates and the disclosure basis of a move, timers,
//! placement and occupancy, and withdrawing referrals.

use super::{Context, Decision, OrgInfo};
use crate::command::*;
use crate::error::DecisionError;
use crate::event::*;
use crate::gates::{self, MoveCheck};
use crate::ids::*;
use crate::pathway::{Gate, Level, LevelId, Pathway};
use crate::policy;
use crate::state::*;
use chrono::{DateTime, Duration, NaiveDate, Utc};

const MAX_TEXT: usize = 500;

/// Authorization, before anything else is looked at (the input was checked before the
/// decision began: [`super::decide`]); the organization the events are attributed to
/// (`None` for the engine's own timers).
pub(super) fn screen(
    state: Option<&ClientState>,
    env: &Envelope,
    ctx: &Context<'_>,
) -> Result<Option<OrgId>, DecisionError> {
    policy::authorize(&env.actor, &env.command, state, ctx.now)?;
    Ok((env.actor.role != Role::System).then_some(env.actor.org))
}

/// What a move may pass without: gates a supervisor overrides, and the consent a declared
/// medical emergency stands in for.
#[derive(Clone, Copy)]
pub(super) struct Exceptions<'a> {
    pub(super) overrides: &'a [GateOverride],
    pub(super) emergency: Option<&'a MedicalEmergency>,
}

/// Why a move may take the client's record to the receiving organization.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Basis {
    /// No disclosure: the organization holds the record or is treating the client.
    Inside,
    Consent(ConsentId),
    /// 42 CFR 2.51, with the clinician's reason.
    Emergency(String),
    /// None: the move is refused.
    Missing,
}

impl Basis {
    /// The pathway's gates for the move. A declared emergency stands in for the consent
    /// gate and for the accepted referral (no referral can go where no consent names); the
    /// clinical gates (a reassessment recommending the level, MAT continuity) still hold.
    pub(super) fn gates_to_check(&self, gates: &[Gate]) -> Vec<Gate> {
        let emergency = matches!(self, Basis::Emergency(_));
        gates
            .iter()
            .copied()
            .filter(|g| !(emergency && matches!(g, Gate::Consent | Gate::AcceptedReferral)))
            .collect()
    }

    pub(super) fn require(&self, provider: OrgId) -> Result<(), DecisionError> {
        match self {
            Basis::Missing => Err(DecisionError::ConsentRequired {
                orgs: vec![provider],
            }),
            _ => Ok(()),
        }
    }
}

/// The decision being built.
pub(super) struct Draft<'a> {
    pub(super) s: ClientState,
    pub(super) events: Vec<CareEvent>,
    pub(super) timers: Vec<TimerOp>,
    pub(super) disclosures: Vec<Disclosure>,
    pub(super) occupancy: Vec<OccupancyChange>,
    /// The referrals created or changed so far (through [`Draft::add_referral`] and
    /// [`Draft::referral_mut`], the only ways a family changes one).
    touched: Vec<ReferralId>,
    actor_org: Option<OrgId>,
    /// The person acting, when one is (see [`Actor::staff`]).
    pub(super) actor_staff: Option<(Role, StaffId)>,
    /// A display name and record number to keep beside the record.
    pub(super) identity: Option<ClientIdentity>,
    ctx: &'a Context<'a>,
}

impl<'a> Draft<'a> {
    pub(super) fn new(s: ClientState, actor_org: Option<OrgId>, ctx: &'a Context<'a>) -> Self {
        Self {
            s,
            events: Vec::new(),
            timers: Vec::new(),
            disclosures: Vec::new(),
            occupancy: Vec::new(),
            touched: Vec::new(),
            actor_org,
            actor_staff: None,
            identity: None,
            ctx,
        }
    }

    /// A draft for a command on a registered client: authorized, the
    /// client known and at the version the caller expects.
    pub(super) fn open(
        state: Option<&ClientState>,
        env: &Envelope,
        ctx: &'a Context<'a>,
    ) -> Result<Self, DecisionError> {
        let actor_org = screen(state, env, ctx)?;
        let Some(state) = state else {
            return Err(DecisionError::not_found("client", env.client));
        };
        if let Some(expected) = env.expected_version
            && expected != state.version
        {
            return Err(DecisionError::stale_version(expected, state.version));
        }
        let mut d = Self::new(state.clone(), actor_org, ctx);
        d.actor_staff = env.actor.staff.map(|s| (env.actor.role, s));
        Ok(d)
    }

    pub(super) fn now(&self) -> DateTime<Utc> {
        self.ctx.now
    }

    pub(super) fn today(&self) -> NaiveDate {
        self.ctx.now.date_naive()
    }

    /// The earliest date it is anywhere on Earth now (UTC−12): a calendar date a person typed
    /// where they are is in the past only before it. The domain knows no one's time zone.
    pub(super) fn earliest_today(&self) -> NaiveDate {
        (self.ctx.now - chrono::Duration::hours(12)).date_naive()
    }

    /// The latest date it is anywhere on Earth now (UTC+14): a calendar date a person typed
    /// where they are is in the future only after it.
    pub(super) fn latest_today(&self) -> NaiveDate {
        (self.ctx.now + chrono::Duration::hours(14)).date_naive()
    }

    pub(super) fn pathway(&self) -> &'a Pathway {
        self.ctx.pathway
    }

    pub(super) fn staff_member(&self, id: StaffId) -> Option<&'a crate::decide::StaffMember> {
        self.ctx.staff.get(id)
    }

    pub(super) fn finish(mut self) -> Decision {
        self.s.version += 1;
        let referrals = self
            .s
            .referrals
            .iter()
            .filter(|r| self.touched.contains(&r.id))
            .cloned()
            .collect();
        Decision {
            state: self.s,
            events: self.events,
            timers: self.timers,
            disclosures: self.disclosures,
            occupancy: self.occupancy,
            referrals,
            identity: self.identity,
        }
    }

    /// Append an event; returns its id.
    pub(super) fn emit(
        &mut self,
        level: Option<LevelId>,
        recipient: Option<OrgId>,
        data: EventData,
    ) -> EventId {
        self.s.last_seq += 1;
        let id = EventId::for_seq(self.s.id, self.s.last_seq);
        self.events.push(CareEvent {
            id,
            client: self.s.id,
            seq: self.s.last_seq,
            at: self.ctx.now,
            level,
            actor_org: self.actor_org,
            recipient_org: recipient.filter(|o| *o != self.s.home_org),
            data,
        });
        id
    }

    /// The open episode of a client in care or on the way between placements.
    pub(super) fn episode_id(&self) -> EpisodeId {
        self.s
            .episode
            .as_ref()
            .expect("a client in care has an episode")
            .id
    }

    pub(super) fn current_level(&self) -> Option<LevelId> {
        self.s.level().cloned()
    }

    /// The organization acting (`None` for the engine's own timers).
    pub(super) fn actor_org(&self) -> Option<OrgId> {
        self.actor_org
    }

    /// In what capacity the actor reports what happened at `receiver` (an arrival, a no-show,
    /// a booking's outcome): the receiving side in its own name; anyone else only relaying
    /// the receiving side's report, saying who gave it. Who may report at all is `policy`'s.
    pub(super) fn reported_by(
        &self,
        receiver: OrgId,
        relayed: Option<&RelayedBy>,
    ) -> Result<ReportedBy, DecisionError> {
        match (self.actor_org == Some(receiver), relayed) {
            (true, None) => Ok(ReportedBy::Receiver),
            (true, Some(_)) => Err(DecisionError::bad(
                "the receiving side reports what it saw in its own name: relayedBy is for a \
                 report relayed by the sender",
            )),
            (false, Some(_)) => Ok(ReportedBy::Relayed),
            (false, None) => Err(DecisionError::bad(
                "only the receiving side reports this in its own name: record it as relayed, \
                 saying who reported it (relayedBy, e.g. \"phone call from the intake nurse\")",
            )),
        }
    }

    /// Keep who relayed the report the event `event` records beside the record (never in
    /// the event).
    pub(super) fn keep_relayed(&mut self, event: EventId, relayed: Option<&RelayedBy>) {
        if let (Some(r), Some(org)) = (relayed, self.actor_org) {
            self.s.relayed_reports.push(RelayedReport {
                event,
                at: self.now(),
                org,
                staff: self.actor_staff.map(|(_, s)| s),
                note: r.note.clone(),
            });
        }
    }

    /// The decision of a command on a registered client: after every command a planned
    /// handoff's readiness is refreshed (`handoff.ready`), then the version goes up by one.
    pub(super) fn conclude(mut self) -> Decision {
        self.refresh_handoff();
        self.finish()
    }

    // ---- checks -------------------------------------------------------------------------

    pub(super) fn level(&self, id: &LevelId) -> Result<&'a Level, DecisionError> {
        self.pathway().level(id).ok_or_else(|| {
            DecisionError::bad(format!(
                "unknown level \"{id}\" in pathway {}",
                self.pathway().id
            ))
        })
    }

    pub(super) fn org(&self, id: OrgId) -> Result<&'a OrgInfo, DecisionError> {
        self.ctx
            .orgs
            .get(id)
            .ok_or_else(|| DecisionError::not_found("organization", id))
    }

    pub(super) fn provider_offering(
        &self,
        id: OrgId,
        level: &LevelId,
    ) -> Result<(), DecisionError> {
        let org = self.org(id)?;
        if org.levels.contains(level) {
            Ok(())
        } else {
            Err(DecisionError::bad(format!(
                "organization {id} does not offer level {level}"
            )))
        }
    }

    pub(super) fn hours(&self, level: &Level, hours: f32) -> Result<(), DecisionError> {
        if hours.is_finite() && level.weekly_hours.contains(hours) {
            Ok(())
        } else {
            Err(DecisionError::bad(format!(
                "planned {hours} h/week is outside {}'s band of {}",
                level.id, level.weekly_hours
            )))
        }
    }

    pub(super) fn text(what: &str, value: &str) -> Result<(), DecisionError> {
        crate::input::check_length(what, value, MAX_TEXT)
    }

    pub(super) fn invalid(&self, attempted: String) -> DecisionError {
        let from = match (self.s.status, &self.s.transit) {
            (ClientStatus::Registered, _) => "registered (not admitted)".to_owned(),
            (ClientStatus::Discharged, _) => "discharged".to_owned(),
            (ClientStatus::Active, _) => self
                .current_level()
                .map(|l| l.to_string())
                .unwrap_or_default(),
            (ClientStatus::InTransit, Some(t)) if t.missed => {
                format!("{} (missed the arrival at {})", t.from_level, t.to_level)
            }
            (ClientStatus::InTransit, Some(t)) => format!(
                "in transit to {} (confirm the arrival or report a no-show first)",
                t.to_level
            ),
            (ClientStatus::InTransit, None) => "in transit".to_owned(),
        };
        DecisionError::InvalidTransition {
            from,
            attempted,
            allowed: gates::allowed_moves(&self.s, self.pathway()),
        }
    }

    pub(super) fn require_active(
        &self,
        attempted: impl FnOnce() -> String,
    ) -> Result<(), DecisionError> {
        if self.s.status == ClientStatus::Active {
            Ok(())
        } else {
            Err(self.invalid(attempted()))
        }
    }

    /// Check gates and overrides; `Ok` with the overrides that were needed.
    pub(super) fn pass_gates(
        &self,
        required: &[Gate],
        mv: &MoveCheck<'_>,
        overrides: &[GateOverride],
    ) -> Result<Vec<GateOverride>, DecisionError> {
        for o in overrides {
            if o.gate == Gate::Consent {
                return Err(DecisionError::bad(
                    "the consent gate cannot be overridden (42 CFR Part 2)",
                ));
            }
            if !required.contains(&o.gate) {
                return Err(DecisionError::bad(format!(
                    "gate {} is not required by this move",
                    o.gate
                )));
            }
            Self::text("override reason", &o.reason)?;
        }
        let reports = gates::evaluate(&self.s, self.pathway(), required, mv, self.now());
        let unmet: Vec<GateReport> = reports
            .into_iter()
            .filter(|r| !r.met && !overrides.iter().any(|o| o.gate == r.gate))
            .collect();
        if !unmet.is_empty() {
            return Err(DecisionError::GateUnmet { unmet });
        }
        Ok(overrides.to_vec())
    }

    /// On what basis the client's record may go to `provider` for a move to `level`.
    pub(super) fn disclosure_basis(
        &self,
        provider: OrgId,
        level: &Level,
        emergency: Option<&MedicalEmergency>,
    ) -> Result<Basis, DecisionError> {
        if let Some(e) = emergency {
            Self::text("medical emergency reason", &e.reason)?;
            if !level.admits_in_emergency() {
                return Err(DecisionError::bad(format!(
                    "a medical emergency (42 CFR 2.51) moves a client only to a level with \
                     medical personnel (withdrawal management, ASAM 3.7 or 4), not to {}",
                    level.id
                )));
            }
        }
        Ok(self.basis_for(provider, emergency))
    }

    pub(super) fn basis_for(&self, provider: OrgId, emergency: Option<&MedicalEmergency>) -> Basis {
        if self.s.is_inside(provider) {
            Basis::Inside
        } else if let Some(c) = self.s.active_consent_for(provider, self.now()) {
            Basis::Consent(c.id)
        } else if let Some(e) = emergency {
            Basis::Emergency(e.reason.trim().to_owned())
        } else {
            Basis::Missing
        }
    }

    /// Record the disclosure a move to `provider` makes, on its basis; a move on a medical
    /// emergency also raises `disclosure.emergency` for review.
    pub(super) fn disclose(
        &mut self,
        provider: OrgId,
        level: &LevelId,
        basis: &Basis,
        event: EventId,
        what: String,
    ) {
        let (consent, legal_basis) = match basis {
            Basis::Inside | Basis::Missing => return,
            Basis::Consent(c) => (Some(*c), None),
            Basis::Emergency(reason) => {
                self.emit(
                    Some(level.clone()),
                    None,
                    EventData::DisclosureEmergency {
                        provider,
                        level: level.clone(),
                        event,
                    },
                );
                (
                    None,
                    Some(format!("medical emergency (42 CFR 2.51): {reason}")),
                )
            }
        };
        self.disclosures.push(Disclosure {
            recipient: provider,
            consent,
            legal_basis,
            what,
            event,
            at: self.now(),
        });
    }

    // ---- timers and occupancy ---------------------------------------------------------------

    pub(super) fn schedule(&mut self, key: String, due_at: DateTime<Utc>, kind: TimerKind) {
        self.timers.push(TimerOp::Schedule { key, due_at, kind });
    }

    pub(super) fn cancel(&mut self, key: String) {
        self.timers.push(TimerOp::Cancel { key });
    }

    pub(super) fn referral_timer_key(id: ReferralId) -> String {
        format!("referral:{id}")
    }

    /// Place the client: occupancy, review timer.
    pub(super) fn place(
        &mut self,
        level: &Level,
        provider: OrgId,
        hours: f32,
        track: &Option<String>,
        seq: i64,
    ) {
        let episode = self.episode_id();
        let key = format!("review:{episode}:{seq}");
        let due = self.now() + Duration::days(i64::from(level.review_interval_days));
        self.schedule(
            key.clone(),
            due,
            TimerKind::ReviewDue {
                episode,
                level: level.id.clone(),
            },
        );
        self.occupancy
            .push(OccupancyChange::occupy(provider, level.id.clone(), 1));
        // Placed: whatever group ran out before is no longer anyone's to act on.
        self.s.escalation = None;
        self.s.placements.push(PlacementRecord {
            episode,
            level: level.id.clone(),
            provider,
            since: self.now(),
        });
        self.s.placement = Some(Placement {
            level: level.id.clone(),
            provider,
            planned_hours_per_week: hours,
            track: track.clone(),
            since: self.now(),
            review_timer: key,
        });
        if level.followup_on_exit {
            self.supersede_followups();
        }
    }

    /// Leave the current placement: occupancy, review timer.
    pub(super) fn unplace(&mut self) -> Option<Placement> {
        let p = self.s.placement.take()?;
        self.cancel(p.review_timer.clone());
        self.occupancy
            .push(OccupancyChange::occupy(p.provider, p.level.clone(), -1));
        Some(p)
    }

    /// Hold a slot at `provider`'s `level` (`delta` 1), or release one (-1).
    pub(super) fn hold_slot(&mut self, provider: OrgId, level: &LevelId, delta: i32) {
        self.occupancy
            .push(OccupancyChange::hold(provider, level.clone(), delta));
    }

    pub(super) fn hold_timer_key(id: ReferralId) -> String {
        format!("hold:{id}")
    }

    // ---- referrals (withdrawn by referral, consent and placement commands alike) --------

    /// Withdraw open referrals matching `filter` (a `scheduled` one is the transit's to
    /// end: see [`Draft::end_transit`]).
    pub(super) fn withdraw_where(
        &mut self,
        reason: WithdrawReason,
        filter: impl Fn(&Referral) -> bool,
    ) {
        let ids: Vec<ReferralId> = self
            .s
            .referrals
            .iter()
            .filter(|r| r.status.is_open() && r.status != ReferralStatus::Scheduled)
            .filter(|r| filter(r))
            .map(|r| r.id)
            .collect();
        for id in ids {
            self.withdraw(id, reason);
        }
    }

    pub(super) fn withdraw(&mut self, id: ReferralId, reason: WithdrawReason) {
        let now = self.now();
        let r = self.referral_mut(id);
        let was = r.status;
        r.status = ReferralStatus::Withdrawn;
        r.withdraw_reason = Some(reason);
        r.answered_at.get_or_insert(now);
        let (provider, to_level) = (r.provider, r.to_level.clone());
        if was.awaits_answer() {
            self.cancel(Self::referral_timer_key(id));
        }
        if was == ReferralStatus::Accepted {
            self.cancel(Self::hold_timer_key(id));
            self.hold_slot(provider, &to_level, -1);
        }
        self.emit(
            Some(to_level.clone()),
            Some(provider),
            EventData::ReferralWithdrawn {
                referral: id,
                provider,
                to_level,
                reason,
            },
        );
    }

    /// A referral to change; its row is written with the decision.
    pub(super) fn referral_mut(&mut self, id: ReferralId) -> &mut Referral {
        self.touch(id);
        self.s
            .referrals
            .iter_mut()
            .find(|r| r.id == id)
            .expect("known referral")
    }

    /// A new referral; its row is written with the decision.
    pub(super) fn add_referral(&mut self, referral: Referral) {
        self.touch(referral.id);
        self.s.referrals.push(referral);
    }

    fn touch(&mut self, id: ReferralId) {
        if !self.touched.contains(&id) {
            self.touched.push(id);
        }
    }
}
