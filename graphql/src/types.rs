//! GraphQL output types and enums: views over engine data, nothing decided here.

use crate::context::{actor, engine};
use crate::error::OrGraphql;
use crate::error::{FORBIDDEN, coded};
use crate::loaders::{MatServicesOf, Orgs};
use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Enum, Json, Object, Result, SimpleObject};
use carepath_engine::domain::{self as d, VisibleClient};
use carepath_engine::ids::*;
use carepath_engine::pathway;
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

macro_rules! remote_enum {
    ($(#[$doc:meta])* $name:ident = $remote:literal { $($variant:ident),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
        #[graphql(remote = $remote)]
        pub enum $name { $($variant),* }
    };
}

remote_enum!(
    /// A gate a move can require.
    Gate = "carepath_engine::pathway::Gate" { AcceptedReferral, Consent, AftercareAppointment, MatContinuity, Reassessment }
);
remote_enum!(
    /// A move between levels while in care.
    TransitionKind = "carepath_engine::pathway::TransitionKind" { StepDown, StepUp, Lateral, Readmission }
);
remote_enum!(
    DischargeKind = "carepath_engine::pathway::DischargeKind" { Planned, AgainstMedicalAdvice, Administrative, TransferOut }
);
remote_enum!(
    /// Where a referral stands, after HL7 BSeR / Gravity SDOHCC: sent (`PENDING`), received
    /// (`ACKNOWLEDGED`), `WAITLISTED`, `ACCEPTED` (a slot held), `SCHEDULED` (the client on
    /// the way), `COMPLETED` (arrived), `NO_SHOW`, `DECLINED`, `WITHDRAWN`, `EXPIRED`.
    ReferralStatus = "carepath_engine::domain::ReferralStatus" { Pending, Acknowledged, Waitlisted, Accepted, Scheduled, Declined, Withdrawn, Expired, Completed, NoShow }
);
remote_enum!(
    /// Why a provider declined (105 CMR 164.070 denial log).
    DeclineCode = "carepath_engine::domain::DeclineCode" { NoCapacity, ClinicalCriteriaNotMet, InsuranceNotAccepted, ClientDeclined, MedicalNeedsExceedProgram, Other }
);
remote_enum!(
    WithdrawReason = "carepath_engine::domain::WithdrawReason" { CaseManager, AnotherProviderAccepted, ConsentRevoked, ClientDischarged, ClientMoved }
);
remote_enum!(
    Medication = "carepath_engine::domain::Medication" { Buprenorphine, Methadone, NaltrexoneOral, NaltrexoneXr }
);
remote_enum!(
    MatBookingKind = "carepath_engine::domain::MatBookingKind" { Refill, PrescriberVisit, OtpDosing, Injection }
);
remote_enum!(
    /// A MAT service an organization provides: what decides which MAT bookings it can take
    /// (OTP dosing at an `OTP`; a refill at a `PHARMACY` or a `PRESCRIBER`; a prescriber
    /// visit at a `PRESCRIBER`; an extended-release naltrexone injection where `INJECTION`).
    MatService = "carepath_engine::domain::MatService" { Otp, Prescriber, Pharmacy, Injection }
);
remote_enum!(
    AftercareKind = "carepath_engine::domain::AftercareKind" { Outpatient, Prescriber, Counseling, PeerRecovery, PrimaryCare }
);
remote_enum!(
    ClientStatus = "carepath_engine::domain::ClientStatus" { Registered, Active, InTransit, Discharged }
);
remote_enum!(
    /// What became of a booking.
    Attendance = "carepath_engine::domain::Attendance" { Attended, NoShow, Cancelled }
);
remote_enum!(
    /// Who reported an arrival, a no-show or what became of a booking: the side that saw it
    /// (`RECEIVER`), or the sender recording its report given by other means (`RELAYED`).
    ReportedBy = "carepath_engine::domain::ReportedBy" { Receiver, Relayed }
);
remote_enum!(
    /// Why a client is counted lost to care.
    LostReason = "carepath_engine::domain::LostReason" { MissedArrival, MissedAppointment, MatSupplyLapsed }
);

/// The level of care a move leads to, when it is a transition; a discharge otherwise.
#[derive(SimpleObject, Clone)]
pub struct Move {
    /// `ADMISSION`, a transition kind, or `DISCHARGE`.
    pub category: String,
    pub transition_kind: Option<TransitionKind>,
    pub discharge_kind: Option<DischargeKind>,
    pub to_level: Option<String>,
}

impl From<&pathway::AllowedMove> for Move {
    fn from(m: &pathway::AllowedMove) -> Self {
        match m {
            pathway::AllowedMove::Admission { to } => Move {
                category: "ADMISSION".into(),
                transition_kind: None,
                discharge_kind: None,
                to_level: Some(to.to_string()),
            },
            pathway::AllowedMove::Transition { kind, to } => Move {
                category: "TRANSITION".into(),
                transition_kind: Some((*kind).into()),
                discharge_kind: None,
                to_level: Some(to.to_string()),
            },
            pathway::AllowedMove::Discharge { kind } => Move {
                category: "DISCHARGE".into(),
                transition_kind: None,
                discharge_kind: Some((*kind).into()),
                to_level: None,
            },
        }
    }
}

/// An organization: a provider, a program, a pharmacy, an OTP.
#[derive(Clone)]
pub struct Organization(pub OrgId);

#[Object]
impl Organization {
    async fn id(&self) -> Uuid {
        self.0.0
    }
    async fn name(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let loader = ctx.data_unchecked::<DataLoader<Orgs>>();
        Ok(loader.load_one(self.0).await?)
    }
    /// Its time zone, an IANA name (`America/New_York`): its people see times in it on the
    /// console. `UTC` when none was set.
    async fn time_zone(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(engine(ctx)
            .org_time_zone(self.0)
            .await
            .gql()?
            .name()
            .to_owned())
    }
    /// The MAT services it provides: which MAT bookings it can take.
    async fn mat_services(&self, ctx: &Context<'_>) -> Result<Vec<MatService>> {
        let loader = ctx.data_unchecked::<DataLoader<Orgs>>();
        Ok(loader
            .load_one(MatServicesOf(self.0))
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect())
    }
}

/// A staff member of the caller's organization (a case manager, a supervisor, a
/// coordinator): the person behind one or more tokens.
#[derive(Clone)]
pub struct StaffMember(pub StaffId);

#[Object]
impl StaffMember {
    async fn id(&self) -> Uuid {
        self.0.0
    }
    /// How their colleagues know them: a person's name, or a service account's (its token's
    /// label); `null` when they are not of the caller's organization, or no longer active.
    async fn name(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let rows = engine(ctx)
            .staff_members(actor(ctx)?, &[self.0])
            .await
            .gql()?;
        Ok(rows.into_iter().next().and_then(|r| r.name))
    }
}

/// How the organization recognises a client.
#[derive(SimpleObject, Clone)]
pub struct ClientIdentity {
    pub display_name: String,
    /// The organization's own record number (MRN or external id).
    pub record_number: Option<String>,
}

/// The caller.
#[derive(SimpleObject, Clone)]
pub struct Me {
    pub organization: Organization,
    /// admin, case_manager, supervisor, partner or aftercare_coordinator.
    pub role: String,
    /// The person the token was issued to.
    pub staff: Option<StaffMember>,
}

/// A referral group that ran out, for the episode's case manager to act on.
#[derive(SimpleObject, Clone)]
pub struct Escalation {
    pub group_id: Uuid,
    pub to_level: String,
    pub since: DateTime<Utc>,
    /// Whom it went to: the episode's case manager (`null`: none is named).
    pub case_manager: Option<StaffMember>,
}

#[derive(SimpleObject, Clone)]
pub struct HoursBand {
    pub min: f32,
    pub max: f32,
}

#[derive(SimpleObject, Clone)]
pub struct Level {
    pub id: String,
    pub name: String,
    pub asam3: Vec<String>,
    pub asam4: Vec<String>,
    pub weekly_hours: HoursBand,
    pub review_interval_days: u32,
    pub aliases: Vec<String>,
    /// Hours a provider has to answer a referral to this level.
    pub referral_answer_hours: u32,
    /// Hours an accepted referral holds a slot before the handoff starts.
    pub hold_hours: u32,
    /// Days a client moving to this level has to arrive.
    pub arrival_days: u32,
    /// Whether leaving this level starts the follow-up checks (HEDIS FUI).
    pub followup_on_exit: bool,
    /// Whether its programs have medical personnel on hand (withdrawal management, ASAM 3.7
    /// and 4): the levels a declared medical emergency (42 CFR 2.51) may move a client to.
    pub medical_personnel: bool,
}

#[derive(SimpleObject, Clone)]
pub struct TransitionRule {
    pub kind: TransitionKind,
    /// `null` for a readmission (from a discharged client).
    pub from: Option<String>,
    pub to: Vec<String>,
    pub gates: Vec<Gate>,
}

#[derive(SimpleObject, Clone)]
pub struct DischargeRule {
    pub kind: DischargeKind,
    pub from: Vec<String>,
    pub gates: Vec<Gate>,
}

#[derive(SimpleObject, Clone)]
pub struct Pathway {
    pub id: String,
    pub name: String,
    pub version: u32,
    pub levels: Vec<Level>,
    pub admission_levels: Vec<String>,
    pub transitions: Vec<TransitionRule>,
    pub discharges: Vec<DischargeRule>,
    pub referral_answer_hours: u32,
    pub aftercare_window_days: u32,
    pub reassessment_max_age_days: u32,
}

impl From<&pathway::Pathway> for Pathway {
    fn from(p: &pathway::Pathway) -> Self {
        let gates = |g: &[pathway::Gate]| g.iter().map(|g| (*g).into()).collect();
        Pathway {
            id: p.id.clone(),
            name: p.name.clone(),
            version: p.version,
            levels: p
                .levels
                .iter()
                .map(|l| Level {
                    id: l.id.to_string(),
                    name: l.name.clone(),
                    asam3: l.asam3.clone(),
                    asam4: l.asam4.clone(),
                    weekly_hours: HoursBand {
                        min: l.weekly_hours.min,
                        max: l.weekly_hours.max,
                    },
                    review_interval_days: l.review_interval_days,
                    aliases: l.aliases.clone(),
                    referral_answer_hours: l.referral_answer_hours,
                    hold_hours: l.hold_hours,
                    arrival_days: l.arrival_days,
                    followup_on_exit: l.followup_on_exit,
                    medical_personnel: l.medical_personnel,
                })
                .collect(),
            admission_levels: p.admission_levels.iter().map(ToString::to_string).collect(),
            transitions: p
                .transitions
                .iter()
                .map(|t| TransitionRule {
                    kind: t.kind.into(),
                    from: t.from.as_ref().map(ToString::to_string),
                    to: t.to.iter().map(ToString::to_string).collect(),
                    gates: gates(&t.gates),
                })
                .collect(),
            discharges: p
                .discharges
                .iter()
                .map(|d| DischargeRule {
                    kind: d.kind.into(),
                    from: d.from.iter().map(ToString::to_string).collect(),
                    gates: gates(&d.gates),
                })
                .collect(),
            referral_answer_hours: p.settings.referral_answer_hours,
            aftercare_window_days: p.settings.aftercare_window_days,
            reassessment_max_age_days: p.settings.reassessment_max_age_days,
        }
    }
}

/// A referral to one provider.
#[derive(Clone)]
pub struct Referral {
    pub r: d::Referral,
    /// `None` when withheld from the reader (see `clientId`).
    pub client: Option<ClientId>,
    pub to_level: Option<carepath_engine::pathway::LevelId>,
}

impl From<carepath_engine::ReferralRead> for Referral {
    fn from(r: carepath_engine::ReferralRead) -> Self {
        Referral {
            r: r.referral,
            client: r.client,
            to_level: r.to_level,
        }
    }
}

#[Object]
impl Referral {
    async fn id(&self) -> Uuid {
        self.r.id.0
    }
    /// Referrals sent together to several providers share a group; the first acceptance wins.
    async fn group_id(&self) -> Uuid {
        self.r.group.0
    }
    /// Null for the provider the referral was addressed to once no consent names it any
    /// more (42 CFR Part 2: nothing more about the client reaches it).
    async fn client_id(&self) -> Option<Uuid> {
        self.client.map(|c| c.0)
    }
    async fn provider(&self) -> Organization {
        Organization(self.r.provider)
    }
    /// Null when withheld, as `clientId`.
    async fn to_level(&self) -> Option<&str> {
        self.to_level.as_ref().map(|l| l.as_str())
    }
    async fn status(&self) -> ReferralStatus {
        self.r.status.into()
    }
    async fn sent_at(&self) -> DateTime<Utc> {
        self.r.sent_at
    }
    async fn answer_by(&self) -> DateTime<Utc> {
        self.r.answer_by
    }
    async fn answered_at(&self) -> Option<DateTime<Utc>> {
        self.r.answered_at
    }
    async fn decline_reason(&self) -> Option<DeclineCode> {
        self.r.decline.as_ref().map(|d| d.code.into())
    }
    async fn decline_note(&self) -> Option<&str> {
        self.r.decline.as_ref().and_then(|d| d.note.as_deref())
    }
    async fn withdraw_reason(&self) -> Option<WithdrawReason> {
        self.r.withdraw_reason.map(Into::into)
    }
    /// When the provider acknowledged it.
    /// Who reported the arrival or the no-show that ended it.
    async fn closed_by(&self) -> Option<ReportedBy> {
        self.r.closed_by.map(Into::into)
    }
    async fn acknowledged_at(&self) -> Option<DateTime<Utc>> {
        self.r.acknowledged_at
    }
    /// While `WAITLISTED`: its place on the provider's waitlist for the level (1 = next).
    async fn waitlist_position(&self, ctx: &Context<'_>) -> Result<Option<u64>> {
        if self.r.status != d::ReferralStatus::Waitlisted {
            return Ok(None);
        }
        Ok(engine(ctx).waitlist_position(self.r.id).await?)
    }
}

/// A move under way: the client left one provider and is expected at another.
#[derive(SimpleObject, Clone)]
pub struct Transit {
    pub kind: TransitionKind,
    pub from_level: String,
    pub from_provider: Organization,
    pub to_level: String,
    pub provider: Organization,
    pub referral_id: Option<Uuid>,
    pub departed_at: DateTime<Utc>,
    /// The arrival deadline (the level's `arrivalDays`).
    pub arrive_by: DateTime<Utc>,
    /// The deadline passed or the provider reported a no-show.
    pub missed: bool,
}

/// A transfer out the receiving organization has yet to confirm.
#[derive(SimpleObject, Clone)]
pub struct Transfer {
    pub provider: Organization,
    pub departed_at: DateTime<Utc>,
    pub arrive_by: DateTime<Utc>,
    pub missed: bool,
}

/// Why and since when a client is out of reach of care.
#[derive(SimpleObject, Clone)]
pub struct LostToCare {
    pub reason: LostReason,
    pub since: DateTime<Utc>,
}

#[derive(SimpleObject, Clone)]
pub struct Episode {
    pub id: Uuid,
    pub number: u32,
    pub admitted_at: DateTime<Utc>,
}

#[derive(SimpleObject, Clone)]
pub struct Placement {
    pub level: String,
    pub provider: Organization,
    pub planned_hours_per_week: f32,
    pub track: Option<String>,
    pub since: DateTime<Utc>,
}

/// A 42 CFR Part 2 consent.
#[derive(SimpleObject, Clone)]
pub struct Consent {
    pub id: Uuid,
    pub recipients: Vec<Organization>,
    pub purpose: String,
    pub information: String,
    /// `null` with `expiresAtEndOfTreatment` or no expiry.
    pub expires_on: Option<NaiveDate>,
    pub expires_at_end_of_treatment: bool,
    /// When an end-of-treatment consent ends: set at the discharge that ends the episode it
    /// covers, once the follow-up after it is over (`null` until then, and for other expiries).
    pub ends_at: Option<DateTime<Utc>>,
    pub signed_on: NaiveDate,
    pub revoked_at: Option<DateTime<Utc>>,
    pub active: bool,
}

#[derive(SimpleObject, Clone)]
pub struct Assessment {
    pub id: Uuid,
    pub recommended_level: String,
    pub dimensions: Vec<u8>,
    pub assessed_at: DateTime<Utc>,
}

#[derive(SimpleObject, Clone)]
pub struct MatPlan {
    pub medication: Medication,
    pub supply_through: Option<NaiveDate>,
    pub last_injection_on: Option<NaiveDate>,
    /// The last day without a gap if nothing more is booked.
    pub covered_through: Option<NaiveDate>,
}

#[derive(SimpleObject, Clone)]
pub struct MatBooking {
    pub id: Uuid,
    pub provider: Organization,
    pub kind: MatBookingKind,
    pub on: NaiveDate,
    /// Null while still to happen.
    pub outcome: Option<Attendance>,
    /// Who reported it kept or missed.
    pub reported_by: Option<ReportedBy>,
}

#[derive(SimpleObject, Clone)]
pub struct AftercareAppointment {
    pub id: Uuid,
    pub provider: Organization,
    pub kind: AftercareKind,
    pub at: DateTime<Utc>,
    /// Null while still to happen.
    pub outcome: Option<Attendance>,
    /// Who reported it kept or missed.
    pub reported_by: Option<ReportedBy>,
}

/// A report the sender recorded for the receiving side (an arrival, a no-show, a booking's
/// outcome), with who gave it: the record holder's own note, never in an event.
#[derive(SimpleObject, Clone)]
pub struct RelayedReport {
    /// The event that recorded it.
    pub event_id: Uuid,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: Organization,
    pub staff: Option<StaffMember>,
    /// Who reported it.
    pub note: String,
}

#[derive(SimpleObject, Clone)]
pub struct PlannedHandoff {
    pub target: Move,
    pub provider: Option<Organization>,
    pub on: NaiveDate,
    pub ready: bool,
}

/// A client, as much of it as the reader may see (decided once, in the domain: the engine
/// hands out only a `VisibleClient`): case managers all of it; a partner the placement and its
/// own referrals; an aftercare coordinator what booking needs. A field outside the reader's
/// view is an error with code FORBIDDEN.
#[derive(Clone)]
pub struct Client(pub VisibleClient);

/// A part of the record outside the reader's view is FORBIDDEN.
fn part<T>(seen: &d::Seen<T>) -> Result<&T> {
    seen.shown().ok_or_else(|| {
        coded(
            FORBIDDEN,
            "outside what this role may see of a client (minimum necessary)",
        )
    })
}

pub(crate) fn target_move(t: &d::HandoffTarget) -> Move {
    match t {
        d::HandoffTarget::Transition { kind, to_level, .. } => {
            (&pathway::AllowedMove::Transition {
                kind: *kind,
                to: to_level.clone(),
            })
                .into()
        }
        d::HandoffTarget::Discharge { kind, .. } => {
            (&pathway::AllowedMove::Discharge { kind: *kind }).into()
        }
    }
}

#[Object]
impl Client {
    /// The pseudonymous id: the only client identifier that leaves Carepath.
    async fn id(&self) -> Uuid {
        self.0.id.0
    }
    /// Bumped by every accepted command; pass it as `expectedVersion` to avoid lost updates.
    async fn version(&self) -> i64 {
        self.0.version
    }
    async fn status(&self) -> ClientStatus {
        self.0.status.into()
    }
    async fn level(&self) -> Option<&str> {
        self.0.level().map(|l| l.as_str())
    }
    async fn placement(&self) -> Option<Placement> {
        self.0.placement.as_ref().map(|p| Placement {
            level: p.level.to_string(),
            provider: Organization(p.provider),
            planned_hours_per_week: p.planned_hours_per_week,
            track: p.track.clone(),
            since: p.since,
        })
    }
    /// The move under way, while the client is `IN_TRANSIT`.
    async fn transit(&self) -> Option<Transit> {
        self.0.transit.as_ref().map(|t| Transit {
            kind: t.kind.into(),
            from_level: t.from_level.to_string(),
            from_provider: Organization(t.from_provider),
            to_level: t.to_level.to_string(),
            provider: Organization(t.provider),
            referral_id: t.referral.map(|r| r.0),
            departed_at: t.departed_at,
            arrive_by: t.arrive_by,
            missed: t.missed,
        })
    }
    /// A transfer out still to be confirmed by the receiving organization (`confirmArrival`).
    async fn transfer(&self) -> Option<Transfer> {
        self.0.transfer.as_ref().map(|t| Transfer {
            provider: Organization(t.provider),
            departed_at: t.departed_at,
            arrive_by: t.arrive_by,
            missed: t.missed,
        })
    }
    /// Set while the client is lost to care (a missed arrival, a missed appointment with
    /// nothing booked since, a MAT supply run out); cleared on re-engagement.
    async fn lost_to_care(&self) -> Result<Option<LostToCare>> {
        Ok(part(&self.0.movement)?
            .lost_to_care
            .as_ref()
            .map(|l| LostToCare {
                reason: l.reason.into(),
                since: l.since,
            }))
    }
    async fn home_organization(&self) -> Organization {
        Organization(self.0.home_org)
    }
    async fn birth_year(&self) -> Result<Option<i32>> {
        Ok(*part(&self.0.birth_year)?)
    }
    /// How the organization recognises the client: display name and record number (`null`:
    /// none recorded). The record holder's; another organization's only under a consent
    /// naming it, its read recorded as a disclosure.
    async fn identity(&self) -> Result<Option<ClientIdentity>> {
        Ok(part(&self.0.identity)?.as_ref().map(|i| ClientIdentity {
            display_name: i.display_name.clone(),
            record_number: i.record_number.clone(),
        }))
    }
    /// The staff member responsible for the episode, whom escalations go to (the record
    /// holder's view only).
    async fn case_manager(&self) -> Result<Option<StaffMember>> {
        Ok(part(&self.0.case_management)?.case_manager.map(StaffMember))
    }
    /// Set while a referral group has run out (every provider declined, let it expire or
    /// let its hold lapse) and nothing was sent for its level since: `resendReferral` acts
    /// on it.
    async fn escalation(&self) -> Result<Option<Escalation>> {
        Ok(part(&self.0.case_management)?
            .escalation
            .as_ref()
            .map(|e| Escalation {
                group_id: e.group.0,
                to_level: e.to_level.0.clone(),
                since: e.since,
                case_manager: e.case_manager.map(StaffMember),
            }))
    }
    /// The episode under way, or the last one.
    async fn episode(&self) -> Option<Episode> {
        self.0.episode.as_ref().map(|e| Episode {
            id: e.id.0,
            number: e.number,
            admitted_at: e.admitted_at,
        })
    }
    async fn consents(&self) -> Result<Vec<Consent>> {
        Ok(part(&self.0.consents)?
            .iter()
            .map(|seen| {
                let c = &seen.consent;
                Consent {
                    id: c.id.0,
                    recipients: c.recipients.iter().map(|o| Organization(*o)).collect(),
                    purpose: c.purpose.clone(),
                    information: c.information.clone(),
                    expires_on: match c.expiry {
                        d::ConsentExpiry::On(day) => Some(day),
                        _ => None,
                    },
                    expires_at_end_of_treatment: c.expiry == d::ConsentExpiry::EndOfTreatment,
                    ends_at: c.ends_at,
                    signed_on: c.signed_on,
                    revoked_at: c.revoked_at,
                    active: seen.in_force,
                }
            })
            .collect())
    }
    /// All referrals for the record holder; a partner sees only those addressed to it.
    async fn referrals(&self) -> Result<Vec<Referral>> {
        Ok(part(&self.0.referrals)?
            .iter()
            .map(|r| Referral {
                r: r.clone(),
                client: Some(self.0.id),
                to_level: Some(r.to_level.clone()),
            })
            .collect())
    }
    async fn assessments(&self) -> Result<Vec<Assessment>> {
        Ok(part(&self.0.assessments)?
            .iter()
            .map(|a| Assessment {
                id: a.id.0,
                recommended_level: a.recommended_level.to_string(),
                dimensions: a.dimensions.to_vec(),
                assessed_at: a.assessed_at,
            })
            .collect())
    }
    async fn mat_plan(&self) -> Result<Option<MatPlan>> {
        Ok(part(&self.0.mat_plan)?.as_ref().map(|p| MatPlan {
            medication: p.plan.medication.into(),
            supply_through: p.plan.supply_through,
            last_injection_on: p.plan.last_injection_on,
            covered_through: p.covered_through,
        }))
    }
    async fn mat_bookings(&self) -> Result<Vec<MatBooking>> {
        Ok(part(&self.0.mat_bookings)?
            .iter()
            .map(|b| MatBooking {
                id: b.id.0,
                provider: Organization(b.provider),
                kind: b.kind.into(),
                on: b.on,
                outcome: b.outcome.map(|o| o.attendance.into()),
                reported_by: b.outcome.and_then(|o| o.reported_by).map(Into::into),
            })
            .collect())
    }
    async fn aftercare(&self) -> Result<Vec<AftercareAppointment>> {
        Ok(part(&self.0.aftercare)?
            .iter()
            .map(|a| AftercareAppointment {
                id: a.id.0,
                provider: Organization(a.provider),
                kind: a.kind.into(),
                at: a.at,
                outcome: a.outcome.map(|o| o.attendance.into()),
                reported_by: a.outcome.and_then(|o| o.reported_by).map(Into::into),
            })
            .collect())
    }
    async fn handoff(&self) -> Result<Option<PlannedHandoff>> {
        Ok(part(&self.0.movement)?
            .handoff
            .as_ref()
            .map(|h| PlannedHandoff {
                target: target_move(&h.target),
                provider: h.target.provider().map(Organization),
                on: h.on,
                ready: h.ready,
            }))
    }
    /// Reports the sender recorded for the receiving side, with who gave them (the record
    /// holder's: shown with the case-management part of the record).
    async fn relayed_reports(&self) -> Result<Vec<RelayedReport>> {
        Ok(part(&self.0.case_management)?
            .relayed_reports
            .iter()
            .map(|r| RelayedReport {
                event_id: r.event.0,
                recorded_at: r.at,
                recorded_by: Organization(r.org),
                staff: r.staff.map(StaffMember),
                note: r.note.clone(),
            })
            .collect())
    }
    /// What the pathway allows from where the client is.
    async fn allowed_moves(&self) -> Result<Vec<Move>> {
        Ok(part(&self.0.allowed_moves)?
            .iter()
            .map(Move::from)
            .collect())
    }
}

/// A care event, minimum necessary: ids, levels, dates and codes.
#[derive(Clone)]
pub struct CareEvent(pub d::CareEvent);

#[Object]
impl CareEvent {
    /// Also the CloudEvents `id` of the published message.
    async fn id(&self) -> Uuid {
        self.0.id.0
    }
    async fn client_id(&self) -> Uuid {
        self.0.client.0
    }
    /// Per client: 1, 2, 3… with no gap.
    async fn seq(&self) -> i64 {
        self.0.seq
    }
    /// E.g. `discharge.completed`.
    #[graphql(name = "type")]
    async fn event_type(&self) -> &'static str {
        self.0.event_type()
    }
    async fn level(&self) -> Option<&str> {
        self.0.level.as_ref().map(|l| l.as_str())
    }
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.at
    }
    async fn data(&self) -> Json<serde_json::Value> {
        Json(serde_json::to_value(&self.0.data).unwrap_or_default())
    }
}

/// Capacity and occupancy of one provider at one level.
#[derive(SimpleObject, Clone)]
pub struct CensusRow {
    pub level: String,
    pub provider: Organization,
    pub capacity: i32,
    pub active_clients: i32,
    /// Slots held for clients on their way (accepted referrals, handoffs under way).
    pub held_slots: i32,
    /// Clients on their way here: a handoff started, the arrival not yet confirmed.
    pub in_transit: i64,
    /// Neither occupied nor held.
    pub open_slots: i32,
    /// Sent and not yet answered.
    pub pending_referrals: i64,
    pub waitlisted: i64,
}

impl From<carepath_engine::CensusRow> for CensusRow {
    fn from(r: carepath_engine::CensusRow) -> Self {
        CensusRow {
            level: r.level.to_string(),
            provider: Organization(r.provider),
            capacity: r.capacity,
            active_clients: r.occupied,
            held_slots: r.held,
            in_transit: r.in_transit,
            open_slots: r.open_slots(),
            pending_referrals: r.pending_referrals,
            waitlisted: r.waitlisted,
        }
    }
}

#[derive(SimpleObject, Clone)]
pub struct GateStatus {
    pub gate: Gate,
    pub met: bool,
    pub why: String,
}

#[derive(SimpleObject, Clone)]
pub struct Readiness {
    pub client_id: Uuid,
    pub target: Move,
    pub ready: bool,
    pub gates: Vec<GateStatus>,
}

/// One disclosure (42 CFR 2.24 accounting): what went to whom, when, under which consent.
#[derive(SimpleObject, Clone)]
pub struct DisclosureRecord {
    pub recipient: Organization,
    pub consent_id: Option<Uuid>,
    /// The legal basis when no consent covers it (a medical emergency under 42 CFR 2.51,
    /// with the declared reason).
    pub legal_basis: Option<String>,
    pub event_id: Option<Uuid>,
    pub what: String,
    pub at: DateTime<Utc>,
}

#[derive(SimpleObject, Clone)]
pub struct EventRef {
    pub id: Uuid,
    pub seq: i64,
    #[graphql(name = "type")]
    pub event_type: String,
}

/// What an accepted mutation did.
#[derive(Clone)]
pub struct MutationResult {
    pub outcome: carepath_engine::Outcome,
}

#[Object]
impl MutationResult {
    async fn client_id(&self) -> Uuid {
        self.outcome.client.0
    }
    /// The client's version after the mutation.
    async fn version(&self) -> i64 {
        self.outcome.version
    }
    /// True when this answers an earlier request with the same idempotency key.
    async fn replayed(&self) -> bool {
        self.outcome.replayed
    }
    async fn events(&self) -> Vec<EventRef> {
        self.outcome
            .events
            .iter()
            .map(|e| EventRef {
                id: e.id.0,
                seq: e.seq,
                event_type: e.event_type.clone(),
            })
            .collect()
    }
    /// Ids of what the mutation created (the referral of each `referral.sent`, the consent
    /// of `consent.recorded`, the booking of `aftercare.scheduled`…): the event's id.
    async fn created_ids(&self) -> Vec<Uuid> {
        self.outcome
            .events
            .iter()
            .filter(|e| {
                matches!(
                    e.event_type.as_str(),
                    "referral.sent"
                        | "consent.recorded"
                        | "assessment.recorded"
                        | "aftercare.scheduled"
                        | "mat.refill.scheduled"
                )
            })
            .map(|e| e.id.0)
            .collect()
    }
    /// The client as the caller may see it now (null when the caller may not read it).
    async fn client(&self, ctx: &Context<'_>) -> Result<Option<Client>> {
        let a = actor(ctx)?;
        match engine(ctx).read_client(a, self.outcome.client).await {
            Ok(client) => Ok(Some(Client(client))),
            Err(_) => Ok(None),
        }
    }
}

/// What `advanceClock` did: the clock moved from `from` to `to`, stopping at each due time
/// on the way.
#[derive(SimpleObject, Clone)]
pub struct ClockAdvance {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Timers fired, each at its due time.
    pub timers_fired: u64,
    /// Timers that no longer applied when they came due.
    pub timers_dropped: u64,
    /// The distinct due times the clock stopped at.
    pub due_times: u64,
    /// Freed slots given to the head of a waitlist on the way.
    pub slots_offered: u64,
}

impl From<carepath_engine::Advanced> for ClockAdvance {
    fn from(a: carepath_engine::Advanced) -> Self {
        Self {
            from: a.from,
            to: a.to,
            timers_fired: a.timers_fired as u64,
            timers_dropped: a.timers_dropped as u64,
            due_times: a.due_times as u64,
            slots_offered: a.slots_offered as u64,
        }
    }
}
