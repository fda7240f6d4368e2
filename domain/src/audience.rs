//! To whom an event goes beyond the organization holding the record (42 CFR Part 2): decided
//! when the event leaves — by the broker or to a live subscriber — from the client as it is
//! then, so a consent revoked after the commit stops what had not left yet.

use super::event::{CareEvent, EventData};
use super::policy::ClientPart;
use super::state::ClientState;
use super::view::part_of;
use crate::ids::{ConsentId, OrgId};
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

/// The parts of a record whose events an organization named in an active consent receives to
/// coordinate care (aftercare, MAT refills, follow-up): the client's moves, discharges and
/// follow-ups, the aftercare appointments and the MAT bookings. Which part an event tells of is
/// the view's (`view::part_of`), so events follow the same table as every door's reads.
pub const COORDINATION_PARTS: [ClientPart; 3] = [
    ClientPart::Handoff,
    ClientPart::Aftercare,
    ClientPart::MatBookings,
];

/// Whether an event goes to the organizations an active consent names.
pub fn is_coordination(event: &EventData) -> bool {
    COORDINATION_PARTS.contains(&part_of(event))
}

/// An organization other than the record holder that an event goes to, and the consent
/// that allows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recipient {
    pub org: OrgId,
    pub consent: ConsentId,
}

/// Whether the event might go to anyone but the record holder, before the client is read:
/// when not, [`audience`] is empty whatever the client's consents say.
pub fn may_leave(event: &CareEvent) -> bool {
    event.recipient_org.is_some() || is_coordination(&event.data)
}

/// The organizations besides `state.home_org` that `event` goes to at `now`, in a stable
/// order, each on a consent in force that names it (nothing goes anywhere else; a provider the
/// client was moved to on a medical emergency, 42 CFR 2.51, got what the emergency needed with
/// the move, and nothing more after it):
/// - the organization the event is addressed to;
/// - for a coordination event, the minimum necessary beyond it: the organizations that
///   coordinate care (`coordinating`: those offering no level of care — case management,
///   aftercare coordination, pharmacies) and the providers party to the client's moves now —
///   named in the event, the current placement, the planned handoff's receiving provider, and
///   the providers of appointments and MAT bookings still to come. A provider the client left
///   behind, or one only named in the consent, hears no more.
pub fn audience(
    event: &CareEvent,
    state: &ClientState,
    now: DateTime<Utc>,
    coordinating: &BTreeSet<OrgId>,
) -> Vec<Recipient> {
    let mut out: Vec<Recipient> = Vec::new();
    let mut add = |org: OrgId| {
        if org != state.home_org
            && !out.iter().any(|r| r.org == org)
            && let Some(c) = state.active_consent_for(org, now)
        {
            out.push(Recipient { org, consent: c.id });
        }
    };
    if let Some(org) = event.recipient_org {
        add(org);
    }
    if is_coordination(&event.data) {
        let parties = parties(event, state, now);
        for c in state
            .consents
            .iter()
            .filter(|c| state.consent_active(c, now))
        {
            for &org in &c.recipients {
                if coordinating.contains(&org) || parties.contains(&org) {
                    add(org);
                }
            }
        }
    }
    out
}

/// The providers party to the client's moves at `now`, as far as `event` and the client say.
fn parties(event: &CareEvent, state: &ClientState, now: DateTime<Utc>) -> BTreeSet<OrgId> {
    let mut p = BTreeSet::new();
    match &event.data {
        EventData::TransitionCompleted {
            from_provider,
            to_provider,
            ..
        }
        | EventData::HandoffStarted {
            from_provider,
            to_provider,
            ..
        } => {
            p.insert(*from_provider);
            p.insert(*to_provider);
        }
        EventData::DischargeCompleted {
            from_provider,
            to_provider,
            ..
        } => {
            p.insert(*from_provider);
            p.extend(*to_provider);
        }
        EventData::DischargeUnplanned { from_provider, .. } => {
            p.insert(*from_provider);
        }
        EventData::HandoffPlanned { target, .. } | EventData::HandoffReady { target, .. } => {
            p.extend(target.provider());
        }
        EventData::AftercareScheduled { provider, .. }
        | EventData::MatRefillScheduled { provider, .. }
        | EventData::FollowupMet { provider, .. }
        | EventData::AftercareAttended { provider, .. }
        | EventData::AftercareMissed { provider, .. }
        | EventData::AftercareCancelled { provider, .. }
        | EventData::AftercareRescheduled { provider, .. }
        | EventData::MatDoseDispensed { provider, .. }
        | EventData::MatRefillPickedUp { provider, .. }
        | EventData::MatVisitAttended { provider, .. }
        | EventData::MatBookingMissed { provider, .. }
        | EventData::MatBookingCancelled { provider, .. }
        | EventData::MatBookingRescheduled { provider, .. }
        | EventData::HandoffMissed { provider, .. }
        | EventData::TransferArrived { provider, .. } => {
            p.insert(*provider);
        }
        _ => {}
    }
    p.extend(state.placement.as_ref().map(|x| x.provider));
    p.extend(state.transit.as_ref().map(|t| t.provider));
    p.extend(state.transfer.as_ref().map(|t| t.provider));
    p.extend(state.handoff.as_ref().and_then(|h| h.target.provider()));
    let today = now.date_naive();
    p.extend(
        state
            .aftercare
            .iter()
            .filter(|a| a.at.date_naive() >= today)
            .map(|a| a.provider),
    );
    p.extend(
        state
            .mat_bookings
            .iter()
            .filter(|b| b.on >= today)
            .map(|b| b.provider),
    );
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventData;
    use crate::ids::{ClientId, EventId};
    use crate::pathway::{DischargeKind, LevelId};
    use crate::state::{ClientStatus, Consent, ConsentExpiry};
    use chrono::TimeZone;

    fn org(n: u128) -> OrgId {
        OrgId(uuid::Uuid::from_u128(n))
    }

    fn client(consents: Vec<Consent>) -> ClientState {
        let id = ClientId(uuid::Uuid::from_u128(99));
        ClientState {
            id,
            home_org: org(1),
            birth_year: None,
            version: 1,
            last_seq: 1,
            status: ClientStatus::Registered,
            episode: None,
            placement: None,
            consents,
            referrals: vec![],
            assessments: vec![],
            mat_plan: None,
            mat_bookings: vec![],
            aftercare: vec![],
            handoff: None,
            last_discharge: None,
            transit: None,
            lost_to_care: None,
            placements: Vec::new(),
            escalation: None,
            transfer: None,
            relayed_reports: Vec::new(),
            followups: Vec::new(),
        }
    }

    fn consent(n: u128, recipients: Vec<OrgId>, revoked: bool) -> Consent {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        Consent {
            id: ConsentId(uuid::Uuid::from_u128(n)),
            recipients,
            purpose: "treatment".into(),
            information: "placement and referrals".into(),
            signed_on: at.date_naive(),
            recorded_at: at,
            expiry: ConsentExpiry::Never,
            episode: None,
            ends_at: None,
            revoked_at: revoked.then_some(at),
        }
    }

    fn event(recipient: Option<OrgId>, data: EventData) -> CareEvent {
        CareEvent {
            id: EventId(uuid::Uuid::from_u128(7)),
            client: ClientId(uuid::Uuid::from_u128(99)),
            seq: 2,
            at: Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap(),
            level: None,
            actor_org: Some(org(1)),
            recipient_org: recipient,
            data,
        }
    }

    fn discharge() -> EventData {
        EventData::DischargePlanned {
            kind: DischargeKind::Planned,
            on: chrono::NaiveDate::from_ymd_opt(2026, 2, 3).unwrap(),
            from_level: LevelId("iop".into()),
        }
    }

    #[test]
    fn a_coordination_event_goes_to_the_consented_coordinators_once() {
        let s = client(vec![
            consent(10, vec![org(2), org(3)], false),
            consent(11, vec![org(3), org(1)], false),
            consent(12, vec![org(4)], true),
        ]);
        let now = Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap();
        // Organizations 2 and 3 coordinate care (no level of care); 4's consent was revoked.
        let coordinating = BTreeSet::from([org(2), org(3), org(4)]);
        let got = audience(&event(None, discharge()), &s, now, &coordinating);
        let orgs: Vec<_> = got.iter().map(|r| r.org).collect();
        assert_eq!(
            orgs,
            vec![org(2), org(3)],
            "the home org and revoked consents are out"
        );
        assert!(may_leave(&event(None, discharge())));
        // A provider only named in the consent, party to nothing, hears nothing.
        let only_two = BTreeSet::from([org(2)]);
        let got = audience(&event(None, discharge()), &s, now, &only_two);
        assert_eq!(got.iter().map(|r| r.org).collect::<Vec<_>>(), vec![org(2)]);
        // The provider a transition takes the client to is party to it.
        let moved = EventData::TransitionCompleted {
            kind: crate::pathway::TransitionKind::StepDown,
            from_level: LevelId("php".into()),
            to_level: LevelId("iop".into()),
            from_provider: org(9),
            to_provider: org(3),
            referral: None,
            overridden: vec![],
            reported_by: None,
        };
        let got = audience(&event(None, moved), &s, now, &BTreeSet::new());
        assert_eq!(got.iter().map(|r| r.org).collect::<Vec<_>>(), vec![org(3)]);
    }

    #[test]
    fn an_addressed_event_needs_a_consent_in_force() {
        let data = EventData::AssessmentRecorded {
            assessment: crate::ids::AssessmentId(uuid::Uuid::from_u128(5)),
            recommended_level: LevelId("iop".into()),
        };
        let now = Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap();
        let revoked = client(vec![consent(10, vec![org(2)], true)]);
        let all = BTreeSet::from([org(2), org(3)]);
        assert!(audience(&event(Some(org(2)), data.clone()), &revoked, now, &all).is_empty());
        let consented = client(vec![consent(10, vec![org(2), org(3)], false)]);
        let got = audience(&event(Some(org(2)), data.clone()), &consented, now, &all);
        assert_eq!(
            got,
            vec![Recipient {
                org: org(2),
                consent: ConsentId(uuid::Uuid::from_u128(10))
            }],
            "not a coordination event: only the addressee"
        );
        assert!(!may_leave(&event(None, data)));
    }
}
