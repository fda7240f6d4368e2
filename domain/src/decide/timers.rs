//! Durable timers coming due: referral deadlines, continued-stay reviews, post-discharge
//! follow-ups. A timer for something that no longer applies is stale.

use super::draft::Draft;
use crate::command::TimerKind;
use crate::error::DecisionError;
use crate::event::*;
use crate::state::*;
use chrono::Duration;

impl Draft<'_> {
    /// A referral runs out: unanswered by its deadline, or accepted and never used within
    /// its hold (`hold_released`). With nothing left of its group a person must act.
    fn expire(&mut self, r: Referral, hold_released: bool) {
        {
            let now = self.now();
            let r = self.referral_mut(r.id);
            r.status = ReferralStatus::Expired;
            r.answered_at.get_or_insert(now);
        }
        let escalate = !self.s.referrals.iter().any(|o| {
            o.group == r.group && (o.status.is_open() || o.status == ReferralStatus::Completed)
        });
        self.emit(
            Some(r.to_level.clone()),
            Some(r.provider),
            EventData::ReferralExpired {
                referral: r.id,
                provider: r.provider,
                to_level: r.to_level,
                escalate,
                hold_released,
            },
        );
    }

    pub(super) fn fire_timer(&mut self, timer: &TimerKind) -> Result<(), DecisionError> {
        let stale = |why: &str| Err(DecisionError::StaleTimer(why.to_owned()));
        match timer {
            TimerKind::ReferralDeadline { referral } => {
                let Some(r) = self.s.referral(*referral).cloned() else {
                    return stale("unknown referral");
                };
                if !r.status.awaits_answer() {
                    return stale("referral already answered");
                }
                self.expire(r, false);
            }
            TimerKind::HoldExpiry { referral } => {
                let Some(r) = self.s.referral(*referral).cloned() else {
                    return stale("unknown referral");
                };
                if r.status != ReferralStatus::Accepted {
                    return stale("the hold was used or released");
                }
                self.hold_slot(r.provider, &r.to_level, -1);
                self.expire(r, true);
            }
            TimerKind::ArrivalDeadline {
                episode,
                departed_seq,
            } => {
                let due = self.s.transit.as_ref().is_some_and(|t| {
                    !t.missed && t.timer == format!("arrival:{episode}:{departed_seq}")
                });
                if !due {
                    return stale("the client arrived or the handoff ended");
                }
                self.miss(MissReason::Deadline);
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

#[cfg(test)]
mod tests {
    use crate::command::*;
    use crate::decide::fixture::*;
    use crate::error::DecisionError;
    use crate::event::*;
    use crate::pathway::DischargeKind;
    use crate::state::*;
    use chrono::Duration;

    fn fire(timer: TimerKind) -> Command {
        Command::FireTimer { timer }
    }

    #[test]
    fn an_unanswered_referral_expires_and_escalates_when_none_of_its_group_is_left() {
        let f = Fixture::new();
        let s = f.referred();
        let referral = s.referrals[0].id;
        let later = f.now + Duration::hours(25);
        let d = f.run_at(
            later,
            &s,
            f.system(),
            fire(TimerKind::ReferralDeadline { referral }),
        );
        assert_eq!(types(&d), ["referral.expired"]);
        assert_eq!(
            d.events[0].data,
            EventData::ReferralExpired {
                referral,
                provider: f.residential,
                to_level: level("residential"),
                escalate: true,
                hold_released: false,
            }
        );
        assert_eq!(d.events[0].actor_org, None, "the engine's own timer");
        assert_eq!(d.state.referrals[0].status, ReferralStatus::Expired);
        assert_eq!(d.state.referrals[0].answered_at, Some(later));
        assert!(d.timers.is_empty());
    }

    #[test]
    fn an_expiry_does_not_escalate_while_another_provider_of_the_group_may_answer() {
        let f = Fixture::new();
        let s = f.in_detox();
        let s = f
            .run(
                &s,
                f.cm(),
                Command::SendReferral {
                    to_level: level("residential"),
                    providers: vec![f.residential, f.residential2],
                },
            )
            .state;
        let referral = s.referrals[0].id;
        let d = f.run(
            &s,
            f.system(),
            fire(TimerKind::ReferralDeadline { referral }),
        );
        assert!(matches!(
            d.events[0].data,
            EventData::ReferralExpired {
                escalate: false,
                ..
            }
        ));
        assert_eq!(d.state.referrals[1].status, ReferralStatus::Pending);
    }

    #[test]
    fn a_deadline_for_an_answered_referral_is_stale_and_only_the_engine_fires_timers() {
        let f = Fixture::new();
        let s = f.accepted();
        let timer = TimerKind::ReferralDeadline {
            referral: s.referrals[0].id,
        };
        assert!(matches!(
            f.refuse(&s, f.system(), fire(timer.clone())),
            DecisionError::StaleTimer(_)
        ));
        assert!(matches!(
            f.refuse(&s, f.cm(), fire(timer)),
            DecisionError::Forbidden(_)
        ));
    }

    #[test]
    fn a_review_comes_due_and_arms_the_next_one() {
        let f = Fixture::new();
        let s = f.in_detox();
        let episode = s.episode.as_ref().unwrap().id;
        let at = f.now + Duration::days(3);
        let timer = TimerKind::ReviewDue {
            episode,
            level: level("detox"),
        };
        let d = f.run_at(at, &s, f.system(), fire(timer.clone()));
        assert_eq!(types(&d), ["review.due"]);
        let key = format!("review:{episode}:{}", d.state.last_seq);
        assert_eq!(
            d.timers,
            [TimerOp::Schedule {
                key: key.clone(),
                due_at: at + Duration::days(3),
                kind: timer,
            }]
        );
        assert_eq!(d.state.placement.as_ref().unwrap().review_timer, key);
        // A review of a level the client is not at is stale.
        let elsewhere = TimerKind::ReviewDue {
            episode,
            level: level("residential"),
        };
        assert!(matches!(
            f.refuse(&s, f.system(), fire(elsewhere)),
            DecisionError::StaleTimer(_)
        ));
    }

    #[test]
    fn a_followup_finds_the_appointment_kept_in_its_window_or_is_missed() {
        let f = Fixture::new();
        let s = f.in_detox();
        let episode = s.episode.as_ref().unwrap().id;
        let discharged = f
            .run(&s, f.cm(), discharge(DischargeKind::AgainstMedicalAdvice))
            .state;
        let due = f.now + Duration::days(7);
        let timer = || fire(TimerKind::Followup { episode, days: 7 });
        let d = f.run_at(due, &discharged, f.system(), timer());
        assert_eq!(
            d.events[0].data,
            EventData::FollowupMissed { days: 7, episode }
        );
        let booked = f
            .run(
                &discharged,
                f.cm(),
                Command::ScheduleAftercare {
                    provider: f.iop,
                    kind: AftercareKind::Outpatient,
                    at: f.now + Duration::days(3),
                },
            )
            .state;
        let d = f.run_at(due, &booked, f.system(), timer());
        assert_eq!(
            d.events[0].data,
            EventData::FollowupDue {
                days: 7,
                episode,
                appointment: booked.aftercare[0].id,
                provider: f.iop,
            }
        );
        // Back in care before it came due: stale.
        assert!(matches!(
            f.refuse_at(due, &s, f.system(), timer()),
            DecisionError::StaleTimer(_)
        ));
    }
}
