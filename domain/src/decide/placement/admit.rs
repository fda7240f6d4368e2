//! Admission, and readmission: the client placed at a level with a provider.

use crate::command::*;
use crate::decide::draft::Draft;
use crate::error::DecisionError;
use crate::event::*;
use crate::gates::MoveCheck;
use crate::ids::*;
use crate::pathway::{LevelId, TransitionKind};
use crate::state::*;

impl Draft<'_> {
    pub(in crate::decide) fn admit(
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
            ClientStatus::Active | ClientStatus::InTransit => {
                return Err(self.invalid(format!("admission to {level_id}")));
            }
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
        // An accepted referral is completed by the receiving provider's own admission only:
        // another organization admitting the client there does not close its loop (the
        // referral is withdrawn below with the level's other open referrals, its slot
        // released, and the admission takes one of its own).
        let referral = self
            .accepted_referral(level_id, provider)
            .filter(|_| self.actor_org() == Some(provider));
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
        let case_manager = self.admitting_case_manager();
        self.bind_consents_to(episode);
        self.s.episode = Some(Episode {
            id: episode,
            number,
            admitted_at: self.now(),
            case_manager,
        });
        // Readmitted here: a transfer out still waiting for its arrival is over.
        if let Some(t) = self.s.transfer.take()
            && !t.missed
        {
            self.cancel(t.timer);
        }
        self.s.status = ClientStatus::Active;
        self.place(level, provider, hours, track, seq);
        self.complete_referral(referral, level_id);
        if let Some(id) = referral {
            self.referral_mut(id).closed_by = Some(ReportedBy::Receiver);
        }
        self.reengage();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::command::*;
    use crate::decide::fixture::*;
    use crate::error::DecisionError;
    use crate::event::*;
    use crate::ids::*;
    use crate::pathway::{DischargeKind, Gate};
    use crate::state::*;
    use chrono::Duration;

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
            [OccupancyChange::occupy(f.detox, level("detox"), 1)]
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
    fn a_medical_emergency_admits_without_consent_only_where_medical_personnel_are() {
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
        // Intensive outpatient is not where an emergency takes anyone, nor residential care
        // that may be 3.1 low-intensity residential, which has no medical personnel.
        assert!(
            f.pathway
                .level(&level("residential"))
                .unwrap()
                .asam3
                .contains(&"3.1".to_owned())
        );
        for (to, provider, hours) in [
            (level("iop"), f.iop, 10.0),
            (level("residential"), f.stranger, 30.0),
        ] {
            match f.refuse(&s, f.cm(), emergency(to.clone(), provider, hours)) {
                DecisionError::BadInput(m) => {
                    assert!(m.contains("medical emergency"), "{m}");
                    assert!(m.contains("medical personnel"), "{m}");
                }
                e => panic!("{to}: {e:?}"),
            }
        }
        // A pathway whose residential level is 3.7, medically monitored, says it has medical
        // personnel: the emergency may go there.
        let mut monitored = Fixture::new();
        let l = monitored
            .pathway
            .levels
            .iter_mut()
            .find(|l| l.id == level("residential"))
            .unwrap();
        (l.asam3, l.asam4, l.medical_personnel) = (vec!["3.7".into()], vec![], true);
        let d = monitored.run(
            &s,
            f.cm(),
            emergency(level("residential"), f.stranger, 30.0),
        );
        assert_eq!(types(&d), ["client.admitted", "disclosure.emergency"]);
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

    #[test]
    fn admission_on_an_accepted_referral_completes_it_only_when_the_receiver_admits() {
        let f = Fixture::new();
        let s = f.consented();
        let s = f
            .run(
                &s,
                f.cm(),
                Command::SendReferral {
                    to_level: level("detox"),
                    providers: vec![f.detox],
                },
            )
            .state;
        let referral = s.referrals[0].id;
        let s = f
            .run(&s, f.partner(f.detox), Command::AcceptReferral { referral })
            .state;
        // The sender admits the client there: the referral's loop is not closed by it.
        let by_sender = f.run(&s, f.cm(), admit(level("detox"), f.detox, 40.0));
        assert!(matches!(
            by_sender.events[0].data,
            EventData::ClientAdmitted { referral: None, .. }
        ));
        let r = by_sender.state.referral(referral).unwrap();
        assert_eq!(
            (r.status, r.withdraw_reason, r.closed_by),
            (
                ReferralStatus::Withdrawn,
                Some(WithdrawReason::ClientMoved),
                None
            )
        );
        // The slot the referral held is released; the admission takes one.
        assert_eq!(
            by_sender
                .occupancy
                .iter()
                .fold((0, 0), |(o, h), c| (o + c.occupied, h + c.held)),
            (1, -1)
        );
        // The receiving organization admitting the client itself completes it.
        let receiver = Actor::new(f.detox, Role::Admin);
        let by_receiver = f.run(&s, receiver, admit(level("detox"), f.detox, 40.0));
        assert!(matches!(
            by_receiver.events[0].data,
            EventData::ClientAdmitted {
                referral: Some(r),
                ..
            } if r == referral
        ));
        let r = by_receiver.state.referral(referral).unwrap();
        assert_eq!(
            (r.status, r.closed_by),
            (ReferralStatus::Completed, Some(ReportedBy::Receiver))
        );
    }
}
