//! `GET /fhir/R4/metadata`: what this server reads and how to search it.

use crate::map::{Kind, common::instant_text, part2};
use crate::search;
use chrono::{DateTime, Utc};
use fhir::r4::coded::Coded;
use fhir::r4::codes::{
    CapabilityStatementKind, FhirVersion, PublicationStatus, RestfulCapabilityMode, SearchParamType,
};
use fhir::r4::resources::CapabilityStatement;
use fhir::r4::resources::capability_statement::{
    CapabilityStatementRest, CapabilityStatementRestResource,
    CapabilityStatementRestResourceInteraction, CapabilityStatementRestResourceOperation,
    CapabilityStatementRestResourceSearchParam, CapabilityStatementRestSecurity,
    CapabilityStatementSoftware,
};
use fhir::r4::types::{self, Canonical, Code, Markdown};

/// The Bulk Data Access IG's operations.
const BULK_EXPORT: &str = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export";
const BULK_GROUP_EXPORT: &str = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export";

fn operation(name: &str, definition: &str, doc: &str) -> CapabilityStatementRestResourceOperation {
    CapabilityStatementRestResourceOperation {
        name: types::String(name.to_owned()),
        definition: Canonical(definition.to_owned()),
        documentation: Some(Markdown(doc.to_owned())),
        ..Default::default()
    }
}

/// `Group/{id}/$export`: a Group is an organization's clients (id: the organization's).
fn group() -> CapabilityStatementRestResource {
    CapabilityStatementRestResource {
        r#type: serde_json::from_value(serde_json::json!("Group")).expect("an R4 resource type"),
        operation: vec![operation(
            "export",
            BULK_GROUP_EXPORT,
            "The clients whose records the organization with the Group's id holds: an admin's for \
             any organization, a case manager's or supervisor's for their own.",
        )],
        ..Default::default()
    }
}

fn param(name: &str) -> CapabilityStatementRestResourceSearchParam {
    let (kind, doc) = match name {
        "_id" => (
            SearchParamType::Token,
            "the resource's id; several, comma-separated",
        ),
        "_lastUpdated" => (
            SearchParamType::Date,
            "when the record last changed: a date or instant, prefixed eq, ge, gt, le or lt; repeat for a range",
        ),
        "patient" => (SearchParamType::Reference, "Patient/{id} (or the id)"),
        "status" => (
            SearchParamType::Token,
            "the resource's status code; several, comma-separated",
        ),
        _ => (
            SearchParamType::Reference,
            "Organization/{id}: the organization asked to act (performer, owner, provider)",
        ),
    };
    CapabilityStatementRestResourceSearchParam {
        name: types::String(name.to_owned()),
        r#type: Coded::Known(kind),
        documentation: Some(Markdown(doc.to_owned())),
        ..Default::default()
    }
}

pub fn statement(now: DateTime<Utc>) -> CapabilityStatement {
    let mut resources: Vec<CapabilityStatementRestResource> = Kind::ALL
        .iter()
        .map(|k| CapabilityStatementRestResource {
            r#type: serde_json::from_value(serde_json::json!(k.as_str()))
                .expect("every kind is an R4 resource type"),
            interaction: ["read", "search-type"]
                .into_iter()
                .map(|c| CapabilityStatementRestResourceInteraction {
                    code: Code(c.to_owned()),
                    ..Default::default()
                })
                .collect(),
            search_param: search::params(*k).iter().map(|p| param(p)).collect(),
            ..Default::default()
        })
        .collect();
    resources.push(group());
    CapabilityStatement::builder()
        .status(Coded::Known(PublicationStatus::Active))
        .date(types::DateTime(instant_text(now)))
        .publisher(types::String("Carepath".into()))
        .description(Markdown(
            "Carepath's care record — levels of care, referrals and their loop, handoffs, consents, \
             appointments, MAT plans — read as FHIR R4. Every client resource is 42 CFR Part 2 data \
             (see meta.security) and each read by another organization is recorded as a disclosure."
                .into(),
        ))
        .kind(Coded::Known(CapabilityStatementKind::Instance))
        .software(CapabilityStatementSoftware {
            name: types::String("Carepath".into()),
            version: Some(types::String(env!("CARGO_PKG_VERSION").into())),
            ..Default::default()
        })
        .fhir_version(Coded::Known(FhirVersion::N401))
        .format(vec1::vec1![Code("json".into()), Code("application/fhir+json".into())])
        .rest(vec![CapabilityStatementRest {
            mode: Coded::Known(RestfulCapabilityMode::Server),
            security: Some(CapabilityStatementRestSecurity {
                description: Some(Markdown(format!(
                    "Authorization: Bearer <API token>, as the GraphQL API. A partner provider or \
                     coordinator reads a client only under a consent naming its organization; \
                     anyone else is told it does not exist. Every client resource carries {} \
                     security labels and the 42 CFR 2.32 notice.",
                    part2::security().len()
                ))),
                ..Default::default()
            }),
            resource: resources,
            operation: vec![operation(
                "export",
                BULK_EXPORT,
                "Bulk Data export (Prefer: respond-async; _type, _since, _outputFormat \
                 application/fhir+ndjson): every client an admin may read, or a case manager's or \
                 supervisor's organization's clients, as NDJSON files for the organization that \
                 asked. Each read by another organization is recorded as a disclosure.",
            )],
            ..Default::default()
        }])
        .build()
        .expect("every required element is set")
}
