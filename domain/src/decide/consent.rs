//! 42 CFR Part 2 consents: recorded, and revoked (which withdraws the open referrals no
//! other consent covers).

use super::draft::Draft;
use crate::error::DecisionError;
use crate::event::*;
use crate::ids::*;
use crate::state::*;
use chrono::NaiveDate;

impl Draft<'_> {
    pub(super) fn record_consent(
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
        if signed_on > self.latest_today() {
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
        if expiry == ConsentExpiry::Never && !is_tpo_purpose(purpose) {
            return Err(DecisionError::bad(
                "a consent may have no expiry only when its purpose is treatment, payment or \
                 health care operations (42 CFR 2.31(a)(6)); for any other purpose give the \
                 day it expires or END_OF_TREATMENT",
            ));
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
            // Signed between episodes (the last one discharged): bound at the next admission.
            episode: self
                .s
                .episode
                .as_ref()
                .filter(|_| self.s.status != ClientStatus::Discharged)
                .map(|e| e.id),
            ends_at: None,
            revoked_at: None,
        });
        Ok(())
    }

    /// An admission opens `episode`: the end-of-treatment consents signed while no episode
    /// was open cover it.
    pub(super) fn bind_consents_to(&mut self, episode: EpisodeId) {
        for c in &mut self.s.consents {
            if c.expiry == ConsentExpiry::EndOfTreatment && c.episode.is_none() {
                c.episode = Some(episode);
            }
        }
    }

    /// The discharge that ends `episode` ends the end-of-treatment consents covering it, once
    /// its aftercare window has closed: the pathway's last follow-up check or a transfer out's
    /// arrival deadline, whichever is later, and a day's margin for what is then still
    /// leaving.
    pub(super) fn end_consents_of(&mut self, episode: EpisodeId) {
        let settings = &self.pathway().settings;
        let days = settings
            .followup_days
            .iter()
            .copied()
            .chain([settings.transfer_arrival_days])
            .max()
            .unwrap_or(0);
        let end = self.now() + chrono::Duration::days(i64::from(days) + 1);
        for c in &mut self.s.consents {
            if c.expiry == ConsentExpiry::EndOfTreatment && c.episode == Some(episode) {
                c.ends_at.get_or_insert(end);
            }
        }
    }

    pub(super) fn revoke_consent(&mut self, id: ConsentId) -> Result<(), DecisionError> {
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
}

#[cfg(test)]
mod tests {
    use crate::command::*;
    use crate::decide::fixture::*;
    use crate::error::DecisionError;
    use crate::event::*;
    use crate::ids::*;
    use crate::pathway::DischargeKind;
    use crate::state::*;
    use chrono::Duration;

    fn consent(recipients: Vec<OrgId>, f: &Fixture) -> Command {
        Command::RecordConsent {
            recipients,
            purpose: "treatment".into(),
            information: "placement".into(),
            expiry: ConsentExpiry::Never,
            signed_on: f.today(),
        }
    }

    #[test]
    fn a_recorded_consent_is_kept_with_its_episode_and_announced_without_its_text() {
        let f = Fixture::new();
        let s = f.in_detox();
        let d = f.run(&s, f.cm(), consent(vec![f.stranger, f.iop], &f));
        assert_eq!(types(&d), ["consent.recorded"]);
        let id = ConsentId(EventId::for_seq(f.client, s.last_seq + 1).0);
        assert_eq!(
            d.events[0].data,
            EventData::ConsentRecorded {
                consent: id,
                recipients: vec![f.stranger, f.iop],
                expiry: ConsentExpiry::Never,
            }
        );
        assert_eq!(d.events[0].level, Some(level("detox")));
        let c = d.state.consents.last().unwrap();
        assert_eq!(c.id, id);
        assert_eq!(c.purpose, "treatment");
        assert_eq!(c.episode, s.episode.as_ref().map(|e| e.id));
        assert_eq!(c.revoked_at, None);
        assert!(d.state.active_consent_for(f.stranger, f.now).is_some());
        assert!(d.timers.is_empty() && d.disclosures.is_empty());
    }

    #[test]
    fn only_a_consent_for_treatment_payment_or_operations_may_have_no_expiry() {
        let f = Fixture::new();
        let s = f.in_detox();
        let with = |purpose: &str, expiry| Command::RecordConsent {
            recipients: vec![f.iop],
            purpose: purpose.into(),
            information: "placement".into(),
            expiry,
            signed_on: f.today(),
        };
        for purpose in [
            "research",
            "treatment and research",
            "court-ordered evaluation",
        ] {
            match f.refuse(&s, f.cm(), with(purpose, ConsentExpiry::Never)) {
                DecisionError::BadInput(m) => {
                    assert!(m.contains("42 CFR 2.31"), "{m}");
                    assert!(m.contains("treatment, payment or health care operations"));
                }
                e => panic!("{purpose}: {e:?}"),
            }
            // With an expiry, any purpose may be consented to.
            f.run(&s, f.cm(), with(purpose, ConsentExpiry::EndOfTreatment));
            f.run(&s, f.cm(), with(purpose, ConsentExpiry::On(f.days(90))));
        }
        for purpose in [
            "treatment",
            "Treatment, payment and health care operations",
            "treatment and care coordination",
            "payment / healthcare operations",
        ] {
            f.run(&s, f.cm(), with(purpose, ConsentExpiry::Never));
        }
    }

    fn assessed(to: &str) -> Command {
        Command::RecordAssessment {
            recommended_level: level(to),
            dimensions: [3, 1, 1, 1, 2, 2],
            assessed_at: None,
        }
    }

    fn until_treatment_ends(recipients: Vec<OrgId>, f: &Fixture) -> Command {
        Command::RecordConsent {
            recipients,
            purpose: "treatment".into(),
            information: "placement and referrals".into(),
            expiry: ConsentExpiry::EndOfTreatment,
            signed_on: f.today(),
        }
    }

    #[test]
    fn an_end_of_treatment_consent_signed_before_admission_ends_with_that_episodes_aftercare() {
        let f = Fixture::new();
        let s = f.consented();
        assert_eq!(s.consents[0].episode, None);
        let s = f.in_detox();
        let episode = s.episode.as_ref().unwrap().id;
        assert_eq!(s.consents[0].episode, Some(episode), "bound at admission");
        let gone = f.run(&s, f.cm(), discharge(DischargeKind::AgainstMedicalAdvice));
        // 30-day follow-up (the pathway's last) and a day's margin.
        let end = f.now + Duration::days(31);
        assert_eq!(gone.state.consents[0].ends_at, Some(end));
        let s = gone.state;
        assert!(
            s.active_consent_for(f.iop, f.now).is_some(),
            "the discharge leaves"
        );
        assert!(
            s.active_consent_for(f.iop, f.now + Duration::days(30))
                .is_some(),
            "the 30-day follow-up leaves"
        );
        assert!(
            s.active_consent_for(f.iop, end).is_none(),
            "then nothing more"
        );
        // Readmitted: the ended consent stays ended; a new one is needed.
        let s = f.run_at(end, &s, f.cm(), assessed("detox")).state;
        let back = f.refuse_at(end, &s, f.cm(), admit(level("detox"), f.detox, 40.0));
        assert_eq!(
            back,
            DecisionError::ConsentRequired {
                orgs: vec![f.detox]
            }
        );
    }

    #[test]
    fn an_end_of_treatment_consent_signed_in_care_or_between_episodes_covers_that_or_the_next() {
        let f = Fixture::new();
        let s = f.in_detox();
        let first = s.episode.as_ref().unwrap().id;
        let s = f
            .run(&s, f.cm(), until_treatment_ends(vec![f.stranger], &f))
            .state;
        assert_eq!(s.consents[1].episode, Some(first));
        let s = f
            .run(&s, f.cm(), discharge(DischargeKind::AgainstMedicalAdvice))
            .state;
        assert!(s.consents.iter().all(|c| c.ends_at.is_some()));
        // Signed between episodes: open until the next admission's episode ends.
        let later = f.now + Duration::days(40);
        let s = f
            .run_at(later, &s, f.cm(), until_treatment_ends(vec![f.detox], &f))
            .state;
        let between = s.consents.last().unwrap();
        assert_eq!((between.episode, between.ends_at), (None, None));
        assert!(s.active_consent_for(f.stranger, later).is_none());
        assert!(
            s.active_consent_for(f.detox, later + Duration::days(400))
                .is_some()
        );
        let s = f.run_at(later, &s, f.cm(), assessed("detox")).state;
        let s = f
            .run_at(later, &s, f.cm(), admit(level("detox"), f.detox, 40.0))
            .state;
        let second = s.episode.as_ref().unwrap().id;
        assert_ne!(second, first);
        let between = s.consents.last().unwrap();
        assert_eq!(between.episode, Some(second));
        assert_eq!(
            s.consents[0].episode,
            Some(first),
            "an ended consent stays with its episode"
        );
        let s = f
            .run_at(
                later,
                &s,
                f.cm(),
                discharge(DischargeKind::AgainstMedicalAdvice),
            )
            .state;
        assert!(
            s.active_consent_for(f.detox, later + Duration::days(30))
                .is_some()
        );
        assert!(
            s.active_consent_for(f.detox, later + Duration::days(31))
                .is_none()
        );
    }

    #[test]
    fn a_consent_is_refused_without_recipients_twice_the_same_or_out_of_time() {
        let f = Fixture::new();
        let s = f.registered();
        assert!(matches!(
            f.refuse(&s, f.cm(), consent(vec![], &f)),
            DecisionError::BadInput(_)
        ));
        assert!(matches!(
            f.refuse(&s, f.cm(), consent(vec![f.detox, f.detox], &f)),
            DecisionError::BadInput(_)
        ));
        let unknown = OrgId(uuid::Uuid::from_u128(5555));
        assert_eq!(
            f.refuse(&s, f.cm(), consent(vec![unknown], &f)),
            DecisionError::not_found("organization", unknown)
        );
        let Command::RecordConsent {
            recipients,
            purpose,
            information,
            ..
        } = consent(vec![f.detox], &f)
        else {
            unreachable!()
        };
        let signed_tomorrow = Command::RecordConsent {
            recipients: recipients.clone(),
            purpose: purpose.clone(),
            information: information.clone(),
            expiry: ConsentExpiry::Never,
            signed_on: f.days(1),
        };
        assert!(matches!(
            f.refuse(&s, f.cm(), signed_tomorrow),
            DecisionError::BadInput(_)
        ));
        let expires_today = Command::RecordConsent {
            recipients,
            purpose,
            information,
            expiry: ConsentExpiry::On(f.today()),
            signed_on: f.today(),
        };
        assert!(matches!(
            f.refuse(&s, f.cm(), expires_today),
            DecisionError::BadInput(_)
        ));
    }

    #[test]
    fn revoking_withdraws_the_open_referrals_it_alone_covered() {
        let f = Fixture::new();
        let s = f.referred();
        let (id, referral) = (s.consents[0].id, s.referrals[0].id);
        let d = f.run(&s, f.cm(), Command::RevokeConsent { consent: id });
        assert_eq!(types(&d), ["consent.revoked", "referral.withdrawn"]);
        assert_eq!(d.events[0].data, EventData::ConsentRevoked { consent: id });
        assert_eq!(d.state.consents[0].revoked_at, Some(f.now));
        let r = &d.state.referrals[0];
        assert_eq!(r.status, ReferralStatus::Withdrawn);
        assert_eq!(r.withdraw_reason, Some(WithdrawReason::ConsentRevoked));
        assert_eq!(
            d.timers,
            [TimerOp::Cancel {
                key: format!("referral:{referral}")
            }]
        );
    }

    #[test]
    fn revoking_keeps_referrals_another_consent_still_covers() {
        let f = Fixture::new();
        let s = f.referred();
        let first = s.consents[0].id;
        let s = f.run(&s, f.cm(), consent(vec![f.residential], &f)).state;
        let d = f.run(&s, f.cm(), Command::RevokeConsent { consent: first });
        assert_eq!(types(&d), ["consent.revoked"]);
        assert_eq!(d.state.referrals[0].status, ReferralStatus::Pending);
        assert!(d.timers.is_empty());
    }

    #[test]
    fn a_consent_is_revoked_once_and_must_exist() {
        let f = Fixture::new();
        let s = f.consented();
        let id = s.consents[0].id;
        let s = f
            .run(&s, f.cm(), Command::RevokeConsent { consent: id })
            .state;
        assert!(matches!(
            f.refuse(&s, f.cm(), Command::RevokeConsent { consent: id }),
            DecisionError::Conflict(_)
        ));
        let unknown = ConsentId(uuid::Uuid::from_u128(777));
        assert_eq!(
            f.refuse(&s, f.cm(), Command::RevokeConsent { consent: unknown }),
            DecisionError::not_found("consent", unknown)
        );
    }
}
