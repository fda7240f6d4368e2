//! Who is responsible for an episode, and the escalations that go to them: the case manager
//! who admitted the client (or whom the organization assigned) is named on the episode; a
//! referral group that runs out with nothing left to answer or use is theirs to act on until
//! a referral for that level is sent again or the client is placed or discharged.

use super::draft::Draft;
use crate::command::Role;
use crate::error::DecisionError;
use crate::event::EventData;
use crate::ids::StaffId;
use crate::state::{Escalation, Referral, ReferralStatus};

impl Draft<'_> {
    /// The case manager of a new episode: the record holder's case manager or supervisor who
    /// admits the client, else whoever was named on the episode before (a readmission by an
    /// admin, or by the engine).
    pub(super) fn admitting_case_manager(&self) -> Option<StaffId> {
        match self.actor_staff {
            Some((Role::CaseManager | Role::Supervisor, staff))
                if self
                    .staff_member(staff)
                    .is_none_or(|m| m.org == self.s.home_org) =>
            {
                Some(staff)
            }
            _ => self.s.episode.as_ref().and_then(|e| e.case_manager),
        }
    }

    pub(super) fn assign_case_manager(&mut self, staff: StaffId) -> Result<(), DecisionError> {
        let Some(episode) = self.s.episode.clone() else {
            return Err(DecisionError::Conflict(
                "the client has no episode of care to assign a case manager to".into(),
            ));
        };
        match self.staff_member(staff) {
            Some(m)
                if m.org == self.s.home_org
                    && matches!(m.role, Role::CaseManager | Role::Supervisor) => {}
            _ => {
                return Err(DecisionError::bad(format!(
                    "staff member {staff} is not a case manager of the organization holding \
                     the record (or holds no live token)"
                )));
            }
        }
        if episode.case_manager == Some(staff) {
            return Err(DecisionError::bad(format!(
                "staff member {staff} is already the episode's case manager"
            )));
        }
        if let Some(e) = self.s.episode.as_mut() {
            e.case_manager = Some(staff);
        }
        if let Some(e) = self.s.escalation.as_mut() {
            e.case_manager = Some(staff);
        }
        self.emit(
            None,
            None,
            EventData::CaseManagerAssigned {
                episode: episode.id,
                staff,
                previous: episode.case_manager,
            },
        );
        Ok(())
    }

    /// `r` just closed (expired or declined): when nothing of its group is left open or was
    /// used, the group ran out and waits for the episode's case manager. Returns whether it
    /// ran out (the caller then announces it after its own event).
    pub(super) fn ran_out(&mut self, r: &Referral) -> bool {
        let left = self.s.referrals.iter().any(|o| {
            o.group == r.group && (o.status.is_open() || o.status == ReferralStatus::Completed)
        });
        if left {
            return false;
        }
        self.s.escalation = Some(Escalation {
            group: r.group,
            to_level: r.to_level.clone(),
            since: self.now(),
            case_manager: self.s.episode.as_ref().and_then(|e| e.case_manager),
        });
        true
    }

    /// `referral.escalated` for the escalation [`Draft::ran_out`] opened: the record holder's
    /// only (it names a staff member, and the group's other providers are none of the
    /// receiving provider's business).
    pub(super) fn announce_escalation(&mut self) {
        if let Some(e) = self.s.escalation.clone() {
            self.emit(
                Some(e.to_level.clone()),
                None,
                EventData::ReferralEscalated {
                    group: e.group,
                    to_level: e.to_level,
                    case_manager: e.case_manager,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::*;
    use crate::command::*;
    use crate::error::DecisionError;
    use crate::event::*;
    use crate::state::*;
    use chrono::Duration;

    fn expire_all(f: &Fixture, s: &ClientState) -> crate::decide::Decision {
        let referral = s.referrals.last().unwrap().id;
        let fire = Command::FireTimer {
            timer: TimerKind::ReferralDeadline { referral },
        };
        f.run_at(f.now + Duration::hours(25), s, f.system(), fire)
    }

    #[test]
    fn the_admitting_case_manager_is_named_and_an_expired_group_escalates_to_them() {
        let f = Fixture::new();
        let s = f.referred();
        assert_eq!(s.episode.as_ref().unwrap().case_manager, Some(f.dana()));
        let d = expire_all(&f, &s);
        assert!(matches!(
            d.events[0].data,
            EventData::ReferralExpired { escalate: true, .. }
        ));
        assert!(matches!(
            d.events[1].data,
            EventData::ReferralEscalated { case_manager: Some(who), .. } if who == f.dana()
        ));
        assert_eq!(d.events[1].recipient_org, None, "the record holder's only");
        let e = d.state.escalation.as_ref().expect("escalated");
        assert_eq!(e.case_manager, Some(f.dana()));
        assert_eq!(e.to_level, level("residential"));
        // Sending the level on to the next provider is acting on it.
        let resend = Command::ResendReferral {
            group: e.group,
            providers: vec![f.residential2],
        };
        let d = f.run(&d.state, f.cm(), resend);
        assert_eq!(d.state.escalation, None);
    }

    #[test]
    fn the_organization_assigns_another_case_manager_and_escalations_follow() {
        let f = Fixture::new();
        let s = expire_all(&f, &f.referred()).state;
        let d = f.run(&s, f.cm(), Command::AssignCaseManager { staff: f.sam() });
        assert!(matches!(
            d.events[0].data,
            EventData::CaseManagerAssigned { staff, previous: Some(p), .. }
                if staff == f.sam() && p == f.dana()
        ));
        assert_eq!(
            d.state.episode.as_ref().unwrap().case_manager,
            Some(f.sam())
        );
        assert_eq!(
            d.state.escalation.as_ref().unwrap().case_manager,
            Some(f.sam())
        );
        // Nobody else's staff, nobody unknown, nobody twice.
        for staff in [f.outsider(), crate::ids::StaffId::new(), f.sam()] {
            assert!(matches!(
                f.refuse(&d.state, f.cm(), Command::AssignCaseManager { staff }),
                DecisionError::BadInput(_)
            ));
        }
        // A partner may not.
        assert!(matches!(
            f.refuse(
                &d.state,
                f.partner(f.residential),
                Command::AssignCaseManager { staff: f.dana() }
            ),
            DecisionError::Forbidden(_)
        ));
    }

    #[test]
    fn a_group_every_provider_declined_is_escalated_and_a_discharge_closes_it() {
        let f = Fixture::new();
        let s = f.referred();
        let referral = s.referrals.last().unwrap().id;
        let decline = Command::DeclineReferral {
            referral,
            reason: DeclineReason {
                code: DeclineCode::NoCapacity,
                note: None,
            },
        };
        let d = f.run(&s, f.partner(f.residential), decline);
        assert_eq!(
            d.events.iter().map(|e| e.event_type()).collect::<Vec<_>>(),
            ["referral.declined", "referral.escalated"]
        );
        assert_eq!(
            d.state.escalation.as_ref().map(|e| e.case_manager),
            Some(Some(f.dana()))
        );
        let d = f.run(
            &d.state,
            f.cm(),
            discharge(crate::pathway::DischargeKind::AgainstMedicalAdvice),
        );
        assert_eq!(d.state.escalation, None);
    }
}
