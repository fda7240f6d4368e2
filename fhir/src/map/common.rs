//! The small pieces every resource is made of: references, codings, times.

use super::{Kind, Source};
use carepath_engine::ids::{ClientId, OrgId};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use fhir::r4::types::{self, CodeableConcept, Coding, Identifier, Reference, Uri};

/// The system of the identifiers that carry the engine's own ids (`urn:uuid:…`).
pub const URN_IETF: &str = "urn:ietf:rfc:3986";
/// Carepath's own code systems (levels of care, reasons, kinds of booking).
pub const CAREPATH: &str = "https://carepath.example/fhir/CodeSystem";

pub fn text(s: impl Into<String>) -> types::String {
    types::String(s.into())
}

pub fn instant_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn date_time(t: DateTime<Utc>) -> types::DateTime {
    types::DateTime(instant_text(t))
}

pub fn date(d: NaiveDate) -> types::Date {
    types::Date(d.format("%Y-%m-%d").to_string())
}

pub fn coding(system: &str, code: &str, display: &str) -> Coding {
    Coding {
        system: Some(Uri(system.to_owned())),
        code: Some(types::Code(code.to_owned())),
        display: Some(text(display)),
        ..Default::default()
    }
}

pub fn concept(system: &str, code: &str, display: &str) -> CodeableConcept {
    CodeableConcept {
        coding: vec![coding(system, code, display)],
        text: Some(text(display)),
        ..Default::default()
    }
}

/// A code of one of Carepath's own code systems (`{CAREPATH}/{name}`).
pub fn carepath_concept(name: &str, code: &str, display: &str) -> CodeableConcept {
    concept(&format!("{CAREPATH}/{name}"), code, display)
}

/// The engine's id of a record as an identifier (`urn:uuid:…`), for systems that know the
/// record by its GraphQL or event id.
pub fn uuid_identifier(id: uuid::Uuid) -> Identifier {
    Identifier {
        system: Some(Uri(URN_IETF.to_owned())),
        value: Some(text(format!("urn:uuid:{id}"))),
        ..Default::default()
    }
}

pub fn reference<T>(
    kind: Kind,
    id: impl std::fmt::Display,
    display: Option<String>,
) -> Reference<T> {
    Reference {
        reference: Some(text(format!("{}/{id}", kind.as_str()))),
        display: display.map(text),
        ..Default::default()
    }
}

pub fn patient<T>(client: ClientId) -> Reference<T> {
    reference(Kind::Patient, client, None)
}

pub fn org<T>(src: &Source, org: OrgId) -> Reference<T> {
    reference(Kind::Organization, org, Some(src.org_name(org)))
}

/// A period between two instants, either end open.
pub fn period(start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> types::Period {
    types::Period {
        start: start.map(date_time),
        end: end.map(date_time),
        ..Default::default()
    }
}

/// A level of care as a concept of Carepath's `level-of-care` code system, named as the
/// pathway names it (its id when the pathway no longer has it).
pub fn level_concept(src: &Source, level: &carepath_engine::pathway::LevelId) -> CodeableConcept {
    let name = src
        .pathway
        .level(level)
        .map_or_else(|| level.to_string(), |l| l.name.clone());
    carepath_concept("level-of-care", level.as_str(), &name)
}

/// When the record the events `touches` picks out last changed: the time of the last such
/// event of the client's history.
pub fn last_touch(
    src: &Source,
    touches: impl Fn(&carepath_engine::domain::EventData) -> bool,
) -> Option<DateTime<Utc>> {
    src.record
        .history
        .iter()
        .rev()
        .find(|e| touches(&e.data))
        .map(|e| e.at)
}

/// SNOMED CT.
pub const SNOMED: &str = "http://snomed.info/sct";
