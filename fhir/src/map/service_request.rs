//! `ServiceRequest`: one per referral the reader may see (the referrals of its `VisibleClient`), as the HL7
//! BSeR referral request — the level of care asked for (`code`), the client (`subject`), the
//! record holder asking (`requester`) and the provider asked (`performer`). Its `Task` (same
//! id, [`super::task`]) tracks where the referral stands.
//!
//! Status: `active` while the referral is open (sent, acknowledged, waitlisted, accepted,
//! under way), `completed` once the client arrived, `revoked` when it ended otherwise
//! (declined, withdrawn, expired, no-show).

use super::common::{self, SNOMED, level_concept, text};
use super::{Kind, Mapped, Source, part2};
use carepath_engine::domain::{EventData, Referral, ReferralStatus};
use chrono::{DateTime, Utc};
use fhir::r4::coded::Coded;
use fhir::r4::codes::{RequestIntent, RequestStatus};
use fhir::r4::resources::{Resource, ServiceRequest};

pub fn service_requests(src: &Source) -> Vec<Mapped> {
    let s = &src.record.client;
    s.referrals
        .items()
        .iter()
        .map(|r| service_request(src, r))
        .collect()
}

/// When a referral last changed: the last event naming it (sent, answered, used by a move,
/// the client arrived or not), or when it was sent.
pub(super) fn last_updated(src: &Source, r: &Referral) -> DateTime<Utc> {
    let touches = |d: &EventData| match d {
        EventData::ReferralSent { referral, .. }
        | EventData::ReferralAcknowledged { referral, .. }
        | EventData::ReferralAccepted { referral, .. }
        | EventData::ReferralWaitlisted { referral, .. }
        | EventData::ReferralDeclined { referral, .. }
        | EventData::ReferralWithdrawn { referral, .. }
        | EventData::ReferralExpired { referral, .. } => *referral == r.id,
        EventData::ClientAdmitted { referral, .. }
        | EventData::HandoffStarted { referral, .. }
        | EventData::HandoffMissed { referral, .. }
        | EventData::TransitionCompleted { referral, .. } => *referral == Some(r.id),
        _ => false,
    };
    common::last_touch(src, touches).map_or(r.sent_at, |t| t.max(r.sent_at))
}

fn service_request(src: &Source, r: &Referral) -> Mapped {
    let s = &src.record.client;
    let (status, code) = match r.status {
        st if st.is_open() => (RequestStatus::Active, "active"),
        ReferralStatus::Completed => (RequestStatus::Completed, "completed"),
        _ => (RequestStatus::Revoked, "revoked"),
    };
    let last_updated = last_updated(src, r);
    let resource = ServiceRequest {
        id: Some(text(r.id.to_string())),
        meta: Some(part2::meta(last_updated)),
        text: Some(part2::notice()),
        identifier: vec![common::uuid_identifier(r.id.0)],
        requisition: Some(common::uuid_identifier(r.group.0)),
        status: Coded::Known(status),
        intent: Coded::Known(RequestIntent::Order),
        category: vec![common::concept(
            SNOMED,
            "3457005",
            "Patient referral (procedure)",
        )],
        code: Some(level_concept(src, &r.to_level)),
        subject: common::patient(s.id),
        authored_on: Some(common::date_time(r.sent_at)),
        requester: Some(common::org(src, s.home_org)),
        performer: vec![common::org(src, r.provider)],
        ..Default::default()
    };
    Mapped {
        kind: Kind::ServiceRequest,
        id: r.id.to_string(),
        last_updated,
        status: Some(code),
        performer: Some(r.provider),
        resource: Resource::ServiceRequest(Box::new(resource)),
    }
}
