//! Carepath's FHIR R4 read API (`/fhir/R4`): the care record — the client, its episodes and
//! level placements, referrals as BSeR ServiceRequests and Tasks, moves as Tasks, 42 CFR
//! Part 2 consents, appointments and MAT plans — as resources of the `fhir` model crate.
//! An adapter: it reads through the engine (`Engine::care_record`), under the same tokens and
//! the same read policy as GraphQL; it decides nothing.

mod capability;
mod error;
mod export;
mod http;
pub mod map;
mod search;

pub use error::FhirError;
pub use http::{BASE_PATH, FHIR_JSON, router};
