//! Where the client is in care: registration, admission (and readmission), moves between
//! levels and providers, and discharge.

use super::Context;
use super::Decision;
use super::draft::{Draft, Exceptions, screen};
use crate::command::*;
use crate::error::DecisionError;
use crate::event::*;
use crate::gates::{self, MoveCheck};
use crate::ids::*;
use crate::pathway::{DischargeKind, Gate, LevelId, TransitionKind};
use crate::state::*;
use chrono::{Datelike, Duration};

/// Register a client: the one command decided on no state. A client already registered is
/// a conflict (before any version check).
pub(super) fn register_client(
    state: Option<&ClientState>,
    env: &Envelope,
    home_org: OrgId,
    birth_year: Option<i32>,
    ctx: &Context<'_>,
) -> Result<Decision, DecisionError> {
    let actor_org = screen(state, env, ctx)?;
    if state.is_some() {
        return Err(DecisionError::Conflict("client already registered".into()));
    }
    register(env.client, home_org, birth_year, actor_org, ctx)
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

impl Draft<'_> {
    pub(super) fn admit(
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

    pub(super) fn accepted_referral(&self, level: &LevelId, provider: OrgId) -> Option<ReferralId> {
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
    pub(super) fn complete_referral(&mut self, used: Option<ReferralId>, level: &LevelId) {
        if let Some(id) = used {
            let now = self.now();
            let r = self.referral_mut(id);
            r.status = ReferralStatus::Completed;
            r.answered_at.get_or_insert(now);
        }
        self.withdraw_where(WithdrawReason::ClientMoved, |r| &r.to_level == level);
    }

    pub(super) fn transition(
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
        // The same resolution a readiness check makes (`gates::readiness_target`).
        let provider = gates::receiving_provider(&self.s, kind, to_level, provider);
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

    pub(super) fn discharge(
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
}

#[cfg(test)]
mod tests {
    use crate::command::*;
    use crate::decide::fixture::*;
    use crate::decide::{Context, decide};
    use crate::error::DecisionError;
    use crate::event::*;
    use crate::ids::*;
    use crate::pathway::{DischargeKind, Gate, TransitionKind};
    use crate::state::*;
    use chrono::Duration;

    #[test]
    fn registering_records_the_client_at_version_one() {
        let f = Fixture::new();
        let env = f.env(
            f.cm(),
            Command::RegisterClient {
                home_org: f.home,
                birth_year: Some(1990),
            },
        );
        let d = decide(None, &env, &f.ctx_at(f.now)).unwrap();
        assert_eq!(types(&d), ["client.registered"]);
        assert_eq!(
            d.events[0].data,
            EventData::ClientRegistered { home_org: f.home }
        );
        assert_eq!(d.events[0].seq, 1);
        assert_eq!(d.events[0].actor_org, Some(f.home));
        assert_eq!(d.events[0].recipient_org, None);
        assert_eq!((d.state.version, d.state.last_seq), (1, 1));
        assert_eq!(d.state.status, ClientStatus::Registered);
        assert_eq!(d.state.birth_year, Some(1990));
        assert!(d.timers.is_empty() && d.disclosures.is_empty() && d.occupancy.is_empty());
    }

    #[test]
    fn registering_is_refused_twice_for_an_unknown_organization_or_an_impossible_birth_year() {
        let f = Fixture::new();
        let s = f.registered();
        let again = Command::RegisterClient {
            home_org: f.home,
            birth_year: None,
        };
        assert!(matches!(
            f.refuse(&s, f.cm(), again),
            DecisionError::Conflict(_)
        ));

        let admin = Actor {
            org: f.home,
            role: Role::Admin,
        };
        let ctx: Context<'_> = f.ctx_at(f.now);
        let unknown = OrgId(uuid::Uuid::from_u128(12345));
        let env = f.env(
            admin,
            Command::RegisterClient {
                home_org: unknown,
                birth_year: None,
            },
        );
        assert_eq!(
            decide(None, &env, &ctx),
            Err(DecisionError::not_found("organization", unknown))
        );
        let env = f.env(
            f.cm(),
            Command::RegisterClient {
                home_org: f.home,
                birth_year: Some(1850),
            },
        );
        assert!(matches!(
            decide(None, &env, &ctx),
            Err(DecisionError::BadInput(_))
        ));
    }

    #[test]
    fn admitting_places_the_client_arms_a_review_takes_a_slot_and_discloses_under_consent() {
        let f = Fixture::new();
        let s = f.consented();
        let consent = s.consents[0].id;
        let d = f.run(&s, f.cm(), admit(level("detox"), f.detox, 40.0));
        assert_eq!(types(&d), ["client.admitted"]);
        let seq = s.last_seq + 1;
        let episode = EpisodeId(EventId::for_seq(f.client, seq).0);
        assert_eq!(
            d.events[0].data,
            EventData::ClientAdmitted {
                episode,
                level: level("detox"),
                provider: f.detox,
                readmission: false,
                referral: None,
                overridden: vec![],
            }
        );
        assert_eq!(d.events[0].recipient_org, Some(f.detox));
        assert_eq!(d.state.status, ClientStatus::Active);
        assert_eq!(
            d.state.episode.as_ref().map(|e| (e.id, e.number)),
            Some((episode, 1))
        );
        let placement = d.state.placement.as_ref().unwrap();
        assert_eq!(
            (&placement.level, placement.provider),
            (&level("detox"), f.detox)
        );
        let key = format!("review:{episode}:{seq}");
        assert_eq!(placement.review_timer, key);
        // Withdrawal management is reviewed every 3 days.
        assert_eq!(
            d.timers,
            [TimerOp::Schedule {
                key,
                due_at: f.now + Duration::days(3),
                kind: TimerKind::ReviewDue {
                    episode,
                    level: level("detox")
                },
            }]
        );
        assert_eq!(
            d.occupancy,
            [OccupancyChange {
                provider: f.detox,
                level: level("detox"),
                delta: 1
            }]
        );
        assert_eq!(d.disclosures.len(), 1);
        assert_eq!(d.disclosures[0].consent, Some(consent));
        assert_eq!(d.disclosures[0].legal_basis, None);
        assert_eq!(d.disclosures[0].event, d.events[0].id);
    }

    #[test]
    fn admitting_is_refused_without_consent_outside_the_hours_band_or_when_already_in_care() {
        let f = Fixture::new();
        let s = f.registered();
        assert_eq!(
            f.refuse(&s, f.cm(), admit(level("detox"), f.detox, 40.0)),
            DecisionError::ConsentRequired {
                orgs: vec![f.detox]
            }
        );
        let s = f.consented();
        // Residential plans 5-60 h/week.
        assert!(matches!(
            f.refuse(&s, f.cm(), admit(level("residential"), f.residential, 80.0)),
            DecisionError::BadInput(_)
        ));
        assert!(matches!(
            f.refuse(&s, f.cm(), admit(level("residential"), f.detox, 30.0)),
            DecisionError::BadInput(_)
        ));
        let s = f.in_detox();
        assert!(matches!(
            f.refuse(&s, f.cm(), admit(level("residential"), f.residential, 30.0)),
            DecisionError::InvalidTransition { .. }
        ));
    }

    #[test]
    fn a_medical_emergency_admits_without_consent_only_to_withdrawal_or_residential_care() {
        let f = Fixture::new();
        let s = f.registered();
        let emergency = |level, provider, hours| Command::Admit {
            level,
            provider,
            planned_hours_per_week: hours,
            track: None,
            overrides: vec![],
            emergency: Some(MedicalEmergency {
                reason: "overdose".into(),
            }),
        };
        let d = f.run(&s, f.cm(), emergency(level("detox"), f.stranger, 40.0));
        assert_eq!(types(&d), ["client.admitted", "disclosure.emergency"]);
        assert_eq!(
            d.events[1].data,
            EventData::DisclosureEmergency {
                provider: f.stranger,
                level: level("detox"),
                event: d.events[0].id,
            }
        );
        assert_eq!(d.disclosures.len(), 1);
        assert_eq!(d.disclosures[0].consent, None);
        assert_eq!(
            d.disclosures[0].legal_basis.as_deref(),
            Some("medical emergency (42 CFR 2.51): overdose")
        );
        // Intensive outpatient is not where an emergency takes anyone.
        match f.refuse(&s, f.cm(), emergency(level("iop"), f.iop, 10.0)) {
            DecisionError::BadInput(m) => assert!(m.contains("medical emergency"), "{m}"),
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn a_step_down_moves_the_client_to_the_provider_that_accepted_the_referral() {
        let f = Fixture::new();
        let s = f.accepted();
        let referral = s.referrals[0].id;
        let old_review = s.placement.as_ref().unwrap().review_timer.clone();
        let d = f.run(
            &s,
            f.cm(),
            transition(TransitionKind::StepDown, level("residential"), None, 30.0),
        );
        assert_eq!(types(&d), ["transition.completed"]);
        match &d.events[0].data {
            EventData::TransitionCompleted {
                from_level,
                to_level,
                from_provider,
                to_provider,
                referral: used,
                overridden,
                ..
            } => {
                assert_eq!(
                    (from_level, to_level),
                    (&level("detox"), &level("residential"))
                );
                assert_eq!((*from_provider, *to_provider), (f.detox, f.residential));
                assert_eq!(*used, Some(referral));
                assert!(overridden.is_empty());
            }
            other => panic!("{other:?}"),
        }
        let placement = d.state.placement.as_ref().unwrap();
        assert_eq!(
            (&placement.level, placement.provider),
            (&level("residential"), f.residential)
        );
        assert_eq!(d.state.referrals[0].status, ReferralStatus::Completed);
        assert_eq!(d.state.handoff, None);
        assert_eq!(d.timers[0], TimerOp::Cancel { key: old_review });
        assert!(matches!(
            &d.timers[1],
            TimerOp::Schedule { kind: TimerKind::ReviewDue { level: l, .. }, due_at, .. }
                if *l == level("residential") && *due_at == f.now + Duration::days(7)
        ));
        assert_eq!(
            d.occupancy
                .iter()
                .map(|o| (o.provider, o.delta))
                .collect::<Vec<_>>(),
            [(f.detox, -1), (f.residential, 1)]
        );
        assert_eq!(d.disclosures.len(), 1);
        assert_eq!(d.disclosures[0].recipient, f.residential);
    }

    #[test]
    fn a_step_down_without_an_accepted_referral_is_unmet_and_the_consent_gate_cannot_be_overridden()
    {
        let f = Fixture::new();
        let s = f.in_detox();
        for provider in [None, Some(f.residential)] {
            match f.refuse(
                &s,
                f.cm(),
                transition(
                    TransitionKind::StepDown,
                    level("residential"),
                    provider,
                    30.0,
                ),
            ) {
                DecisionError::GateUnmet { unmet } => {
                    assert_eq!(
                        unmet.iter().map(|r| (r.gate, r.met)).collect::<Vec<_>>(),
                        [(Gate::AcceptedReferral, false)]
                    );
                }
                e => panic!("{e:?}"),
            }
        }
        let overriding = |gate, reason: &str| Command::Transition {
            kind: TransitionKind::StepDown,
            to_level: level("residential"),
            provider: Some(f.residential),
            planned_hours_per_week: 30.0,
            track: None,
            overrides: vec![GateOverride {
                gate,
                reason: reason.into(),
            }],
            emergency: None,
        };
        let held = "bed held by phone";
        // Not the consent gate, not a gate the move does not require, not without a reason.
        for command in [
            overriding(Gate::Consent, held),
            overriding(Gate::Reassessment, held),
            overriding(Gate::AcceptedReferral, "  "),
        ] {
            assert!(matches!(
                f.refuse(&s, f.supervisor(), command),
                DecisionError::BadInput(_)
            ));
        }
        // A supervisor may let it through without the referral; the override is recorded.
        let d = f.run(&s, f.supervisor(), overriding(Gate::AcceptedReferral, held));
        match &d.events[0].data {
            EventData::TransitionCompleted {
                referral,
                overridden,
                ..
            } => {
                assert_eq!(*referral, None);
                assert_eq!(overridden.len(), 1);
                assert_eq!(overridden[0].gate, Gate::AcceptedReferral);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unplanned_discharge_is_never_blocked_withdraws_referrals_and_arms_followups() {
        let f = Fixture::new();
        let s = f.referred();
        let referral = s.referrals[0].id;
        let episode = s.episode.as_ref().unwrap().id;
        let review = s.placement.as_ref().unwrap().review_timer.clone();
        let d = f.run(&s, f.cm(), discharge(DischargeKind::AgainstMedicalAdvice));
        assert_eq!(types(&d), ["referral.withdrawn", "discharge.unplanned"]);
        assert!(matches!(
            d.events[1].data,
            EventData::DischargeUnplanned { at_risk: true, .. }
        ));
        assert_eq!(d.state.status, ClientStatus::Discharged);
        assert_eq!(d.state.placement, None);
        assert_eq!(
            d.state.referrals[0].withdraw_reason,
            Some(WithdrawReason::ClientDischarged)
        );
        let record = d.state.last_discharge.as_ref().unwrap();
        assert_eq!(
            (record.episode, &record.from_level),
            (episode, &level("detox"))
        );
        assert_eq!(
            d.timers,
            [
                TimerOp::Cancel { key: review },
                TimerOp::Cancel {
                    key: format!("referral:{referral}")
                },
                TimerOp::Schedule {
                    key: format!("followup:{episode}:7"),
                    due_at: f.now + Duration::days(7),
                    kind: TimerKind::Followup { episode, days: 7 },
                },
                TimerOp::Schedule {
                    key: format!("followup:{episode}:30"),
                    due_at: f.now + Duration::days(30),
                    kind: TimerKind::Followup { episode, days: 30 },
                },
            ]
        );
        assert_eq!(d.occupancy.len(), 1);
        assert_eq!(d.occupancy[0].delta, -1);
    }

    #[test]
    fn a_planned_discharge_needs_aftercare_and_an_unplanned_one_has_nothing_to_override() {
        let f = Fixture::new();
        let s = f.in_detox();
        match f.refuse(&s, f.cm(), discharge(DischargeKind::Planned)) {
            DecisionError::GateUnmet { unmet } => {
                assert_eq!(
                    unmet.iter().map(|r| r.gate).collect::<Vec<_>>(),
                    [Gate::AftercareAppointment]
                );
            }
            e => panic!("{e:?}"),
        }
        let unplanned = Command::Discharge {
            kind: DischargeKind::Administrative,
            provider: None,
            overrides: vec![GateOverride {
                gate: Gate::MatContinuity,
                reason: "none".into(),
            }],
        };
        assert!(matches!(
            f.refuse(&s, f.supervisor(), unplanned),
            DecisionError::BadInput(_)
        ));
        let transfer = discharge(DischargeKind::TransferOut);
        assert!(matches!(
            f.refuse(&s, f.cm(), transfer),
            DecisionError::BadInput(_)
        ));
    }

    #[test]
    fn a_readmission_needs_a_reassessment_and_opens_a_second_episode() {
        let f = Fixture::new();
        let s = f.in_detox();
        let s = f
            .run(&s, f.cm(), discharge(DischargeKind::AgainstMedicalAdvice))
            .state;
        match f.refuse(&s, f.cm(), admit(level("detox"), f.detox, 40.0)) {
            DecisionError::GateUnmet { unmet } => {
                assert_eq!(unmet[0].gate, Gate::Reassessment);
            }
            e => panic!("{e:?}"),
        }
        // The consent signed before the first admission ended with that treatment: a new
        // one for the readmission.
        let consent = Command::RecordConsent {
            recipients: vec![f.detox],
            purpose: "treatment".into(),
            information: "placement and referrals".into(),
            expiry: ConsentExpiry::Never,
            signed_on: f.today(),
        };
        let s = f.run(&s, f.cm(), consent).state;
        let s = f
            .run(
                &s,
                f.cm(),
                Command::RecordAssessment {
                    recommended_level: level("detox"),
                    dimensions: [3, 2, 1, 1, 2, 2],
                    assessed_at: None,
                },
            )
            .state;
        let d = f.run(&s, f.cm(), admit(level("detox"), f.detox, 40.0));
        assert!(matches!(
            d.events[0].data,
            EventData::ClientAdmitted {
                readmission: true,
                ..
            }
        ));
        assert_eq!(d.state.episode.as_ref().unwrap().number, 2);
        assert_eq!(d.state.status, ClientStatus::Active);
    }
}
