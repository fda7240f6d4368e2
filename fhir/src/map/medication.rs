//! `MedicationStatement` (FHIR R4 base resource): the client's plan of medication for opioid
//! use disorder, when the view shows the MAT plan. The medication as its RxNorm ingredient
//! (buprenorphine 1819, methadone 6813, naltrexone 7243 — oral or extended-release said in the
//! text), the supply in hand ("through D", or the last injection) as `dosage.text`.
//!
//! Named after the `mat.plan.recorded` event of the plan in force. `active` while the plan is
//! (a discharge does not end it: the medication goes on after care); a plan ended with nothing
//! recorded since is shown `completed`, as the events tell it.

use super::common::{self, text};
use super::{Kind, Mapped, Source, part2};
use carepath_engine::domain::{CareEvent, EventData, Medication};
use chrono::{DateTime, Utc};
use fhir::r4::coded::Coded;
use fhir::r4::codes::MedicationStatementStatus;
use fhir::r4::resources::medication_statement::{
    MedicationStatementEffective, MedicationStatementMedication,
};
use fhir::r4::resources::{MedicationStatement, Resource};
use fhir::r4::types::{CodeableConcept, Dosage};

pub const RXNORM: &str = "http://www.nlm.nih.gov/research/umls/rxnorm";

pub fn medication_statements(src: &Source) -> Vec<Mapped> {
    if !src.record.client.mat_plan.is_shown() {
        return Vec::new();
    }
    let history = &src.record.history;
    let Some((i, m)) = history
        .iter()
        .enumerate()
        .rev()
        .find_map(|(i, e)| match e.data {
            EventData::MatPlanRecorded { medication, .. } => Some((i, medication)),
            _ => None,
        })
    else {
        return Vec::new();
    };
    let ended = history[i..]
        .iter()
        .find(|e| matches!(e.data, EventData::MatPlanEnded));
    if ended.is_none() && plan(src).is_none() {
        // No plan in force and no end the events tell of: nothing to say.
        return Vec::new();
    }
    vec![statement(src, &history[i], m, ended)]
}

fn medication(m: Medication) -> CodeableConcept {
    let (code, ingredient, text) = match m {
        Medication::Buprenorphine => ("1819", "buprenorphine", "buprenorphine"),
        Medication::Methadone => ("6813", "methadone", "methadone"),
        Medication::NaltrexoneOral => ("7243", "naltrexone", "naltrexone (oral)"),
        Medication::NaltrexoneXr => (
            "7243",
            "naltrexone",
            "naltrexone (extended-release injection)",
        ),
    };
    CodeableConcept {
        text: Some(common::text(text)),
        ..common::concept(RXNORM, code, ingredient)
    }
}

/// The MAT plan in force, as the reader sees it.
fn plan<'a>(src: &'a Source<'a>) -> Option<&'a carepath_engine::domain::MatPlan> {
    src.record
        .client
        .mat_plan
        .shown()
        .and_then(Option::as_ref)
        .map(|p| &p.plan)
}

/// The supply in hand, in words.
fn supply(src: &Source) -> Option<String> {
    let plan = plan(src)?;
    match (plan.supply_through, plan.last_injection_on) {
        (Some(d), _) => Some(format!("Supply in hand through {}", d.format("%Y-%m-%d"))),
        (None, Some(d)) => Some(format!("Last injection on {}", d.format("%Y-%m-%d"))),
        (None, None) => None,
    }
}

fn statement(
    src: &Source,
    recorded: &CareEvent,
    m: Medication,
    ended: Option<&CareEvent>,
) -> Mapped {
    let s = &src.record.client;
    let since = recorded.at;
    let last_updated: DateTime<Utc> = match ended {
        Some(e) => e.at,
        None => common::last_touch(src, |d| {
            matches!(
                d,
                EventData::MatPlanRecorded { .. }
                    | EventData::MatDoseDispensed { .. }
                    | EventData::MatRefillPickedUp { .. }
            )
        })
        .map_or(since, |t| t.max(since)),
    };
    let (status, code) = match ended {
        None => (MedicationStatementStatus::Active, "active"),
        Some(_) => (MedicationStatementStatus::Completed, "completed"),
    };
    let resource = MedicationStatement {
        id: Some(text(recorded.id.to_string())),
        meta: Some(part2::meta(last_updated)),
        text: Some(part2::notice()),
        identifier: vec![common::uuid_identifier(recorded.id.0)],
        status: Coded::Known(status),
        medication: Some(MedicationStatementMedication::CodeableConcept(Box::new(
            medication(m),
        ))),
        subject: common::patient(s.id),
        effective: Some(MedicationStatementEffective::Period(Box::new(
            common::period(Some(since), ended.map(|e| e.at)),
        ))),
        date_asserted: Some(common::date_time(since)),
        information_source: Some(common::org(src, s.home_org)),
        dosage: supply(src)
            .filter(|_| ended.is_none())
            .map(|words| Dosage {
                text: Some(text(words)),
                ..Default::default()
            })
            .into_iter()
            .collect(),
        ..Default::default()
    };
    Mapped {
        kind: Kind::MedicationStatement,
        id: recorded.id.to_string(),
        last_updated,
        status: Some(code),
        performer: None,
        resource: Resource::MedicationStatement(Box::new(resource)),
    }
}
