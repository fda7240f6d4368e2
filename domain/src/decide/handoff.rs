//! Planned handoffs: announced ahead of time with what is still unmet, and `handoff.ready`
//! once every gate of the move is met.

use super::draft::Draft;
use crate::error::DecisionError;
use crate::event::*;
use crate::gates;
use crate::pathway::{DischargeKind, Gate, TransitionKind};
use crate::state::*;
use chrono::NaiveDate;

impl Draft<'_> {
    pub(super) fn target_gates(&self, target: &HandoffTarget) -> Result<Vec<Gate>, DecisionError> {
        gates::required_gates(&self.s, self.pathway(), target)
    }

    pub(super) fn announce_handoff(&mut self, target: HandoffTarget, on: NaiveDate) {
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

    pub(super) fn plan_handoff(
        &mut self,
        target: &HandoffTarget,
        on: NaiveDate,
    ) -> Result<(), DecisionError> {
        self.require_active(|| "planning a handoff".into())?;
        if on < self.earliest_today() {
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
    pub(super) fn refresh_handoff(&mut self) {
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

    fn plan(target: HandoffTarget, on: chrono::NaiveDate) -> Command {
        Command::PlanHandoff { target, on }
    }

    fn planned_discharge() -> HandoffTarget {
        HandoffTarget::Discharge {
            kind: DischargeKind::Planned,
            provider: None,
        }
    }

    #[test]
    fn a_planned_step_down_announces_what_is_still_unmet() {
        let f = Fixture::new();
        let s = f.in_detox();
        let s = f
            .run(
                &s,
                f.cm(),
                Command::RecordMatPlan {
                    medication: Medication::Buprenorphine,
                    supply_through: Some(f.days(3)),
                    last_injection_on: None,
                },
            )
            .state;
        let target = HandoffTarget::Transition {
            kind: TransitionKind::StepDown,
            to_level: level("residential"),
            provider: Some(f.residential),
        };
        let d = f.run(&s, f.cm(), plan(target.clone(), f.days(2)));
        assert_eq!(types(&d), ["handoff.planned"]);
        assert_eq!(
            d.events[0].data,
            EventData::HandoffPlanned {
                target: target.clone(),
                on: f.days(2),
                unmet: vec![Gate::AcceptedReferral, Gate::MatContinuity],
                mat_covered_through: Some(f.days(3)),
            }
        );
        assert_eq!(d.events[0].level, Some(level("residential")));
        assert_eq!(d.events[0].recipient_org, Some(f.residential));
        assert_eq!(
            d.state.handoff,
            Some(PlannedHandoff {
                target,
                on: f.days(2),
                ready: false
            })
        );
    }

    #[test]
    fn a_planned_discharge_is_announced_then_ready_once_its_last_gate_is_met() {
        let f = Fixture::new();
        let s = f.in_detox();
        let d = f.run(&s, f.cm(), plan(planned_discharge(), f.days(1)));
        assert_eq!(types(&d), ["discharge.planned", "handoff.planned"]);
        assert!(matches!(
            &d.events[1].data,
            EventData::HandoffPlanned { unmet, .. } if *unmet == [Gate::AftercareAppointment]
        ));
        // Booking the appointment meets it: `handoff.ready`, once.
        let book = Command::ScheduleAftercare {
            provider: f.iop,
            kind: AftercareKind::Outpatient,
            at: f.now + Duration::days(3),
        };
        let d = f.run(&d.state, f.cm(), book);
        assert_eq!(types(&d), ["aftercare.scheduled", "handoff.ready"]);
        assert_eq!(
            d.events[1].data,
            EventData::HandoffReady {
                target: planned_discharge(),
                on: f.days(1),
            }
        );
        assert!(d.state.handoff.as_ref().unwrap().ready);
        let again = Command::RecordAssessment {
            recommended_level: level("outpatient"),
            dimensions: [1; 6],
            assessed_at: None,
        };
        let d = f.run(&d.state, f.cm(), again);
        assert_eq!(types(&d), ["assessment.recorded"]);
        assert!(d.state.handoff.as_ref().unwrap().ready);
    }

    #[test]
    fn a_handoff_is_refused_in_the_past_off_the_pathway_or_for_a_client_not_in_care() {
        let f = Fixture::new();
        let s = f.in_detox();
        assert!(matches!(
            f.refuse(&s, f.cm(), plan(planned_discharge(), f.days(-2))),
            DecisionError::BadInput(_)
        ));
        // At 09:00 UTC it is still yesterday somewhere (UTC−12): a day typed there is not past.
        f.run(&s, f.cm(), plan(planned_discharge(), f.days(-1)));
        // From withdrawal management there is nowhere to step up to; a readmission is no
        // move for a client in care.
        for kind in [TransitionKind::StepUp, TransitionKind::Readmission] {
            let target = HandoffTarget::Transition {
                kind,
                to_level: level("residential"),
                provider: None,
            };
            assert!(matches!(
                f.refuse(&s, f.cm(), plan(target, f.days(1))),
                DecisionError::InvalidTransition { .. }
            ));
        }
        let transfer = HandoffTarget::Discharge {
            kind: DischargeKind::TransferOut,
            provider: None,
        };
        assert!(matches!(
            f.refuse(&s, f.cm(), plan(transfer, f.days(1))),
            DecisionError::BadInput(_)
        ));
        let wrong_level = HandoffTarget::Transition {
            kind: TransitionKind::StepDown,
            to_level: level("residential"),
            provider: Some(f.iop),
        };
        assert!(matches!(
            f.refuse(&s, f.cm(), plan(wrong_level, f.days(1))),
            DecisionError::BadInput(_)
        ));
        let s = f.consented();
        assert!(matches!(
            f.refuse(&s, f.cm(), plan(planned_discharge(), f.days(1))),
            DecisionError::InvalidTransition { .. }
        ));
    }

    #[test]
    fn a_move_clears_the_planned_handoff() {
        let f = Fixture::new();
        let s = f.accepted();
        assert!(s.handoff.is_some(), "the acceptance announced the handoff");
        let d = f.run(
            &s,
            f.cm(),
            transition(TransitionKind::StepDown, level("residential"), None, 30.0),
        );
        assert_eq!(d.state.handoff, None);
        assert!(!types(&d).contains(&"handoff.ready"));
    }
}
