//! Referrals: sent to one or more providers at once, answered by them (the first acceptance
//! wins), withdrawn by the case manager.

use super::draft::Draft;
use crate::command::TimerKind;
use crate::error::DecisionError;
use crate::event::*;
use crate::ids::*;
use crate::pathway::LevelId;
use crate::state::*;
use chrono::Duration;

const MAX_PROVIDERS_PER_REFERRAL: usize = 10;

impl Draft<'_> {
    /// A referral whose status allows the provider's `answer` (`ReferralStatus::answers`, the
    /// one table of them); `what` names those statuses in the refusal.
    fn referral_taking(
        &self,
        id: ReferralId,
        answer: ReferralAnswer,
        what: &str,
    ) -> Result<&Referral, DecisionError> {
        let r = self
            .s
            .referral(id)
            .ok_or_else(|| DecisionError::not_found("referral", id))?;
        if !r.status.allows(answer) {
            return Err(DecisionError::Conflict(format!(
                "referral {id} is {}, not {what}",
                r.status.as_str()
            )));
        }
        Ok(r)
    }

    pub(super) fn send_referral(
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
            if self
                .s
                .referrals
                .iter()
                .any(|r| r.provider == *p && &r.to_level == to_level && r.status.is_open())
            {
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
            now + Duration::hours(i64::from(self.level(to_level)?.referral_answer_hours));
        // Sent on: the group that ran out for this level is acted on.
        if self
            .s
            .escalation
            .as_ref()
            .is_some_and(|e| &e.to_level == to_level)
        {
            self.s.escalation = None;
        }
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
            self.add_referral(Referral {
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
                acknowledged_at: None,
                closed_by: None,
            });
            self.schedule(
                Self::referral_timer_key(referral),
                answer_by,
                TimerKind::ReferralDeadline { referral },
            );
        }
        Ok(())
    }

    /// Send a group that ran out again, for its level, to `providers` (a new group): the one
    /// command an escalated referral needs.
    pub(super) fn resend_referral(
        &mut self,
        group: ReferralGroupId,
        providers: &[OrgId],
    ) -> Result<(), DecisionError> {
        let members: Vec<&Referral> = self
            .s
            .referrals
            .iter()
            .filter(|r| r.group == group)
            .collect();
        let Some(first) = members.first() else {
            return Err(DecisionError::not_found("referral group", group));
        };
        if members
            .iter()
            .any(|r| r.status.is_open() || r.status == ReferralStatus::Completed)
        {
            return Err(DecisionError::Conflict(format!(
                "referral group {group} is still open or was used: nothing to send again"
            )));
        }
        let to_level = first.to_level.clone();
        self.send_referral(&to_level, providers)
    }

    /// The provider has seen the referral; its answer is still due by the deadline.
    pub(super) fn acknowledge_referral(&mut self, id: ReferralId) -> Result<(), DecisionError> {
        let r = self
            .referral_taking(id, ReferralAnswer::Acknowledge, "pending")?
            .clone();
        let now = self.now();
        {
            let r = self.referral_mut(id);
            r.status = ReferralStatus::Acknowledged;
            r.acknowledged_at = Some(now);
        }
        self.emit(
            Some(r.to_level.clone()),
            Some(r.provider),
            EventData::ReferralAcknowledged {
                referral: id,
                provider: r.provider,
                to_level: r.to_level,
            },
        );
        Ok(())
    }

    /// Accept: a slot is held at the provider (the store refuses the acceptance of a full
    /// provider) until the handoff starts or the hold runs out.
    pub(super) fn accept_referral(&mut self, id: ReferralId) -> Result<(), DecisionError> {
        let r = self
            .referral_taking(id, ReferralAnswer::Accept, "awaiting an answer")?
            .clone();
        self.take_slot_for(r, false)
    }

    /// A slot freed at the provider of a waitlisted referral, the head of its waitlist.
    pub(super) fn offer_freed_slot(&mut self, id: ReferralId) -> Result<(), DecisionError> {
        let Some(r) = self.s.referral(id).cloned() else {
            return Err(DecisionError::StaleTimer("unknown referral".into()));
        };
        if r.status != ReferralStatus::Waitlisted {
            return Err(DecisionError::StaleTimer(
                "the referral left the waitlist".into(),
            ));
        }
        self.take_slot_for(r, true)
    }

    fn take_slot_for(&mut self, r: Referral, from_waitlist: bool) -> Result<(), DecisionError> {
        let id = r.id;
        let now = self.now();
        if !self.s.is_inside(r.provider) && self.s.active_consent_for(r.provider, now).is_none() {
            return Err(DecisionError::ConsentRequired {
                orgs: vec![r.provider],
            });
        }
        let hold_until = now + Duration::hours(i64::from(self.level(&r.to_level)?.hold_hours));
        {
            let r = self.referral_mut(id);
            r.status = ReferralStatus::Accepted;
            r.answered_at = Some(now);
        }
        if !from_waitlist {
            self.cancel(Self::referral_timer_key(id));
        }
        self.hold_slot(r.provider, &r.to_level, 1);
        self.schedule(
            Self::hold_timer_key(id),
            hold_until,
            TimerKind::HoldExpiry { referral: id },
        );
        self.emit(
            Some(r.to_level.clone()),
            Some(r.provider),
            EventData::ReferralAccepted {
                referral: id,
                provider: r.provider,
                to_level: r.to_level.clone(),
                hold_until: Some(hold_until),
                from_waitlist,
            },
        );
        // First acceptance wins: the rest of the group is withdrawn.
        self.withdraw_where(WithdrawReason::AnotherProviderAccepted, |o| {
            o.group == r.group && o.id != id && o.status.course() == ReferralCourse::Waiting
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

    /// No open slot now: the provider will take the client when one frees. The waitlist is
    /// an answer (the deadline no longer runs); its order is the order of waitlisting.
    pub(super) fn waitlist_referral(&mut self, id: ReferralId) -> Result<(), DecisionError> {
        let r = self
            .referral_taking(id, ReferralAnswer::Waitlist, "awaiting an answer")?
            .clone();
        let now = self.now();
        {
            let r = self.referral_mut(id);
            r.status = ReferralStatus::Waitlisted;
            r.answered_at = Some(now);
        }
        self.cancel(Self::referral_timer_key(id));
        self.emit(
            Some(r.to_level.clone()),
            Some(r.provider),
            EventData::ReferralWaitlisted {
                referral: id,
                provider: r.provider,
                to_level: r.to_level,
            },
        );
        Ok(())
    }

    pub(super) fn decline_referral(
        &mut self,
        id: ReferralId,
        reason: &DeclineReason,
    ) -> Result<(), DecisionError> {
        let r = self
            .referral_taking(
                id,
                ReferralAnswer::Decline,
                "awaiting an answer or waitlisted",
            )?
            .clone();
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
        if r.status.awaits_answer() {
            self.cancel(Self::referral_timer_key(id));
        }
        let escalate = self.ran_out(&r);
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
        if escalate {
            self.announce_escalation();
        }
        Ok(())
    }

    pub(super) fn withdraw_referral(&mut self, id: ReferralId) -> Result<(), DecisionError> {
        let r = self
            .s
            .referral(id)
            .ok_or_else(|| DecisionError::not_found("referral", id))?;
        if r.status == ReferralStatus::Scheduled {
            return Err(DecisionError::Conflict(format!(
                "referral {id} is scheduled: the client is on the way (confirm the arrival, \
                 report a no-show, or discharge)"
            )));
        }
        if !r.status.withdrawable() {
            return Err(DecisionError::Conflict(format!(
                "referral {id} is {}, nothing to withdraw",
                r.status.as_str()
            )));
        }
        self.withdraw(id, WithdrawReason::CaseManager);
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
    use crate::state::*;
    use chrono::Duration;

    fn send(providers: Vec<OrgId>) -> Command {
        Command::SendReferral {
            to_level: level("residential"),
            providers,
        }
    }

    /// In detox, referred to both residential programs at once.
    fn referred_to_two(f: &Fixture) -> ClientState {
        let s = f.in_detox();
        f.run(&s, f.cm(), send(vec![f.residential, f.residential2]))
            .state
    }

    #[test]
    fn a_referral_to_two_providers_sends_one_each_in_a_group_with_a_deadline() {
        let f = Fixture::new();
        let s = f.in_detox();
        let consent = s.consents[0].id;
        let d = f.run(&s, f.cm(), send(vec![f.residential, f.residential2]));
        assert_eq!(types(&d), ["referral.sent", "referral.sent"]);
        let first = s.last_seq + 1;
        let group = ReferralGroupId(EventId::for_seq(f.client, first).0);
        let answer_by = f.now + Duration::hours(24);
        let ids: Vec<ReferralId> = (first..first + 2)
            .map(|seq| ReferralId(EventId::for_seq(f.client, seq).0))
            .collect();
        assert_eq!(
            d.events[1].data,
            EventData::ReferralSent {
                referral: ids[1],
                group,
                provider: f.residential2,
                to_level: level("residential"),
                answer_by,
                consent: Some(consent),
            }
        );
        assert_eq!(d.events[0].recipient_org, Some(f.residential));
        assert_eq!(
            d.state
                .referrals
                .iter()
                .map(|r| (r.id, r.group, r.status))
                .collect::<Vec<_>>(),
            [
                (ids[0], group, ReferralStatus::Pending),
                (ids[1], group, ReferralStatus::Pending)
            ]
        );
        assert_eq!(
            d.timers,
            ids.iter()
                .map(|&referral| TimerOp::Schedule {
                    key: format!("referral:{referral}"),
                    due_at: answer_by,
                    kind: TimerKind::ReferralDeadline { referral },
                })
                .collect::<Vec<_>>()
        );
        assert_eq!(
            d.disclosures
                .iter()
                .map(|x| (x.recipient, x.consent))
                .collect::<Vec<_>>(),
            [
                (f.residential, Some(consent)),
                (f.residential2, Some(consent))
            ]
        );
    }

    #[test]
    fn a_referral_is_refused_without_consent_to_the_wrong_level_or_when_one_is_open() {
        let f = Fixture::new();
        let s = f.in_detox();
        assert_eq!(
            f.refuse(&s, f.cm(), send(vec![f.residential, f.stranger])),
            DecisionError::ConsentRequired {
                orgs: vec![f.stranger]
            }
        );
        // The IOP program offers no residential care.
        assert!(matches!(
            f.refuse(&s, f.cm(), send(vec![f.iop])),
            DecisionError::BadInput(_)
        ));
        assert!(matches!(
            f.refuse(&s, f.cm(), send(vec![])),
            DecisionError::BadInput(_)
        ));
        assert!(matches!(
            f.refuse(&s, f.cm(), send(vec![f.residential, f.residential])),
            DecisionError::BadInput(_)
        ));
        let s = f.referred();
        assert!(matches!(
            f.refuse(&s, f.cm(), send(vec![f.residential])),
            DecisionError::Conflict(_)
        ));
    }

    #[test]
    fn the_first_acceptance_wins_withdraws_the_rest_and_announces_the_handoff() {
        let f = Fixture::new();
        let s = referred_to_two(&f);
        let (won, lost) = (s.referrals[0].id, s.referrals[1].id);
        let d = f.run(
            &s,
            f.partner(f.residential),
            Command::AcceptReferral { referral: won },
        );
        // No MAT plan: every gate of the step down is met at once, so it is ready too.
        assert_eq!(
            types(&d),
            [
                "referral.accepted",
                "referral.withdrawn",
                "handoff.planned",
                "handoff.ready"
            ]
        );
        assert_eq!(d.events[0].actor_org, Some(f.residential));
        assert!(matches!(
            d.events[1].data,
            EventData::ReferralWithdrawn {
                referral,
                reason: WithdrawReason::AnotherProviderAccepted,
                ..
            } if referral == lost
        ));
        let status: Vec<_> = d.state.referrals.iter().map(|r| r.status).collect();
        assert_eq!(
            status,
            [ReferralStatus::Accepted, ReferralStatus::Withdrawn]
        );
        assert_eq!(
            d.timers,
            [
                TimerOp::Cancel {
                    key: format!("referral:{won}")
                },
                // Residential care holds an accepted slot for two days.
                TimerOp::Schedule {
                    key: format!("hold:{won}"),
                    due_at: f.now + Duration::hours(48),
                    kind: TimerKind::HoldExpiry { referral: won },
                },
                TimerOp::Cancel {
                    key: format!("referral:{lost}")
                },
            ]
        );
        assert_eq!(
            d.occupancy,
            [OccupancyChange::hold(
                f.residential,
                level("residential"),
                1
            )]
        );
        let handoff = d.state.handoff.as_ref().unwrap();
        assert_eq!(handoff.target.provider(), Some(f.residential));
        assert!(handoff.ready);
    }

    #[test]
    fn a_decision_hands_over_the_referrals_it_created_or_changed_and_no_other() {
        let f = Fixture::new();
        let s = f.in_detox();
        let d = f.run(&s, f.cm(), send(vec![f.residential, f.residential2]));
        assert_eq!(d.referrals, d.state.referrals);
        let s = d.state;
        let (first, second) = (s.referrals[0].id, s.referrals[1].id);
        // A decline changes one referral of the group: only its row is written.
        let d = f.run(
            &s,
            f.partner(f.residential2),
            Command::DeclineReferral {
                referral: second,
                reason: DeclineReason {
                    code: DeclineCode::NoCapacity,
                    note: None,
                },
            },
        );
        assert_eq!(d.referrals, [d.state.referrals[1].clone()]);
        assert_eq!(d.referrals[0].status, ReferralStatus::Declined);
        // A withdrawal by the case manager: that one.
        let d = f.run(
            &d.state,
            f.cm(),
            Command::WithdrawReferral { referral: first },
        );
        assert_eq!(
            d.referrals
                .iter()
                .map(|r| (r.id, r.status))
                .collect::<Vec<_>>(),
            [(first, ReferralStatus::Withdrawn)]
        );
        // A command that changes no referral hands over none.
        let assess = Command::RecordAssessment {
            recommended_level: level("residential"),
            dimensions: [2; 6],
            assessed_at: None,
        };
        let d = f.run(&d.state, f.cm(), assess);
        assert!(d.referrals.is_empty());
    }

    /// The table of answers each status takes (`ReferralStatus::answers`) and `decide` agree:
    /// for each status and each answer, the provider's answer is decided iff the table allows
    /// it, and refused as a conflict otherwise.
    #[test]
    fn each_status_takes_the_answers_of_its_table_and_no_other() {
        let f = Fixture::new();
        let referred = referred_to_two(&f);
        let first = referred.referrals[0].id;
        for status in ReferralStatus::ALL {
            let mut s = referred.clone();
            s.referrals[0].status = status;
            for answer in ReferralAnswer::ALL {
                let command = match answer {
                    ReferralAnswer::Acknowledge => Command::AcknowledgeReferral { referral: first },
                    ReferralAnswer::Accept => Command::AcceptReferral { referral: first },
                    ReferralAnswer::Waitlist => Command::WaitlistReferral { referral: first },
                    ReferralAnswer::Decline => Command::DeclineReferral {
                        referral: first,
                        reason: DeclineReason {
                            code: DeclineCode::NoCapacity,
                            note: None,
                        },
                    },
                };
                let actor = f.partner(f.residential);
                if status.allows(answer) {
                    f.run(&s, actor, command);
                } else {
                    assert!(
                        matches!(f.refuse(&s, actor, command), DecisionError::Conflict(_)),
                        "{status:?} took {answer:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_full_provider_acknowledges_waitlists_and_a_freed_slot_accepts_from_its_waitlist() {
        let f = Fixture::new();
        let s = referred_to_two(&f);
        let (first, second) = (s.referrals[0].id, s.referrals[1].id);
        let ack = Command::AcknowledgeReferral { referral: first };
        assert!(matches!(
            f.refuse(&s, f.cm(), ack.clone()),
            DecisionError::Forbidden(_)
        ));
        let d = f.run(&s, f.partner(f.residential), ack.clone());
        assert_eq!(types(&d), ["referral.acknowledged"]);
        assert_eq!(d.state.referrals[0].status, ReferralStatus::Acknowledged);
        assert_eq!(d.state.referrals[0].acknowledged_at, Some(f.now));
        // The answer is still due: the deadline keeps running.
        assert!(d.timers.is_empty());
        assert!(matches!(
            f.refuse(&d.state, f.partner(f.residential), ack),
            DecisionError::Conflict(_)
        ));

        let waitlist = Command::WaitlistReferral { referral: first };
        let d = f.run(&d.state, f.partner(f.residential), waitlist.clone());
        assert_eq!(types(&d), ["referral.waitlisted"]);
        assert_eq!(d.state.referrals[0].status, ReferralStatus::Waitlisted);
        assert_eq!(
            d.timers,
            [TimerOp::Cancel {
                key: format!("referral:{first}")
            }]
        );
        assert!(d.occupancy.is_empty(), "a waitlist holds no slot");
        assert!(matches!(
            f.refuse(&d.state, f.partner(f.residential), waitlist),
            DecisionError::Conflict(_)
        ));

        // Only the engine offers a freed slot.
        let offer = Command::OfferFreedSlot { referral: first };
        assert!(matches!(
            f.refuse(&d.state, f.partner(f.residential), offer.clone()),
            DecisionError::Forbidden(_)
        ));
        let offered = f.run(&d.state, f.system(), offer.clone());
        assert_eq!(
            types(&offered)[..2],
            ["referral.accepted", "referral.withdrawn"]
        );
        assert!(matches!(
            offered.events[0].data,
            EventData::ReferralAccepted {
                from_waitlist: true,
                ..
            }
        ));
        assert_eq!(
            offered.occupancy,
            [OccupancyChange::hold(
                f.residential,
                level("residential"),
                1
            )]
        );
        assert_eq!(
            offered.state.referral(second).unwrap().status,
            ReferralStatus::Withdrawn
        );
        // Offered once: the next sweep finds it off the waitlist.
        assert!(matches!(
            f.refuse(&offered.state, f.system(), offer),
            DecisionError::StaleTimer(_)
        ));
    }

    #[test]
    fn an_expired_group_is_sent_again_to_the_next_providers_in_one_command() {
        let f = Fixture::new();
        let s = f.referred();
        let group = s.referrals[0].group;
        let resend = Command::ResendReferral {
            group,
            providers: vec![f.residential2],
        };
        // Still pending: nothing to send again.
        assert!(matches!(
            f.refuse(&s, f.cm(), resend.clone()),
            DecisionError::Conflict(_)
        ));
        let referral = s.referrals[0].id;
        let expired = f
            .run_at(
                f.now + Duration::hours(25),
                &s,
                f.system(),
                Command::FireTimer {
                    timer: TimerKind::ReferralDeadline { referral },
                },
            )
            .state;
        let d = f.run(&expired, f.cm(), resend);
        assert_eq!(types(&d), ["referral.sent"]);
        let sent = d.state.referrals.last().unwrap();
        assert_eq!(
            (sent.provider, &sent.to_level, sent.status),
            (
                f.residential2,
                &level("residential"),
                ReferralStatus::Pending
            )
        );
        assert_ne!(sent.group, group, "a new group");
        let unknown = Command::ResendReferral {
            group: ReferralGroupId(uuid::Uuid::from_u128(7)),
            providers: vec![f.residential2],
        };
        assert!(matches!(
            f.refuse(&expired, f.cm(), unknown),
            DecisionError::NotFound { .. }
        ));
    }

    #[test]
    fn an_accepted_slot_left_unused_expires_and_its_hold_is_released() {
        let f = Fixture::new();
        let s = f.accepted();
        let referral = s.referrals[0].id;
        let fire = Command::FireTimer {
            timer: TimerKind::HoldExpiry { referral },
        };
        let later = f.now + Duration::hours(49);
        let d = f.run_at(later, &s, f.system(), fire.clone());
        assert_eq!(types(&d), ["referral.expired", "referral.escalated"]);
        assert!(matches!(
            d.events[0].data,
            EventData::ReferralExpired {
                escalate: true,
                hold_released: true,
                ..
            }
        ));
        assert_eq!(
            d.occupancy,
            [OccupancyChange::hold(
                f.residential,
                level("residential"),
                -1
            )]
        );
        assert_eq!(d.state.referrals[0].status, ReferralStatus::Expired);
        // Withdrawn while accepted: the hold goes too.
        let d = f.run(&s, f.cm(), Command::WithdrawReferral { referral });
        assert_eq!(
            d.occupancy,
            [OccupancyChange::hold(
                f.residential,
                level("residential"),
                -1
            )]
        );
        assert!(d.timers.contains(&TimerOp::Cancel {
            key: format!("hold:{referral}")
        }));
        // Used by a handoff: the hold timer is stale.
        let s = f
            .run(
                &s,
                f.cm(),
                transition(
                    crate::pathway::TransitionKind::StepDown,
                    level("residential"),
                    None,
                    30.0,
                ),
            )
            .state;
        assert!(matches!(
            f.refuse_at(later, &s, f.system(), fire),
            DecisionError::StaleTimer(_)
        ));
    }

    #[test]
    fn only_the_addressed_provider_answers_a_referral_once() {
        let f = Fixture::new();
        let s = referred_to_two(&f);
        let referral = s.referrals[0].id;
        let accept = || Command::AcceptReferral { referral };
        assert!(matches!(
            f.refuse(&s, f.cm(), accept()),
            DecisionError::Forbidden(_)
        ));
        // Another provider is not told the referral exists.
        assert_eq!(
            f.refuse(&s, f.partner(f.residential2), accept()),
            DecisionError::not_found("referral", referral)
        );
        let s = f.run(&s, f.partner(f.residential), accept()).state;
        assert!(matches!(
            f.refuse(&s, f.partner(f.residential), accept()),
            DecisionError::Conflict(_)
        ));
    }

    #[test]
    fn a_decline_keeps_the_reason_and_stops_the_deadline() {
        let f = Fixture::new();
        let s = f.referred();
        let referral = s.referrals[0].id;
        let reason = DeclineReason {
            code: DeclineCode::NoCapacity,
            note: Some("full until June".into()),
        };
        let d = f.run(
            &s,
            f.partner(f.residential),
            Command::DeclineReferral {
                referral,
                reason: reason.clone(),
            },
        );
        assert_eq!(types(&d), ["referral.declined", "referral.escalated"]);
        assert!(matches!(
            d.events[0].data,
            EventData::ReferralDeclined {
                reason: DeclineCode::NoCapacity,
                ..
            }
        ));
        let r = &d.state.referrals[0];
        assert_eq!(r.status, ReferralStatus::Declined);
        assert_eq!(r.decline.as_ref(), Some(&reason));
        assert_eq!(r.answered_at, Some(f.now));
        assert_eq!(
            d.timers,
            [TimerOp::Cancel {
                key: format!("referral:{referral}")
            }]
        );
        let blank = Command::DeclineReferral {
            referral,
            reason: DeclineReason {
                code: DeclineCode::Other,
                note: Some("   ".into()),
            },
        };
        assert!(matches!(
            f.refuse(&s, f.partner(f.residential), blank),
            DecisionError::BadInput(_)
        ));
    }

    #[test]
    fn a_case_manager_withdraws_an_open_referral_and_nothing_else() {
        let f = Fixture::new();
        let s = f.referred();
        let referral = s.referrals[0].id;
        let d = f.run(&s, f.cm(), Command::WithdrawReferral { referral });
        assert_eq!(types(&d), ["referral.withdrawn"]);
        assert_eq!(
            d.state.referrals[0].withdraw_reason,
            Some(WithdrawReason::CaseManager)
        );
        assert_eq!(
            d.timers,
            [TimerOp::Cancel {
                key: format!("referral:{referral}")
            }]
        );
        // Already withdrawn: nothing to withdraw.
        assert!(matches!(
            f.refuse(&d.state, f.cm(), Command::WithdrawReferral { referral }),
            DecisionError::Conflict(_)
        ));
        let unknown = ReferralId(uuid::Uuid::from_u128(4242));
        assert_eq!(
            f.refuse(&s, f.cm(), Command::WithdrawReferral { referral: unknown }),
            DecisionError::not_found("referral", unknown)
        );
    }
}
