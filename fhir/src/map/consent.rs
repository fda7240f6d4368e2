//! `Consent`: each 42 CFR Part 2 consent to disclose, as a FHIR R4 privacy consent labelled
//! the way the HL7 DS4P guide labels Part 2 data: scope `patient-privacy`, category LOINC
//! 59284-0, the Part 2 regulation as `policy` and `policyRule` (v3 ActCode `42CFRPart2`), and
//! one `permit` provision — the disclosure (`action` disclose) to each recipient organization
//! (`actor`, role IRCP information recipient), for the consent's purpose, of the information
//! it names (`code`, as text), from the day it was signed to its expiry, revocation or end.
//!
//! Status: `active` while in force at the time of the read, `inactive` once revoked, expired
//! or ended. Shown only in a view that shows the consents (the record holder's).

use super::common::{self, coding, text};
use super::{Kind, Mapped, Source, part2};
use carepath_engine::domain::{Consent, ConsentExpiry, EventData};
use chrono::{DateTime, Utc};
use fhir::r4::coded::Coded;
use fhir::r4::codes::{ConsentProvisionType, ConsentStateCodes};
use fhir::r4::resources::consent::{ConsentPolicy, ConsentProvision, ConsentProvisionActor};
use fhir::r4::resources::{Consent as FhirConsent, Resource};
use fhir::r4::types::{self, CodeableConcept, Coding, Uri};

const CONSENT_SCOPE: &str = "http://terminology.hl7.org/CodeSystem/consentscope";
const CONSENT_ACTION: &str = "http://terminology.hl7.org/CodeSystem/consentaction";
const PARTICIPATION_TYPE: &str = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";
const ACT_REASON: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
const LOINC: &str = "http://loinc.org";
/// 42 CFR Part 2 in the eCFR.
pub const PART2_URI: &str = "https://www.ecfr.gov/current/title-42/chapter-I/subchapter-A/part-2";

pub fn consents(src: &Source) -> Vec<Mapped> {
    src.record
        .client
        .consents
        .items()
        .iter()
        .map(|c| consent(src, &c.consent, c.in_force))
        .collect()
}

/// The purpose as a v3 ActReason code when it is one of the usual words, as text otherwise.
fn purpose(words: &str) -> Coding {
    let code = match words.trim().to_lowercase().as_str() {
        "treatment" => Some(("TREAT", "treatment")),
        "payment" => Some(("HPAYMT", "healthcare payment")),
        "operations" | "healthcare operations" | "health care operations" => {
            Some(("HOPERAT", "healthcare operations"))
        }
        "care coordination" | "coordination of care" => Some(("COC", "coordination of care")),
        _ => None,
    };
    match code {
        Some((code, display)) => coding(ACT_REASON, code, display),
        None => Coding {
            display: Some(text(words)),
            ..Default::default()
        },
    }
}

/// When a consent last changed: recorded, revoked, or ended by its episode's discharge.
fn last_updated(src: &Source, c: &Consent) -> DateTime<Utc> {
    let ended_by = |d: &EventData| match d {
        EventData::DischargeCompleted { episode, .. }
        | EventData::DischargeUnplanned { episode, .. } => {
            c.ends_at.is_some() && c.episode == Some(*episode)
        }
        _ => false,
    };
    let touches = |d: &EventData| match d {
        EventData::ConsentRecorded { consent, .. } | EventData::ConsentRevoked { consent } => {
            *consent == c.id
        }
        _ => ended_by(d),
    };
    common::last_touch(src, touches).map_or(c.recorded_at, |t| t.max(c.recorded_at))
}

/// When it stops being in force: revoked, its expiry day, or the end of its episode's
/// aftercare window — the earliest known.
fn end(c: &Consent) -> Option<DateTime<Utc>> {
    let expiry = match c.expiry {
        ConsentExpiry::On(day) => day.and_hms_opt(0, 0, 0).map(|t| t.and_utc()),
        ConsentExpiry::EndOfTreatment => c.ends_at,
        ConsentExpiry::Never => None,
    };
    [c.revoked_at, expiry].into_iter().flatten().min()
}

fn consent(src: &Source, c: &Consent, in_force: bool) -> Mapped {
    let s = &src.record.client;
    let (status, code) = if in_force {
        (ConsentStateCodes::Active, "active")
    } else {
        (ConsentStateCodes::Inactive, "inactive")
    };
    let last_updated = last_updated(src, c);
    let provision = ConsentProvision {
        r#type: Some(Coded::Known(ConsentProvisionType::Permit)),
        period: Some(types::Period {
            start: Some(types::DateTime(common::date(c.signed_on).0)),
            end: end(c).map(common::date_time),
            ..Default::default()
        }),
        actor: c
            .recipients
            .iter()
            .map(|&org| ConsentProvisionActor {
                role: common::concept(PARTICIPATION_TYPE, "IRCP", "information recipient"),
                reference: common::org(src, org),
                ..Default::default()
            })
            .collect(),
        action: vec![common::concept(CONSENT_ACTION, "disclose", "Disclose")],
        purpose: vec![purpose(&c.purpose)],
        code: vec![CodeableConcept {
            text: Some(text(c.information.clone())),
            ..Default::default()
        }],
        ..Default::default()
    };
    let category = vec1::vec1![common::concept(LOINC, "59284-0", "Patient Consent")];
    let scope = common::concept(CONSENT_SCOPE, "patient-privacy", "Privacy Consent");
    let built = FhirConsent::builder()
        .status(Coded::Known(status))
        .scope(scope)
        .category(category)
        .build();
    let mut resource = match built {
        Ok(r) => r,
        Err(e) => unreachable!("status, scope and category are set: {e}"),
    };
    resource.id = Some(text(c.id.to_string()));
    resource.meta = Some(part2::meta(last_updated));
    resource.text = Some(part2::notice());
    resource.identifier = vec![common::uuid_identifier(c.id.0)];
    resource.patient = Some(common::patient(s.id));
    resource.date_time = Some(types::DateTime(common::date(c.signed_on).0));
    resource.performer = vec![common::patient(s.id)];
    resource.organization = vec![common::org(src, s.home_org)];
    resource.policy = vec![ConsentPolicy {
        uri: Some(Uri(PART2_URI.to_owned())),
        ..Default::default()
    }];
    resource.policy_rule = Some(common::concept(
        part2::ACT_CODE,
        "42CFRPart2",
        "42 CFR Part2",
    ));
    resource.provision = Some(provision);
    Mapped {
        kind: Kind::Consent,
        id: c.id.to_string(),
        last_updated,
        status: Some(code),
        performer: None,
        resource: Resource::Consent(Box::new(resource)),
    }
}
