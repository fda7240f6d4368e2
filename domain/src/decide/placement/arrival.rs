//! A client in transit: the arrival confirmed (or relayed), a no-show reported, or the
//! arrival missed; a transit abandoned when the client is discharged on the way.

use crate::command::*;
use crate::decide::draft::Draft;
use crate::error::DecisionError;
use crate::event::*;
use crate::ids::*;
use crate::state::*;

impl Draft<'_> {
    fn transit_under_way(&self, attempted: &str) -> Result<Transit, DecisionError> {
        match &self.s.transit {
            Some(t) if self.s.status == ClientStatus::InTransit => Ok(t.clone()),
            _ => Err(self.invalid(attempted.to_owned())),
        }
    }

    /// The receiving provider confirms the arrival: the held slot becomes occupancy and the
    /// new placement starts. A late arrival (after a miss) takes a slot if one is open, and
    /// brings the client back in reach of care.
    pub(in crate::decide) fn confirm_arrival(
        &mut self,
        relayed: Option<&RelayedBy>,
    ) -> Result<(), DecisionError> {
        if let Some(t) = self.s.transfer.clone()
            && self.s.status == ClientStatus::Discharged
        {
            let by = self.reported_by(t.provider, relayed)?;
            if !t.missed {
                self.cancel(t.timer.clone());
            }
            let event = self.emit(
                None,
                Some(t.provider),
                EventData::TransferArrived {
                    provider: t.provider,
                    episode: t.episode,
                    reported_by: Some(by),
                },
            );
            self.keep_relayed(event, relayed);
            self.s.transfer = None;
            self.reengage();
            return Ok(());
        }
        let t = self.transit_under_way("confirming an arrival")?;
        let level = self.level(&t.to_level)?;
        let by = self.reported_by(t.provider, relayed)?;
        if !t.missed {
            self.cancel(t.timer.clone());
        }
        if t.holds_slot {
            self.hold_slot(t.provider, &t.to_level, -1);
        }
        let seq = self.s.last_seq + 1;
        let event = self.emit(
            Some(t.to_level.clone()),
            Some(t.provider),
            EventData::TransitionCompleted {
                kind: t.kind,
                from_level: t.from_level.clone(),
                to_level: t.to_level.clone(),
                from_provider: t.from_provider,
                to_provider: t.provider,
                referral: t.referral,
                overridden: t.overridden.clone(),
                reported_by: Some(by),
            },
        );
        self.keep_relayed(event, relayed);
        if let Some(id) = t.referral {
            let now = self.now();
            let r = self.referral_mut(id);
            r.status = ReferralStatus::Completed;
            r.answered_at.get_or_insert(now);
            r.closed_by = Some(by);
        }
        self.s.transit = None;
        self.s.status = ClientStatus::Active;
        self.place(level, t.provider, t.planned_hours_per_week, &t.track, seq);
        self.reengage();
        Ok(())
    }

    /// The receiving provider reports that the client did not come.
    pub(in crate::decide) fn report_no_show(
        &mut self,
        relayed: Option<&RelayedBy>,
    ) -> Result<(), DecisionError> {
        if let Some(t) = self.s.transfer.clone()
            && self.s.status == ClientStatus::Discharged
        {
            let by = self.reported_by(t.provider, relayed)?;
            if t.missed {
                return Err(DecisionError::Conflict(
                    "the arrival was already missed".into(),
                ));
            }
            self.cancel(t.timer.clone());
            let event = self.miss_transfer(MissReason::NoShow, Some(by));
            self.keep_relayed(event, relayed);
            return Ok(());
        }
        let t = self.transit_under_way("reporting a no-show")?;
        let by = self.reported_by(t.provider, relayed)?;
        if t.missed {
            return Err(DecisionError::Conflict(
                "the arrival was already missed".into(),
            ));
        }
        self.cancel(t.timer.clone());
        let event = self.miss(MissReason::NoShow, Some(by));
        self.keep_relayed(event, relayed);
        Ok(())
    }

    /// The handoff under way is missed: the held slot is released, the referral marked a
    /// no-show, and the client counted lost to care (the sending case manager's outreach).
    /// A handoff between two levels of high-intensity care (withdrawal management to
    /// residential care) armed no follow-up when it started: missed, it is the exit that
    /// arms them, from the day the client left. Returns the `handoff.missed` event.
    pub(in crate::decide) fn miss(
        &mut self,
        reason: MissReason,
        reported_by: Option<ReportedBy>,
    ) -> EventId {
        let t = self.s.transit.clone().expect("a transit under way");
        if t.holds_slot {
            self.hold_slot(t.provider, &t.to_level, -1);
        }
        if let Some(id) = t.referral {
            let r = self.referral_mut(id);
            r.status = ReferralStatus::NoShow;
            r.closed_by = reported_by;
        }
        let event = self.emit(
            Some(t.to_level.clone()),
            Some(t.provider),
            EventData::HandoffMissed {
                to_level: Some(t.to_level.clone()),
                provider: t.provider,
                referral: t.referral,
                arrive_by: t.arrive_by,
                reason,
                reported_by,
            },
        );
        if let Some(transit) = &mut self.s.transit {
            transit.missed = true;
            transit.holds_slot = false;
        }
        if self.followed_up(&t.to_level) {
            let seq = self.s.last_seq;
            self.arm_followups(&t.from_level, seq, t.departed_at);
        }
        self.lose(LostReason::MissedArrival);
        event
    }

    /// A transfer out not confirmed: the client is counted lost to care.
    pub(in crate::decide) fn miss_transfer(
        &mut self,
        reason: MissReason,
        reported_by: Option<ReportedBy>,
    ) -> EventId {
        let t = self.s.transfer.clone().expect("a transfer under way");
        let event = self.emit(
            None,
            Some(t.provider),
            EventData::HandoffMissed {
                to_level: None,
                provider: t.provider,
                referral: None,
                arrive_by: t.arrive_by,
                reason,
                reported_by,
            },
        );
        if let Some(transfer) = &mut self.s.transfer {
            transfer.missed = true;
        }
        self.lose(LostReason::MissedArrival);
        event
    }

    /// A transit that ends without an arrival (the client is discharged on the way): its
    /// slot, timer and referral are released.
    pub(super) fn abandon_transit(&mut self, reason: WithdrawReason) {
        let Some(t) = self.s.transit.take() else {
            return;
        };
        if !t.missed {
            self.cancel(t.timer.clone());
        }
        if t.holds_slot {
            self.hold_slot(t.provider, &t.to_level, -1);
        }
        // A `scheduled` referral holds no slot of its own (the transit's was released above),
        // so `withdraw` releases nothing more.
        if let Some(id) = t.referral
            && self.s.referral(id).map(|r| r.status) == Some(ReferralStatus::Scheduled)
        {
            self.withdraw(id, reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::command::*;
    use crate::decide::fixture::*;
    use crate::error::DecisionError;
    use crate::event::*;
    use crate::pathway::{DischargeKind, Gate, TransitionKind};
    use crate::state::*;
    use chrono::Duration;

    #[test]
    fn a_missed_arrival_frees_the_slot_and_counts_the_client_lost_until_they_arrive_late() {
        let f = Fixture::new();
        let s = f.accepted();
        let referral = s.referrals[0].id;
        let s = f.step_down(&s);
        let t = s.transit.clone().unwrap();
        let late = t.arrive_by + Duration::minutes(1);
        let missed = f.run_at(
            late,
            &s,
            f.system(),
            Command::FireTimer {
                timer: TimerKind::ArrivalDeadline {
                    episode: s.episode.as_ref().unwrap().id,
                    departed_seq: s.last_seq,
                },
            },
        );
        assert_eq!(types(&missed), ["handoff.missed", "client.lost_to_care"]);
        assert!(matches!(
            missed.events[0].data,
            EventData::HandoffMissed {
                reason: MissReason::Deadline,
                ..
            }
        ));
        assert_eq!(
            missed.events[1].data,
            EventData::ClientLostToCare {
                reason: LostReason::MissedArrival
            }
        );
        assert_eq!(
            missed.occupancy,
            [OccupancyChange::hold(
                f.residential,
                level("residential"),
                -1
            )]
        );
        let s = missed.state;
        assert_eq!(s.referral(referral).unwrap().status, ReferralStatus::NoShow);
        assert!(s.transit.as_ref().unwrap().missed);
        assert_eq!(s.status, ClientStatus::InTransit);
        // A second deadline or no-show report finds nothing left to miss.
        assert!(matches!(
            f.refuse_at(
                late,
                &s,
                f.partner(f.residential),
                Command::ReportNoShow { relayed_by: None }
            ),
            DecisionError::Conflict(_)
        ));
        // The client turns up a day late: the provider takes them if a slot is open.
        let arrived = f.run_at(
            late + Duration::days(1),
            &s,
            f.partner(f.residential),
            Command::ConfirmArrival { relayed_by: None },
        );
        // Back in residential care within the window of the exit the missed handoff was:
        // only the last exit counts, so its checks are superseded.
        assert_eq!(
            types(&arrived),
            [
                "transition.completed",
                "followup.superseded",
                "followup.superseded",
                "client.reengaged"
            ]
        );
        assert_eq!(
            arrived.occupancy,
            [OccupancyChange::occupy(
                f.residential,
                level("residential"),
                1
            )]
        );
        assert_eq!(arrived.state.lost_to_care, None);
        assert_eq!(
            arrived.state.referral(referral).unwrap().status,
            ReferralStatus::Completed
        );
    }

    #[test]
    fn after_a_reported_no_show_the_client_may_be_sent_elsewhere_or_discharged() {
        let f = Fixture::new();
        let s = f.accepted();
        let s = f.step_down(&s);
        let d = f.run(
            &s,
            f.partner(f.residential),
            Command::ReportNoShow { relayed_by: None },
        );
        assert_eq!(types(&d), ["handoff.missed", "client.lost_to_care"]);
        assert!(matches!(
            d.timers[0],
            TimerOp::Cancel { ref key } if key.starts_with("arrival:")
        ));
        let s = d.state;
        // From where they left (detox), to the other residential program, by a supervisor
        // who vouches for the bed: a new handoff.
        let reroute = Command::Transition {
            kind: TransitionKind::StepDown,
            to_level: level("residential"),
            provider: Some(f.residential2),
            planned_hours_per_week: 30.0,
            track: None,
            overrides: vec![GateOverride {
                gate: Gate::AcceptedReferral,
                reason: "bed confirmed by phone".into(),
            }],
            emergency: None,
        };
        let d2 = f.run(&s, f.supervisor(), reroute);
        assert_eq!(types(&d2), ["handoff.started"]);
        // No referral: the move holds a slot of its own.
        assert_eq!(
            d2.occupancy,
            [OccupancyChange::hold(
                f.residential2,
                level("residential"),
                1
            )]
        );
        assert_eq!(d2.state.transit.as_ref().unwrap().provider, f.residential2);
        // Or discharged from the way: nothing to release after the miss.
        let gone = f.run(&s, f.cm(), discharge(DischargeKind::Administrative));
        assert_eq!(types(&gone), ["discharge.unplanned"]);
        assert!(gone.occupancy.is_empty());
        assert_eq!(gone.state.transit, None);
        assert_eq!(gone.state.status, ClientStatus::Discharged);
        // Discharged on the way before any miss: the hold and the referral are released.
        let s = f
            .run(
                &f.accepted(),
                f.cm(),
                transition(TransitionKind::StepDown, level("residential"), None, 30.0),
            )
            .state;
        let gone = f.run(&s, f.cm(), discharge(DischargeKind::AgainstMedicalAdvice));
        assert_eq!(types(&gone), ["referral.withdrawn", "discharge.unplanned"]);
        assert_eq!(
            gone.occupancy,
            [OccupancyChange::hold(
                f.residential,
                level("residential"),
                -1
            )]
        );
    }

    fn relayed(note: &str) -> Option<RelayedBy> {
        Some(RelayedBy { note: note.into() })
    }

    #[test]
    fn an_arrival_is_the_receivers_to_confirm_or_the_senders_to_relay_saying_who_reported_it() {
        let f = Fixture::new();
        let s = f.accepted();
        let referral = s.referrals[0].id;
        let s = f.step_down(&s);
        // The sender's click alone does not close the loop: it must say who reported it.
        for (actor, relayed_by) in [
            (f.cm(), None),
            (f.cm(), relayed("   ")),
            (f.cm(), relayed("a\u{0}b")),
            (f.partner(f.residential), relayed("our own intake desk")),
        ] {
            assert!(matches!(
                f.refuse(&s, actor, Command::ConfirmArrival { relayed_by }),
                DecisionError::BadInput(_)
            ));
        }
        let note = "phone call from intake nurse J. at Riverside";
        let by_phone = f.run(
            &s,
            f.cm(),
            Command::ConfirmArrival {
                relayed_by: relayed(note),
            },
        );
        let arrival = &by_phone.events[0];
        assert!(matches!(
            arrival.data,
            EventData::TransitionCompleted {
                reported_by: Some(ReportedBy::Relayed),
                ..
            }
        ));
        // The note stays in the record, never in the event.
        assert!(!format!("{arrival:?}").contains("Riverside"));
        let kept = &by_phone.state.relayed_reports;
        assert_eq!(kept.len(), 1);
        assert_eq!(
            (
                kept[0].event,
                kept[0].org,
                kept[0].staff,
                kept[0].note.as_str()
            ),
            (arrival.id, f.home, Some(f.dana()), note)
        );
        assert!(!format!("{kept:?}").contains("Riverside"));
        let closed = by_phone.state.referral(referral).unwrap();
        assert_eq!(
            (closed.status, closed.closed_by),
            (ReferralStatus::Completed, Some(ReportedBy::Relayed))
        );
        // The receiving provider confirms in its own name.
        let confirmed = f.run(
            &s,
            f.partner(f.residential),
            Command::ConfirmArrival { relayed_by: None },
        );
        assert!(matches!(
            confirmed.events[0].data,
            EventData::TransitionCompleted {
                reported_by: Some(ReportedBy::Receiver),
                ..
            }
        ));
        assert!(confirmed.state.relayed_reports.is_empty());
        assert_eq!(
            confirmed.state.referral(referral).unwrap().closed_by,
            Some(ReportedBy::Receiver)
        );
        // A no-show, the same way.
        let missed = f.run(
            &s,
            f.cm(),
            Command::ReportNoShow {
                relayed_by: relayed("voicemail from Riverside's front desk"),
            },
        );
        assert!(matches!(
            missed.events[0].data,
            EventData::HandoffMissed {
                reason: MissReason::NoShow,
                reported_by: Some(ReportedBy::Relayed),
                ..
            }
        ));
        assert_eq!(missed.state.relayed_reports.len(), 1);
    }
}
