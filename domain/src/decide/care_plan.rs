//! The client's care plan: assessments, the MAT plan, aftercare appointments and MAT refill
//! bookings (what the clinical gates of a move look at).

use super::OrgInfo;
use super::draft::Draft;
use crate::command::{OutcomeReport, RelayedBy, TimerKind};
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
        match medication {
            Medication::NaltrexoneXr => match last_injection_on {
                None => {
                    return Err(DecisionError::bad(
                        "extended-release naltrexone needs the date of the last injection",
                    ));
                }
                Some(d) if d > self.latest_today() => {
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
        self.arm_mat_lapse(covered_through);
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
        self.cancel(self.mat_lapse_key());
        self.emit(self.current_level(), None, EventData::MatPlanEnded);
        Ok(())
    }

    pub(super) fn schedule_aftercare(
        &mut self,
        provider: OrgId,
        kind: AftercareKind,
        at: DateTime<Utc>,
    ) -> Result<(), DecisionError> {
        let org = self.org(provider)?;
        // A visit the gate counts as aftercare is booked where that visit happens.
        match kind {
            AftercareKind::Outpatient
                if !org.mat_services.contains(&MatService::Prescriber)
                    && !org.levels.iter().any(|l| {
                        self.pathway()
                            .level(l)
                            .is_some_and(|level| !level.followup_on_exit)
                    }) =>
            {
                return Err(DecisionError::bad(format!(
                    "organization {provider} offers no outpatient care (no level of care a client \
                     attends from home) and is no prescriber: book the outpatient visit where it \
                     takes place"
                )));
            }
            AftercareKind::Prescriber if !org.mat_services.contains(&MatService::Prescriber) => {
                return Err(DecisionError::bad(format!(
                    "organization {provider} is no prescriber: book the prescriber visit with one"
                )));
            }
            _ => {}
        }
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
            outcome: None,
        });
        Ok(())
    }

    pub(super) fn schedule_mat_refill(
        &mut self,
        provider: OrgId,
        kind: MatBookingKind,
        on: NaiveDate,
    ) -> Result<(), DecisionError> {
        let org = self.org(provider)?;
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
        if !org.delivers(kind) {
            return Err(DecisionError::bad(lacks(org, kind)));
        }
        if on < self.earliest_today() {
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
            outcome: None,
        });
        Ok(())
    }
}

/// Why `org` cannot take a `kind` booking: what it lacks (the services that could take it)
/// and what it provides.
fn lacks(org: &OrgInfo, kind: MatBookingKind) -> String {
    let needs: Vec<&str> = kind.delivered_by().iter().map(|s| s.as_str()).collect();
    let provides: Vec<&str> = org.mat_services.iter().map(|s| s.as_str()).collect();
    format!(
        "organization {} cannot take {} bookings: it does not provide {} (its MAT services: {})",
        org.id,
        kind.as_str(),
        needs.join(" or "),
        if provides.is_empty() {
            "none".to_owned()
        } else {
            provides.join(", ")
        }
    )
}

impl Draft<'_> {
    pub(super) fn mat_lapse_key(&self) -> String {
        format!("mat-lapse:{}", self.s.id)
    }

    /// Watch the supply in hand: with nothing dispensed by the end of the day after
    /// `through` (a gap day), the client is lost to care.
    pub(super) fn arm_mat_lapse(&mut self, through: NaiveDate) {
        let due = (through + Duration::days(2))
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc();
        self.schedule(self.mat_lapse_key(), due, TimerKind::MatLapse { through });
    }

    /// What became of a booking. Kept: a visit counts for the follow-up checks, a dose or
    /// refill extends the MAT supply, and the client is back in reach of care. Missed: lost
    /// to care unless something is booked or kept within the pathway's `lost_to_care_days`.
    /// Cancelled or missed bookings no longer count for any gate.
    pub(super) fn record_booking_outcome(
        &mut self,
        booking: BookingId,
        outcome: &OutcomeReport,
        relayed: Option<&RelayedBy>,
    ) -> Result<(), DecisionError> {
        let today = self.today();
        let now = self.now();
        // A visit kept or missed is reported by the booking's provider, or relayed with who
        // reported it; a cancellation or a new time is an arrangement, not a report.
        let reported = |d: &Self, provider: OrgId| match outcome {
            OutcomeReport::Attended { .. } | OutcomeReport::NoShow => {
                d.reported_by(provider, relayed).map(Some)
            }
            OutcomeReport::Cancelled | OutcomeReport::Rescheduled { .. } => match relayed {
                Some(_) => Err(DecisionError::bad(
                    "relayedBy says who reported a visit kept or missed; a cancellation or a \
                     new time takes none",
                )),
                None => Ok(None),
            },
        };
        let happened = matches!(
            outcome,
            OutcomeReport::Attended { .. } | OutcomeReport::NoShow
        );
        if let Some(i) = self.s.aftercare.iter().position(|a| a.id == booking) {
            let a = self.s.aftercare[i].clone();
            if let Some(o) = a.outcome {
                return Err(DecisionError::Conflict(format!(
                    "appointment {booking} was already recorded as {}",
                    o.attendance.as_str()
                )));
            }
            if happened && a.at > now {
                return Err(DecisionError::NotYetHappened {
                    what: "the appointment",
                    at: a.at.to_rfc3339(),
                });
            }
            let by = reported(self, a.provider)?;
            let level = self.current_level();
            let (attendance, data) = match outcome {
                OutcomeReport::Attended { supply_through } => {
                    if supply_through.is_some() {
                        return Err(DecisionError::bad(
                            "an aftercare appointment dispenses no MAT supply",
                        ));
                    }
                    (
                        Attendance::Attended,
                        EventData::AftercareAttended {
                            booking,
                            provider: a.provider,
                            kind: a.kind,
                            reported_by: by,
                        },
                    )
                }
                OutcomeReport::NoShow => (
                    Attendance::NoShow,
                    EventData::AftercareMissed {
                        booking,
                        provider: a.provider,
                        kind: a.kind,
                        reported_by: by,
                    },
                ),
                OutcomeReport::Cancelled => (
                    Attendance::Cancelled,
                    EventData::AftercareCancelled {
                        booking,
                        provider: a.provider,
                    },
                ),
                OutcomeReport::Rescheduled { to } => {
                    if to.date_naive() < today {
                        return Err(DecisionError::bad(
                            "an appointment cannot be moved into the past",
                        ));
                    }
                    self.s.aftercare[i].at = *to;
                    self.emit(
                        level,
                        None,
                        EventData::AftercareRescheduled {
                            booking,
                            provider: a.provider,
                            at: *to,
                        },
                    );
                    return Ok(());
                }
            };
            self.s.aftercare[i].outcome = Some(BookingOutcome {
                attendance,
                recorded_at: now,
                reported_by: by,
            });
            let event = self.emit(level, None, data);
            self.keep_relayed(event, relayed);
            if attendance == Attendance::Attended {
                self.rejudge_followups(a.at.date_naive(), a.provider);
            }
            self.after_outcome(booking, attendance);
            return Ok(());
        }
        let Some(i) = self.s.mat_bookings.iter().position(|b| b.id == booking) else {
            return Err(DecisionError::not_found("booking", booking));
        };
        let b = self.s.mat_bookings[i].clone();
        if let Some(o) = b.outcome {
            return Err(DecisionError::Conflict(format!(
                "booking {booking} was already recorded as {}",
                o.attendance.as_str()
            )));
        }
        if happened && b.on > today {
            return Err(DecisionError::NotYetHappened {
                what: "the booking",
                at: b.on.to_string(),
            });
        }
        let by = reported(self, b.provider)?;
        let level = self.current_level();
        let (attendance, data) = match outcome {
            OutcomeReport::Attended { supply_through } => {
                let data = self.dispense(&b, *supply_through, by)?;
                (Attendance::Attended, data)
            }
            OutcomeReport::NoShow => (
                Attendance::NoShow,
                EventData::MatBookingMissed {
                    booking,
                    provider: b.provider,
                    kind: b.kind,
                    reported_by: by,
                },
            ),
            OutcomeReport::Cancelled => (
                Attendance::Cancelled,
                EventData::MatBookingCancelled {
                    booking,
                    provider: b.provider,
                },
            ),
            OutcomeReport::Rescheduled { to } => {
                let on = to.date_naive();
                if on < today {
                    return Err(DecisionError::bad(
                        "a booking cannot be moved into the past",
                    ));
                }
                self.s.mat_bookings[i].on = on;
                self.emit(
                    level,
                    None,
                    EventData::MatBookingRescheduled {
                        booking,
                        provider: b.provider,
                        on,
                    },
                );
                return Ok(());
            }
        };
        self.s.mat_bookings[i].outcome = Some(BookingOutcome {
            attendance,
            recorded_at: now,
            reported_by: by,
        });
        let event = self.emit(level, None, data);
        self.keep_relayed(event, relayed);
        if attendance == Attendance::Attended {
            self.rejudge_followups(b.on, b.provider);
        }
        self.after_outcome(booking, attendance);
        Ok(())
    }

    /// A MAT booking kept: the supply it dispensed (a refill or OTP doses through a day, an
    /// injection on the booking's day) extends the plan, and the lapse watch moves with it.
    fn dispense(
        &mut self,
        b: &MatBooking,
        supply_through: Option<NaiveDate>,
        reported_by: Option<ReportedBy>,
    ) -> Result<EventData, DecisionError> {
        let today = self.today();
        if let Some(d) = supply_through
            && d < today
        {
            return Err(DecisionError::bad(
                "a supply dispensed today lasts at least through today",
            ));
        }
        if b.kind == MatBookingKind::PrescriberVisit && supply_through.is_none() {
            return Ok(EventData::MatVisitAttended {
                booking: b.id,
                provider: b.provider,
                reported_by,
            });
        }
        let Some(plan) = self.s.mat_plan.as_mut() else {
            return Err(DecisionError::bad(
                "the client has no active MAT plan to dispense for",
            ));
        };
        match b.kind {
            MatBookingKind::Injection => {
                if supply_through.is_some() {
                    return Err(DecisionError::bad(
                        "an injection covers the pathway's interval; it takes no supply date",
                    ));
                }
                plan.last_injection_on = Some(b.on.max(plan.last_injection_on.unwrap_or(b.on)));
            }
            MatBookingKind::Refill => {
                let Some(d) = supply_through else {
                    return Err(DecisionError::bad(
                        "a refill picked up says through which day it lasts (supply_through)",
                    ));
                };
                plan.supply_through = Some(plan.supply_through.map_or(d, |s| s.max(d)));
            }
            // An OTP dose: the day's dose, and take-home doses through `supply_through`.
            MatBookingKind::OtpDosing | MatBookingKind::PrescriberVisit => {
                let d = supply_through.unwrap_or(b.on.max(today));
                plan.supply_through = Some(plan.supply_through.map_or(d, |s| s.max(d)));
            }
        }
        let covered_through = gates::mat_covered_through(&self.s, self.pathway());
        if let Some(through) = covered_through {
            self.arm_mat_lapse(through);
        }
        Ok(match b.kind {
            MatBookingKind::Refill => EventData::MatRefillPickedUp {
                booking: b.id,
                provider: b.provider,
                reported_by,
                covered_through,
            },
            kind => EventData::MatDoseDispensed {
                booking: b.id,
                provider: b.provider,
                reported_by,
                kind,
                covered_through,
            },
        })
    }

    fn after_outcome(&mut self, booking: BookingId, attendance: Attendance) {
        match attendance {
            Attendance::Attended => self.reengage(),
            Attendance::NoShow => {
                let days = self.pathway().settings.lost_to_care_days;
                self.schedule(
                    format!("no-show:{booking}"),
                    self.now() + Duration::days(i64::from(days)),
                    TimerKind::NoShowCheck {
                        booking,
                        missed_at: self.now(),
                    },
                );
            }
            Attendance::Cancelled => {}
        }
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
    fn an_outpatient_or_prescriber_visit_is_booked_where_that_visit_takes_place() {
        let f = Fixture::new();
        let s = f.in_detox();
        let at = f.now + Duration::days(3);
        let visit = |provider, kind| Command::ScheduleAftercare { provider, kind, at };
        // An outpatient visit at a residential program, or at a pharmacy: refused.
        for provider in [f.residential, f.detox, f.pharmacy, f.home] {
            assert!(
                matches!(
                    f.refuse(&s, f.cm(), visit(provider, AftercareKind::Outpatient)),
                    DecisionError::BadInput(_)
                ),
                "{provider}"
            );
        }
        // At an intensive outpatient program or a prescriber: booked.
        f.run(&s, f.cm(), visit(f.iop, AftercareKind::Outpatient));
        f.run(&s, f.cm(), visit(f.prescriber, AftercareKind::Outpatient));
        // A prescriber visit only with a prescriber.
        assert!(matches!(
            f.refuse(&s, f.cm(), visit(f.iop, AftercareKind::Prescriber)),
            DecisionError::BadInput(_)
        ));
        f.run(&s, f.cm(), visit(f.prescriber, AftercareKind::Prescriber));
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
                outcome: None,
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
        // An injection does not continue buprenorphine; a refill is not booked in the past
        // (before the earliest date it is anywhere: at 09:00 UTC, yesterday is still today in
        // Hawaii).
        for command in [
            refill(MatBookingKind::Injection, f.days(2)),
            refill(MatBookingKind::Refill, f.days(-2)),
        ] {
            assert!(matches!(
                f.refuse(&s, f.cm(), command),
                DecisionError::BadInput(_)
            ));
        }
        // The pharmacy's coordinator, named in the consent, books it.
        let coordinator = Actor::new(f.pharmacy, Role::AftercareCoordinator);
        let d = f.run(&s, coordinator, refill(MatBookingKind::Refill, f.days(2)));
        assert_eq!(types(&d), ["mat.refill.scheduled"]);
        assert_eq!(d.events[0].actor_org, Some(f.pharmacy));
        let b = &d.state.mat_bookings[0];
        assert_eq!(
            (b.provider, b.kind, b.on),
            (f.pharmacy, MatBookingKind::Refill, f.days(2))
        );
    }

    #[test]
    fn a_mat_booking_goes_to_an_organization_that_provides_its_service() {
        let f = Fixture::new();
        let s = f.in_detox();
        let plan = |medication| {
            let (supply, injected) = match medication {
                Medication::NaltrexoneXr => (None, Some(f.days(-20))),
                _ => (Some(f.days(3)), None),
            };
            f.run(&s, f.cm(), mat_plan(medication, supply, injected))
                .state
        };
        let book = |provider, kind| Command::ScheduleMatRefill {
            provider,
            kind,
            on: f.days(2),
        };
        // (medication, booking, organization, taken?): the pharmacy provides `pharmacy`, the
        // OTP `otp`, the prescriber `prescriber` and `injection`, the home program none.
        let cases = [
            (
                Medication::Methadone,
                MatBookingKind::OtpDosing,
                f.otp,
                true,
            ),
            (
                Medication::Methadone,
                MatBookingKind::OtpDosing,
                f.pharmacy,
                false,
            ),
            (
                Medication::Methadone,
                MatBookingKind::OtpDosing,
                f.prescriber,
                false,
            ),
            (
                Medication::Buprenorphine,
                MatBookingKind::Refill,
                f.pharmacy,
                true,
            ),
            (
                Medication::Buprenorphine,
                MatBookingKind::Refill,
                f.prescriber,
                true,
            ),
            (
                Medication::Buprenorphine,
                MatBookingKind::Refill,
                f.otp,
                false,
            ),
            (
                Medication::Buprenorphine,
                MatBookingKind::PrescriberVisit,
                f.prescriber,
                true,
            ),
            (
                Medication::Buprenorphine,
                MatBookingKind::PrescriberVisit,
                f.pharmacy,
                false,
            ),
            (
                Medication::NaltrexoneOral,
                MatBookingKind::Refill,
                f.pharmacy,
                true,
            ),
            (
                Medication::NaltrexoneOral,
                MatBookingKind::Refill,
                f.home,
                false,
            ),
            (
                Medication::NaltrexoneXr,
                MatBookingKind::Injection,
                f.prescriber,
                true,
            ),
            (
                Medication::NaltrexoneXr,
                MatBookingKind::Injection,
                f.pharmacy,
                false,
            ),
            (
                Medication::NaltrexoneXr,
                MatBookingKind::Injection,
                f.otp,
                false,
            ),
        ];
        for (medication, kind, provider, taken) in cases {
            let s = plan(medication);
            let case = format!("{medication:?} {kind:?} at {provider}");
            if taken {
                let d = f.run(&s, f.cm(), book(provider, kind));
                assert_eq!(types(&d), ["mat.refill.scheduled"], "{case}");
                assert_eq!(d.state.mat_bookings[0].provider, provider, "{case}");
            } else {
                // Refused as bad input, naming the organization and what it lacks; nothing
                // changes (`refuse` checks).
                let DecisionError::BadInput(why) = f.refuse(&s, f.cm(), book(provider, kind))
                else {
                    panic!("{case}: not bad input");
                };
                assert!(why.contains(&provider.to_string()), "{case}: {why}");
                let needs: Vec<&str> = kind.delivered_by().iter().map(|s| s.as_str()).collect();
                assert!(
                    why.contains(&format!("does not provide {}", needs.join(" or "))),
                    "{case}: {why}"
                );
            }
        }
        // What it provides is said too, or that it provides none.
        let DecisionError::BadInput(why) = f.refuse(
            &plan(Medication::Methadone),
            f.cm(),
            book(f.prescriber, MatBookingKind::OtpDosing),
        ) else {
            panic!("not bad input");
        };
        assert_eq!(
            why,
            format!(
                "organization {} cannot take otp_dosing bookings: it does not provide otp \
                 (its MAT services: prescriber, injection)",
                f.prescriber
            )
        );
        let DecisionError::BadInput(why) = f.refuse(
            &plan(Medication::Buprenorphine),
            f.cm(),
            book(f.home, MatBookingKind::Refill),
        ) else {
            panic!("not bad input");
        };
        assert!(
            why.ends_with("does not provide pharmacy or prescriber (its MAT services: none)"),
            "{why}"
        );
    }

    #[test]
    fn every_booking_that_continues_a_medication_has_a_service_to_take_it() {
        for medication in [
            Medication::Buprenorphine,
            Medication::Methadone,
            Medication::NaltrexoneOral,
            Medication::NaltrexoneXr,
        ] {
            for kind in [
                MatBookingKind::Refill,
                MatBookingKind::PrescriberVisit,
                MatBookingKind::OtpDosing,
                MatBookingKind::Injection,
            ] {
                if medication.continued_by(kind) {
                    assert!(!kind.delivered_by().is_empty(), "{medication:?} {kind:?}");
                }
            }
        }
        // Methadone dosing is an OTP's alone.
        assert_eq!(MatBookingKind::OtpDosing.delivered_by(), [MatService::Otp]);
        // Each is read back from the name it is stored and typed under.
        for service in MatService::ALL {
            assert_eq!(MatService::parse(service.as_str()), Some(service));
        }
        assert_eq!(MatService::parse("OTP"), None);
    }
}
