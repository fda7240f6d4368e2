//! The care record as FHIR R4 resources: one pure mapping from what the engine read (a
//! client as its reader may see it) to the resources, each marked as 42 CFR Part 2 data.
//! What a reader may see is decided before, in the domain: the engine hands over a
//! `VisibleClient` and the events its reader may see, and a part it withholds makes no
//! resource.
//!
//! Ids are the engine's: a client's id for its `Patient`, and for everything else the id of
//! the record (episode, referral, consent, booking, MAT plan, move), which is the id of the
//! event that created it — so `GET /Consent/{id}` finds its client through that event.

mod appointment;
pub mod common;
mod consent;
mod episode;
mod medication;
mod organization;
pub mod part2;
mod patient;
mod service_request;
mod task;

use carepath_engine::CareRecord;
use carepath_engine::domain::Actor;
use carepath_engine::ids::OrgId;
use carepath_engine::pathway::Pathway;
use chrono::{DateTime, Utc};
use fhir::r4::resources::Resource;
use std::collections::HashMap;

pub use organization::organization;

/// The resource types this server reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Patient,
    EpisodeOfCare,
    ServiceRequest,
    Task,
    Consent,
    Appointment,
    MedicationStatement,
    Organization,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Patient,
        Kind::EpisodeOfCare,
        Kind::ServiceRequest,
        Kind::Task,
        Kind::Consent,
        Kind::Appointment,
        Kind::MedicationStatement,
        Kind::Organization,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Patient => "Patient",
            Kind::EpisodeOfCare => "EpisodeOfCare",
            Kind::ServiceRequest => "ServiceRequest",
            Kind::Task => "Task",
            Kind::Consent => "Consent",
            Kind::Appointment => "Appointment",
            Kind::MedicationStatement => "MedicationStatement",
            Kind::Organization => "Organization",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The client's own resource types (every one but `Organization`).
    pub fn of_a_client(self) -> bool {
        self != Kind::Organization
    }
}

/// What the mapping reads: a client's care record as one reader may see it, and the names
/// of the organizations it mentions.
pub struct Source<'a> {
    pub record: &'a CareRecord,
    pub actor: &'a Actor,
    pub orgs: &'a HashMap<OrgId, String>,
    pub pathway: &'a Pathway,
    pub now: DateTime<Utc>,
}

impl Source<'_> {
    /// The name of an organization, or its id when it has none on record.
    pub fn org_name(&self, org: OrgId) -> String {
        self.orgs
            .get(&org)
            .cloned()
            .unwrap_or_else(|| org.to_string())
    }
}

/// One resource, with what searches match on.
#[derive(Clone, Debug)]
pub struct Mapped {
    pub kind: Kind,
    pub id: String,
    /// `meta.lastUpdated`: when the record last changed (the `_lastUpdated` search).
    pub last_updated: DateTime<Utc>,
    /// The resource's `status` code (the `status` search), when it has one.
    pub status: Option<&'static str>,
    /// The organization asked to act — a ServiceRequest's or Task's performer or owner, an
    /// Appointment's provider (the `performer` search).
    pub performer: Option<OrgId>,
    pub resource: Resource,
}

/// Every resource of one client its reader may see of the `kinds` asked for (only those are
/// made), in the order of [`Kind::ALL`]: the `Patient` first.
pub fn client_resources(src: &Source, kinds: &[Kind]) -> Vec<Mapped> {
    let mut out = Vec::new();
    for kind in Kind::ALL.into_iter().filter(|k| kinds.contains(k)) {
        match kind {
            Kind::Patient => out.push(patient::patient(src)),
            Kind::EpisodeOfCare => out.extend(episode::episodes(src)),
            Kind::ServiceRequest => out.extend(service_request::service_requests(src)),
            Kind::Task => out.extend(task::tasks(src)),
            Kind::Consent => out.extend(consent::consents(src)),
            Kind::Appointment => out.extend(appointment::appointments(src)),
            Kind::MedicationStatement => out.extend(medication::medication_statements(src)),
            Kind::Organization => {}
        }
    }
    out
}

/// The organizations a client's resources refer to (to read their names in one go).
pub fn orgs_of(record: &CareRecord) -> Vec<OrgId> {
    let s = &record.client;
    let mut out = vec![s.home_org];
    out.extend(s.placement.as_ref().map(|p| p.provider));
    out.extend(
        s.history
            .shown()
            .into_iter()
            .flat_map(|h| h.placements.iter().map(|p| p.provider)),
    );
    out.extend(s.referrals.items().iter().map(|r| r.provider));
    out.extend(
        s.consents
            .items()
            .iter()
            .flat_map(|c| c.consent.recipients.iter().copied()),
    );
    out.extend(s.aftercare.items().iter().map(|a| a.provider));
    out.extend(s.mat_bookings.items().iter().map(|b| b.provider));
    out.extend(s.transit.as_ref().map(|t| t.provider));
    out.extend(s.transfer.as_ref().map(|t| t.provider));
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests;
