//! Mutation inputs and the one conversion of each into the engine command it asks for
//! (`From`/`TryFrom` into [`Asked`]): a mutation resolver only hands its input over. What
//! an input alone cannot be (ON_DATE without a date, six ratings) is refused here as
//! `BAD_INPUT`; everything else — levels, providers, authorization — the engine decides.

use crate::error::bad_input;
use crate::types::*;
use async_graphql::{Enum, Error, InputObject, Result};
use carepath_engine::domain::{self as d, Command, MedicalEmergency, RelayedBy};
use carepath_engine::ids::*;
use carepath_engine::pathway::LevelId;
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

#[derive(InputObject)]
pub struct GateOverrideInput {
    pub gate: Gate,
    #[graphql(validator(min_length = 1, max_length = 500))]
    pub reason: String,
}

#[derive(InputObject)]
pub struct RegisterClientInput {
    /// Defaults to the caller's organization.
    pub home_org_id: Option<Uuid>,
    #[graphql(validator(minimum = 1900, maximum = 2100))]
    pub birth_year: Option<i32>,
    /// How the organization recognises the client (never in an event or a log line).
    pub display_name: Option<String>,
    /// The organization's own record number (MRN or external id); needs a display name.
    pub record_number: Option<String>,
}

impl RegisterClientInput {
    /// The identity the input gives, if any (a record number alone is refused).
    pub fn identity(&self) -> Result<Option<d::ClientIdentity>, async_graphql::Error> {
        match (&self.display_name, &self.record_number) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(bad_input("a record number comes with a display name")),
            (Some(name), number) => Ok(Some(d::ClientIdentity {
                display_name: name.clone(),
                record_number: number.clone(),
            })),
        }
    }
}

#[derive(InputObject)]
pub struct AdmitInput {
    pub client_id: Uuid,
    #[graphql(validator(max_length = 64))]
    pub level: String,
    pub provider_id: Uuid,
    #[graphql(validator(minimum = 0, maximum = 168))]
    pub planned_hours_per_week: f64,
    #[graphql(validator(max_length = 64))]
    pub track: Option<String>,
    #[graphql(validator(max_items = 5))]
    pub overrides: Option<Vec<GateOverrideInput>>,
    /// A bona fide medical emergency, declared by the clinician with its reason (42 CFR 2.51):
    /// moves the client, at an organization no consent names, to a level with medical
    /// personnel (the pathway's `medicalPersonnel`: withdrawal management, ASAM 3.7 or 4).
    /// Recorded as a disclosure on that basis; raises `disclosure.emergency`.
    #[graphql(validator(max_length = 500))]
    pub medical_emergency: Option<String>,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum ConsentExpiryKind {
    OnDate,
    EndOfTreatment,
    Never,
}

#[derive(InputObject)]
pub struct RecordConsentInput {
    pub client_id: Uuid,
    #[graphql(validator(min_items = 1, max_items = 50))]
    pub recipient_ids: Vec<Uuid>,
    #[graphql(validator(min_length = 1, max_length = 500))]
    pub purpose: String,
    #[graphql(validator(min_length = 1, max_length = 500))]
    pub information: String,
    pub expiry: ConsentExpiryKind,
    /// Required with `expiry: ON_DATE`.
    pub expires_on: Option<NaiveDate>,
    pub signed_on: NaiveDate,
}

#[derive(InputObject)]
pub struct SendReferralInput {
    pub client_id: Uuid,
    #[graphql(validator(max_length = 64))]
    pub to_level: String,
    #[graphql(validator(min_items = 1, max_items = 10))]
    pub provider_ids: Vec<Uuid>,
}

#[derive(InputObject)]
pub struct DeclineReferralInput {
    pub referral_id: Uuid,
    pub reason: DeclineCode,
    #[graphql(validator(max_length = 500))]
    pub note: Option<String>,
}

#[derive(InputObject)]
pub struct RecordAssessmentInput {
    pub client_id: Uuid,
    #[graphql(validator(max_length = 64))]
    pub recommended_level: String,
    /// Risk 0-4 in each of the six ASAM dimensions, in order.
    #[graphql(validator(min_items = 6, max_items = 6))]
    pub dimensions: Vec<u8>,
    pub assessed_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct RecordMatPlanInput {
    pub client_id: Uuid,
    pub medication: Medication,
    /// Last day covered by the supply in hand (buprenorphine, methadone, oral naltrexone).
    pub supply_through: Option<NaiveDate>,
    /// Extended-release naltrexone: day of the last injection.
    pub last_injection_on: Option<NaiveDate>,
}

#[derive(InputObject)]
pub struct ScheduleAftercareInput {
    pub client_id: Uuid,
    pub provider_id: Uuid,
    pub kind: AftercareKind,
    pub at: DateTime<Utc>,
}

#[derive(InputObject)]
pub struct ScheduleMatRefillInput {
    pub client_id: Uuid,
    pub provider_id: Uuid,
    pub kind: MatBookingKind,
    pub on: NaiveDate,
}

#[derive(InputObject)]
pub struct ResendReferralInput {
    pub client_id: Uuid,
    /// A group whose referrals were all declined, expired or withdrawn.
    pub group_id: Uuid,
    #[graphql(validator(min_items = 1, max_items = 10))]
    pub provider_ids: Vec<Uuid>,
}

impl From<ResendReferralInput> for Asked {
    fn from(i: ResendReferralInput) -> Self {
        Asked::for_client(
            i.client_id,
            Command::ResendReferral {
                group: ReferralGroupId(i.group_id),
                providers: i.provider_ids.into_iter().map(OrgId).collect(),
            },
        )
    }
}

/// What became of an aftercare appointment or a MAT booking.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum BookingOutcomeKind {
    /// Kept: the visit took place, the dose or refill was dispensed.
    Attended,
    NoShow,
    Cancelled,
    /// Moved to `rescheduledTo` (still to happen).
    Rescheduled,
}

#[derive(InputObject)]
pub struct RecordBookingOutcomeInput {
    pub client_id: Uuid,
    pub booking_id: Uuid,
    pub outcome: BookingOutcomeKind,
    /// With ATTENDED, for a refill (required) or OTP doses with take-homes: the last day
    /// the supply dispensed covers.
    pub supply_through: Option<NaiveDate>,
    /// With RESCHEDULED (required): the new time.
    pub rescheduled_to: Option<DateTime<Utc>>,
    /// With ATTENDED or NO_SHOW, when the caller is not the booking's provider (required
    /// then): who reported it, e.g. "phone call from the clinic's front desk". Kept in the
    /// record, never in an event.
    pub relayed_by: Option<String>,
}

#[derive(InputObject)]
pub struct TransitionInput {
    pub client_id: Uuid,
    pub kind: TransitionKind,
    #[graphql(validator(max_length = 64))]
    pub to_level: String,
    /// Defaults to the provider that accepted the referral for `toLevel`.
    pub provider_id: Option<Uuid>,
    #[graphql(validator(minimum = 0, maximum = 168))]
    pub planned_hours_per_week: f64,
    #[graphql(validator(max_length = 64))]
    pub track: Option<String>,
    #[graphql(validator(max_items = 5))]
    pub overrides: Option<Vec<GateOverrideInput>>,
    /// A bona fide medical emergency, declared by the clinician with its reason (42 CFR 2.51):
    /// moves the client, at an organization no consent names, to a level with medical
    /// personnel (the pathway's `medicalPersonnel`: withdrawal management, ASAM 3.7 or 4).
    /// Recorded as a disclosure on that basis; raises `disclosure.emergency`.
    #[graphql(validator(max_length = 500))]
    pub medical_emergency: Option<String>,
}

#[derive(InputObject)]
pub struct DischargeInput {
    pub client_id: Uuid,
    pub kind: DischargeKind,
    /// The receiving organization of a transfer out.
    pub provider_id: Option<Uuid>,
    #[graphql(validator(max_items = 5))]
    pub overrides: Option<Vec<GateOverrideInput>>,
}

#[derive(InputObject)]
pub struct PlanHandoffInput {
    pub client_id: Uuid,
    /// A transition kind with `toLevel`, or a discharge with `dischargeKind`.
    pub transition_kind: Option<TransitionKind>,
    #[graphql(validator(max_length = 64))]
    pub to_level: Option<String>,
    pub discharge_kind: Option<DischargeKind>,
    pub provider_id: Option<Uuid>,
    pub on: NaiveDate,
}

#[derive(InputObject)]
pub struct SetCapacityInput {
    pub provider_id: Uuid,
    #[graphql(validator(max_length = 64))]
    pub level: String,
    #[graphql(validator(minimum = 0, maximum = 100000))]
    pub capacity: i32,
}

/// A mutation's input as the engine command it asks for, and the client it names (`None`:
/// the engine finds it — a new client, or the client of a referral).
pub struct Asked {
    pub client: Option<ClientId>,
    pub command: Command,
}

impl Asked {
    pub fn for_client(client: Uuid, command: Command) -> Self {
        Self {
            client: Some(ClientId(client)),
            command,
        }
    }

    /// A command whose client the engine finds (a referral's answer).
    pub fn found(command: Command) -> Self {
        Self {
            client: None,
            command,
        }
    }
}

fn overrides(o: Option<Vec<GateOverrideInput>>) -> Vec<d::GateOverride> {
    o.unwrap_or_default()
        .into_iter()
        .map(|o| d::GateOverride {
            gate: o.gate.into(),
            reason: o.reason,
        })
        .collect()
}

fn emergency(reason: Option<String>) -> Option<MedicalEmergency> {
    reason.map(|reason| MedicalEmergency { reason })
}

impl From<AdmitInput> for Asked {
    fn from(i: AdmitInput) -> Self {
        Asked::for_client(
            i.client_id,
            Command::Admit {
                level: LevelId::new(i.level),
                provider: OrgId(i.provider_id),
                planned_hours_per_week: i.planned_hours_per_week as f32,
                track: i.track,
                overrides: overrides(i.overrides),
                emergency: emergency(i.medical_emergency),
            },
        )
    }
}

impl TryFrom<RecordConsentInput> for Asked {
    type Error = Error;

    fn try_from(i: RecordConsentInput) -> Result<Self> {
        let expiry = match (i.expiry, i.expires_on) {
            (ConsentExpiryKind::OnDate, Some(day)) => d::ConsentExpiry::On(day),
            (ConsentExpiryKind::OnDate, None) => {
                return Err(bad_input("expiry ON_DATE needs expiresOn"));
            }
            (_, Some(_)) => return Err(bad_input("expiresOn goes with expiry ON_DATE only")),
            (ConsentExpiryKind::EndOfTreatment, None) => d::ConsentExpiry::EndOfTreatment,
            (ConsentExpiryKind::Never, None) => d::ConsentExpiry::Never,
        };
        Ok(Asked::for_client(
            i.client_id,
            Command::RecordConsent {
                recipients: i.recipient_ids.into_iter().map(OrgId).collect(),
                purpose: i.purpose,
                information: i.information,
                expiry,
                signed_on: i.signed_on,
            },
        ))
    }
}

impl From<SendReferralInput> for Asked {
    fn from(i: SendReferralInput) -> Self {
        Asked::for_client(
            i.client_id,
            Command::SendReferral {
                to_level: LevelId::new(i.to_level),
                providers: i.provider_ids.into_iter().map(OrgId).collect(),
            },
        )
    }
}

impl From<DeclineReferralInput> for Asked {
    fn from(i: DeclineReferralInput) -> Self {
        Asked::found(Command::DeclineReferral {
            referral: ReferralId(i.referral_id),
            reason: d::DeclineReason {
                code: i.reason.into(),
                note: i.note,
            },
        })
    }
}

impl TryFrom<RecordAssessmentInput> for Asked {
    type Error = Error;

    fn try_from(i: RecordAssessmentInput) -> Result<Self> {
        let dimensions: [u8; 6] = i
            .dimensions
            .try_into()
            .map_err(|_| bad_input("dimensions has six ratings"))?;
        Ok(Asked::for_client(
            i.client_id,
            Command::RecordAssessment {
                recommended_level: LevelId::new(i.recommended_level),
                dimensions,
                assessed_at: i.assessed_at,
            },
        ))
    }
}

impl From<RecordMatPlanInput> for Asked {
    fn from(i: RecordMatPlanInput) -> Self {
        Asked::for_client(
            i.client_id,
            Command::RecordMatPlan {
                medication: i.medication.into(),
                supply_through: i.supply_through,
                last_injection_on: i.last_injection_on,
            },
        )
    }
}

impl From<ScheduleAftercareInput> for Asked {
    fn from(i: ScheduleAftercareInput) -> Self {
        Asked::for_client(
            i.client_id,
            Command::ScheduleAftercare {
                provider: OrgId(i.provider_id),
                kind: i.kind.into(),
                at: i.at,
            },
        )
    }
}

impl TryFrom<RecordBookingOutcomeInput> for Asked {
    type Error = Error;

    fn try_from(i: RecordBookingOutcomeInput) -> Result<Self> {
        use BookingOutcomeKind as K;
        let outcome = match (i.outcome, i.supply_through, i.rescheduled_to) {
            (K::Attended, supply_through, None) => d::OutcomeReport::Attended { supply_through },
            (K::Rescheduled, None, Some(to)) => d::OutcomeReport::Rescheduled { to },
            (K::Rescheduled, _, None) => return Err(bad_input("RESCHEDULED needs rescheduledTo")),
            (K::NoShow, None, None) => d::OutcomeReport::NoShow,
            (K::Cancelled, None, None) => d::OutcomeReport::Cancelled,
            (_, Some(_), _) => {
                return Err(bad_input("supplyThrough goes with ATTENDED only"));
            }
            (_, _, Some(_)) => {
                return Err(bad_input("rescheduledTo goes with RESCHEDULED only"));
            }
        };
        Ok(Asked::for_client(
            i.client_id,
            Command::RecordBookingOutcome {
                booking: BookingId(i.booking_id),
                outcome,
                relayed_by: i.relayed_by.map(|note| RelayedBy { note }),
            },
        ))
    }
}

impl From<ScheduleMatRefillInput> for Asked {
    fn from(i: ScheduleMatRefillInput) -> Self {
        Asked::for_client(
            i.client_id,
            Command::ScheduleMatRefill {
                provider: OrgId(i.provider_id),
                kind: i.kind.into(),
                on: i.on,
            },
        )
    }
}

impl TryFrom<PlanHandoffInput> for Asked {
    type Error = Error;

    fn try_from(i: PlanHandoffInput) -> Result<Self> {
        let provider = i.provider_id.map(OrgId);
        let target = match (i.transition_kind, i.to_level, i.discharge_kind) {
            (Some(kind), Some(to), None) => d::HandoffTarget::Transition {
                kind: kind.into(),
                to_level: LevelId::new(to),
                provider,
            },
            (None, None, Some(kind)) => d::HandoffTarget::Discharge {
                kind: kind.into(),
                provider,
            },
            _ => {
                return Err(bad_input(
                    "give transitionKind with toLevel, or dischargeKind",
                ));
            }
        };
        Ok(Asked::for_client(
            i.client_id,
            Command::PlanHandoff { target, on: i.on },
        ))
    }
}

impl From<TransitionInput> for Asked {
    fn from(i: TransitionInput) -> Self {
        Asked::for_client(
            i.client_id,
            Command::Transition {
                kind: i.kind.into(),
                to_level: LevelId::new(i.to_level),
                provider: i.provider_id.map(OrgId),
                planned_hours_per_week: i.planned_hours_per_week as f32,
                track: i.track,
                overrides: overrides(i.overrides),
                emergency: emergency(i.medical_emergency),
            },
        )
    }
}

impl From<DischargeInput> for Asked {
    fn from(i: DischargeInput) -> Self {
        Asked::for_client(
            i.client_id,
            Command::Discharge {
                kind: i.kind.into(),
                provider: i.provider_id.map(OrgId),
                overrides: overrides(i.overrides),
            },
        )
    }
}

/// `registerClient`'s input with the caller's organization: the client's home unless the
/// input names another.
impl TryFrom<(RegisterClientInput, OrgId)> for Asked {
    type Error = Error;
    fn try_from((i, caller): (RegisterClientInput, OrgId)) -> Result<Self> {
        Ok(Asked::found(Command::RegisterClient {
            home_org: i.home_org_id.map(OrgId).unwrap_or(caller),
            birth_year: i.birth_year,
            identity: i.identity()?,
        }))
    }
}

/// The arguments of a mutation that takes them one by one rather than as an input object,
/// each converted to its command below.
pub struct RecordIdentityArgs {
    pub client_id: Uuid,
    pub display_name: String,
    pub record_number: Option<String>,
}

impl From<RecordIdentityArgs> for Asked {
    fn from(a: RecordIdentityArgs) -> Self {
        Asked::for_client(
            a.client_id,
            Command::RecordIdentity {
                identity: d::ClientIdentity {
                    display_name: a.display_name,
                    record_number: a.record_number,
                },
            },
        )
    }
}

pub struct RevokeConsentArgs {
    pub client_id: Uuid,
    pub consent_id: Uuid,
}

impl From<RevokeConsentArgs> for Asked {
    fn from(a: RevokeConsentArgs) -> Self {
        Asked::for_client(
            a.client_id,
            Command::RevokeConsent {
                consent: ConsentId(a.consent_id),
            },
        )
    }
}

pub struct AssignCaseManagerArgs {
    pub client_id: Uuid,
    pub staff_id: Uuid,
}

impl From<AssignCaseManagerArgs> for Asked {
    fn from(a: AssignCaseManagerArgs) -> Self {
        Asked::for_client(
            a.client_id,
            Command::AssignCaseManager {
                staff: StaffId(a.staff_id),
            },
        )
    }
}

/// An arrival or a no-show, reported by the receiving provider or relayed (`relayedBy`).
pub struct HandoffReportArgs {
    pub client_id: Uuid,
    pub relayed_by: Option<String>,
}

pub struct ConfirmArrivalArgs(pub HandoffReportArgs);
pub struct ReportNoShowArgs(pub HandoffReportArgs);

impl From<ConfirmArrivalArgs> for Asked {
    fn from(ConfirmArrivalArgs(a): ConfirmArrivalArgs) -> Self {
        let relayed_by = a.relayed_by.map(|note| RelayedBy { note });
        Asked::for_client(a.client_id, Command::ConfirmArrival { relayed_by })
    }
}

impl From<ReportNoShowArgs> for Asked {
    fn from(ReportNoShowArgs(a): ReportNoShowArgs) -> Self {
        let relayed_by = a.relayed_by.map(|note| RelayedBy { note });
        Asked::for_client(a.client_id, Command::ReportNoShow { relayed_by })
    }
}

pub struct EndMatPlanArgs {
    pub client_id: Uuid,
}

impl From<EndMatPlanArgs> for Asked {
    fn from(a: EndMatPlanArgs) -> Self {
        Asked::for_client(a.client_id, Command::EndMatPlan)
    }
}

/// A referral's answer by the referral alone: the engine finds its client, after the caller
/// is authenticated.
pub enum ReferralAnswerArgs {
    Acknowledge { referral_id: Uuid },
    Waitlist { referral_id: Uuid },
    Accept { referral_id: Uuid },
    Withdraw { referral_id: Uuid },
}

impl From<ReferralAnswerArgs> for Asked {
    fn from(a: ReferralAnswerArgs) -> Self {
        Asked::found(match a {
            ReferralAnswerArgs::Acknowledge { referral_id } => Command::AcknowledgeReferral {
                referral: ReferralId(referral_id),
            },
            ReferralAnswerArgs::Waitlist { referral_id } => Command::WaitlistReferral {
                referral: ReferralId(referral_id),
            },
            ReferralAnswerArgs::Accept { referral_id } => Command::AcceptReferral {
                referral: ReferralId(referral_id),
            },
            ReferralAnswerArgs::Withdraw { referral_id } => Command::WithdrawReferral {
                referral: ReferralId(referral_id),
            },
        })
    }
}

/// `advanceClock(by:)`: an ISO 8601 duration of weeks, days, hours, minutes and seconds —
/// `P7D`, `PT4H`, `P1DT12H30M`, `P2W`. Years and months (no fixed length) are refused, as is
/// anything else that is not one: `BAD_INPUT`. Whether the length is allowed is the
/// engine's to say.
pub fn parse_duration(text: &str) -> Result<chrono::Duration> {
    let refuse = || {
        bad_input(format!(
            "`by` is an ISO 8601 duration in weeks, days, hours, minutes and seconds, such as \
             P7D, PT4H or P1DT12H; not {text:?}"
        ))
    };
    let rest = text.strip_prefix('P').ok_or_else(refuse)?;
    let (date, time) = match rest.split_once('T') {
        Some((_, "")) => return Err(refuse()),
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    let mut total = chrono::Duration::zero();
    let mut any = false;
    let mut add = |part: &str, units: &[(char, i64)]| -> Result<()> {
        let mut number = String::new();
        let mut next_unit = 0;
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let at = units[next_unit..]
                .iter()
                .position(|(u, _)| *u == c)
                .ok_or_else(refuse)?;
            let seconds = units[next_unit + at].1;
            if number.is_empty() || number.len() > 9 {
                return Err(refuse());
            }
            let n: i64 = number.parse().map_err(|_| refuse())?;
            total += chrono::Duration::seconds(n * seconds);
            any = true;
            number.clear();
            next_unit += at + 1;
        }
        if number.is_empty() {
            Ok(())
        } else {
            Err(refuse())
        }
    };
    add(date, &[('W', 7 * 86_400), ('D', 86_400)])?;
    if let Some(t) = time {
        add(t, &[('H', 3600), ('M', 60), ('S', 1)])?;
    }
    if any { Ok(total) } else { Err(refuse()) }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use chrono::Duration;

    #[test]
    fn iso_durations_of_fixed_length() {
        assert_eq!(parse_duration("P7D").unwrap(), Duration::days(7));
        assert_eq!(parse_duration("PT4H").unwrap(), Duration::hours(4));
        assert_eq!(
            parse_duration("P1DT12H30M5S").unwrap(),
            Duration::days(1) + Duration::hours(12) + Duration::minutes(30) + Duration::seconds(5)
        );
        assert_eq!(parse_duration("P2W").unwrap(), Duration::days(14));
        assert_eq!(parse_duration("P0D").unwrap(), Duration::zero());
        for bad in [
            "",
            "P",
            "PT",
            "7D",
            "P1M",
            "P1Y",
            "PT1D",
            "P1H",
            "P-1D",
            "P1.5D",
            "P1D2H",
            "PT1M1H",
            "P1DD",
            "P9999999999D",
            "p7d",
            " P7D",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
