//! Discharge: planned (gated), against medical advice, administrative, or a transfer out.

use super::Departure;
use crate::command::*;
use crate::decide::draft::Draft;
use crate::error::DecisionError;
use crate::event::*;
use crate::gates::MoveCheck;
use crate::ids::*;
use crate::pathway::DischargeKind;
use crate::state::*;
use chrono::Duration;

impl Draft<'_> {
    pub(in crate::decide) fn discharge(
        &mut self,
        kind: DischargeKind,
        provider: Option<OrgId>,
        overrides: &[GateOverride],
    ) -> Result<(), DecisionError> {
        // From a placement, or on the way to one (the client left care in transit).
        let from = match (&self.s.status, &self.s.placement, &self.s.transit) {
            (ClientStatus::Active, Some(p), _) => Departure {
                level: p.level.clone(),
                provider: p.provider,
                track: p.track.clone(),
            },
            (ClientStatus::InTransit, _, Some(t)) => Departure {
                level: t.from_level.clone(),
                provider: t.from_provider,
                track: None,
            },
            _ => return Err(self.invalid(format!("discharge ({kind})"))),
        };
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
        let episode = self.episode_id();
        // Discharged on the way: the client left high-intensity care when the handoff
        // started (to a lower level) or when it was missed, and that exit armed the
        // follow-up checks already.
        let exited_before = self
            .s
            .transit
            .as_ref()
            .is_some_and(|t| t.missed || !self.followed_up(&t.to_level));
        self.unplace();
        self.abandon_transit(WithdrawReason::ClientDischarged);
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
        let event_seq = self.s.last_seq;
        if let Some(p) = provider {
            let basis = self.basis_for(p, None);
            basis.require(p)?;
            self.disclose(p, &from.level, &basis, event, "transfer of care".into());
        }
        if !exited_before {
            self.arm_followups(&from.level, event_seq, self.now());
        }
        if kind == DischargeKind::TransferOut
            && let Some(p) = provider
        {
            // The receiving organization confirms the arrival, or the transfer is missed.
            let arrive_by = self.now()
                + Duration::days(i64::from(self.pathway().settings.transfer_arrival_days));
            let timer = format!("transfer:{episode}");
            self.schedule(
                timer.clone(),
                arrive_by,
                TimerKind::TransferDeadline { episode },
            );
            self.s.transfer = Some(PendingTransfer {
                provider: p,
                episode,
                departed_at: self.now(),
                arrive_by,
                timer,
                missed: false,
            });
        }
        self.s.status = ClientStatus::Discharged;
        self.s.handoff = None;
        self.s.escalation = None;
        self.s.last_discharge = Some(DischargeRecord {
            kind,
            at: self.now(),
            episode,
            from_level: from.level,
        });
        self.end_consents_of(episode);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::command::*;
    use crate::decide::fixture::*;
    use crate::error::DecisionError;
    use crate::event::*;
    use crate::pathway::{DischargeKind, Gate};
    use crate::state::*;

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
        let exit = Some(d.events[1].id);
        assert_eq!(
            d.timers,
            [
                TimerOp::Cancel { key: review },
                TimerOp::Cancel {
                    key: format!("referral:{referral}")
                },
                // Leaving withdrawal management starts the follow-up checks (HEDIS FUI).
                TimerOp::Schedule {
                    key: format!("followup:{episode}:{}:7", d.state.last_seq),
                    due_at: crate::gates::followup_due(f.now.date_naive(), 7),
                    kind: TimerKind::Followup {
                        episode,
                        days: 7,
                        since: Some(f.now),
                        exit,
                    },
                },
                TimerOp::Schedule {
                    key: format!("followup:{episode}:{}:30", d.state.last_seq),
                    due_at: crate::gates::followup_due(f.now.date_naive(), 30),
                    kind: TimerKind::Followup {
                        episode,
                        days: 30,
                        since: Some(f.now),
                        exit,
                    },
                },
            ]
        );
        assert_eq!(
            d.occupancy,
            [OccupancyChange::occupy(f.detox, level("detox"), -1)]
        );
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
}
