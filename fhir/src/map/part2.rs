//! Every resource is 42 CFR Part 2 data: `meta.security` says so — restricted confidentiality,
//! substance-use sensitivity, the Part 2 policy and its "no redisclosure without consent"
//! obligation (HL7 v3 ActCode / Confidentiality, as the DS4P guide labels) — and the record
//! carries the §2.32 notice as its human-readable label (`text`).

use super::common::coding;
use carepath_engine::domain::REDISCLOSURE_NOTICE;
use chrono::{DateTime, Utc};
use fhir::r4::coded::Coded;
use fhir::r4::codes::NarrativeStatus;
use fhir::r4::types::{Coding, Instant, Meta, Narrative, Xhtml};

pub const CONFIDENTIALITY: &str = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";
pub const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";

/// The security labels of every resource.
pub fn security() -> Vec<Coding> {
    vec![
        coding(CONFIDENTIALITY, "R", "restricted"),
        coding(ACT_CODE, "ETH", "substance abuse information sensitivity"),
        coding(ACT_CODE, "42CFRPart2", "42 CFR Part2"),
        coding(
            ACT_CODE,
            "NORDSCLCD",
            "no redisclosure without consent directive",
        ),
    ]
}

/// `meta` of a resource last changed at `last_updated`: its time and the Part 2 labels.
pub fn meta(last_updated: DateTime<Utc>) -> Meta {
    Meta {
        last_updated: Some(Instant(super::common::instant_text(last_updated))),
        security: security(),
        ..Default::default()
    }
}

/// The §2.32 notice, as the resource's narrative.
pub fn notice() -> Narrative {
    Narrative {
        status: Coded::Known(NarrativeStatus::Additional),
        div: Xhtml(format!(
            "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>{REDISCLOSURE_NOTICE}</p></div>"
        )),
        ..Default::default()
    }
}
