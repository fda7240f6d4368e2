//! The decision core: `(state, command, pathway, now) → new state + events + effects`, or a
//! typed error. Pure: no I/O, no clock, no randomness. Everything it wants to happen outside
//! (timers, disclosures, occupancy) comes back as data to be committed in the same transaction.

use super::command::*;
use super::error::DecisionError;
use super::event::*;
use super::gates::{self, MoveCheck};
use super::policy;
use super::state::*;
use crate::ids::*;
use crate::pathway::{AllowedMove, DischargeKind, Gate, Level, LevelId, Pathway, TransitionKind};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use std::collections::BTreeMap;

/// What the engine knows about the organizations a command names.
#[derive(Clone, Debug, Default)]
pub struct OrgDirectory(pub BTreeMap<OrgId, OrgInfo>);

#[derive(Clone, Debug)]
pub struct OrgInfo {
    pub id: OrgId,
    /// Levels of care it offers (empty for a pharmacy or a case-management program).
    pub levels: Vec<LevelId>,
}

impl OrgDirectory {
    pub fn get(&self, id: OrgId) -> Option<&OrgInfo> {
        self.0.get(&id)
    }

    /// Add an organization offering `levels` (none for a pharmacy or a case-management
    /// program), or replace it.
    pub fn add(&mut self, id: OrgId, levels: Vec<LevelId>) {
        self.0.insert(id, OrgInfo { id, levels });
    }
}

/// The inputs besides state and command.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    pub pathway: &'a Pathway,
    pub now: DateTime<Utc>,
    pub orgs: &'a OrgDirectory,
}

/// An accepted command's consequences, committed together or not at all.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub state: ClientState,
    pub events: Vec<CareEvent>,
    pub timers: Vec<TimerOp>,
    pub disclosures: Vec<Disclosure>,
    pub occupancy: Vec<OccupancyChange>,
}

const MAX_PROVIDERS_PER_REFERRAL: usize = 10;
const MAX_TEXT: usize = 500;

/// Decide a command. `state` is `None` only for a client not yet registered.
pub fn decide(
    state: Option<&ClientState>,
    env: &Envelope,
    ctx: &Context<'_>,
) -> Result<Decision, DecisionError> {
    policy::authorize(&env.actor, &env.command, state, ctx.now)?;
    super::input::check_command(&env.command)?;
    let actor_org = (env.actor.role != Role::System).then_some(env.actor.org);

    let state = match (&env.command, state) {
        (
            Command::RegisterClient {
                home_org,
                birth_year,
            },
            None,
        ) => {
            return register(env.client, *home_org, *birth_year, actor_org, ctx);
        }
        (Command::RegisterClient { .. }, Some(_)) => {
            return Err(DecisionError::Conflict("client already registered".into()));
        }
        (_, None) => return Err(DecisionError::not_found("client", env.client)),
        (_, Some(s)) => s,
    };
    if let Some(expected) = env.expected_version
        && expected != state.version
    {
        return Err(DecisionError::Conflict(format!(
            "expected version {expected}, current version is {}",
            state.version
        )));
    }

    let mut d = Draft::new(state.clone(), actor_org, ctx);
    match &env.command {
        Command::RegisterClient { .. } => unreachable!("handled above"),
        Command::Admit {
            level,
            provider,
            planned_hours_per_week,
            track,
            overrides,
            emergency,
        } => d.admit(
            level,
            *provider,
            *planned_hours_per_week,
            track,
            overrides,
            emergency.as_ref(),
        )?,
        Command::RecordConsent {
            recipients,
            purpose,
            information,
            expiry,
            signed_on,
        } => d.record_consent(recipients, purpose, information, *expiry, *signed_on)?,
        Command::RevokeConsent { consent } => d.revoke_consent(*consent)?,
        Command::SendReferral {
            to_level,
            providers,
        } => d.send_referral(to_level, providers)?,
        Command::AcceptReferral { referral } => d.accept_referral(*referral)?,
        Command::DeclineReferral { referral, reason } => d.decline_referral(*referral, reason)?,
        Command::WithdrawReferral { referral } => d.withdraw_referral(*referral)?,
        Command::RecordAssessment {
            recommended_level,
            dimensions,
            assessed_at,
        } => d.record_assessment(recommended_level, *dimensions, *assessed_at)?,
        Command::RecordMatPlan {
            medication,
            supply_through,
            last_injection_on,
        } => d.record_mat_plan(*medication, *supply_through, *last_injection_on)?,
        Command::EndMatPlan => d.end_mat_plan()?,
        Command::ScheduleAftercare { provider, kind, at } => {
            d.schedule_aftercare(*provider, *kind, *at)?
        }
        Command::ScheduleMatRefill { provider, kind, on } => {
            d.schedule_mat_refill(*provider, *kind, *on)?
        }
        Command::PlanHandoff { target, on } => d.plan_handoff(target, *on)?,
        Command::Transition {
            kind,
            to_level,
            provider,
            planned_hours_per_week,
            track,
            overrides,
            emergency,
        } => d.transition(
            *kind,
            to_level,
            *provider,
            *planned_hours_per_week,
            track,
            Exceptions {
                overrides,
                emergency: emergency.as_ref(),
            },
        )?,
        Command::Discharge {
            kind,
            provider,
            overrides,
        } => d.discharge(*kind, *provider, overrides)?,
        Command::FireTimer { timer } => d.fire_timer(timer)?,
    }
    d.refresh_handoff();
    Ok(d.finish())
}

fn register(
    client: ClientId,
    home_org: OrgId,
    birth_year: Option<i32>,
    actor_org: Option<OrgId>,
    ctx: &Context<'_>,
) -> Result<Decision, DecisionError> {
    if ctx.orgs.get(home_org).is_none() {
        return Err(DecisionError::not_found("organization", home_org));
    }
    if let Some(y) = birth_year {
        let this_year = ctx.now.year();
        if !(1900..=this_year).contains(&y) {
            return Err(DecisionError::bad(format!(
                "birth year {y} is not between 1900 and {this_year}"
            )));
        }
    }
    let state = ClientState {
        id: client,
        home_org,
        birth_year,
        version: 0,
        last_seq: 0,
        status: ClientStatus::Registered,
        episode: None,
        placement: None,
        consents: Vec::new(),
        referrals: Vec::new(),
        assessments: Vec::new(),
        mat_plan: None,
        mat_bookings: Vec::new(),
        aftercare: Vec::new(),
        handoff: None,
        last_discharge: None,
    };
    let mut d = Draft::new(state, actor_org, ctx);
    d.emit(None, None, EventData::ClientRegistered { home_org });
    Ok(d.finish())
}

/// What a move may pass without: gates a supervisor overrides, and the consent a declared
/// medical emergency stands in for.
#[derive(Clone, Copy)]
struct Exceptions<'a> {
    overrides: &'a [GateOverride],
    emergency: Option<&'a MedicalEmergency>,
}

/// Why a move may take the client's record to the receiving organization.
#[derive(Clone, Debug, PartialEq)]
enum Basis {
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
    fn gates_to_check(&self, gates: &[Gate]) -> Vec<Gate> {
        let emergency = matches!(self, Basis::Emergency(_));
        gates
            .iter()
            .copied()
            .filter(|g| !(emergency && matches!(g, Gate::Consent | Gate::AcceptedReferral)))
            .collect()
    }

    fn require(&self, provider: OrgId) -> Result<(), DecisionError> {
        match self {
            Basis::Missing => Err(DecisionError::ConsentRequired {
                orgs: vec![provider],
            }),
            _ => Ok(()),
        }
    }
}

/// The decision being built.
struct Draft<'a> {
    s: ClientState,
    events: Vec<CareEvent>,
    timers: Vec<TimerOp>,
    disclosures: Vec<Disclosure>,
    occupancy: Vec<OccupancyChange>,
    actor_org: Option<OrgId>,
    ctx: &'a Context<'a>,
}

impl<'a> Draft<'a> {
    fn new(s: ClientState, actor_org: Option<OrgId>, ctx: &'a Context<'a>) -> Self {
        Self {
            s,
            events: Vec::new(),
            timers: Vec::new(),
            disclosures: Vec::new(),
            occupancy: Vec::new(),
            actor_org,
            ctx,
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.ctx.now
    }

    fn today(&self) -> NaiveDate {
        self.ctx.now.date_naive()
    }

    fn pathway(&self) -> &'a Pathway {
        self.ctx.pathway
    }

    fn finish(mut self) -> Decision {
        self.s.version += 1;
        Decision {
            state: self.s,
            events: self.events,
            timers: self.timers,
            disclosures: self.disclosures,
            occupancy: self.occupancy,
        }
    }

    /// Append an event; returns its id.
    fn emit(
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

    fn current_level(&self) -> Option<LevelId> {
        self.s.level().cloned()
    }

    // ---- checks -------------------------------------------------------------------------

    fn level(&self, id: &LevelId) -> Result<&'a Level, DecisionError> {
        self.pathway().level(id).ok_or_else(|| {
            DecisionError::bad(format!(
                "unknown level \"{id}\" in pathway {}",
                self.pathway().id
            ))
        })
    }

    fn org(&self, id: OrgId) -> Result<&'a OrgInfo, DecisionError> {
        self.ctx
            .orgs
            .get(id)
            .ok_or_else(|| DecisionError::not_found("organization", id))
    }

    fn provider_offering(&self, id: OrgId, level: &LevelId) -> Result<(), DecisionError> {
        let org = self.org(id)?;
        if org.levels.contains(level) {
            Ok(())
        } else {
            Err(DecisionError::bad(format!(
                "organization {id} does not offer level {level}"
            )))
        }
    }

    fn hours(&self, level: &Level, hours: f32) -> Result<(), DecisionError> {
        if hours.is_finite() && level.weekly_hours.contains(hours) {
            Ok(())
        } else {
            Err(DecisionError::bad(format!(
                "planned {hours} h/week is outside {}'s band of {}",
                level.id, level.weekly_hours
            )))
        }
    }

    fn text(what: &str, value: &str) -> Result<(), DecisionError> {
        if value.trim().is_empty() {
            return Err(DecisionError::bad(format!("{what} is empty")));
        }
        if value.chars().count() > MAX_TEXT {
            return Err(DecisionError::bad(format!(
                "{what} is longer than {MAX_TEXT} characters"
            )));
        }
        Ok(())
    }

    fn invalid(&self, attempted: String) -> DecisionError {
        let (from, allowed) = match self.s.status {
            ClientStatus::Registered => (
                "registered (not admitted)".to_owned(),
                self.pathway()
                    .admission_levels
                    .iter()
                    .map(|l| AllowedMove::Admission { to: l.clone() })
                    .collect(),
            ),
            ClientStatus::Discharged => {
                ("discharged".to_owned(), self.pathway().allowed_from(None))
            }
            ClientStatus::Active => {
                let level = self.current_level();
                (
                    level.as_ref().map(|l| l.to_string()).unwrap_or_default(),
                    self.pathway().allowed_from(level.as_ref()),
                )
            }
        };
        DecisionError::InvalidTransition {
            from,
            attempted,
            allowed,
        }
    }

    fn require_active(&self, attempted: impl FnOnce() -> String) -> Result<(), DecisionError> {
        if self.s.status == ClientStatus::Active {
            Ok(())
        } else {
            Err(self.invalid(attempted()))
        }
    }

    /// Check gates and overrides; `Ok` with the overrides that were needed.
    fn pass_gates(
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
    fn disclosure_basis(
        &self,
        provider: OrgId,
        level: &Level,
        emergency: Option<&MedicalEmergency>,
    ) -> Result<Basis, DecisionError> {
        if let Some(e) = emergency {
            Self::text("medical emergency reason", &e.reason)?;
            if !level.admits_in_emergency() {
                return Err(DecisionError::bad(format!(
                    "a medical emergency (42 CFR 2.51) moves a client only to withdrawal \
                     management or residential care, not to {}",
                    level.id
                )));
            }
        }
        Ok(self.basis_for(provider, emergency))
    }

    fn basis_for(&self, provider: OrgId, emergency: Option<&MedicalEmergency>) -> Basis {
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
    fn disclose(
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

    fn schedule(&mut self, key: String, due_at: DateTime<Utc>, kind: TimerKind) {
        self.timers.push(TimerOp::Schedule { key, due_at, kind });
    }

    fn cancel(&mut self, key: String) {
        self.timers.push(TimerOp::Cancel { key });
    }

    fn referral_timer_key(id: ReferralId) -> String {
        format!("referral:{id}")
    }

    /// Place the client: occupancy, review timer.
    fn place(
        &mut self,
        level: &Level,
        provider: OrgId,
        hours: f32,
        track: &Option<String>,
        seq: i64,
    ) {
        let episode = self
            .s
            .episode
            .as_ref()
            .expect("placed within an episode")
            .id;
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
        self.occupancy.push(OccupancyChange {
            provider,
            level: level.id.clone(),
            delta: 1,
        });
        self.s.placement = Some(Placement {
            level: level.id.clone(),
            provider,
            planned_hours_per_week: hours,
            track: track.clone(),
            since: self.now(),
            review_timer: key,
        });
    }

    /// Leave the current placement: occupancy, review timer.
    fn unplace(&mut self) -> Option<Placement> {
        let p = self.s.placement.take()?;
        self.cancel(p.review_timer.clone());
        self.occupancy.push(OccupancyChange {
            provider: p.provider,
            level: p.level.clone(),
            delta: -1,
        });
        Some(p)
    }

    /// Withdraw open referrals matching `filter`.
    fn withdraw_where(&mut self, reason: WithdrawReason, filter: impl Fn(&Referral) -> bool) {
        let ids: Vec<ReferralId> = self
            .s
            .referrals
            .iter()
            .filter(|r| matches!(r.status, ReferralStatus::Pending | ReferralStatus::Accepted))
            .filter(|r| filter(r))
            .map(|r| r.id)
            .collect();
        for id in ids {
            self.withdraw(id, reason);
        }
    }

    fn withdraw(&mut self, id: ReferralId, reason: WithdrawReason) {
        let now = self.now();
        let r = self
            .s
            .referrals
            .iter_mut()
            .find(|r| r.id == id)
            .expect("withdrawing a known referral");
        let was_pending = r.status == ReferralStatus::Pending;
        r.status = ReferralStatus::Withdrawn;
        r.withdraw_reason = Some(reason);
        r.answered_at.get_or_insert(now);
        let (provider, to_level) = (r.provider, r.to_level.clone());
        if was_pending {
            self.cancel(Self::referral_timer_key(id));
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

    fn pending_referral(&self, id: ReferralId) -> Result<&Referral, DecisionError> {
        let r = self
            .s
            .referral(id)
            .ok_or_else(|| DecisionError::not_found("referral", id))?;
        if r.status != ReferralStatus::Pending {
            return Err(DecisionError::Conflict(format!(
                "referral {id} is {}, not pending",
                r.status.as_str()
            )));
        }
        Ok(r)
    }

    fn referral_mut(&mut self, id: ReferralId) -> &mut Referral {
        self.s
            .referrals
            .iter_mut()
            .find(|r| r.id == id)
            .expect("known referral")
    }

    // ---- commands -----------------------------------------------------------------------

    fn admit(
        &mut self,
        level_id: &LevelId,
        provider: OrgId,
        hours: f32,
        track: &Option<String>,
        overrides: &[GateOverride],
        emergency: Option<&MedicalEmergency>,
    ) -> Result<(), DecisionError> {
        let level = self.level(level_id)?;
        let (readmission, required) = match self.s.status {
            ClientStatus::Registered => {
                if !self.pathway().admission_levels.contains(level_id) {
                    return Err(self.invalid(format!("admission to {level_id}")));
                }
                (false, self.pathway().admission_gates.clone())
            }
            ClientStatus::Discharged => {
                match self
                    .pathway()
                    .transition_rule(TransitionKind::Readmission, None, level_id)
                {
                    Some(rule) => (true, rule.gates.clone()),
                    None => return Err(self.invalid(format!("readmission to {level_id}"))),
                }
            }
            ClientStatus::Active => return Err(self.invalid(format!("admission to {level_id}"))),
        };
        self.provider_offering(provider, level_id)?;
        self.hours(level, hours)?;
        if let Some(t) = track {
            Self::text("track", t)?;
        }
        let mv = MoveCheck {
            to_level: Some(level_id),
            provider: Some(provider),
            on: self.today(),
        };
        let basis = self.disclosure_basis(provider, level, emergency)?;
        let required = basis.gates_to_check(&required);
        let overridden = self.pass_gates(&required, &mv, overrides)?;
        basis.require(provider)?;
        let referral = self.accepted_referral(level_id, provider);
        let number = self.s.episode.as_ref().map_or(1, |e| e.number + 1);
        let seq = self.s.last_seq + 1;
        let episode = EpisodeId(EventId::for_seq(self.s.id, seq).0);
        let event = self.emit(
            Some(level_id.clone()),
            Some(provider),
            EventData::ClientAdmitted {
                episode,
                level: level_id.clone(),
                provider,
                readmission,
                referral,
                overridden,
            },
        );
        self.disclose(
            provider,
            level_id,
            &basis,
            event,
            format!("admission to level {level_id}"),
        );
        self.s.episode = Some(Episode {
            id: episode,
            number,
            admitted_at: self.now(),
        });
        self.s.status = ClientStatus::Active;
        self.place(level, provider, hours, track, seq);
        self.complete_referral(referral, level_id);
        Ok(())
    }

    fn accepted_referral(&self, level: &LevelId, provider: OrgId) -> Option<ReferralId> {
        self.s
            .referrals
            .iter()
            .find(|r| {
                r.status == ReferralStatus::Accepted
                    && &r.to_level == level
                    && r.provider == provider
            })
            .map(|r| r.id)
    }

    /// The referral that brought the client to `level` has done its work; other open
    /// referrals for that level are withdrawn.
    fn complete_referral(&mut self, used: Option<ReferralId>, level: &LevelId) {
        if let Some(id) = used {
            let now = self.now();
            let r = self.referral_mut(id);
            r.status = ReferralStatus::Completed;
            r.answered_at.get_or_insert(now);
        }
        self.withdraw_where(WithdrawReason::ClientMoved, |r| &r.to_level == level);
    }

    fn record_consent(
        &mut self,
        recipients: &[OrgId],
        purpose: &str,
        information: &str,
        expiry: ConsentExpiry,
        signed_on: NaiveDate,
    ) -> Result<(), DecisionError> {
        if recipients.is_empty() {
            return Err(DecisionError::bad("a consent names at least one recipient"));
        }
        for (i, r) in recipients.iter().enumerate() {
            if recipients[..i].contains(r) {
                return Err(DecisionError::bad(format!("recipient {r} listed twice")));
            }
            self.org(*r)?;
        }
        Self::text("purpose", purpose)?;
        Self::text("information", information)?;
        if signed_on > self.today() {
            return Err(DecisionError::bad(
                "a consent cannot be signed in the future",
            ));
        }
        if let ConsentExpiry::On(day) = expiry
            && day <= self.today()
        {
            return Err(DecisionError::bad(format!(
                "the consent expires on {day}, which is not in the future"
            )));
        }
        let id = ConsentId(EventId::for_seq(self.s.id, self.s.last_seq + 1).0);
        self.emit(
            self.current_level(),
            None,
            EventData::ConsentRecorded {
                consent: id,
                recipients: recipients.to_vec(),
                expiry,
            },
        );
        self.s.consents.push(Consent {
            id,
            recipients: recipients.to_vec(),
            purpose: purpose.to_owned(),
            information: information.to_owned(),
            expiry,
            signed_on,
            recorded_at: self.now(),
            episode: self.s.episode.as_ref().map(|e| e.id),
            revoked_at: None,
        });
        Ok(())
    }

    fn revoke_consent(&mut self, id: ConsentId) -> Result<(), DecisionError> {
        let now = self.now();
        let c = self
            .s
            .consents
            .iter_mut()
            .find(|c| c.id == id)
            .ok_or_else(|| DecisionError::not_found("consent", id))?;
        if c.revoked_at.is_some() {
            return Err(DecisionError::Conflict(format!(
                "consent {id} is already revoked"
            )));
        }
        c.revoked_at = Some(now);
        self.emit(
            self.current_level(),
            None,
            EventData::ConsentRevoked { consent: id },
        );
        // Revocation stops further disclosure: open referrals to organizations no longer
        // covered are withdrawn.
        let state = self.s.clone();
        self.withdraw_where(WithdrawReason::ConsentRevoked, |r| {
            !state.is_inside(r.provider) && state.active_consent_for(r.provider, now).is_none()
        });
        Ok(())
    }

    fn send_referral(
        &mut self,
        to_level: &LevelId,
        providers: &[OrgId],
    ) -> Result<(), DecisionError> {
        self.level(to_level)?;
        if providers.is_empty() {
            return Err(DecisionError::bad(
                "a referral goes to at least one provider",
            ));
        }
        if providers.len() > MAX_PROVIDERS_PER_REFERRAL {
            return Err(DecisionError::bad(format!(
                "a referral goes to at most {MAX_PROVIDERS_PER_REFERRAL} providers at once"
            )));
        }
        for (i, p) in providers.iter().enumerate() {
            if providers[..i].contains(p) {
                return Err(DecisionError::bad(format!("provider {p} listed twice")));
            }
            self.provider_offering(*p, to_level)?;
            if self.s.referrals.iter().any(|r| {
                r.provider == *p
                    && &r.to_level == to_level
                    && matches!(r.status, ReferralStatus::Pending | ReferralStatus::Accepted)
            }) {
                return Err(DecisionError::Conflict(format!(
                    "a referral to {p} for {to_level} is already open"
                )));
            }
        }
        let now = self.now();
        let missing: Vec<OrgId> = providers
            .iter()
            .copied()
            .filter(|p| !self.s.is_inside(*p) && self.s.active_consent_for(*p, now).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(DecisionError::ConsentRequired { orgs: missing });
        }
        let answer_by =
            now + Duration::hours(i64::from(self.pathway().settings.referral_answer_hours));
        let group = ReferralGroupId(EventId::for_seq(self.s.id, self.s.last_seq + 1).0);
        for &provider in providers {
            let consent = self.s.active_consent_for(provider, now).map(|c| c.id);
            let referral = ReferralId(EventId::for_seq(self.s.id, self.s.last_seq + 1).0);
            let event = self.emit(
                Some(to_level.clone()),
                Some(provider),
                EventData::ReferralSent {
                    referral,
                    group,
                    provider,
                    to_level: to_level.clone(),
                    answer_by,
                    consent,
                },
            );
            if !self.s.is_inside(provider) {
                self.disclosures.push(Disclosure {
                    recipient: provider,
                    consent,
                    legal_basis: None,
                    what: format!("referral for level {to_level}"),
                    event,
                    at: now,
                });
            }
            self.s.referrals.push(Referral {
                id: referral,
                group,
                provider,
                to_level: to_level.clone(),
                status: ReferralStatus::Pending,
                sent_at: now,
                answer_by,
                answered_at: None,
                decline: None,
                withdraw_reason: None,
            });
            self.schedule(
                Self::referral_timer_key(referral),
                answer_by,
                TimerKind::ReferralDeadline { referral },
            );
        }
        Ok(())
    }

    fn accept_referral(&mut self, id: ReferralId) -> Result<(), DecisionError> {
        let r = self.pending_referral(id)?.clone();
        let now = self.now();
        if !self.s.is_inside(r.provider) && self.s.active_consent_for(r.provider, now).is_none() {
            return Err(DecisionError::ConsentRequired {
                orgs: vec![r.provider],
            });
        }
        {
            let r = self.referral_mut(id);
            r.status = ReferralStatus::Accepted;
            r.answered_at = Some(now);
        }
        self.cancel(Self::referral_timer_key(id));
        self.emit(
            Some(r.to_level.clone()),
            Some(r.provider),
            EventData::ReferralAccepted {
                referral: id,
                provider: r.provider,
                to_level: r.to_level.clone(),
            },
        );
        // First acceptance wins: the rest of the group is withdrawn.
        self.withdraw_where(WithdrawReason::AnotherProviderAccepted, |o| {
            o.group == r.group && o.id != id && o.status == ReferralStatus::Pending
        });
        // Announce the handoff so coordinators can book what it needs.
        if self.s.status == ClientStatus::Active && self.s.handoff.is_none() {
            let from = self.current_level();
            let kind = self
                .pathway()
                .transitions
                .iter()
                .find(|t| t.from == from && t.to.contains(&r.to_level))
                .map(|t| t.kind);
            if let Some(kind) = kind {
                let target = HandoffTarget::Transition {
                    kind,
                    to_level: r.to_level.clone(),
                    provider: Some(r.provider),
                };
                self.announce_handoff(target, self.today());
            }
        }
        Ok(())
    }

    fn decline_referral(
        &mut self,
        id: ReferralId,
        reason: &DeclineReason,
    ) -> Result<(), DecisionError> {
        let r = self.pending_referral(id)?.clone();
        if let Some(note) = &reason.note {
            Self::text("decline note", note)?;
        }
        let now = self.now();
        {
            let r = self.referral_mut(id);
            r.status = ReferralStatus::Declined;
            r.answered_at = Some(now);
            r.decline = Some(reason.clone());
        }
        self.cancel(Self::referral_timer_key(id));
        self.emit(
            Some(r.to_level.clone()),
            Some(r.provider),
            EventData::ReferralDeclined {
                referral: id,
                provider: r.provider,
                to_level: r.to_level,
                reason: reason.code,
            },
        );
        Ok(())
    }

    fn withdraw_referral(&mut self, id: ReferralId) -> Result<(), DecisionError> {
        let r = self
            .s
            .referral(id)
            .ok_or_else(|| DecisionError::not_found("referral", id))?;
        if !matches!(r.status, ReferralStatus::Pending | ReferralStatus::Accepted) {
            return Err(DecisionError::Conflict(format!(
                "referral {id} is {}, nothing to withdraw",
                r.status.as_str()
            )));
        }
        self.withdraw(id, WithdrawReason::CaseManager);
        Ok(())
    }

    fn record_assessment(
        &mut self,
        level: &LevelId,
        dimensions: [u8; 6],
        assessed_at: Option<DateTime<Utc>>,
    ) -> Result<(), DecisionError> {
        self.level(level)?;
        if let Some(d) = dimensions.iter().find(|d| **d > 4) {
            return Err(DecisionError::bad(format!(
                "dimension risk ratings run from 0 to 4, got {d}"
            )));
        }
        let at = assessed_at.unwrap_or(self.now());
        if at > self.now() {
            return Err(DecisionError::bad("an assessment cannot be in the future"));
        }
        if at < self.now() - Duration::days(365) {
            return Err(DecisionError::bad(
                "an assessment older than a year is not a reassessment",
            ));
        }
        let id = AssessmentId(EventId::for_seq(self.s.id, self.s.last_seq + 1).0);
        self.emit(
            Some(level.clone()),
            None,
            EventData::AssessmentRecorded {
                assessment: id,
                recommended_level: level.clone(),
            },
        );
        self.s.assessments.push(Assessment {
            id,
            recommended_level: level.clone(),
            dimensions,
            assessed_at: at,
        });
        Ok(())
    }

    fn record_mat_plan(
        &mut self,
        medication: Medication,
        supply_through: Option<NaiveDate>,
        last_injection_on: Option<NaiveDate>,
    ) -> Result<(), DecisionError> {
        let today = self.today();
        match medication {
            Medication::NaltrexoneXr => match last_injection_on {
                None => {
                    return Err(DecisionError::bad(
                        "extended-release naltrexone needs the date of the last injection",
                    ));
                }
                Some(d) if d > today => {
                    return Err(DecisionError::bad(
                        "the last injection cannot be in the future",
                    ));
                }
                Some(_) => {}
            },
            _ => {
                if supply_through.is_none() {
                    return Err(DecisionError::bad(
                        "a buprenorphine, methadone or oral naltrexone plan needs supply_through",
                    ));
                }
            }
        }
        self.s.mat_plan = Some(MatPlan {
            medication,
            supply_through,
            last_injection_on,
            recorded_at: self.now(),
        });
        let covered_through =
            gates::mat_covered_through(&self.s, self.pathway()).expect("validated above");
        self.emit(
            self.current_level(),
            None,
            EventData::MatPlanRecorded {
                medication,
                covered_through,
            },
        );
        Ok(())
    }

    fn end_mat_plan(&mut self) -> Result<(), DecisionError> {
        if self.s.mat_plan.take().is_none() {
            return Err(DecisionError::bad("the client has no active MAT plan"));
        }
        self.emit(self.current_level(), None, EventData::MatPlanEnded);
        Ok(())
    }

    fn schedule_aftercare(
        &mut self,
        provider: OrgId,
        kind: AftercareKind,
        at: DateTime<Utc>,
    ) -> Result<(), DecisionError> {
        self.org(provider)?;
        if at.date_naive() < self.today() {
            return Err(DecisionError::bad(
                "an appointment cannot be booked in the past",
            ));
        }
        let booking = BookingId(EventId::for_seq(self.s.id, self.s.last_seq + 1).0);
        self.emit(
            self.current_level(),
            None,
            EventData::AftercareScheduled {
                booking,
                provider,
                kind,
                at,
            },
        );
        self.s.aftercare.push(AftercareAppointment {
            id: booking,
            provider,
            kind,
            at,
            booked_at: self.now(),
        });
        Ok(())
    }

    fn schedule_mat_refill(
        &mut self,
        provider: OrgId,
        kind: MatBookingKind,
        on: NaiveDate,
    ) -> Result<(), DecisionError> {
        self.org(provider)?;
        let plan = self
            .s
            .mat_plan
            .as_ref()
            .ok_or_else(|| DecisionError::bad("the client has no active MAT plan"))?;
        if !plan.medication.continued_by(kind) {
            return Err(DecisionError::bad(format!(
                "a {kind:?} booking does not continue {:?}",
                plan.medication
            )));
        }
        if on < self.today() {
            return Err(DecisionError::bad("a refill cannot be booked in the past"));
        }
        let booking = BookingId(EventId::for_seq(self.s.id, self.s.last_seq + 1).0);
        self.emit(
            self.current_level(),
            None,
            EventData::MatRefillScheduled {
                booking,
                provider,
                kind,
                on,
            },
        );
        self.s.mat_bookings.push(MatBooking {
            id: booking,
            provider,
            kind,
            on,
            booked_at: self.now(),
        });
        Ok(())
    }

    fn target_gates(&self, target: &HandoffTarget) -> Result<Vec<Gate>, DecisionError> {
        gates::required_gates(&self.s, self.pathway(), target)
    }

    fn announce_handoff(&mut self, target: HandoffTarget, on: NaiveDate) {
        let Ok(required) = self.target_gates(&target) else {
            return;
        };
        let reports = gates::evaluate(
            &self.s,
            self.pathway(),
            &required,
            &gates::target_check(&target, on),
            self.now(),
        );
        let unmet = reports.iter().filter(|r| !r.met).map(|r| r.gate).collect();
        let level = match &target {
            HandoffTarget::Transition { to_level, .. } => Some(to_level.clone()),
            HandoffTarget::Discharge { .. } => self.current_level(),
        };
        self.emit(
            level,
            target.provider(),
            EventData::HandoffPlanned {
                target: target.clone(),
                on,
                unmet,
                mat_covered_through: gates::mat_covered_through(&self.s, self.pathway()),
            },
        );
        self.s.handoff = Some(PlannedHandoff {
            target,
            on,
            ready: false,
        });
    }

    fn plan_handoff(&mut self, target: &HandoffTarget, on: NaiveDate) -> Result<(), DecisionError> {
        self.require_active(|| "planning a handoff".into())?;
        if on < self.today() {
            return Err(DecisionError::bad(
                "a handoff cannot be planned in the past",
            ));
        }
        self.target_gates(target)?;
        match target {
            HandoffTarget::Transition {
                kind: TransitionKind::Readmission,
                ..
            } => return Err(DecisionError::bad("a readmission is not a handoff")),
            HandoffTarget::Transition {
                to_level,
                provider: Some(p),
                ..
            } => self.provider_offering(*p, to_level)?,
            HandoffTarget::Discharge {
                provider: Some(p), ..
            } => {
                self.org(*p)?;
            }
            HandoffTarget::Discharge {
                kind: DischargeKind::TransferOut,
                provider: None,
            } => {
                return Err(DecisionError::bad(
                    "a transfer out names the receiving organization",
                ));
            }
            _ => {}
        }
        if let HandoffTarget::Discharge { kind, .. } = target {
            let from_level = self.current_level().expect("active");
            self.emit(
                Some(from_level.clone()),
                None,
                EventData::DischargePlanned {
                    kind: *kind,
                    on,
                    from_level,
                },
            );
        }
        self.announce_handoff(target.clone(), on);
        Ok(())
    }

    /// After every command: raise `handoff.ready` when a planned handoff's gates are all met.
    fn refresh_handoff(&mut self) {
        if self.s.status != ClientStatus::Active {
            return;
        }
        let Some(h) = self.s.handoff.clone() else {
            return;
        };
        let Ok(required) = self.target_gates(&h.target) else {
            self.s.handoff = None;
            return;
        };
        let on = h.on.max(self.today());
        let all_met = gates::evaluate(
            &self.s,
            self.pathway(),
            &required,
            &gates::target_check(&h.target, on),
            self.now(),
        )
        .iter()
        .all(|r| r.met);
        if all_met && !h.ready {
            let level = match &h.target {
                HandoffTarget::Transition { to_level, .. } => Some(to_level.clone()),
                HandoffTarget::Discharge { .. } => self.current_level(),
            };
            self.emit(
                level,
                h.target.provider(),
                EventData::HandoffReady {
                    target: h.target.clone(),
                    on: h.on,
                },
            );
        }
        if let Some(handoff) = &mut self.s.handoff {
            handoff.ready = all_met;
        }
    }

    fn transition(
        &mut self,
        kind: TransitionKind,
        to_level: &LevelId,
        provider: Option<OrgId>,
        hours: f32,
        track: &Option<String>,
        exceptions: Exceptions<'_>,
    ) -> Result<(), DecisionError> {
        let Exceptions {
            overrides,
            emergency,
        } = exceptions;
        let level = self.level(to_level)?;
        self.require_active(|| format!("{kind} to {to_level}"))?;
        if kind == TransitionKind::Readmission {
            return Err(DecisionError::bad(
                "a readmission is an admission of a discharged client",
            ));
        }
        let from = self
            .s
            .placement
            .clone()
            .expect("active client has a placement");
        let rule = self
            .pathway()
            .transition_rule(kind, Some(&from.level), to_level)
            .ok_or_else(|| self.invalid(format!("{kind} to {to_level}")))?;
        let provider = provider
            .or_else(|| {
                self.s
                    .referrals
                    .iter()
                    .find(|r| r.status == ReferralStatus::Accepted && &r.to_level == to_level)
                    .map(|r| r.provider)
            })
            .or((kind == TransitionKind::Lateral).then_some(from.provider));
        let Some(provider) = provider else {
            if rule.gates.contains(&Gate::AcceptedReferral) {
                let mv = MoveCheck {
                    to_level: Some(to_level),
                    provider: None,
                    on: self.today(),
                };
                let unmet = gates::evaluate(
                    &self.s,
                    self.pathway(),
                    &[Gate::AcceptedReferral],
                    &mv,
                    self.now(),
                );
                return Err(DecisionError::GateUnmet { unmet });
            }
            return Err(DecisionError::bad("name the receiving provider"));
        };
        self.provider_offering(provider, to_level)?;
        self.hours(level, hours)?;
        if let Some(t) = track {
            Self::text("track", t)?;
        }
        if kind == TransitionKind::Lateral && provider == from.provider && *track == from.track {
            return Err(DecisionError::bad(
                "a lateral move changes the provider or the track",
            ));
        }
        let mv = MoveCheck {
            to_level: Some(to_level),
            provider: Some(provider),
            on: self.today(),
        };
        let basis = self.disclosure_basis(provider, level, emergency)?;
        let gates = basis.gates_to_check(&rule.gates);
        let overridden = self.pass_gates(&gates, &mv, overrides)?;
        basis.require(provider)?;

        self.unplace();
        let referral = self.accepted_referral(to_level, provider);
        let seq = self.s.last_seq + 1;
        let event = self.emit(
            Some(to_level.clone()),
            Some(provider),
            EventData::TransitionCompleted {
                kind,
                from_level: from.level.clone(),
                to_level: to_level.clone(),
                from_provider: from.provider,
                to_provider: provider,
                referral,
                overridden,
            },
        );
        self.disclose(
            provider,
            to_level,
            &basis,
            event,
            format!("handoff to level {to_level}"),
        );
        self.place(level, provider, hours, track, seq);
        self.complete_referral(referral, to_level);
        self.s.handoff = None;
        Ok(())
    }

    fn discharge(
        &mut self,
        kind: DischargeKind,
        provider: Option<OrgId>,
        overrides: &[GateOverride],
    ) -> Result<(), DecisionError> {
        self.require_active(|| format!("discharge ({kind})"))?;
        let from = self
            .s
            .placement
            .clone()
            .expect("active client has a placement");
        let rule = self
            .pathway()
            .discharge_rule(kind, &from.level)
            .ok_or_else(|| self.invalid(format!("discharge ({kind})")))?;
        if let Some(p) = provider {
            self.org(p)?;
        } else if kind == DischargeKind::TransferOut {
            return Err(DecisionError::bad(
                "a transfer out names the receiving organization",
            ));
        }
        if kind.is_unplanned() && !overrides.is_empty() {
            return Err(DecisionError::bad(
                "an unplanned discharge has no gate to override",
            ));
        }
        let mv = MoveCheck {
            to_level: None,
            provider,
            on: self.today(),
        };
        let overridden = self.pass_gates(&rule.gates, &mv, overrides)?;
        let episode = self
            .s
            .episode
            .as_ref()
            .expect("active client has an episode")
            .id;
        self.unplace();
        self.withdraw_where(WithdrawReason::ClientDischarged, |_| true);
        let data = if kind.is_unplanned() {
            EventData::DischargeUnplanned {
                kind,
                episode,
                from_level: from.level.clone(),
                from_provider: from.provider,
                at_risk: true,
            }
        } else {
            EventData::DischargeCompleted {
                kind,
                episode,
                from_level: from.level.clone(),
                from_provider: from.provider,
                to_provider: provider,
                overridden,
            }
        };
        let event = self.emit(Some(from.level.clone()), provider, data);
        if let Some(p) = provider {
            let basis = self.basis_for(p, None);
            basis.require(p)?;
            self.disclose(p, &from.level, &basis, event, "transfer of care".into());
        }
        for days in self.pathway().settings.followup_days.clone() {
            self.schedule(
                format!("followup:{episode}:{days}"),
                self.now() + Duration::days(i64::from(days)),
                TimerKind::Followup { episode, days },
            );
        }
        self.s.status = ClientStatus::Discharged;
        self.s.handoff = None;
        self.s.last_discharge = Some(DischargeRecord {
            kind,
            at: self.now(),
            episode,
            from_level: from.level,
        });
        Ok(())
    }

    fn fire_timer(&mut self, timer: &TimerKind) -> Result<(), DecisionError> {
        let stale = |why: &str| Err(DecisionError::StaleTimer(why.to_owned()));
        match timer {
            TimerKind::ReferralDeadline { referral } => {
                let Some(r) = self.s.referral(*referral).cloned() else {
                    return stale("unknown referral");
                };
                if r.status != ReferralStatus::Pending {
                    return stale("referral already answered");
                }
                {
                    let now = self.now();
                    let r = self.referral_mut(*referral);
                    r.status = ReferralStatus::Expired;
                    r.answered_at = Some(now);
                }
                let escalate = !self.s.referrals.iter().any(|o| {
                    o.group == r.group
                        && matches!(
                            o.status,
                            ReferralStatus::Pending
                                | ReferralStatus::Accepted
                                | ReferralStatus::Completed
                        )
                });
                self.emit(
                    Some(r.to_level.clone()),
                    Some(r.provider),
                    EventData::ReferralExpired {
                        referral: r.id,
                        provider: r.provider,
                        to_level: r.to_level,
                        escalate,
                    },
                );
            }
            TimerKind::ReviewDue { episode, level } => {
                let current = self.s.episode.as_ref().map(|e| e.id);
                if self.s.status != ClientStatus::Active
                    || current != Some(*episode)
                    || self.s.level() != Some(level)
                {
                    return stale("the client left that level");
                }
                let lvl = self.level(level)?;
                self.emit(
                    Some(level.clone()),
                    None,
                    EventData::ReviewDue {
                        level: level.clone(),
                        episode: *episode,
                    },
                );
                // The next review.
                let key = format!("review:{episode}:{}", self.s.last_seq);
                let due = self.now() + Duration::days(i64::from(lvl.review_interval_days));
                self.schedule(
                    key.clone(),
                    due,
                    TimerKind::ReviewDue {
                        episode: *episode,
                        level: level.clone(),
                    },
                );
                if let Some(p) = &mut self.s.placement {
                    p.review_timer = key;
                }
            }
            TimerKind::Followup { episode, days } => {
                let Some(d) = self.s.last_discharge.clone() else {
                    return stale("no discharge");
                };
                if d.episode != *episode || self.s.status != ClientStatus::Discharged {
                    return stale("the client is back in care");
                }
                let first = d.at.date_naive();
                let last = first + Duration::days(i64::from(*days));
                let appointment = self
                    .s
                    .aftercare
                    .iter()
                    .filter(|a| (first..=last).contains(&a.at.date_naive()))
                    .min_by_key(|a| a.at)
                    .cloned();
                let level = Some(d.from_level.clone());
                match appointment {
                    Some(a) => self.emit(
                        level,
                        None,
                        EventData::FollowupDue {
                            days: *days,
                            episode: *episode,
                            appointment: a.id,
                            provider: a.provider,
                        },
                    ),
                    None => self.emit(
                        level,
                        None,
                        EventData::FollowupMissed {
                            days: *days,
                            episode: *episode,
                        },
                    ),
                };
            }
        }
        Ok(())
    }
}
