//! A move's departure: the client leaves the sending placement for the receiving provider
//! (or, within one organization, arrives at once).

use crate::command::*;
use crate::decide::draft::{Draft, Exceptions};
use crate::error::DecisionError;
use crate::event::*;
use crate::gates::{self, MoveCheck};
use crate::ids::*;
use crate::pathway::{Gate, LevelId, TransitionKind};
use crate::state::*;
use chrono::Duration;

impl Draft<'_> {
    /// Start a move: the client leaves the sending placement and is in transit to the
    /// receiving provider, which holds a slot until the arrival is confirmed
    /// ([`Draft::confirm_arrival`]) or missed. A move within one organization completes at
    /// once: the client never leaves its care.
    pub(in crate::decide) fn transition(
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
        let from = self.departure(|| format!("{kind} to {to_level}"))?;
        if kind == TransitionKind::Readmission {
            return Err(DecisionError::bad(
                "a readmission is an admission of a discharged client",
            ));
        }
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

        let within_one_org = self.s.placement.is_some() && provider == from.provider;
        self.unplace();
        // A re-route after a missed arrival: that transit is over (its slot already freed).
        self.s.transit = None;
        let referral = self.accepted_referral(to_level, provider);
        let seq = self.s.last_seq + 1;
        if within_one_org {
            self.emit(
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
                    // No arrival to report: the client never left the organization's care.
                    reported_by: None,
                },
            );
            self.s.status = ClientStatus::Active;
            self.place(level, provider, hours, track, seq);
            self.complete_referral(referral, to_level);
            self.s.handoff = None;
            if !level.followup_on_exit {
                self.arm_followups(&from.level, seq, self.now());
            }
            return Ok(());
        }
        let arrive_by = self.now() + Duration::days(i64::from(level.arrival_days));
        let event = self.emit(
            Some(to_level.clone()),
            Some(provider),
            EventData::HandoffStarted {
                kind,
                from_level: from.level.clone(),
                to_level: to_level.clone(),
                from_provider: from.provider,
                to_provider: provider,
                referral,
                arrive_by,
                overridden: overridden.clone(),
            },
        );
        self.disclose(
            provider,
            to_level,
            &basis,
            event,
            format!("handoff to level {to_level}"),
        );
        // The accepted referral's hold now waits for the arrival; a move without one holds
        // a slot of its own.
        match referral {
            Some(id) => {
                self.cancel(Self::hold_timer_key(id));
                self.referral_mut(id).status = ReferralStatus::Scheduled;
            }
            None => self.hold_slot(provider, to_level, 1),
        }
        self.withdraw_where(WithdrawReason::ClientMoved, |r| &r.to_level == to_level);
        let episode = self.episode_id();
        let timer = format!("arrival:{episode}:{seq}");
        self.schedule(
            timer.clone(),
            arrive_by,
            TimerKind::ArrivalDeadline {
                episode,
                departed_seq: seq,
            },
        );
        self.s.transit = Some(Transit {
            kind,
            from_level: from.level,
            from_provider: from.provider,
            to_level: to_level.clone(),
            provider,
            planned_hours_per_week: hours,
            track: track.clone(),
            referral,
            overridden,
            departed_at: self.now(),
            arrive_by,
            timer,
            holds_slot: true,
            missed: false,
        });
        self.s.status = ClientStatus::InTransit;
        self.s.handoff = None;
        // Leaving high-intensity care for a lower level: the follow-up checks (HEDIS FUI).
        if !level.followup_on_exit {
            let from_level = self.s.transit.as_ref().map(|t| t.from_level.clone());
            if let Some(from_level) = from_level {
                self.arm_followups(&from_level, seq, self.now());
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
    use crate::pathway::{DischargeKind, Gate, TransitionKind};
    use crate::state::*;
    use chrono::Duration;

    #[test]
    fn a_step_down_starts_a_handoff_that_holds_the_slot_until_the_provider_confirms_arrival() {
        let f = Fixture::new();
        let s = f.accepted();
        let referral = s.referrals[0].id;
        let episode = s.episode.as_ref().unwrap().id;
        let old_review = s.placement.as_ref().unwrap().review_timer.clone();
        let d = f.run(
            &s,
            f.cm(),
            transition(TransitionKind::StepDown, level("residential"), None, 30.0),
        );
        assert_eq!(types(&d), ["handoff.started"]);
        // Residential care gives two days to arrive.
        let arrive_by = f.now + Duration::days(2);
        match &d.events[0].data {
            EventData::HandoffStarted {
                from_level,
                to_level,
                from_provider,
                to_provider,
                referral: used,
                arrive_by: by,
                overridden,
                ..
            } => {
                assert_eq!(
                    (from_level, to_level),
                    (&level("detox"), &level("residential"))
                );
                assert_eq!((*from_provider, *to_provider), (f.detox, f.residential));
                assert_eq!(*used, Some(referral));
                assert_eq!(*by, arrive_by);
                assert!(overridden.is_empty());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(d.events[0].recipient_org, Some(f.residential));
        assert_eq!(d.state.status, ClientStatus::InTransit);
        assert_eq!(d.state.placement, None);
        assert_eq!(d.state.referrals[0].status, ReferralStatus::Scheduled);
        assert_eq!(d.state.handoff, None);
        let seq = s.last_seq + 1;
        let arrival_key = format!("arrival:{episode}:{seq}");
        assert_eq!(
            d.timers,
            [
                TimerOp::Cancel { key: old_review },
                TimerOp::Cancel {
                    key: format!("hold:{referral}")
                },
                TimerOp::Schedule {
                    key: arrival_key.clone(),
                    due_at: arrive_by,
                    kind: TimerKind::ArrivalDeadline {
                        episode,
                        departed_seq: seq
                    },
                },
            ]
        );
        // The detox bed frees; the residential slot stays held (since the acceptance).
        assert_eq!(
            d.occupancy,
            [OccupancyChange::occupy(f.detox, level("detox"), -1)]
        );
        assert_eq!(d.disclosures.len(), 1);
        assert_eq!(d.disclosures[0].recipient, f.residential);
        // On the way, the client cannot move again.
        assert!(matches!(
            f.refuse(
                &d.state,
                f.cm(),
                transition(TransitionKind::StepDown, level("iop"), Some(f.iop), 12.0)
            ),
            DecisionError::InvalidTransition { .. }
        ));
        // Only the provider the client is going to confirms (another is told nothing).
        assert_eq!(
            f.refuse(
                &d.state,
                f.partner(f.residential2),
                Command::ConfirmArrival { relayed_by: None }
            ),
            DecisionError::not_found("client", f.client)
        );

        let arrived = f.run(
            &d.state,
            f.partner(f.residential),
            Command::ConfirmArrival { relayed_by: None },
        );
        assert_eq!(types(&arrived), ["transition.completed"]);
        match &arrived.events[0].data {
            EventData::TransitionCompleted {
                from_level,
                to_level,
                to_provider,
                referral: used,
                ..
            } => {
                assert_eq!(
                    (from_level, to_level, *to_provider, *used),
                    (
                        &level("detox"),
                        &level("residential"),
                        f.residential,
                        Some(referral)
                    )
                );
            }
            other => panic!("{other:?}"),
        }
        let s = &arrived.state;
        assert_eq!(s.status, ClientStatus::Active);
        assert_eq!(s.transit, None);
        let placement = s.placement.as_ref().unwrap();
        assert_eq!(
            (&placement.level, placement.provider),
            (&level("residential"), f.residential)
        );
        assert_eq!(s.referrals[0].status, ReferralStatus::Completed);
        // The held slot becomes occupancy.
        assert_eq!(
            arrived.occupancy,
            [
                OccupancyChange::hold(f.residential, level("residential"), -1),
                OccupancyChange::occupy(f.residential, level("residential"), 1),
            ]
        );
        assert_eq!(arrived.timers[0], TimerOp::Cancel { key: arrival_key });
        assert!(matches!(
            &arrived.timers[1],
            TimerOp::Schedule { kind: TimerKind::ReviewDue { level: l, .. }, .. }
                if *l == level("residential")
        ));
        // Nothing to confirm twice.
        assert!(matches!(
            f.refuse(s, f.cm(), Command::ConfirmArrival { relayed_by: None }),
            DecisionError::InvalidTransition { .. }
        ));
        assert_eq!(
            f.refuse(
                s,
                f.partner(f.residential),
                Command::ConfirmArrival { relayed_by: None }
            ),
            DecisionError::not_found("client", f.client)
        );
    }

    #[test]
    fn a_transfer_out_is_followed_until_the_receiving_organization_confirms_the_arrival() {
        let f = Fixture::new();
        let s = f.in_detox();
        let episode = s.episode.as_ref().unwrap().id;
        let transfer = Command::Discharge {
            kind: DischargeKind::TransferOut,
            provider: Some(f.residential2),
            overrides: vec![],
        };
        let d = f.run(&s, f.cm(), transfer);
        assert_eq!(types(&d), ["discharge.completed"]);
        let arrive_by = f.now + Duration::days(7);
        assert!(d.timers.contains(&TimerOp::Schedule {
            key: format!("transfer:{episode}"),
            due_at: arrive_by,
            kind: TimerKind::TransferDeadline { episode },
        }));
        let s = d.state;
        assert_eq!(
            s.transfer.as_ref().map(|t| t.provider),
            Some(f.residential2)
        );
        assert_eq!(
            f.refuse(
                &s,
                f.partner(f.residential),
                Command::ConfirmArrival { relayed_by: None }
            ),
            DecisionError::not_found("client", f.client)
        );
        let arrived = f.run(
            &s,
            f.partner(f.residential2),
            Command::ConfirmArrival { relayed_by: None },
        );
        assert_eq!(types(&arrived), ["transfer.arrived"]);
        assert_eq!(
            arrived.timers,
            [TimerOp::Cancel {
                key: format!("transfer:{episode}")
            }]
        );
        assert_eq!(arrived.state.transfer, None);
        // Never confirmed: missed at the deadline, the client lost to care.
        let missed = f.run_at(
            arrive_by,
            &s,
            f.system(),
            Command::FireTimer {
                timer: TimerKind::TransferDeadline { episode },
            },
        );
        assert_eq!(types(&missed), ["handoff.missed", "client.lost_to_care"]);
        assert!(matches!(
            missed.events[0].data,
            EventData::HandoffMissed { to_level: None, .. }
        ));
        // The stale deadline after the arrival changes nothing.
        assert!(matches!(
            f.refuse_at(
                arrive_by,
                &arrived.state,
                f.system(),
                Command::FireTimer {
                    timer: TimerKind::TransferDeadline { episode },
                },
            ),
            DecisionError::StaleTimer(_)
        ));
    }

    #[test]
    fn a_move_within_one_organization_completes_at_once() {
        let f = Fixture::new();
        let s = f.in_detox();
        // The same residential program, another track: a lateral move, no transit.
        let s = f
            .run(
                &s,
                f.supervisor(),
                Command::Transition {
                    kind: TransitionKind::StepDown,
                    to_level: level("residential"),
                    provider: Some(f.residential),
                    planned_hours_per_week: 30.0,
                    track: None,
                    overrides: vec![GateOverride {
                        gate: Gate::AcceptedReferral,
                        reason: "bed confirmed by phone".into(),
                    }],
                    emergency: None,
                },
            )
            .state;
        let s = f
            .run(
                &s,
                f.partner(f.residential),
                Command::ConfirmArrival { relayed_by: None },
            )
            .state;
        let d = f.run(
            &s,
            f.cm(),
            Command::Transition {
                kind: TransitionKind::Lateral,
                to_level: level("residential"),
                provider: Some(f.residential),
                planned_hours_per_week: 30.0,
                track: Some("evening".into()),
                overrides: vec![],
                emergency: None,
            },
        );
        assert_eq!(types(&d), ["transition.completed"]);
        assert_eq!(d.state.status, ClientStatus::Active);
        assert_eq!(d.state.transit, None);
        assert_eq!(
            d.state.placement.as_ref().unwrap().track.as_deref(),
            Some("evening")
        );
        // Occupancy nets to nothing at that provider and level.
        assert_eq!(
            d.occupancy,
            [
                OccupancyChange::occupy(f.residential, level("residential"), -1),
                OccupancyChange::occupy(f.residential, level("residential"), 1),
            ]
        );
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
            EventData::HandoffStarted {
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
}
