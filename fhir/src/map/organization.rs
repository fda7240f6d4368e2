//! `Organization`: a provider, a pharmacy, a hub — its name and the levels of care it offers.

use super::common::{CAREPATH, carepath_concept, text};
use super::{Kind, Mapped};
use carepath_engine::ids::OrgId;
use chrono::{DateTime, Utc};
use fhir::r4::resources::{Organization, Resource};
use fhir::r4::types::{Boolean, Identifier, Uri};

/// An organization of the directory; `levels`: the levels of care it offers (id, name).
/// Not client data: no Part 2 label.
pub fn organization(
    id: OrgId,
    name: &str,
    levels: &[(String, String)],
    as_of: DateTime<Utc>,
) -> Mapped {
    let resource = Organization {
        id: Some(text(id.to_string())),
        meta: Some(fhir::r4::types::Meta {
            last_updated: Some(fhir::r4::types::Instant(super::common::instant_text(as_of))),
            ..Default::default()
        }),
        identifier: vec![Identifier {
            system: Some(Uri(format!("{CAREPATH}/organization"))),
            value: Some(text(id.to_string())),
            ..Default::default()
        }],
        active: Some(Boolean(true)),
        r#type: levels
            .iter()
            .map(|(level, name)| carepath_concept("level-of-care", level, name))
            .collect(),
        name: Some(text(name)),
        ..Default::default()
    };
    Mapped {
        kind: Kind::Organization,
        id: id.to_string(),
        last_updated: as_of,
        status: None,
        performer: None,
        resource: Resource::Organization(Box::new(resource)),
    }
}
