//! Mutations: each is one engine command. Every mutation takes an optional `idempotencyKey`;
//! those that change a client take an optional `expectedVersion`.

use crate::context::{actor, engine};
use crate::error::{OrGraphql, bad_input};
use crate::types::*;
use async_graphql::{Context, Enum, InputObject, Object, Result};
use carepath_engine::Request;
use carepath_engine::domain::{self as d, Command, MedicalEmergency};
use carepath_engine::ids::*;
use carepath_engine::pathway::LevelId;
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

const KEY: usize = 200;

#[derive(InputObject)]
pub struct GateOverrideInput {
    pub gate: Gate,
    #[graphql(validator(min_length = 1, max_length = 500))]
    pub reason: String,
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

fn level(ctx: &Context<'_>, l: String) -> Result<LevelId> {
    if engine(ctx).pathway().level_by_str(&l).is_some() {
        Ok(LevelId::new(l))
    } else {
        Err(bad_input(format!("unknown level \"{l}\"")))
    }
}

#[derive(InputObject)]
pub struct RegisterClientInput {
    /// Defaults to the caller's organization.
    pub home_org_id: Option<Uuid>,
    #[graphql(validator(minimum = 1900, maximum = 2100))]
    pub birth_year: Option<i32>,
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
    /// moves the client to withdrawal management or residential care at an organization no
    /// consent names. Recorded as a disclosure on that basis; raises `disclosure.emergency`.
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
    /// moves the client to withdrawal management or residential care at an organization no
    /// consent names. Recorded as a disclosure on that basis; raises `disclosure.emergency`.
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

async fn run(
    ctx: &Context<'_>,
    client: Option<ClientId>,
    expected_version: Option<i64>,
    idempotency_key: Option<String>,
    command: Command,
) -> Result<MutationResult> {
    if let Some(k) = &idempotency_key
        && (k.is_empty() || k.len() > KEY)
    {
        return Err(bad_input(format!(
            "idempotencyKey has 1 to {KEY} characters"
        )));
    }
    let name = command.name();
    let started = std::time::Instant::now();
    let result = engine(ctx)
        .execute(Request {
            client,
            actor: *actor(ctx)?,
            expected_version,
            idempotency_key,
            command,
        })
        .await;
    let outcome = if result.is_ok() { "ok" } else { "rejected" };
    metrics::counter!("carepath_commands_total", "command" => name, "outcome" => outcome)
        .increment(1);
    metrics::histogram!("carepath_command_seconds", "command" => name)
        .record(started.elapsed().as_secs_f64());
    Ok(MutationResult {
        outcome: result.gql()?,
    })
}

pub struct Mutation;

#[Object]
impl Mutation {
    async fn register_client(
        &self,
        ctx: &Context<'_>,
        input: RegisterClientInput,
        idempotency_key: Option<String>,
    ) -> Result<MutationResult> {
        let home_org = input.home_org_id.map(OrgId).unwrap_or(actor(ctx)?.org);
        run(
            ctx,
            None,
            None,
            idempotency_key,
            Command::RegisterClient {
                home_org,
                birth_year: input.birth_year,
            },
        )
        .await
    }

    /// Admit a registered client, or readmit a discharged one.
    async fn admit(
        &self,
        ctx: &Context<'_>,
        input: AdmitInput,
        expected_version: Option<i64>,
        idempotency_key: Option<String>,
    ) -> Result<MutationResult> {
        let command = Command::Admit {
            level: level(ctx, input.level)?,
            provider: OrgId(input.provider_id),
            planned_hours_per_week: input.planned_hours_per_week as f32,
            track: input.track,
            overrides: overrides(input.overrides),
            emergency: input
                .medical_emergency
                .map(|reason| MedicalEmergency { reason }),
        };
        run(
            ctx,
            Some(ClientId(input.client_id)),
            expected_version,
            idempotency_key,
            command,
        )
        .await
    }

    async fn record_consent(
        &self,
        ctx: &Context<'_>,
        input: RecordConsentInput,
        expected_version: Option<i64>,
        idempotency_key: Option<String>,
    ) -> Result<MutationResult> {
        let expiry = match (input.expiry, input.expires_on) {
            (ConsentExpiryKind::OnDate, Some(day)) => d::ConsentExpiry::On(day),
            (ConsentExpiryKind::OnDate, None) => {
                return Err(bad_input("expiry ON_DATE needs expiresOn"));
            }
            (_, Some(_)) => return Err(bad_input("expiresOn goes with expiry ON_DATE only")),
            (ConsentExpiryKind::EndOfTreatment, None) => d::ConsentExpiry::EndOfTreatment,
            (ConsentExpiryKind::Never, None) => d::ConsentExpiry::Never,
        };
        let command = Command::RecordConsent {
            recipients: input.recipient_ids.into_iter().map(OrgId).collect(),
            purpose: input.purpose,
            information: input.information,
            expiry,
            signed_on: input.signed_on,
        };
        run(
            ctx,
            Some(ClientId(input.client_id)),
            expected_version,
            idempotency_key,
            command,
        )
        .await
    }

    /// Revocation stops further disclosure: open referrals it covered are withdrawn.
    async fn revoke_consent(
        &self,
        ctx: &Context<'_>,
        client_id: Uuid,
        consent_id: Uuid,
        expected_version: Option<i64>,
        idempotency_key: Option<String>,
    ) -> Result<MutationResult> {
        run(
            ctx,
            Some(ClientId(client_id)),
            expected_version,
            idempotency_key,
            Command::RevokeConsent {
                consent: ConsentId(consent_id),
            },
        )
        .await
    }

    /// Refer to one or more providers at once; the first to accept wins.
    async fn send_referral(
        &self,
        ctx: &Context<'_>,
        input: SendReferralInput,
        expected_version: Option<i64>,
        idempotency_key: Option<String>,
    ) -> Result<MutationResult> {
        let command = Command::SendReferral {
            to_level: level(ctx, input.to_level)?,
            providers: input.provider_ids.into_iter().map(OrgId).collect(),
        };
        run(
            ctx,
            Some(ClientId(input.client_id)),
            expected_version,
            idempotency_key,
            command,
        )
        .await
    }

    async fn accept_referral(
        &self,
        ctx: &Context<'_>,
        referral_id: Uuid,
        expected_version: Option<i64>,
        idempotency_key: Option<String>,
    ) -> Result<MutationResult> {
        // The engine finds the referral's client, after the caller is authenticated.
        run(
            ctx,
            None,
            expected_version,
            idempotency_key,
            Command::AcceptReferral {
                referral: ReferralId(referral_id),
            },
        )
        .await
    }

    async fn decline_referral(
        &self,
        ctx: &Context<'_>,
        input: DeclineReferralInput,
        expected_version: Option<i64>,
        idempotency_key: Option<String>,
    ) -> Result<MutationResult> {
        let command = Command::DeclineReferral {
            referral: ReferralId(input.referral_id),
            reason: d::DeclineReason {
                code: input.reason.into(),
                note: input.note,
            },
        };
        run(ctx, None, expected_version, idempotency_key, command).await
    }

    async fn withdraw_referral(
        &self,
        ctx: &Context<'_>,
        referral_id: Uuid,
        expected_version: Option<i64>,
        idempotency_key: Option<String>,
    ) -> Result<MutationResult> {
        // The engine finds the referral's client, after the caller is authenticated.
        run(
            ctx,
            None,
            expected_version,
            idempotency_key,
            Command::WithdrawReferral {
                referral: ReferralId(referral_id),
            },
        )
        .await
    }

    async fn record_assessment(
        &self,
        ctx: &Context<'_>,
        input: RecordAssessmentInput,
        expected_version: Option<i64>,
        idempotency_key: Option<String>,
    ) -> Result<MutationResult> {
        let dims: [u8; 6] = input
            .dimensions
            .try_into()
            .map_err(|_| bad_input("dimensions has six ratings"))?;
        let command = Command::RecordAssessment {
            recommended_level: level(ctx, input.recommended_level)?,
            dimensions: dims,
            assessed_at: input.assessed_at,
        };
        run(
            ctx,
            Some(ClientId(input.client_id)),
            expected_version,
            idempotency_key,
            command,
        )
        .await
    }

    async fn record_mat_plan(
        &self,
        ctx: &Context<'_>,
        input: RecordMatPlanInput,
        expected_version: Option<i64>,
        idempotency_key: Option<String>,
    ) -> Result<MutationResult> {
        let command = Command::RecordMatPlan {
            medication: input.medication.into(),
            supply_through: input.supply_through,
            last_injection_on: input.last_injection_on,
        };
        run(
            ctx,
            Some(ClientId(input.client_id)),
            expected_version,
            idempotency_key,
            command,
        )
        .await
    }

    async fn end_mat_plan(
        &self,
        ctx: &Context<'_>,
        client_id: Uuid,
        expected_version: Option<i64>,
        idempotency_key: Option<String>,
    ) -> Result<MutationResult> {
        run(
            ctx,
            Some(ClientId(client_id)),
            expected_version,
            idempotency_key,
            Command::EndMatPlan,
        )
        .await
    }

    async fn schedule_aftercare(
        &self,
        ctx: &Context<'_>,
        input: ScheduleAftercareInput,
        expected_version: Option<i64>,
        idempotency_key: Option<String>,
    ) -> Result<MutationResult> {
        let command = Command::ScheduleAftercare {
            provider: OrgId(input.provider_id),
            kind: input.kind.into(),
            at: input.at,
        };
        run(
            ctx,
            Some(ClientId(input.client_id)),
            expected_version,
            idempotency_key,
            command,
        )
        .await
    }

    async fn schedule_mat_refill(
        &self,
        ctx: &Context<'_>,
        input: ScheduleMatRefillInput,
        expected_version: Option<i64>,
        idempotency_key: Option<String>,
    ) -> Result<MutationResult> {
        let command = Command::ScheduleMatRefill {
            provider: OrgId(input.provider_id),
            kind: input.kind.into(),
            on: input.on,
        };
        run(
            ctx,
            Some(ClientId(input.client_id)),
            expected_version,
            idempotency_key,
            command,
        )
        .await
    }

    /// Announce a handoff ahead of time so coordinators can book what it needs.
    async fn plan_handoff(
        &self,
        ctx: &Context<'_>,
        input: PlanHandoffInput,
        expected_version: Option<i64>,
        idempotency_key: Option<String>,
    ) -> Result<MutationResult> {
        let provider = input.provider_id.map(OrgId);
        let target = match (input.transition_kind, input.to_level, input.discharge_kind) {
            (Some(kind), Some(to), None) => d::HandoffTarget::Transition {
                kind: kind.into(),
                to_level: level(ctx, to)?,
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
        run(
            ctx,
            Some(ClientId(input.client_id)),
            expected_version,
            idempotency_key,
            Command::PlanHandoff {
                target,
                on: input.on,
            },
        )
        .await
    }

    /// Step down, step up or a lateral move.
    async fn transition(
        &self,
        ctx: &Context<'_>,
        input: TransitionInput,
        expected_version: Option<i64>,
        idempotency_key: Option<String>,
    ) -> Result<MutationResult> {
        let command = Command::Transition {
            kind: input.kind.into(),
            to_level: level(ctx, input.to_level)?,
            provider: input.provider_id.map(OrgId),
            planned_hours_per_week: input.planned_hours_per_week as f32,
            track: input.track,
            overrides: overrides(input.overrides),
            emergency: input
                .medical_emergency
                .map(|reason| MedicalEmergency { reason }),
        };
        run(
            ctx,
            Some(ClientId(input.client_id)),
            expected_version,
            idempotency_key,
            command,
        )
        .await
    }

    /// Planned (gated), against medical advice or administrative (never blocked, raises an
    /// at-risk event), or a transfer out. A supervisor may override a gate with a reason.
    async fn discharge(
        &self,
        ctx: &Context<'_>,
        input: DischargeInput,
        expected_version: Option<i64>,
        idempotency_key: Option<String>,
    ) -> Result<MutationResult> {
        let command = Command::Discharge {
            kind: input.kind.into(),
            provider: input.provider_id.map(OrgId),
            overrides: overrides(input.overrides),
        };
        run(
            ctx,
            Some(ClientId(input.client_id)),
            expected_version,
            idempotency_key,
            command,
        )
        .await
    }

    /// A provider's capacity at a level (admins, or the provider itself).
    async fn set_capacity(&self, ctx: &Context<'_>, input: SetCapacityInput) -> Result<CensusRow> {
        let eng = engine(ctx);
        let level = level(ctx, input.level)?;
        eng.set_capacity(
            actor(ctx)?,
            OrgId(input.provider_id),
            &level,
            input.capacity,
        )
        .await
        .gql()?;
        let row = eng
            .census()
            .await
            .gql()?
            .into_iter()
            .find(|r| r.provider == OrgId(input.provider_id) && r.level == level)
            .ok_or_else(|| bad_input("capacity not found after setting it"))?;
        Ok(row.into())
    }

    /// Register an organization (admins).
    async fn register_organization(
        &self,
        ctx: &Context<'_>,
        #[graphql(validator(min_length = 1, max_length = 200))] name: String,
    ) -> Result<Organization> {
        let id = OrgId::new();
        engine(ctx)
            .register_org(actor(ctx)?, id, &name)
            .await
            .gql()?;
        Ok(Organization(id))
    }
}
