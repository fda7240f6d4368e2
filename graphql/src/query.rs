//! Queries: reads through the engine, which decides who sees what.

use crate::context::{actor, engine};
use crate::error::{OrGraphql, bad_input};
use crate::types::*;
use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, Object, Result};
use carepath_engine::domain::ReadinessAsk;
use carepath_engine::domain::VisibleClient;
use carepath_engine::ids::*;
use carepath_engine::pathway::DischargeKind as DischargeKindDomain;
use carepath_engine::pathway::LevelId;
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

pub const DEFAULT_PAGE: i32 = 20;
pub const MAX_PAGE: i32 = 100;

pub fn page_size(first: Option<i32>) -> Result<u64> {
    match first.unwrap_or(DEFAULT_PAGE) {
        n @ 1..=MAX_PAGE => Ok(n as u64),
        n => Err(bad_input(format!(
            "first must be between 1 and {MAX_PAGE}, got {n}"
        ))),
    }
}

/// A connection page from `limit + 1` fetched rows: the extra row only says there is more.
fn page<R, T: async_graphql::OutputType>(
    mut rows: Vec<R>,
    limit: u64,
    has_previous: bool,
    edge: impl FnMut(R) -> Edge<String, T, EmptyFields>,
) -> Connection<String, T, EmptyFields, EmptyFields> {
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let mut c = Connection::new(has_previous, more);
    c.edges.extend(rows.into_iter().map(edge));
    c
}

/// A page of the record holder's worklist.
fn worklist_page(
    rows: Vec<VisibleClient>,
    limit: u64,
    has_previous: bool,
) -> Connection<String, Client, EmptyFields, EmptyFields> {
    page(rows, limit, has_previous, |c| {
        Edge::new(c.id.to_string(), Client(c))
    })
}

fn uuid_cursor(after: Option<String>) -> Result<Option<Uuid>> {
    after
        .map(|a| {
            Uuid::parse_str(&a).map_err(|_| bad_input("after is not a cursor from this connection"))
        })
        .transpose()
}

fn level_arg(ctx: &Context<'_>, level: Option<String>) -> Result<Option<LevelId>> {
    match level {
        None => Ok(None),
        Some(l) if engine(ctx).pathway().level_by_str(&l).is_some() => Ok(Some(LevelId::new(l))),
        Some(l) => Err(bad_input(format!("unknown level \"{l}\""))),
    }
}

pub struct Query;

#[Object]
impl Query {
    /// The care pathway the engine runs: levels, moves, gates.
    async fn pathway(&self, ctx: &Context<'_>) -> Result<Pathway> {
        actor(ctx)?;
        Ok(engine(ctx).pathway().into())
    }

    async fn client(&self, ctx: &Context<'_>, id: Uuid) -> Result<Client> {
        let client = engine(ctx)
            .read_client(actor(ctx)?, ClientId(id))
            .await
            .gql()?;
        Ok(Client(client))
    }

    /// Clients the caller may see, by id (keyset cursors).
    async fn clients(
        &self,
        ctx: &Context<'_>,
        level: Option<String>,
        provider_id: Option<Uuid>,
        #[graphql(
            desc = "Only clients whose display name contains these words (any case) or whose record number is exactly this."
        )]
        search: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Client, EmptyFields, EmptyFields>> {
        let limit = page_size(first)?;
        let level = level_arg(ctx, level)?;
        let after = uuid_cursor(after)?;
        let rows = engine(ctx)
            .list_clients(
                actor(ctx)?,
                level,
                provider_id.map(OrgId),
                search,
                after.map(ClientId),
                limit + 1,
            )
            .await
            .gql()?;
        Ok(page(rows, limit, after.is_some(), |c| {
            Edge::new(c.id.to_string(), Client(c))
        }))
    }

    /// Who the caller is: organization, role, and the staff member the token was issued to.
    async fn me(&self, ctx: &Context<'_>) -> Result<Me> {
        let a = actor(ctx)?;
        Ok(Me {
            organization: Organization(a.org),
            role: a.role.as_str().to_owned(),
            staff: a.staff.map(StaffMember),
        })
    }

    /// The caller's outreach list: clients of its organization lost to care (see
    /// `Client.lostToCare`), by id. Case managers and supervisors; admins see every
    /// organization's.
    async fn outreach(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Client, EmptyFields, EmptyFields>> {
        let limit = page_size(first)?;
        let after = uuid_cursor(after)?;
        let rows = engine(ctx)
            .outreach(actor(ctx)?, after.map(ClientId), limit + 1)
            .await
            .gql()?;
        Ok(worklist_page(rows, limit, after.is_some()))
    }

    /// The caller's escalations: clients with a referral group that ran out and nothing sent
    /// since (see `Client.escalation`), by id — `mine` (the default): those whose episode
    /// names the caller as case manager; `mine: false`: the organization's. Case managers and
    /// supervisors; admins see every organization's.
    async fn escalations(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = true)] mine: bool,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Client, EmptyFields, EmptyFields>> {
        let limit = page_size(first)?;
        let after = uuid_cursor(after)?;
        let rows = engine(ctx)
            .escalations(actor(ctx)?, mine, after.map(ClientId), limit + 1)
            .await
            .gql()?;
        Ok(worklist_page(rows, limit, after.is_some()))
    }

    /// Measures of continuity over the caller's organization's clients (an admin:
    /// everyone's), for items starting in `[from, to)` (default: the 30 days to now),
    /// narrowed to a receiving provider and level when given. Case managers and supervisors.
    async fn measures(
        &self,
        ctx: &Context<'_>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        provider_id: Option<Uuid>,
        level: Option<String>,
    ) -> Result<crate::measures::Measures> {
        let engine = engine(ctx);
        let level = level_arg(ctx, level)?;
        let to = to.unwrap_or_else(|| engine.clock().now());
        let from = from.unwrap_or(to - chrono::Duration::days(30));
        let m = engine
            .measures(actor(ctx)?, from, to, provider_id.map(OrgId), level)
            .await
            .gql()?;
        Ok(m.into())
    }

    /// Per level and provider: active clients, capacity, open slots, pending referrals.
    async fn census(&self, ctx: &Context<'_>) -> Result<Vec<CensusRow>> {
        Ok(engine(ctx)
            .census(actor(ctx)?)
            .await
            .gql()?
            .into_iter()
            .map(CensusRow::from)
            .collect())
    }

    async fn referral(&self, ctx: &Context<'_>, id: Uuid) -> Result<Referral> {
        Ok(engine(ctx)
            .read_referral(actor(ctx)?, ReferralId(id))
            .await
            .gql()?
            .into())
    }

    /// A partner provider's referrals (an admin names the provider).
    async fn referral_inbox(
        &self,
        ctx: &Context<'_>,
        status: Option<ReferralStatus>,
        provider_id: Option<Uuid>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Referral, EmptyFields, EmptyFields>> {
        let limit = page_size(first)?;
        let after = uuid_cursor(after)?;
        let rows = engine(ctx)
            .inbox(
                actor(ctx)?,
                provider_id.map(OrgId),
                status.map(Into::into),
                after.map(ReferralId),
                limit + 1,
            )
            .await
            .gql()?;
        Ok(page(rows, limit, after.is_some(), |r| {
            Edge::new(r.referral.id.to_string(), Referral::from(r))
        }))
    }

    /// Each gate the move needs, met or unmet, with why. Without `toLevel`: a discharge of
    /// `dischargeKind` (planned by default).
    async fn discharge_readiness(
        &self,
        ctx: &Context<'_>,
        client_id: Uuid,
        to_level: Option<String>,
        discharge_kind: Option<DischargeKind>,
        provider_id: Option<Uuid>,
        on: Option<NaiveDate>,
    ) -> Result<Readiness> {
        let provider = provider_id.map(OrgId);
        let ask = match level_arg(ctx, to_level)? {
            Some(level) => ReadinessAsk::MoveTo { level, provider },
            None => ReadinessAsk::Discharge {
                kind: discharge_kind.map_or(DischargeKindDomain::Planned, Into::into),
                provider,
            },
        };
        let (target, gates) = engine(ctx)
            .read_readiness(actor(ctx)?, ClientId(client_id), ask, on)
            .await
            .gql()?;
        Ok(Readiness {
            client_id,
            target: target_move(&target),
            ready: gates.iter().all(|g| g.met),
            gates: gates
                .into_iter()
                .map(|g| GateStatus {
                    gate: g.gate.into(),
                    met: g.met,
                    why: g.why,
                })
                .collect(),
        })
    }

    /// A client's event log, in order (cursor: the sequence number).
    async fn care_events(
        &self,
        ctx: &Context<'_>,
        client_id: Uuid,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, CareEvent, EmptyFields, EmptyFields>> {
        let limit = page_size(first)?;
        let after_seq = match after {
            None => 0,
            Some(a) => a
                .parse::<i64>()
                .map_err(|_| bad_input("after is not a cursor from this connection"))?,
        };
        let rows = engine(ctx)
            .read_events(actor(ctx)?, ClientId(client_id), after_seq, limit + 1)
            .await
            .gql()?;
        Ok(page(rows, limit, after_seq > 0, |e| {
            Edge::new(e.seq.to_string(), CareEvent(e))
        }))
    }

    /// The 42 CFR Part 2 accounting (§2.24): every disclosure of the client's record — to
    /// whom, when, what, under which consent or other legal basis — made at or after `from`
    /// and before `to`.
    async fn disclosures(
        &self,
        ctx: &Context<'_>,
        client_id: Uuid,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Vec<DisclosureRecord>> {
        Ok(engine(ctx)
            .read_disclosures(actor(ctx)?, ClientId(client_id), from, to)
            .await
            .gql()?
            .into_iter()
            .map(|d| DisclosureRecord {
                recipient: Organization(d.recipient),
                consent_id: d.consent.map(|c| c.0),
                legal_basis: d.legal_basis,
                event_id: d.event.map(|e| e.0),
                what: d.what,
                at: d.at,
            })
            .collect())
    }
}
