//! Mutations: each is one engine command, taken by one generic path ([`run`]) from its input
//! ([`crate::inputs`], one conversion each). Every mutation takes an optional
//! `idempotencyKey`; those that change a client take an optional `expectedVersion`.

use crate::context::{actor, engine};
use crate::error::{OrGraphql, bad_input};
use crate::inputs::*;
use crate::types::*;
use async_graphql::{Context, Error, Object, Result};
use carepath_engine::Request;
use carepath_engine::ids::*;
use carepath_engine::pathway::LevelId;
use uuid::Uuid;

/// The one path from a mutation's input to the engine: convert, execute as the caller,
/// count.
async fn run<I>(
    ctx: &Context<'_>,
    input: I,
    expected_version: Option<i64>,
    idempotency_key: Option<String>,
) -> Result<MutationResult>
where
    I: TryInto<Asked>,
    I::Error: Into<Error>,
{
    let Asked { client, command } = input.try_into().map_err(Into::into)?;
    let result = engine(ctx)
        .execute(Request {
            client,
            actor: *actor(ctx)?,
            expected_version,
            idempotency_key,
            command,
        })
        .await;
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
        run(ctx, (input, actor(ctx)?.org), None, idempotency_key).await
    }

    /// Record or correct how the organization recognises the client: a display name and its
    /// own record number (MRN or external id), kept beside the record — never in an event,
    /// a log line or a message (`client.identity_recorded` says only that it changed).
    async fn record_identity(
        &self,
        ctx: &Context<'_>,
        client_id: Uuid,
        display_name: String,
        record_number: Option<String>,
        expected_version: Option<i64>,
        idempotency_key: Option<String>,
    ) -> Result<MutationResult> {
        run(
            ctx,
            RecordIdentityArgs {
                client_id,
                display_name,
                record_number,
            },
            expected_version,
            idempotency_key,
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
        run(ctx, input, expected_version, idempotency_key).await
    }

    async fn record_consent(
        &self,
        ctx: &Context<'_>,
        input: RecordConsentInput,
        expected_version: Option<i64>,
        idempotency_key: Option<String>,
    ) -> Result<MutationResult> {
        run(ctx, input, expected_version, idempotency_key).await
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
            RevokeConsentArgs {
                client_id,
                consent_id,
            },
            expected_version,
            idempotency_key,
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
        run(ctx, input, expected_version, idempotency_key).await
    }

    /// The receiving provider has seen the referral; its answer is still due by `answerBy`.
    /// What became of an aftercare appointment or a MAT booking, from its provider (partner
    /// token), the coordinator who booked it, or the case manager: a kept visit counts for
    /// the follow-up checks (HEDIS FUI), a dose or refill extends the MAT supply, a no-show
    /// with nothing booked since is lost to care after the pathway's `lostToCareDays`.
    async fn record_booking_outcome(
        &self,
        ctx: &Context<'_>,
        input: RecordBookingOutcomeInput,
        expected_version: Option<i64>,
        idempotency_key: Option<String>,
    ) -> Result<MutationResult> {
        run(ctx, input, expected_version, idempotency_key).await
    }

    /// Send a referral group that ran out (`referral.expired` with `escalate`, or every
    /// provider declined) again for its level to the next providers: a new group.
    async fn resend_referral(
        &self,
        ctx: &Context<'_>,
        input: ResendReferralInput,
        expected_version: Option<i64>,
        idempotency_key: Option<String>,
    ) -> Result<MutationResult> {
        run(ctx, input, expected_version, idempotency_key).await
    }

    async fn acknowledge_referral(
        &self,
        ctx: &Context<'_>,
        referral_id: Uuid,
        expected_version: Option<i64>,
        idempotency_key: Option<String>,
    ) -> Result<MutationResult> {
        run(
            ctx,
            ReferralAnswerArgs::Acknowledge { referral_id },
            expected_version,
            idempotency_key,
        )
        .await
    }

    /// No open slot now: the referral waits on the provider's list, and the first slot that
    /// frees is held for the head of the list (`referral.accepted` with `fromWaitlist`).
    async fn waitlist_referral(
        &self,
        ctx: &Context<'_>,
        referral_id: Uuid,
        expected_version: Option<i64>,
        idempotency_key: Option<String>,
    ) -> Result<MutationResult> {
        run(
            ctx,
            ReferralAnswerArgs::Waitlist { referral_id },
            expected_version,
            idempotency_key,
        )
        .await
    }

    /// The provider the client is on the way to confirms the arrival: the held slot becomes
    /// the client's and the new placement starts (`transition.completed`, `reportedBy:
    /// receiver`). The record holder's case manager may record it only as relayed, with
    /// `relayedBy` saying who reported it (e.g. "phone call from intake nurse J. at
    /// Riverside"; kept in the record, never in an event): `reportedBy: relayed`.
    async fn confirm_arrival(
        &self,
        ctx: &Context<'_>,
        client_id: Uuid,
        relayed_by: Option<String>,
        expected_version: Option<i64>,
        idempotency_key: Option<String>,
    ) -> Result<MutationResult> {
        run(
            ctx,
            ConfirmArrivalArgs(HandoffReportArgs {
                client_id,
                relayed_by,
            }),
            expected_version,
            idempotency_key,
        )
        .await
    }

    /// Name the staff member responsible for the client's episode: a case manager or
    /// supervisor of the organization holding the record, by the id `me { staff { id } }`
    /// gives them (`episode.case_manager_assigned`). Escalations go to them from then on.
    async fn assign_case_manager(
        &self,
        ctx: &Context<'_>,
        client_id: Uuid,
        staff_id: Uuid,
        expected_version: Option<i64>,
        idempotency_key: Option<String>,
    ) -> Result<MutationResult> {
        run(
            ctx,
            AssignCaseManagerArgs {
                client_id,
                staff_id,
            },
            expected_version,
            idempotency_key,
        )
        .await
    }

    /// The provider the client is on the way to reports that they did not come
    /// (`handoff.missed`, `client.lost_to_care`); the held slot is released. The record
    /// holder's case manager may record it only as relayed (`relayedBy`, as for
    /// `confirmArrival`).
    async fn report_no_show(
        &self,
        ctx: &Context<'_>,
        client_id: Uuid,
        relayed_by: Option<String>,
        expected_version: Option<i64>,
        idempotency_key: Option<String>,
    ) -> Result<MutationResult> {
        run(
            ctx,
            ReportNoShowArgs(HandoffReportArgs {
                client_id,
                relayed_by,
            }),
            expected_version,
            idempotency_key,
        )
        .await
    }

    /// The receiving provider takes the client: a slot is held until the handoff starts
    /// (`referral.accepted`). A provider with no open slot at the level is refused
    /// `NO_CAPACITY` and nothing changes (it may put the referral on its waitlist instead).
    async fn accept_referral(
        &self,
        ctx: &Context<'_>,
        referral_id: Uuid,
        expected_version: Option<i64>,
        idempotency_key: Option<String>,
    ) -> Result<MutationResult> {
        run(
            ctx,
            ReferralAnswerArgs::Accept { referral_id },
            expected_version,
            idempotency_key,
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
        run(ctx, input, expected_version, idempotency_key).await
    }

    async fn withdraw_referral(
        &self,
        ctx: &Context<'_>,
        referral_id: Uuid,
        expected_version: Option<i64>,
        idempotency_key: Option<String>,
    ) -> Result<MutationResult> {
        run(
            ctx,
            ReferralAnswerArgs::Withdraw { referral_id },
            expected_version,
            idempotency_key,
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
        run(ctx, input, expected_version, idempotency_key).await
    }

    async fn record_mat_plan(
        &self,
        ctx: &Context<'_>,
        input: RecordMatPlanInput,
        expected_version: Option<i64>,
        idempotency_key: Option<String>,
    ) -> Result<MutationResult> {
        run(ctx, input, expected_version, idempotency_key).await
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
            EndMatPlanArgs { client_id },
            expected_version,
            idempotency_key,
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
        run(ctx, input, expected_version, idempotency_key).await
    }

    async fn schedule_mat_refill(
        &self,
        ctx: &Context<'_>,
        input: ScheduleMatRefillInput,
        expected_version: Option<i64>,
        idempotency_key: Option<String>,
    ) -> Result<MutationResult> {
        run(ctx, input, expected_version, idempotency_key).await
    }

    /// Announce a handoff ahead of time so coordinators can book what it needs.
    async fn plan_handoff(
        &self,
        ctx: &Context<'_>,
        input: PlanHandoffInput,
        expected_version: Option<i64>,
        idempotency_key: Option<String>,
    ) -> Result<MutationResult> {
        run(ctx, input, expected_version, idempotency_key).await
    }

    /// Step down, step up or a lateral move.
    async fn transition(
        &self,
        ctx: &Context<'_>,
        input: TransitionInput,
        expected_version: Option<i64>,
        idempotency_key: Option<String>,
    ) -> Result<MutationResult> {
        run(ctx, input, expected_version, idempotency_key).await
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
        run(ctx, input, expected_version, idempotency_key).await
    }

    /// A provider's capacity at a level (admins, or the provider itself).
    async fn set_capacity(&self, ctx: &Context<'_>, input: SetCapacityInput) -> Result<CensusRow> {
        let eng = engine(ctx);
        let level = LevelId::new(input.level);
        eng.set_capacity(
            actor(ctx)?,
            OrgId(input.provider_id),
            &level,
            input.capacity,
        )
        .await
        .gql()?;
        let row = eng
            .census(actor(ctx)?)
            .await
            .gql()?
            .into_iter()
            .find(|r| r.provider == OrgId(input.provider_id) && r.level == level)
            .ok_or_else(|| bad_input("capacity not found after setting it"))?;
        Ok(row.into())
    }

    /// Register an organization (admins), with the MAT services it provides (none unless
    /// given): a MAT booking goes only to an organization that provides its service.
    async fn register_organization(
        &self,
        ctx: &Context<'_>,
        #[graphql(validator(min_length = 1, max_length = 200))] name: String,
        #[graphql(default)] mat_services: Vec<MatService>,
    ) -> Result<Organization> {
        let id = OrgId::new();
        let services: Vec<_> = mat_services.into_iter().map(Into::into).collect();
        engine(ctx)
            .register_provider(actor(ctx)?, id, &name, &[], &services)
            .await
            .gql()?;
        Ok(Organization(id))
    }

    /// Time skipping (a server started with `carepath serve --time-skipping`): move the
    /// clock forward by `by`, an ISO 8601 duration (`PT4H`, `P7D`, `P1DT12H`; more than
    /// nothing, at most 366 days). Every timer that falls due on the way fires, in due order,
    /// each with the clock at its due time; the clock is left at the old one plus `by`.
    /// Admins only; `NOT_TIME_SKIPPING` on a server that keeps the wall clock.
    async fn advance_clock(&self, ctx: &Context<'_>, by: String) -> Result<ClockAdvance> {
        let actor = actor(ctx)?;
        let by = parse_duration(&by)?;
        Ok(engine(ctx).advance_clock_as(actor, by).await.gql()?.into())
    }

    /// Set an organization's time zone, an IANA name such as `America/New_York` (admins): its
    /// people see times in it on the console and type times in it. The API keeps RFC 3339
    /// with offsets.
    async fn set_organization_time_zone(
        &self,
        ctx: &Context<'_>,
        organization_id: Uuid,
        #[graphql(validator(min_length = 1, max_length = 64))] time_zone: String,
    ) -> Result<Organization> {
        let org = OrgId(organization_id);
        engine(ctx)
            .set_org_time_zone(actor(ctx)?, org, &time_zone)
            .await
            .gql()?;
        Ok(Organization(org))
    }

    /// Set the MAT services an organization provides, replacing those it had (admins).
    async fn set_mat_services(
        &self,
        ctx: &Context<'_>,
        organization_id: Uuid,
        services: Vec<MatService>,
    ) -> Result<Organization> {
        let org = OrgId(organization_id);
        let services: Vec<_> = services.into_iter().map(Into::into).collect();
        engine(ctx)
            .set_mat_services(actor(ctx)?, org, &services)
            .await
            .gql()?;
        Ok(Organization(org))
    }
}
