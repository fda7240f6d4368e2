//! `Task`: the loop of each referral and of each move between levels, as HL7 BSeR (and Gravity
//! SDOHCC) track a referral — `status` plus a BSeR `businessStatus`
//! (`http://hl7.org/fhir/us/bser/CodeSystem/TaskBusinessStatusCS`), with Carepath's own
//! status beside it.
//!
//! A referral's Task has the referral's id (as its `ServiceRequest`, its `focus`), the
//! receiving provider as `owner`, the record holder as `requester`. docs/domain.md's mapping:
//! sent = `requested` (2.0); acknowledged = `received` (2.0); waitlisted = `received` (no
//! BSeR code: Carepath's `waitlisted`); accepted = `accepted` (3.0); under way = `in-progress`
//! (5.1.1 scheduled); declined = `rejected` (4.0) with the decline reason as `statusReason`;
//! withdrawn = `cancelled` (6.0, the reason as `statusReason`); expired = `failed` (no BSeR
//! code); arrived = `completed` (7.0); no-show = `failed` with 5.1.2 (unattended: the
//! referral did not get the client there, and nothing more will happen on it).
//!
//! A move's Task (shown when the view shows the handoff) has the id of the event that
//! started it — `handoff.started`, `transition.completed` for a move within one
//! organization, `discharge.completed` for a transfer out, the last `handoff.planned` for a
//! handoff only planned: `requested` while planned (`ready` once its gates are met),
//! `in-progress` on the way (5.1.1), `completed` on arrival (7.0), `failed` when the arrival
//! was missed (5.1.2), `cancelled` when the client was discharged or readmitted instead (6.0).
//! `owner`: the receiving provider.
//!
//! Who closed the loop: an arrival or a no-show reported by the receiving provider carries
//! the BSeR code (7.0, 5.1.2) and `performerType` `receiver`; one the sender relayed (a phone
//! call, recorded with who gave it) carries no BSeR code — the receiving side did not report
//! it — Carepath's `<status>_relayed` as its business status and `performerType` `relayed`.

use super::common::{self, CAREPATH, level_concept, text};
use super::{Kind, Mapped, Source, part2, service_request};
use carepath_engine::domain::{
    DeclineCode, EventData, HandoffTarget, Referral, ReferralStatus, ReportedBy, WithdrawReason,
};
use carepath_engine::ids::{EventId, OrgId, ReferralId};
use carepath_engine::pathway::{DischargeKind, LevelId};
use chrono::{DateTime, NaiveDate, Utc};
use fhir::r4::coded::Coded;
use fhir::r4::codes::{TaskIntent, TaskStatus};
use fhir::r4::resources::task::{TaskInput, TaskInputValue, TaskRestriction};
use fhir::r4::resources::{Resource, Task};
use fhir::r4::types::{self, CodeableConcept};

/// BSeR's Task business status code system.
pub const BSER: &str = "http://hl7.org/fhir/us/bser/CodeSystem/TaskBusinessStatusCS";
const TASK_CODE: &str = "http://hl7.org/fhir/CodeSystem/task-code";

const CREATED: (&str, &str) = ("2.0", "Service Request Created");
const ACCEPTED: (&str, &str) = ("3.0", "Service Request Accepted");
const DECLINED: (&str, &str) = ("4.0", "Service Request Declined");
const SCHEDULED: (&str, &str) = ("5.1.1", "Service Request Event Scheduled");
const UNATTENDED: (&str, &str) = ("5.1.2", "Scheduled Service Request Event Unattended");
const CANCELLED: (&str, &str) = ("6.0", "Service Request Fulfillment Cancelled");
const COMPLETED: (&str, &str) = ("7.0", "Service Request Fulfillment Completed");

pub fn tasks(src: &Source) -> Vec<Mapped> {
    let s = &src.record.client;
    let mut out: Vec<Mapped> = s
        .referrals
        .items()
        .iter()
        .map(|r| referral_task(src, r))
        .collect();
    if s.movement.is_shown() {
        out.extend(moves(src).iter().map(|m| move_task(src, m)));
    }
    out
}

/// A Task status, its code (the `status` search) and the BSeR business status, if one fits.
type Standing = (
    TaskStatus,
    &'static str,
    Option<(&'static str, &'static str)>,
);

fn referral_standing(status: ReferralStatus) -> Standing {
    use ReferralStatus::*;
    match status {
        Pending => (TaskStatus::Requested, "requested", Some(CREATED)),
        Acknowledged => (TaskStatus::Received, "received", Some(CREATED)),
        Waitlisted => (TaskStatus::Received, "received", None),
        Accepted => (TaskStatus::Accepted, "accepted", Some(ACCEPTED)),
        Scheduled => (TaskStatus::InProgress, "in-progress", Some(SCHEDULED)),
        Declined => (TaskStatus::Rejected, "rejected", Some(DECLINED)),
        Withdrawn => (TaskStatus::Cancelled, "cancelled", Some(CANCELLED)),
        Expired => (TaskStatus::Failed, "failed", None),
        Completed => (TaskStatus::Completed, "completed", Some(COMPLETED)),
        NoShow => (TaskStatus::Failed, "failed", Some(UNATTENDED)),
    }
}

/// The BSeR code, when there is one, and Carepath's own (`{CAREPATH}/{system}`).
fn business_status(
    bser: Option<(&str, &str)>,
    system: &str,
    code: &str,
    display: &str,
) -> CodeableConcept {
    let mut c = common::carepath_concept(system, code, display);
    if let Some((code, display)) = bser {
        c.coding.insert(0, common::coding(BSER, code, display));
    }
    c
}

/// Who reported what ended the Task (`performerType`).
fn reported_by(by: ReportedBy) -> CodeableConcept {
    let display = match by {
        ReportedBy::Receiver => "Reported by the receiving provider",
        ReportedBy::Relayed => {
            "Relayed by the referring side (not reported by the receiving provider)"
        }
    };
    common::carepath_concept("reported-by", by.as_str(), display)
}

/// A standing and its Carepath code as `by` reported it: relayed, without the BSeR code
/// (only the receiving side's report is BSeR's completion or no-show).
fn as_reported(
    bser: Option<(&'static str, &'static str)>,
    code: &str,
    by: Option<ReportedBy>,
) -> (Option<(&'static str, &'static str)>, String) {
    match by {
        Some(ReportedBy::Relayed) => (None, format!("{code}_relayed")),
        _ => (bser, code.to_owned()),
    }
}

fn decline_reason(code: DeclineCode) -> CodeableConcept {
    let (code, display) = match code {
        DeclineCode::NoCapacity => ("no_capacity", "No capacity"),
        DeclineCode::ClinicalCriteriaNotMet => {
            ("clinical_criteria_not_met", "Clinical criteria not met")
        }
        DeclineCode::InsuranceNotAccepted => ("insurance_not_accepted", "Insurance not accepted"),
        DeclineCode::ClientDeclined => ("client_declined", "Client declined"),
        DeclineCode::MedicalNeedsExceedProgram => (
            "medical_needs_exceed_program",
            "Medical needs exceed the program",
        ),
        DeclineCode::Other => ("other", "Other"),
    };
    common::carepath_concept("decline-reason", code, display)
}

fn withdraw_reason(reason: WithdrawReason) -> CodeableConcept {
    let (code, display) = match reason {
        WithdrawReason::CaseManager => ("case_manager", "Withdrawn by the case manager"),
        WithdrawReason::AnotherProviderAccepted => {
            ("another_provider_accepted", "Another provider accepted")
        }
        WithdrawReason::ConsentRevoked => ("consent_revoked", "Consent revoked"),
        WithdrawReason::ClientDischarged => ("client_discharged", "Client discharged"),
        WithdrawReason::ClientMoved => ("client_moved", "Client moved to the level elsewhere"),
    };
    common::carepath_concept("withdraw-reason", code, display)
}

fn referral_task(src: &Source, r: &Referral) -> Mapped {
    let s = &src.record.client;
    let (status, code, bser) = referral_standing(r.status);
    let closed_by = r
        .closed_by
        .filter(|_| matches!(r.status, ReferralStatus::Completed | ReferralStatus::NoShow));
    let (bser, business) = as_reported(bser, r.status.as_str(), closed_by);
    let last_updated = service_request::last_updated(src, r);
    let status_reason = match r.status {
        ReferralStatus::Declined => r.decline.as_ref().map(|d| decline_reason(d.code)),
        ReferralStatus::Withdrawn => r.withdraw_reason.map(withdraw_reason),
        _ => None,
    };
    let focus = || common::reference(Kind::ServiceRequest, r.id, None);
    let resource = Task {
        id: Some(text(r.id.to_string())),
        meta: Some(part2::meta(last_updated)),
        text: Some(part2::notice()),
        identifier: vec![common::uuid_identifier(r.id.0)],
        based_on: vec![focus()],
        group_identifier: Some(common::uuid_identifier(r.group.0)),
        status: Coded::Known(status),
        status_reason,
        business_status: Some(business_status(
            bser,
            "referral-status",
            &business,
            &business,
        )),
        performer_type: closed_by.map(reported_by).into_iter().collect(),
        intent: Coded::Known(TaskIntent::Order),
        code: Some(common::concept(
            TASK_CODE,
            "fulfill",
            "Fulfill the focal request",
        )),
        focus: Some(focus()),
        r#for: Some(common::patient(s.id)),
        authored_on: Some(common::date_time(r.sent_at)),
        last_modified: Some(common::date_time(last_updated)),
        requester: Some(common::org(src, s.home_org)),
        owner: Some(common::org(src, r.provider)),
        ..Default::default()
    };
    Mapped {
        kind: Kind::Task,
        id: r.id.to_string(),
        last_updated,
        status: Some(code),
        performer: Some(r.provider),
        resource: Resource::Task(Box::new(resource)),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Only planned: `ready` once its gates are met.
    Planned {
        ready: bool,
        on: NaiveDate,
    },
    OnTheWay,
    Arrived,
    Missed,
    /// Discharged in transit, or readmitted while a transfer out waited for its arrival.
    Abandoned,
}

/// A move between levels (or out), as the history tells it.
#[derive(Clone, Debug)]
struct Move {
    id: EventId,
    /// Carepath's `move-kind`: a transition kind, `transfer_out` or `discharge`.
    kind: &'static str,
    from_level: Option<LevelId>,
    to_level: Option<LevelId>,
    provider: Option<OrgId>,
    referral: Option<ReferralId>,
    started: DateTime<Utc>,
    arrive_by: Option<DateTime<Utc>>,
    ended: Option<DateTime<Utc>>,
    stage: Stage,
    /// Who reported the arrival or the miss (`None`: a deadline, or not reported).
    reported_by: Option<ReportedBy>,
    last_updated: DateTime<Utc>,
}

impl Move {
    fn open(&self) -> bool {
        matches!(self.stage, Stage::OnTheWay | Stage::Missed)
    }
}

/// Every move of the client, in order, and the handoff planned now (if any) last.
fn moves(src: &Source) -> Vec<Move> {
    let mut out: Vec<Move> = Vec::new();
    for e in &src.record.history {
        let end = |out: &mut Vec<Move>,
                   pick: &dyn Fn(&Move) -> bool,
                   stage: Stage,
                   by: Option<ReportedBy>| {
            if let Some(m) = out.iter_mut().rev().find(|m| pick(m)) {
                m.stage = stage;
                m.reported_by = by;
                m.last_updated = e.at;
                if stage != Stage::Missed {
                    m.ended = Some(e.at);
                }
            }
        };
        match &e.data {
            EventData::HandoffStarted {
                kind,
                from_level,
                to_level,
                to_provider,
                referral,
                arrive_by,
                ..
            } => out.push(Move {
                id: e.id,
                kind: kind.as_str(),
                from_level: Some(from_level.clone()),
                to_level: Some(to_level.clone()),
                provider: Some(*to_provider),
                referral: *referral,
                started: e.at,
                arrive_by: Some(*arrive_by),
                ended: None,
                stage: Stage::OnTheWay,
                reported_by: None,
                last_updated: e.at,
            }),
            EventData::TransitionCompleted {
                kind,
                from_level,
                to_level,
                to_provider,
                referral,
                reported_by: by,
                ..
            } => {
                let on_the_way = |m: &Move| {
                    m.open()
                        && m.provider == Some(*to_provider)
                        && m.to_level.as_ref() == Some(to_level)
                };
                if out.iter().any(on_the_way) {
                    end(&mut out, &on_the_way, Stage::Arrived, *by);
                } else {
                    // A move within one organization: started and completed at once.
                    out.push(Move {
                        id: e.id,
                        kind: kind.as_str(),
                        from_level: Some(from_level.clone()),
                        to_level: Some(to_level.clone()),
                        provider: Some(*to_provider),
                        referral: *referral,
                        started: e.at,
                        arrive_by: None,
                        ended: Some(e.at),
                        stage: Stage::Arrived,
                        reported_by: None,
                        last_updated: e.at,
                    });
                }
            }
            EventData::HandoffMissed {
                provider,
                reported_by: by,
                ..
            } => end(
                &mut out,
                &|m| m.stage == Stage::OnTheWay && m.provider == Some(*provider),
                Stage::Missed,
                *by,
            ),
            EventData::TransferArrived {
                provider,
                reported_by: by,
                ..
            } => end(
                &mut out,
                &|m| m.open() && m.kind == "transfer_out" && m.provider == Some(*provider),
                Stage::Arrived,
                *by,
            ),
            EventData::DischargeCompleted {
                kind,
                from_level,
                to_provider,
                ..
            } => {
                end(
                    &mut out,
                    &|m| m.stage == Stage::OnTheWay,
                    Stage::Abandoned,
                    None,
                );
                if let (DischargeKind::TransferOut, Some(p)) = (kind, to_provider) {
                    out.push(Move {
                        id: e.id,
                        kind: "transfer_out",
                        from_level: Some(from_level.clone()),
                        to_level: None,
                        provider: Some(*p),
                        referral: None,
                        started: e.at,
                        arrive_by: None,
                        ended: None,
                        stage: Stage::OnTheWay,
                        reported_by: None,
                        last_updated: e.at,
                    });
                }
            }
            EventData::DischargeUnplanned { .. } => {
                end(
                    &mut out,
                    &|m| m.stage == Stage::OnTheWay,
                    Stage::Abandoned,
                    None,
                );
            }
            EventData::ClientAdmitted { .. } => end(
                &mut out,
                &|m| m.stage == Stage::OnTheWay && m.kind == "transfer_out",
                Stage::Abandoned,
                None,
            ),
            _ => {}
        }
    }
    // The deadline of a transfer out still awaited is in the state only.
    if let Some(t) = &src.record.client.transfer
        && let Some(m) = out
            .iter_mut()
            .rev()
            .find(|m| m.kind == "transfer_out" && m.provider == Some(t.provider))
    {
        m.arrive_by = Some(t.arrive_by);
    }
    out.extend(planned(src));
    out
}

/// The handoff planned now: named after the last `handoff.planned` event (the plan in force).
fn planned(src: &Source) -> Option<Move> {
    let s = &src.record.client;
    let plan = s.movement.shown()?.handoff.as_ref()?;
    let event = src
        .record
        .history
        .iter()
        .rev()
        .find(|e| matches!(e.data, EventData::HandoffPlanned { .. }))?;
    let (kind, to_level) = match &plan.target {
        HandoffTarget::Transition { kind, to_level, .. } => (kind.as_str(), Some(to_level.clone())),
        HandoffTarget::Discharge {
            kind: DischargeKind::TransferOut,
            ..
        } => ("transfer_out", None),
        HandoffTarget::Discharge { .. } => ("discharge", None),
    };
    let last_updated = common::last_touch(src, |d| {
        matches!(
            d,
            EventData::HandoffPlanned { .. } | EventData::HandoffReady { .. }
        )
    })
    .unwrap_or(event.at);
    Some(Move {
        id: event.id,
        kind,
        from_level: s.level().cloned(),
        to_level,
        provider: plan.target.provider(),
        referral: None,
        started: event.at,
        arrive_by: None,
        ended: None,
        stage: Stage::Planned {
            ready: plan.ready,
            on: plan.on,
        },
        reported_by: None,
        last_updated: last_updated.max(event.at),
    })
}

fn move_display(kind: &str) -> &'static str {
    match kind {
        "step_down" => "Step down to a lower level of care",
        "step_up" => "Step up to a higher level of care",
        "lateral" => "Lateral move (another provider or track)",
        "readmission" => "Readmission",
        "transfer_out" => "Transfer out",
        _ => "Discharge",
    }
}

fn move_standing(stage: Stage) -> Standing {
    match stage {
        Stage::Planned { ready: true, .. } => (TaskStatus::Ready, "ready", Some(CREATED)),
        Stage::Planned { ready: false, .. } => (TaskStatus::Requested, "requested", Some(CREATED)),
        Stage::OnTheWay => (TaskStatus::InProgress, "in-progress", Some(SCHEDULED)),
        Stage::Arrived => (TaskStatus::Completed, "completed", Some(COMPLETED)),
        Stage::Missed => (TaskStatus::Failed, "failed", Some(UNATTENDED)),
        Stage::Abandoned => (TaskStatus::Cancelled, "cancelled", Some(CANCELLED)),
    }
}

fn stage_code(stage: Stage) -> &'static str {
    match stage {
        Stage::Planned { ready: true, .. } => "ready",
        Stage::Planned { ready: false, .. } => "planned",
        Stage::OnTheWay => "in_transit",
        Stage::Arrived => "arrived",
        Stage::Missed => "missed",
        Stage::Abandoned => "abandoned",
    }
}

fn level_input(src: &Source, name: &str, level: &LevelId) -> TaskInput {
    TaskInput {
        r#type: common::carepath_concept("task-input", name, name),
        value: Some(TaskInputValue::CodeableConcept(Box::new(level_concept(
            src, level,
        )))),
        ..Default::default()
    }
}

fn move_task(src: &Source, m: &Move) -> Mapped {
    let s = &src.record.client;
    let (status, code, bser) = move_standing(m.stage);
    // The referral the move used, when the reader may see it.
    let referral = m
        .referral
        .filter(|id| s.referrals.items().iter().any(|r| r.id == *id))
        .map(|id| common::reference(Kind::ServiceRequest, id, None));
    let restriction = match m.stage {
        Stage::Planned { on, .. } => Some(types::Period {
            start: Some(types::DateTime(common::date(on).0)),
            ..Default::default()
        }),
        _ => m.arrive_by.map(|t| common::period(None, Some(t))),
    }
    .map(|period| TaskRestriction {
        period: Some(period),
        ..Default::default()
    });
    let execution_period = match m.stage {
        Stage::Planned { .. } => None,
        _ => Some(common::period(Some(m.started), m.ended)),
    };
    let (bser, stage) = as_reported(bser, stage_code(m.stage), m.reported_by);
    let resource = Task {
        id: Some(text(m.id.to_string())),
        meta: Some(part2::meta(m.last_updated)),
        text: Some(part2::notice()),
        identifier: vec![common::uuid_identifier(m.id.0)],
        based_on: referral.iter().cloned().collect(),
        status: Coded::Known(status),
        business_status: Some(business_status(bser, "move-status", &stage, &stage)),
        performer_type: m.reported_by.map(reported_by).into_iter().collect(),
        intent: Coded::Known(TaskIntent::Order),
        code: Some(common::concept(
            &format!("{CAREPATH}/move-kind"),
            m.kind,
            move_display(m.kind),
        )),
        focus: referral,
        r#for: Some(common::patient(s.id)),
        execution_period,
        authored_on: Some(common::date_time(m.started)),
        last_modified: Some(common::date_time(m.last_updated)),
        requester: Some(common::org(src, s.home_org)),
        owner: m.provider.map(|p| common::org(src, p)),
        restriction,
        input: m
            .from_level
            .iter()
            .map(|l| level_input(src, "from-level", l))
            .chain(m.to_level.iter().map(|l| level_input(src, "to-level", l)))
            .collect(),
        ..Default::default()
    };
    Mapped {
        kind: Kind::Task,
        id: m.id.to_string(),
        last_updated: m.last_updated,
        status: Some(code),
        performer: m.provider,
        resource: Resource::Task(Box::new(resource)),
    }
}
