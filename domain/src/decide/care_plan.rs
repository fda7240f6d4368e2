//! The client's care plan: assessments, the MAT plan, aftercare appointments and MAT refill
//! bookings (what the clinical gates of a move look at).

use super::draft::Draft;
use crate::error::DecisionError;
use crate::event::*;
use crate::gates;
use crate::ids::*;
use crate::pathway::LevelId;
use crate::state::*;
use chrono::{DateTime, Duration, NaiveDate, Utc};

impl Draft<'_> {
    pub(super) fn record_assessment(
        &mut self,
        level: &LevelId,
        dimensions: [u8; 6],
        assessed_at: Option<DateTime<Utc>>,
    ) -> Result<(), DecisionError> {
        self.level(level)?;
        if let Some(d) = dimensions.iter().find(|d| **d > 4) {
            return Err(DecisionError::bad(format!(
                "dimension risk ratings run from 0 to 4, got {d}"
            )));
        }
        let at = assessed_at.unwrap_or(self.now());
        if at > self.now() {
            return Err(DecisionError::bad("an assessment cannot be in the future"));
        }
        if at < self.now() - Duration::days(365) {
            return Err(DecisionError::bad(
                "an assessment older than a year is not a reassessment",
            ));
        }
        let id = AssessmentId(EventId::for_seq(self.s.id, self.s.last_seq + 1).0);
        self.emit(
            Some(level.clone()),
            None,
            EventData::AssessmentRecorded {
                assessment: id,
                recommended_level: level.clone(),
            },
        );
        self.s.assessments.push(Assessment {
            id,
            recommended_level: level.clone(),
            dimensions,
            assessed_at: at,
        });
        Ok(())
    }

    pub(super) fn record_mat_plan(
        &mut self,
        medication: Medication,
        supply_through: Option<NaiveDate>,
        last_injection_on: Option<NaiveDate>,
    ) -> Result<(), DecisionError> {
        let today = self.today();
        match medication {
            Medication::NaltrexoneXr => match last_injection_on {
                None => {
                    return Err(DecisionError::bad(
                        "extended-release naltrexone needs the date of the last injection",
                    ));
                }
                Some(d) if d > today => {
                    return Err(DecisionError::bad(
                        "the last injection cannot be in the future",
                    ));
                }
                Some(_) => {}
            },
            _ => {
                if supply_through.is_none() {
                    return Err(DecisionError::bad(
                        "a buprenorphine, methadone or oral naltrexone plan needs supply_through",
                    ));
                }
            }
        }
        self.s.mat_plan = Some(MatPlan {
            medication,
            supply_through,
            last_injection_on,
            recorded_at: self.now(),
        });
        let covered_through =
            gates::mat_covered_through(&self.s, self.pathway()).expect("validated above");
        self.emit(
            self.current_level(),
            None,
            EventData::MatPlanRecorded {
                medication,
                covered_through,
            },
        );
        Ok(())
    }

    pub(super) fn end_mat_plan(&mut self) -> Result<(), DecisionError> {
        if self.s.mat_plan.take().is_none() {
            return Err(DecisionError::bad("the client has no active MAT plan"));
        }
        self.emit(self.current_level(), None, EventData::MatPlanEnded);
        Ok(())
    }

    pub(super) fn schedule_aftercare(
        &mut self,
        provider: OrgId,
        kind: AftercareKind,
        at: DateTime<Utc>,
    ) -> Result<(), DecisionError> {
        self.org(provider)?;
        if at.date_naive() < self.today() {
            return Err(DecisionError::bad(
                "an appointment cannot be booked in the past",
            ));
        }
        let booking = BookingId(EventId::for_seq(self.s.id, self.s.last_seq + 1).0);
        self.emit(
            self.current_level(),
            None,
            EventData::AftercareScheduled {
                booking,
                provider,
                kind,
                at,
            },
        );
        self.s.aftercare.push(AftercareAppointment {
            id: booking,
            provider,
            kind,
            at,
            booked_at: self.now(),
        });
        Ok(())
    }

    pub(super) fn schedule_mat_refill(
        &mut self,
        provider: OrgId,
        kind: MatBookingKind,
        on: NaiveDate,
    ) -> Result<(), DecisionError> {
        self.org(provider)?;
        let plan = self
            .s
            .mat_plan
            .as_ref()
            .ok_or_else(|| DecisionError::bad("the client has no active MAT plan"))?;
        if !plan.medication.continued_by(kind) {
            return Err(DecisionError::bad(format!(
                "a {kind:?} booking does not continue {:?}",
                plan.medication
            )));
        }
        if on < self.today() {
            return Err(DecisionError::bad("a refill cannot be booked in the past"));
        }
        let booking = BookingId(EventId::for_seq(self.s.id, self.s.last_seq + 1).0);
        self.emit(
            self.current_level(),
            None,
            EventData::MatRefillScheduled {
                booking,
                provider,
                kind,
                on,
            },
        );
        self.s.mat_bookings.push(MatBooking {
            id: booking,
            provider,
            kind,
            on,
            booked_at: self.now(),
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
    use crate::state::*;
    use chrono::{Duration, NaiveDate};

    fn assess(level_id: &str, dimensions: [u8; 6], days_ago: Option<i64>, f: &Fixture) -> Command {
        Command::RecordAssessment {
            recommended_level: level(level_id),
            dimensions,
            assessed_at: days_ago.map(|d| f.now - Duration::days(d)),
        }
    }

    fn mat_plan(
        medication: Medication,
        supply_through: Option<NaiveDate>,
        last_injection_on: Option<NaiveDate>,
    ) -> Command {
        Command::RecordMatPlan {
            medication,
            supply_through,
            last_injection_on,
        }
    }

    #[test]
    fn an_assessment_is_recorded_with_its_recommendation_and_moment() {
        let f = Fixture::new();
        let s = f.in_detox();
        let d = f.run(
            &s,
            f.cm(),
            assess("residential", [2, 1, 1, 3, 2, 2], Some(2), &f),
        );
        assert_eq!(types(&d), ["assessment.recorded"]);
        let id = AssessmentId(EventId::for_seq(f.client, s.last_seq + 1).0);
        assert_eq!(
            d.events[0].data,
            EventData::AssessmentRecorded {
                assessment: id,
                recommended_level: level("residential"),
            }
        );
        assert_eq!(
            d.state.assessments,
            [Assessment {
                id,
                recommended_level: level("residential"),
                dimensions: [2, 1, 1, 3, 2, 2],
                assessed_at: f.now - Duration::days(2),
            }]
        );
        // Without a moment, the assessment is of now.
        let d = f.run(&s, f.cm(), assess("residential", [0; 6], None, &f));
        assert_eq!(d.state.assessments[0].assessed_at, f.now);
    }

    #[test]
    fn an_assessment_is_refused_out_of_range_in_the_future_too_old_or_for_an_unknown_level() {
        let f = Fixture::new();
        let s = f.in_detox();
        for command in [
            assess("residential", [0, 0, 5, 0, 0, 0], None, &f),
            assess("residential", [0; 6], Some(-1), &f),
            assess("residential", [0; 6], Some(400), &f),
            assess("spa", [0; 6], None, &f),
        ] {
            assert!(
                matches!(
                    f.refuse(&s, f.cm(), command.clone()),
                    DecisionError::BadInput(_)
                ),
                "{command:?}"
            );
        }
    }

    #[test]
    fn a_mat_plan_announces_the_last_day_it_covers() {
        let f = Fixture::new();
        let s = f.in_detox();
        let d = f.run(
            &s,
            f.cm(),
            mat_plan(Medication::Buprenorphine, Some(f.days(3)), None),
        );
        assert_eq!(types(&d), ["mat.plan.recorded"]);
        assert_eq!(
            d.events[0].data,
            EventData::MatPlanRecorded {
                medication: Medication::Buprenorphine,
                covered_through: f.days(3),
            }
        );
        assert_eq!(d.state.mat_plan.as_ref().unwrap().recorded_at, f.now);
        // Extended-release naltrexone: 28 days after the last injection.
        let d = f.run(
            &s,
            f.cm(),
            mat_plan(Medication::NaltrexoneXr, None, Some(f.days(-10))),
        );
        assert_eq!(
            d.events[0].data,
            EventData::MatPlanRecorded {
                medication: Medication::NaltrexoneXr,
                covered_through: f.days(18),
            }
        );
    }

    #[test]
    fn a_mat_plan_needs_its_supply_or_injection_date_and_only_an_active_plan_ends() {
        let f = Fixture::new();
        let s = f.in_detox();
        for command in [
            mat_plan(Medication::Methadone, None, Some(f.today())),
            mat_plan(Medication::NaltrexoneXr, Some(f.days(5)), None),
            mat_plan(Medication::NaltrexoneXr, None, Some(f.days(1))),
        ] {
            assert!(
                matches!(
                    f.refuse(&s, f.cm(), command.clone()),
                    DecisionError::BadInput(_)
                ),
                "{command:?}"
            );
        }
        assert!(matches!(
            f.refuse(&s, f.cm(), Command::EndMatPlan),
            DecisionError::BadInput(_)
        ));
        let s = f
            .run(
                &s,
                f.cm(),
                mat_plan(Medication::Buprenorphine, Some(f.days(3)), None),
            )
            .state;
        let d = f.run(&s, f.cm(), Command::EndMatPlan);
        assert_eq!(types(&d), ["mat.plan.ended"]);
        assert_eq!(d.state.mat_plan, None);
    }

    #[test]
    fn an_aftercare_appointment_is_booked_ahead_with_a_known_provider() {
        let f = Fixture::new();
        let s = f.in_detox();
        let at = f.now + Duration::days(4);
        let book = |provider, at| Command::ScheduleAftercare {
            provider,
            kind: AftercareKind::Counseling,
            at,
        };
        let d = f.run(&s, f.cm(), book(f.iop, at));
        assert_eq!(types(&d), ["aftercare.scheduled"]);
        let booking = BookingId(EventId::for_seq(f.client, s.last_seq + 1).0);
        assert_eq!(
            d.state.aftercare,
            [AftercareAppointment {
                id: booking,
                provider: f.iop,
                kind: AftercareKind::Counseling,
                at,
                booked_at: f.now,
            }]
        );
        assert!(matches!(
            f.refuse(&s, f.cm(), book(f.iop, f.now - Duration::days(1))),
            DecisionError::BadInput(_)
        ));
        let unknown = OrgId(uuid::Uuid::from_u128(888));
        assert_eq!(
            f.refuse(&s, f.cm(), book(unknown, at)),
            DecisionError::not_found("organization", unknown)
        );
    }

    #[test]
    fn a_refill_continues_the_plan_it_is_booked_for() {
        let f = Fixture::new();
        let s = f.in_detox();
        let refill = |kind, on| Command::ScheduleMatRefill {
            provider: f.pharmacy,
            kind,
            on,
        };
        // No plan, nothing to continue.
        assert!(matches!(
            f.refuse(&s, f.cm(), refill(MatBookingKind::Refill, f.days(2))),
            DecisionError::BadInput(_)
        ));
        let s = f
            .run(
                &s,
                f.cm(),
                mat_plan(Medication::Buprenorphine, Some(f.days(3)), None),
            )
            .state;
        // An injection does not continue buprenorphine; a refill is not booked in the past.
        for command in [
            refill(MatBookingKind::Injection, f.days(2)),
            refill(MatBookingKind::Refill, f.days(-1)),
        ] {
            assert!(matches!(
                f.refuse(&s, f.cm(), command),
                DecisionError::BadInput(_)
            ));
        }
        // The pharmacy's coordinator, named in the consent, books it.
        let coordinator = Actor {
            org: f.pharmacy,
            role: Role::AftercareCoordinator,
        };
        let d = f.run(&s, coordinator, refill(MatBookingKind::Refill, f.days(2)));
        assert_eq!(types(&d), ["mat.refill.scheduled"]);
        assert_eq!(d.events[0].actor_org, Some(f.pharmacy));
        let b = &d.state.mat_bookings[0];
        assert_eq!(
            (b.provider, b.kind, b.on),
            (f.pharmacy, MatBookingKind::Refill, f.days(2))
        );
    }
}
