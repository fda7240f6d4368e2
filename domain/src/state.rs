//! The client aggregate: everything the decision core needs to know about one client.
//! Stored as one JSON document beside its version; the columns the queries filter on are
//! projected from it in the same transaction.

use crate::ids::*;
use crate::pathway::{DischargeKind, LevelId, TransitionKind};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientState {
    pub id: ClientId,
    /// The organization whose case managers hold the client's record.
    pub home_org: OrgId,
    pub birth_year: Option<i32>,
    /// Bumped by one for every accepted command.
    pub version: i64,
    /// Sequence number of the client's last care event.
    pub last_seq: i64,
    pub status: ClientStatus,
    pub episode: Option<Episode>,
    pub placement: Option<Placement>,
    pub consents: Vec<Consent>,
    pub referrals: Vec<Referral>,
    pub assessments: Vec<Assessment>,
    pub mat_plan: Option<MatPlan>,
    pub mat_bookings: Vec<MatBooking>,
    pub aftercare: Vec<AftercareAppointment>,
    pub handoff: Option<PlannedHandoff>,
    pub last_discharge: Option<DischargeRecord>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientStatus {
    /// Known, not yet admitted.
    Registered,
    /// In care at a level with a provider.
    Active,
    /// Discharged; may be readmitted.
    Discharged,
}

impl ClientStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientStatus::Registered => "registered",
            ClientStatus::Active => "active",
            ClientStatus::Discharged => "discharged",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    pub id: EpisodeId,
    pub number: u32,
    pub admitted_at: DateTime<Utc>,
}

/// A client at a level with a provider.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    pub level: LevelId,
    pub provider: OrgId,
    pub planned_hours_per_week: f32,
    /// E.g. "evening" or "virtual".
    pub track: Option<String>,
    pub since: DateTime<Utc>,
    /// The key of the pending continued-stay review timer.
    pub review_timer: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "date", rename_all = "snake_case")]
pub enum ConsentExpiry {
    /// Expires at the start of this day (UTC).
    On(NaiveDate),
    /// Expires when the episode of care in which it was signed ends.
    EndOfTreatment,
    /// No expiry (allowed for treatment, payment and operations).
    Never,
}

/// A 42 CFR Part 2 consent to disclose.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Consent {
    pub id: ConsentId,
    /// The organizations that may receive the record.
    pub recipients: Vec<OrgId>,
    pub purpose: String,
    /// What information may be disclosed.
    pub information: String,
    pub expiry: ConsentExpiry,
    pub signed_on: NaiveDate,
    pub recorded_at: DateTime<Utc>,
    /// The episode during which it was signed (for end-of-treatment expiry).
    pub episode: Option<EpisodeId>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferralStatus {
    /// Sent, awaiting an answer (FHIR Task `requested`).
    Pending,
    Accepted,
    /// FHIR `rejected` with a reason.
    Declined,
    /// FHIR `cancelled`.
    Withdrawn,
    /// No answer before the deadline.
    Expired,
    /// The client moved to the provider: the handoff used this referral.
    Completed,
}

impl ReferralStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReferralStatus::Pending => "pending",
            ReferralStatus::Accepted => "accepted",
            ReferralStatus::Declined => "declined",
            ReferralStatus::Withdrawn => "withdrawn",
            ReferralStatus::Expired => "expired",
            ReferralStatus::Completed => "completed",
        }
    }
}

/// Why a provider declined: kept as the denial log of 105 CMR 164.070.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclineCode {
    NoCapacity,
    ClinicalCriteriaNotMet,
    InsuranceNotAccepted,
    ClientDeclined,
    MedicalNeedsExceedProgram,
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclineReason {
    pub code: DeclineCode,
    /// The provider's own words; kept in the denial log, never put in events.
    pub note: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WithdrawReason {
    CaseManager,
    AnotherProviderAccepted,
    ConsentRevoked,
    ClientDischarged,
    ClientMoved,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Referral {
    pub id: ReferralId,
    pub group: ReferralGroupId,
    pub provider: OrgId,
    pub to_level: LevelId,
    pub status: ReferralStatus,
    pub sent_at: DateTime<Utc>,
    pub answer_by: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub decline: Option<DeclineReason>,
    pub withdraw_reason: Option<WithdrawReason>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    pub id: AssessmentId,
    pub recommended_level: LevelId,
    /// Risk rating 0-4 in each of the six ASAM dimensions.
    pub dimensions: [u8; 6],
    pub assessed_at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Medication {
    Buprenorphine,
    Methadone,
    NaltrexoneOral,
    NaltrexoneXr,
}

impl Medication {
    /// The name it is written under in events and pathways (snake case).
    pub fn as_str(self) -> &'static str {
        match self {
            Medication::Buprenorphine => "buprenorphine",
            Medication::Methadone => "methadone",
            Medication::NaltrexoneOral => "naltrexone_oral",
            Medication::NaltrexoneXr => "naltrexone_xr",
        }
    }

    /// Which bookings continue this medication.
    pub fn continued_by(self, kind: MatBookingKind) -> bool {
        match self {
            Medication::Buprenorphine | Medication::NaltrexoneOral => {
                matches!(
                    kind,
                    MatBookingKind::Refill | MatBookingKind::PrescriberVisit
                )
            }
            Medication::Methadone => kind == MatBookingKind::OtpDosing,
            Medication::NaltrexoneXr => kind == MatBookingKind::Injection,
        }
    }
}

/// An active medication-for-addiction-treatment plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatPlan {
    pub medication: Medication,
    /// Last day covered by the supply in hand (buprenorphine, oral naltrexone; methadone
    /// including take-home doses).
    pub supply_through: Option<NaiveDate>,
    /// Extended-release naltrexone: day of the last injection.
    pub last_injection_on: Option<NaiveDate>,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatBookingKind {
    Refill,
    PrescriberVisit,
    OtpDosing,
    Injection,
}

impl MatBookingKind {
    /// The name it is written under in events (snake case).
    pub fn as_str(self) -> &'static str {
        match self {
            MatBookingKind::Refill => "refill",
            MatBookingKind::PrescriberVisit => "prescriber_visit",
            MatBookingKind::OtpDosing => "otp_dosing",
            MatBookingKind::Injection => "injection",
        }
    }

    /// The MAT services an organization must provide (any one of them) to take this
    /// booking: methadone for opioid use disorder is dispensed only by an opioid treatment
    /// program (42 CFR Part 8); a buprenorphine or oral naltrexone refill is filled by a
    /// pharmacy or renewed by the prescriber; a prescriber visit is a prescriber's; an
    /// extended-release naltrexone injection is given by a clinic that gives injections.
    pub fn delivered_by(self) -> &'static [MatService] {
        match self {
            MatBookingKind::Refill => &[MatService::Pharmacy, MatService::Prescriber],
            MatBookingKind::PrescriberVisit => &[MatService::Prescriber],
            MatBookingKind::OtpDosing => &[MatService::Otp],
            MatBookingKind::Injection => &[MatService::Injection],
        }
    }
}

/// A medication-for-OUD service an organization provides (it may provide several, or none):
/// what decides which MAT bookings it can take ([`MatBookingKind::delivered_by`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatService {
    /// An opioid treatment program: the only place methadone for OUD is dispensed (dosing,
    /// guest dosing, take-homes).
    Otp,
    /// A practitioner who prescribes buprenorphine or naltrexone: prescriber visits, and
    /// refills renewed (or dispensed) at the office.
    Prescriber,
    /// A pharmacy: fills buprenorphine and oral naltrexone prescriptions.
    Pharmacy,
    /// A prescriber or clinic that gives extended-release naltrexone injections.
    Injection,
}

impl MatService {
    pub const ALL: [MatService; 4] = [
        MatService::Otp,
        MatService::Prescriber,
        MatService::Pharmacy,
        MatService::Injection,
    ];

    /// Its name in storage, on the command line and in messages (snake case).
    pub fn as_str(self) -> &'static str {
        match self {
            MatService::Otp => "otp",
            MatService::Prescriber => "prescriber",
            MatService::Pharmacy => "pharmacy",
            MatService::Injection => "injection",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for MatService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatBooking {
    pub id: BookingId,
    pub provider: OrgId,
    pub kind: MatBookingKind,
    pub on: NaiveDate,
    pub booked_at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AftercareKind {
    Outpatient,
    Prescriber,
    Counseling,
    PeerRecovery,
    PrimaryCare,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AftercareAppointment {
    pub id: BookingId,
    pub provider: OrgId,
    pub kind: AftercareKind,
    pub at: DateTime<Utc>,
    pub booked_at: DateTime<Utc>,
}

/// Where a handoff takes the client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "move", rename_all = "snake_case")]
pub enum HandoffTarget {
    Transition {
        kind: TransitionKind,
        to_level: LevelId,
        provider: Option<OrgId>,
    },
    Discharge {
        kind: DischargeKind,
        provider: Option<OrgId>,
    },
}

impl HandoffTarget {
    pub fn provider(&self) -> Option<OrgId> {
        match self {
            HandoffTarget::Transition { provider, .. }
            | HandoffTarget::Discharge { provider, .. } => *provider,
        }
    }
}

/// A handoff announced ahead of time, so coordinators can book what it needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedHandoff {
    pub target: HandoffTarget,
    pub on: NaiveDate,
    /// Whether `handoff.ready` was raised for the current set of met gates.
    pub ready: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DischargeRecord {
    pub kind: DischargeKind,
    pub at: DateTime<Utc>,
    pub episode: EpisodeId,
    pub from_level: LevelId,
}

impl ClientState {
    pub fn level(&self) -> Option<&LevelId> {
        self.placement.as_ref().map(|p| &p.level)
    }

    pub fn referral(&self, id: ReferralId) -> Option<&Referral> {
        self.referrals.iter().find(|r| r.id == id)
    }

    /// Whether a consent is in force at `now` for disclosing to `org`.
    pub fn active_consent_for(&self, org: OrgId, now: DateTime<Utc>) -> Option<&Consent> {
        self.consents
            .iter()
            .filter(|c| c.recipients.contains(&org))
            .find(|c| self.consent_active(c, now))
    }

    pub fn consent_active(&self, c: &Consent, now: DateTime<Utc>) -> bool {
        if c.revoked_at.is_some() {
            return false;
        }
        match c.expiry {
            ConsentExpiry::On(day) => now.date_naive() < day,
            ConsentExpiry::Never => true,
            ConsentExpiry::EndOfTreatment => match (&c.episode, &self.last_discharge) {
                (Some(ep), Some(d)) => d.episode != *ep,
                _ => true,
            },
        }
    }

    /// Whether disclosing to `org` needs a consent at all: not for the organization that
    /// holds the record, nor for the provider already treating the client.
    pub fn is_inside(&self, org: OrgId) -> bool {
        org == self.home_org || self.placement.as_ref().is_some_and(|p| p.provider == org)
    }
}
