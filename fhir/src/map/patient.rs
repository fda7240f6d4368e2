//! `Patient`: the client. Its record number (as an identifier of the organization holding the
//! record) and display name only for that organization; for anyone else the id, whether in
//! care, and who holds the record.

use super::common::{self, CAREPATH, text};
use super::{Kind, Mapped, Source, part2};
use carepath_engine::domain::ClientStatus;
use fhir::r4::resources::{Patient, Resource};
use fhir::r4::types::{Boolean, Date, HumanName, Identifier, Uri};

pub fn patient(src: &Source) -> Mapped {
    let s = &src.record.client;
    let last_updated = src.record.history.last().map_or(src.now, |e| e.at);
    // The name and record number wherever the reader's view shows them (a partner or a
    // coordinator under a consent naming it, as on every other door).
    let identity = s.identity.shown().and_then(Option::as_ref);
    let resource = Patient {
        id: Some(text(s.id.to_string())),
        meta: Some(part2::meta(last_updated)),
        text: Some(part2::notice()),
        identifier: identity
            .and_then(|i| i.record_number.as_ref())
            .map(|n| Identifier {
                system: Some(Uri(format!("{CAREPATH}/record-number/{}", s.home_org))),
                value: Some(text(n.clone())),
                ..Default::default()
            })
            .into_iter()
            .collect(),
        active: Some(Boolean(s.status != ClientStatus::Discharged)),
        name: identity
            .map(|i| HumanName {
                text: Some(text(i.display_name.clone())),
                ..Default::default()
            })
            .into_iter()
            .collect(),
        birth_date: s
            .birth_year
            .shown()
            .copied()
            .flatten()
            .map(|y| Date(format!("{y:04}"))),
        managing_organization: Some(common::org(src, s.home_org)),
        ..Default::default()
    };
    Mapped {
        kind: Kind::Patient,
        id: s.id.to_string(),
        last_updated,
        status: None,
        performer: None,
        resource: Resource::Patient(Box::new(resource)),
    }
}
