//! Durable timers coming due: referral deadlines, continued-stay reviews, post-discharge
//! follow-ups. A timer for something that no longer applies is stale.

use super::draft::Draft;
use crate::command::TimerKind;
use crate::error::DecisionError;
use crate::event::*;
use crate::gates;
use crate::ids::{EpisodeId, EventId, OrgId};
use crate::state::*;
use chrono::{Duration, NaiveDate};

impl Draft<'_> {
    /// The visit that meets a `days`-day check of an exit on `exit_on`
    /// ([`gates::followup_visit`]).
    fn followup_visit(&self, exit_on: NaiveDate, days: u32) -> Option<gates::FollowupVisit> {
        gates::followup_visit(&self.s, self.pathway(), exit_on, days)
    }

    /// A check judged at its due time: met by a visit at `provider`, or missed.
    fn judge_followup(
        &mut self,
        episode: EpisodeId,
        days: u32,
        exit: Option<EventId>,
        provider: Option<OrgId>,
    ) {
        let level = self.current_level();
        let data = match provider {
            Some(provider) => EventData::FollowupMet {
                days,
                episode,
                provider,
                exit,
                report_delay_days: None,
            },
            None => EventData::FollowupMissed {
                days,
                episode,
                exit,
            },
        };
        self.emit(level, None, data);
    }

    /// A visit on `on` reported now: every check judged missed whose window it falls in is
    /// met after all (HEDIS counts the visit on the day it took place), re-judged with the
    /// reporting delay (`followup.met` with `report_delay_days`).
    pub(super) fn rejudge_followups(&mut self, on: NaiveDate, provider: OrgId) {
        let delay = u32::try_from((self.today() - on).num_days().max(0)).unwrap_or(u32::MAX);
        let level = self.current_level();
        for i in 0..self.s.followups.len() {
            let c = self.s.followups[i].clone();
            if c.superseded
                || c.met != Some(false)
                || !gates::in_followup_window(c.exit_on, c.days, on)
            {
                continue;
            }
            self.s.followups[i].met = Some(true);
            self.emit(
                level.clone(),
                None,
                EventData::FollowupMet {
                    days: c.days,
                    episode: c.episode,
                    provider,
                    exit: Some(c.exit),
                    report_delay_days: Some(delay),
                },
            );
        }
    }

    /// A referral runs out: unanswered by its deadline, or accepted and never used within
    /// its hold (`hold_released`). With nothing left of its group a person must act.
    fn expire(&mut self, r: Referral, hold_released: bool) {
        {
            let now = self.now();
            let r = self.referral_mut(r.id);
            r.status = ReferralStatus::Expired;
            r.answered_at.get_or_insert(now);
        }
        let escalate = self.ran_out(&r);
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
        if escalate {
            self.announce_escalation();
        }
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
                self.miss(MissReason::Deadline, None);
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
            TimerKind::Followup {
                episode,
                days,
                exit: Some(exit),
                ..
            } => {
                let Some(i) = self
                    .s
                    .followups
                    .iter()
                    .position(|c| c.exit == *exit && c.days == *days)
                else {
                    return stale("unknown follow-up check");
                };
                let check = self.s.followups[i].clone();
                if check.superseded {
                    return stale("the client went back to high-intensity care in the window");
                }
                if check.met.is_some() {
                    return stale("the check was judged already");
                }
                let visit = self.followup_visit(check.exit_on, *days);
                self.s.followups[i].met = Some(visit.is_some());
                self.judge_followup(*episode, *days, Some(*exit), visit.map(|v| v.provider));
            }
            TimerKind::Followup {
                episode,
                days,
                since,
                exit: None,
            } => {
                // Timers armed before the closed loop carry no `since`: the last discharge.
                let since = match since {
                    Some(at) => *at,
                    None => match &self.s.last_discharge {
                        Some(d)
                            if d.episode == *episode
                                && self.s.status == ClientStatus::Discharged =>
                        {
                            d.at
                        }
                        _ => return stale("the client is back in care"),
                    },
                };
                let visit = self.followup_visit(since.date_naive(), *days);
                self.judge_followup(*episode, *days, None, visit.map(|v| v.provider));
            }
            TimerKind::TransferDeadline { episode } => {
                let due = self.s.status == ClientStatus::Discharged
                    && self
                        .s
                        .transfer
                        .as_ref()
                        .is_some_and(|t| !t.missed && t.episode == *episode);
                if !due {
                    return stale("the transfer arrived or the client is back in care");
                }
                self.miss_transfer(MissReason::Deadline, None);
            }
            TimerKind::NoShowCheck { booking, missed_at } => {
                if gates::missed_booking_answered(&self.s, *booking, *missed_at) {
                    return stale("something was booked since, or the client is back in care");
                }
                if self.s.lost_to_care.is_some() {
                    return stale("already lost to care");
                }
                self.lose(LostReason::MissedAppointment);
            }
            TimerKind::MatLapse { through } => {
                let covered = gates::mat_covered_through(&self.s, self.pathway());
                if covered != Some(*through) {
                    return stale("the MAT plan ended or more was dispensed");
                }
                if self.s.lost_to_care.is_some() {
                    return stale("already lost to care");
                }
                self.lose(LostReason::MatSupplyLapsed);
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
        assert_eq!(types(&d), ["referral.expired", "referral.escalated"]);
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
    fn a_followup_counts_an_attended_visit_in_its_window_not_a_booking() {
        let f = Fixture::new();
        let s = f.in_detox();
        let episode = s.episode.as_ref().unwrap().id;
        let discharged = f
            .run(&s, f.cm(), discharge(DischargeKind::AgainstMedicalAdvice))
            .state;
        let due = f.now + Duration::days(7);
        let timer = || {
            fire(TimerKind::Followup {
                episode,
                days: 7,
                since: Some(f.now),
                exit: None,
            })
        };
        let d = f.run_at(due, &discharged, f.system(), timer());
        assert_eq!(
            d.events[0].data,
            EventData::FollowupMissed {
                days: 7,
                episode,
                exit: None,
            }
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
        // Booked is not enough: HEDIS FUI counts a visit that took place.
        let d = f.run_at(due, &booked, f.system(), timer());
        assert_eq!(
            d.events[0].data,
            EventData::FollowupMissed {
                days: 7,
                episode,
                exit: None,
            }
        );
        let booking = booked.aftercare[0].id;
        let attended = f
            .run_at(
                f.now + Duration::days(3),
                &booked,
                f.partner(f.iop),
                Command::RecordBookingOutcome {
                    booking,
                    outcome: OutcomeReport::Attended {
                        supply_through: None,
                    },
                    relayed_by: None,
                },
            )
            .state;
        let d = f.run_at(due, &attended, f.system(), timer());
        assert_eq!(
            d.events[0].data,
            EventData::FollowupMet {
                days: 7,
                episode,
                provider: f.iop,
                exit: None,
                report_delay_days: None,
            }
        );
        // A timer armed before the closed loop (no `since`) checks from the last discharge,
        // and is stale once the client is back in care.
        let legacy = fire(TimerKind::Followup {
            episode,
            days: 7,
            since: None,
            exit: None,
        });
        assert!(matches!(
            f.run_at(due, &attended, f.system(), legacy.clone()).events[0].data,
            EventData::FollowupMet { .. }
        ));
        assert!(matches!(
            f.refuse_at(due, &s, f.system(), legacy),
            DecisionError::StaleTimer(_)
        ));
    }

    #[test]
    fn a_missed_appointment_with_nothing_booked_since_is_lost_to_care() {
        let f = Fixture::new();
        let s = f.in_detox();
        let s = f
            .run(
                &s,
                f.cm(),
                Command::ScheduleAftercare {
                    provider: f.iop,
                    kind: AftercareKind::Outpatient,
                    at: f.now + Duration::days(1),
                },
            )
            .state;
        let booking = s.aftercare[0].id;
        let missed_at = f.now + Duration::days(1);
        let outcome = |o| Command::RecordBookingOutcome {
            booking,
            outcome: o,
            relayed_by: None,
        };
        // Not before its day; only its provider (another is told nothing of it).
        assert!(matches!(
            f.refuse(&s, f.partner(f.iop), outcome(OutcomeReport::NoShow)),
            DecisionError::NotYetHappened { .. }
        ));
        assert_eq!(
            f.refuse_at(
                missed_at,
                &s,
                f.partner(f.detox),
                outcome(OutcomeReport::NoShow)
            ),
            // Told nothing of the client: the answer an unknown client id gets.
            DecisionError::not_found("client", f.client)
        );
        let d = f.run_at(
            missed_at,
            &s,
            f.partner(f.iop),
            outcome(OutcomeReport::NoShow),
        );
        assert_eq!(types(&d), ["aftercare.appointment.missed"]);
        let check = TimerKind::NoShowCheck { booking, missed_at };
        assert_eq!(
            d.timers,
            [TimerOp::Schedule {
                key: format!("no-show:{booking}"),
                due_at: missed_at + Duration::days(14),
                kind: check.clone(),
            }]
        );
        // Recorded once.
        assert!(matches!(
            f.refuse_at(
                missed_at,
                &d.state,
                f.partner(f.iop),
                outcome(OutcomeReport::Cancelled)
            ),
            DecisionError::Conflict(_)
        ));
        // The missed appointment no longer counts for the aftercare gate.
        assert!(d.state.aftercare[0].outcome.is_some());
        let later = missed_at + Duration::days(14);
        let lost = f.run_at(later, &d.state, f.system(), fire(check.clone()));
        assert_eq!(types(&lost), ["client.lost_to_care"]);
        assert_eq!(
            lost.state.lost_to_care.as_ref().map(|l| l.reason),
            Some(LostReason::MissedAppointment)
        );
        // A new booking in the meantime: not lost.
        let rebooked = f
            .run_at(
                missed_at + Duration::days(2),
                &d.state,
                f.cm(),
                Command::ScheduleAftercare {
                    provider: f.iop,
                    kind: AftercareKind::Outpatient,
                    at: missed_at + Duration::days(5),
                },
            )
            .state;
        assert!(matches!(
            f.refuse_at(later, &rebooked, f.system(), fire(check)),
            DecisionError::StaleTimer(_)
        ));
        // Attending brings the client back.
        let back = f.run_at(
            missed_at + Duration::days(20),
            &lost.state,
            f.cm(),
            Command::ScheduleAftercare {
                provider: f.iop,
                kind: AftercareKind::Outpatient,
                at: missed_at + Duration::days(20),
            },
        );
        let again = back.state.aftercare[1].id;
        let d = f.run_at(
            missed_at + Duration::days(20),
            &back.state,
            f.partner(f.iop),
            Command::RecordBookingOutcome {
                booking: again,
                outcome: OutcomeReport::Attended {
                    supply_through: None,
                },
                relayed_by: None,
            },
        );
        assert_eq!(
            types(&d),
            ["aftercare.appointment.attended", "client.reengaged"]
        );
        assert_eq!(d.state.lost_to_care, None);
    }

    #[test]
    fn a_refill_picked_up_extends_the_supply_and_a_lapse_with_nothing_dispensed_is_lost() {
        let f = Fixture::new();
        let s = f.in_detox();
        let through = f.today() + Duration::days(3);
        let d = f.run(
            &s,
            f.cm(),
            Command::RecordMatPlan {
                medication: Medication::Buprenorphine,
                supply_through: Some(through),
                last_injection_on: None,
            },
        );
        let lapse = TimerKind::MatLapse { through };
        let key = format!("mat-lapse:{}", f.client);
        // Nothing dispensed by the end of the day after the supply ran out.
        let due = (through + Duration::days(2))
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc();
        assert_eq!(
            d.timers,
            [TimerOp::Schedule {
                key: key.clone(),
                due_at: due,
                kind: lapse.clone(),
            }]
        );
        let s = f
            .run(
                &d.state,
                f.cm(),
                Command::ScheduleMatRefill {
                    provider: f.pharmacy,
                    kind: MatBookingKind::Refill,
                    on: through,
                },
            )
            .state;
        let booking = s.mat_bookings[0].id;
        let on_the_day = through.and_hms_opt(12, 0, 0).unwrap().and_utc();
        let pick_up = |supply_through| Command::RecordBookingOutcome {
            booking,
            outcome: OutcomeReport::Attended { supply_through },
            relayed_by: None,
        };
        assert!(matches!(
            f.refuse_at(on_the_day, &s, f.partner(f.pharmacy), pick_up(None)),
            DecisionError::BadInput(_)
        ));
        let later = through + Duration::days(14);
        let picked = f.run_at(on_the_day, &s, f.partner(f.pharmacy), pick_up(Some(later)));
        assert_eq!(types(&picked), ["mat.refill.picked_up"]);
        assert_eq!(
            picked.state.mat_plan.as_ref().unwrap().supply_through,
            Some(later)
        );
        assert_eq!(
            picked.timers,
            [TimerOp::Schedule {
                key,
                due_at: (later + Duration::days(2))
                    .and_hms_opt(0, 0, 0)
                    .unwrap()
                    .and_utc(),
                kind: TimerKind::MatLapse { through: later },
            }]
        );
        // The old watch finds more dispensed: stale. Without the pickup: lost to care.
        assert!(matches!(
            f.refuse_at(due, &picked.state, f.system(), fire(lapse.clone())),
            DecisionError::StaleTimer(_)
        ));
        let lost = f.run_at(due, &s, f.system(), fire(lapse));
        assert_eq!(types(&lost), ["client.lost_to_care"]);
        assert_eq!(
            lost.state.lost_to_care.as_ref().map(|l| l.reason),
            Some(LostReason::MatSupplyLapsed)
        );
    }

    use crate::decide::Decision;
    use crate::gates::followup_due;
    use crate::pathway::TransitionKind;
    use chrono::{DateTime, NaiveTime, Utc};

    /// Discharged from withdrawal management against advice at 09:00 on day 0, with an
    /// outpatient appointment at `visit`, kept (reported by the clinic at `reported`).
    fn discharged_with_visit(
        f: &Fixture,
        visit: DateTime<Utc>,
        reported: DateTime<Utc>,
    ) -> ClientState {
        let s = f.in_detox();
        let s = f
            .run(&s, f.cm(), discharge(DischargeKind::AgainstMedicalAdvice))
            .state;
        let s = f
            .run(
                &s,
                f.cm(),
                Command::ScheduleAftercare {
                    provider: f.iop,
                    kind: AftercareKind::Outpatient,
                    at: visit,
                },
            )
            .state;
        let booking = s.aftercare[0].id;
        f.run_at(
            reported,
            &s,
            f.partner(f.iop),
            Command::RecordBookingOutcome {
                booking,
                outcome: OutcomeReport::Attended {
                    supply_through: None,
                },
                relayed_by: None,
            },
        )
        .state
    }

    /// The `days`-day check of the client's first exit, fired at its due time.
    fn judge(f: &Fixture, s: &ClientState, days: u32) -> Decision {
        let check = s.followups.iter().find(|c| c.days == days).unwrap();
        f.run_at(
            followup_due(check.exit_on, days),
            s,
            f.system(),
            fire(TimerKind::Followup {
                episode: check.episode,
                days,
                since: Some(f.now),
                exit: Some(check.exit),
            }),
        )
    }

    fn at(f: &Fixture, day: i64, hour: u32) -> DateTime<Utc> {
        (f.today() + Duration::days(day))
            .and_time(NaiveTime::from_hms_opt(hour, 0, 0).unwrap())
            .and_utc()
    }

    #[test]
    fn a_visit_on_the_discharge_date_does_not_count_for_the_followup() {
        let f = Fixture::new();
        let s = discharged_with_visit(&f, at(&f, 0, 15), at(&f, 0, 16));
        let d = judge(&f, &s, 7);
        assert!(matches!(
            d.events[0].data,
            EventData::FollowupMissed { days: 7, .. }
        ));
        assert_eq!(d.state.followups[0].met, Some(false));
    }

    #[test]
    fn a_visit_late_on_day_7_counts_for_the_7_day_followup_judged_when_the_day_ends() {
        let f = Fixture::new();
        // 7×24 h after the 09:00 discharge would end the window at 09:00 on day 7.
        let s = discharged_with_visit(&f, at(&f, 7, 20), at(&f, 7, 21));
        assert_eq!(
            followup_due(s.followups[0].exit_on, 7),
            at(&f, 8, 0),
            "due as day 7 ends"
        );
        let d = judge(&f, &s, 7);
        assert_eq!(
            d.events[0].data,
            EventData::FollowupMet {
                days: 7,
                episode: s.followups[0].episode,
                provider: f.iop,
                exit: Some(s.followups[0].exit),
                report_delay_days: None,
            }
        );
        // Day 8 is outside the 7-day window, inside the 30-day one.
        let s = discharged_with_visit(&f, at(&f, 8, 10), at(&f, 8, 11));
        assert!(matches!(
            judge(&f, &s, 7).events[0].data,
            EventData::FollowupMissed { .. }
        ));
        assert!(matches!(
            judge(&f, &s, 30).events[0].data,
            EventData::FollowupMet { days: 30, .. }
        ));
    }

    #[test]
    fn a_visit_reported_after_the_check_re_judges_it_with_the_reporting_delay() {
        let f = Fixture::new();
        let s = f.in_detox();
        let s = f
            .run(&s, f.cm(), discharge(DischargeKind::AgainstMedicalAdvice))
            .state;
        let s = f
            .run(
                &s,
                f.cm(),
                Command::ScheduleAftercare {
                    provider: f.iop,
                    kind: AftercareKind::Outpatient,
                    at: at(&f, 5, 10),
                },
            )
            .state;
        let missed = judge(&f, &s, 7);
        assert!(matches!(
            missed.events[0].data,
            EventData::FollowupMissed { .. }
        ));
        let check = missed.state.followups[0].clone();
        let booking = s.aftercare[0].id;
        let late = f.run_at(
            at(&f, 9, 14),
            &missed.state,
            f.partner(f.iop),
            Command::RecordBookingOutcome {
                booking,
                outcome: OutcomeReport::Attended {
                    supply_through: None,
                },
                relayed_by: None,
            },
        );
        assert_eq!(
            types(&late),
            ["aftercare.appointment.attended", "followup.met"]
        );
        assert_eq!(
            late.events[1].data,
            EventData::FollowupMet {
                days: 7,
                episode: check.episode,
                provider: f.iop,
                exit: Some(check.exit),
                report_delay_days: Some(4),
            }
        );
        assert_eq!(late.state.followups[0].met, Some(true));
        // The 30-day check, not yet judged, is left to its timer.
        assert_eq!(late.state.followups[1].met, None);
    }

    #[test]
    fn a_missed_handoff_from_withdrawal_management_to_residential_care_arms_the_followups() {
        let f = Fixture::new();
        let s = f.accepted();
        let left = f.run(
            &s,
            f.cm(),
            transition(TransitionKind::StepDown, level("residential"), None, 30.0),
        );
        // Withdrawal management to residential care: still high-intensity care, no check yet.
        assert!(left.state.followups.is_empty());
        let s = left.state;
        let episode = s.episode.as_ref().unwrap().id;
        let t = s.transit.clone().unwrap();
        let d = f.run_at(
            t.arrive_by,
            &s,
            f.system(),
            fire(TimerKind::ArrivalDeadline {
                episode,
                departed_seq: s.last_seq,
            }),
        );
        let miss = d
            .events
            .iter()
            .find(|e| e.event_type() == "handoff.missed")
            .unwrap();
        let armed: Vec<_> = d
            .timers
            .iter()
            .filter_map(|t| match t {
                TimerOp::Schedule {
                    due_at,
                    kind: TimerKind::Followup { days, exit, .. },
                    ..
                } => Some((*days, *due_at, *exit)),
                _ => None,
            })
            .collect();
        // The exit is the day the client left detox.
        assert_eq!(
            armed,
            [
                (7, followup_due(f.today(), 7), Some(miss.id)),
                (30, followup_due(f.today(), 30), Some(miss.id)),
            ]
        );
        assert_eq!(d.state.followups.len(), 2);
    }

    #[test]
    fn a_readmission_within_the_window_leaves_only_the_last_exit_counted() {
        let f = Fixture::new();
        let s = f.in_detox();
        let first = f.run(&s, f.cm(), discharge(DischargeKind::AgainstMedicalAdvice));
        let s = first.state;
        let first_exit = first.events[0].id;
        // Day 10: the 7-day check was judged (missed), the 30-day one is pending.
        let s = judge(&f, &s, 7).state;
        let day10 = at(&f, 10, 9);
        let s = f
            .run_at(
                day10,
                &s,
                f.cm(),
                Command::RecordConsent {
                    recipients: vec![f.detox],
                    purpose: "treatment".into(),
                    information: "placement".into(),
                    expiry: ConsentExpiry::Never,
                    signed_on: day10.date_naive(),
                },
            )
            .state;
        let s = f
            .run_at(
                day10,
                &s,
                f.cm(),
                Command::RecordAssessment {
                    recommended_level: level("detox"),
                    dimensions: [3, 2, 1, 1, 2, 2],
                    assessed_at: None,
                },
            )
            .state;
        let back = f.run_at(day10, &s, f.cm(), admit(level("detox"), f.detox, 40.0));
        assert_eq!(
            types(&back),
            [
                "client.admitted",
                "followup.superseded",
                "followup.superseded"
            ]
        );
        assert!(back.events[1..].iter().all(|e| matches!(
            e.data,
            EventData::FollowupSuperseded { exit, .. } if exit == first_exit
        )));
        // The pending 30-day check's timer is cancelled; the judged one has none left.
        let thirty = &back.state.followups[1].timer;
        assert!(back.timers.contains(&TimerOp::Cancel {
            key: thirty.clone()
        }));
        assert!(back.state.followups.iter().all(|c| c.superseded));
        // A readmission after the longest window leaves the exit counted.
        let day40 = at(&f, 40, 9);
        let s2 = f.in_detox();
        let s2 = f
            .run(&s2, f.cm(), discharge(DischargeKind::AgainstMedicalAdvice))
            .state;
        let s2 = f
            .run_at(
                day40,
                &s2,
                f.cm(),
                Command::RecordConsent {
                    recipients: vec![f.detox],
                    purpose: "treatment".into(),
                    information: "placement".into(),
                    expiry: ConsentExpiry::Never,
                    signed_on: day40.date_naive(),
                },
            )
            .state;
        let s2 = f
            .run_at(
                day40,
                &s2,
                f.cm(),
                Command::RecordAssessment {
                    recommended_level: level("detox"),
                    dimensions: [3, 2, 1, 1, 2, 2],
                    assessed_at: None,
                },
            )
            .state;
        let late = f.run_at(day40, &s2, f.cm(), admit(level("detox"), f.detox, 40.0));
        assert_eq!(types(&late), ["client.admitted"]);
    }

    #[test]
    fn an_outcome_for_an_appointment_not_yet_happened_is_refused() {
        let f = Fixture::new();
        let s = f.in_detox();
        let s = f
            .run(
                &s,
                f.cm(),
                Command::ScheduleAftercare {
                    provider: f.iop,
                    kind: AftercareKind::Outpatient,
                    at: f.now + Duration::hours(3),
                },
            )
            .state;
        let booking = s.aftercare[0].id;
        let kept = Command::RecordBookingOutcome {
            booking,
            outcome: OutcomeReport::Attended {
                supply_through: None,
            },
            relayed_by: None,
        };
        // Later the same day is still not yet.
        assert!(matches!(
            f.refuse(&s, f.partner(f.iop), kept.clone()),
            DecisionError::NotYetHappened { .. }
        ));
        let d = f.run_at(f.now + Duration::hours(3), &s, f.partner(f.iop), kept);
        assert!(matches!(
            d.events[0].data,
            EventData::AftercareAttended {
                reported_by: Some(ReportedBy::Receiver),
                ..
            }
        ));
        // The coordinator who booked it may relay it, saying who reported it.
        let relayed = Command::RecordBookingOutcome {
            booking,
            outcome: OutcomeReport::NoShow,
            relayed_by: None,
        };
        assert!(matches!(
            f.refuse_at(f.now + Duration::hours(4), &s, f.cm(), relayed),
            DecisionError::BadInput(_)
        ));
    }
}
