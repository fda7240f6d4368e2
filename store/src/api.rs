//! Reads the API serves (pages with keyset cursors), disclosures, and API tokens.

use super::entities::*;
use super::{Store, StoreError, corrupt};
use carepath_domain::ids::*;
use carepath_domain::pathway::LevelId;
use carepath_domain::{ClientIdentity, ClientState, ReferralStatus};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

/// Which clients a page lists.
#[derive(Clone, Debug, Default)]
pub struct ClientFilter {
    pub level: Option<LevelId>,
    pub provider: Option<OrgId>,
    pub home_org: Option<OrgId>,
    /// Only clients lost to care (the outreach list).
    pub lost_to_care: bool,
    /// Only clients with a referral group that ran out (escalations).
    pub escalated: bool,
    /// Only clients whose episode names this case manager.
    pub case_manager: Option<StaffId>,
    /// Only clients placed with this organization or referred to it (a partner's FHIR
    /// searches: its incoming referrals' clients too).
    pub placed_or_referred: Option<OrgId>,
    /// Only clients a consent names this organization in (revoked or ended ones too: whether
    /// one is in force is the engine's to judge).
    pub named_in_consent: Option<OrgId>,
    /// Only clients whose display name contains these words (in any case) or whose record
    /// number is exactly this.
    pub search: Option<String>,
}

/// A referral row: the inbox's view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferralRow {
    pub id: ReferralId,
    pub client: ClientId,
    pub provider: OrgId,
    pub to_level: LevelId,
    pub status: String,
}

/// A disclosure as recorded (42 CFR 2.24 accounting).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisclosureRow {
    pub recipient: OrgId,
    pub consent: Option<ConsentId>,
    /// The legal basis when no consent covers it (e.g. a medical emergency, 42 CFR 2.51).
    pub legal_basis: Option<String>,
    pub event: Option<EventId>,
    pub what: String,
    pub at: DateTime<Utc>,
}

/// A stored token, without its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRow {
    pub id: Uuid,
    /// The person it was issued to.
    pub staff: StaffId,
    pub org: OrgId,
    pub role: String,
    pub label: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it was last used (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A token to store (its hash, never the token).
#[derive(Clone, Copy, Debug)]
pub struct NewToken<'a> {
    pub org: OrgId,
    pub role: &'a str,
    pub token_hash: &'a str,
    pub label: Option<&'a str>,
    /// The person it is for, when they already have one; `None`: a new person.
    pub staff: Option<StaffId>,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A staff member: a person's active account, or a service account (its newest live token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaffRow {
    pub staff: StaffId,
    pub org: OrgId,
    pub role: String,
    /// The token's label: how the person is known to their colleagues.
    pub name: Option<String>,
}

/// A stored token's holder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenHolder {
    pub org: OrgId,
    pub role: String,
    pub staff: StaffId,
}

impl Store {
    /// Up to `limit` clients after `after` (by id), filtered.
    pub async fn clients_page(
        &self,
        filter: &ClientFilter,
        after: Option<ClientId>,
        limit: u64,
    ) -> Result<Vec<ClientState>, StoreError> {
        let mut q = client::Entity::find();
        if let Some(level) = &filter.level {
            q = q.filter(client::Column::Level.eq(level.as_str()));
        }
        if let Some(p) = filter.provider {
            q = q.filter(client::Column::ProviderId.eq(p.0));
        }
        if let Some(h) = filter.home_org {
            q = q.filter(client::Column::HomeOrg.eq(h.0));
        }
        if filter.lost_to_care {
            q = q.filter(client::Column::LostToCare.is_not_null());
        }
        if filter.escalated {
            q = q.filter(client::Column::EscalatedAt.is_not_null());
        }
        if let Some(m) = filter.case_manager {
            q = q.filter(client::Column::CaseManager.eq(m.0));
        }
        if let Some(org) = filter.placed_or_referred {
            let referred = sea_orm::sea_query::Query::select()
                .column(referral::Column::ClientId)
                .from(referral::Entity)
                .and_where(referral::Column::ProviderId.eq(org.0))
                .to_owned();
            q = q.filter(
                Condition::any()
                    .add(client::Column::ProviderId.eq(org.0))
                    .add(client::Column::Id.in_subquery(referred)),
            );
        }
        if let Some(org) = filter.named_in_consent {
            q = q.filter(crate::worklists::consent_names(self.backend(), org));
        }
        if let Some(text) = &filter.search {
            // Every word of the search within the name, or the whole of it the record number.
            let mut words = Condition::all();
            for word in crate::rows::name_key(text).split(' ') {
                let like = format!(
                    "%{}%",
                    word.replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_")
                );
                words = words.add(
                    client_identity::Column::NameKey
                        .like(sea_orm::sea_query::LikeExpr::new(like).escape('\\')),
                );
            }
            let matching = sea_orm::sea_query::Query::select()
                .column(client_identity::Column::ClientId)
                .from(client_identity::Entity)
                .cond_where(
                    Condition::any()
                        .add(words)
                        .add(client_identity::Column::RecordNumber.eq(text.trim())),
                )
                .to_owned();
            q = q.filter(client::Column::Id.in_subquery(matching));
        }
        self.client_page(q, after, limit).await
    }

    /// A page of the clients `q` selects, in id order after `after`.
    pub(crate) async fn client_page(
        &self,
        mut q: sea_orm::Select<client::Entity>,
        after: Option<ClientId>,
        limit: u64,
    ) -> Result<Vec<ClientState>, StoreError> {
        if let Some(a) = after {
            q = q.filter(client::Column::Id.gt(a.0));
        }
        q.order_by_asc(client::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| serde_json::from_value(row.state).map_err(corrupt))
            .collect()
    }

    /// The display names and record numbers of `clients` that have them.
    pub async fn identities(
        &self,
        clients: &[ClientId],
    ) -> Result<Vec<(ClientId, ClientIdentity)>, StoreError> {
        if clients.is_empty() {
            return Ok(Vec::new());
        }
        Ok(client_identity::Entity::find()
            .filter(client_identity::Column::ClientId.is_in(clients.iter().map(|c| c.0)))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|r| {
                (
                    ClientId(r.client_id),
                    ClientIdentity {
                        display_name: r.display_name,
                        record_number: r.record_number,
                    },
                )
            })
            .collect())
    }

    /// The client of `home_org` that has record number `number`, if any.
    pub async fn record_number_holder(
        &self,
        home_org: OrgId,
        number: &str,
    ) -> Result<Option<ClientId>, StoreError> {
        Ok(client_identity::Entity::find()
            .filter(client_identity::Column::HomeOrg.eq(home_org.0))
            .filter(client_identity::Column::RecordNumber.eq(number.trim()))
            .one(&self.db)
            .await?
            .map(|r| ClientId(r.client_id)))
    }

    pub async fn referral_row(&self, id: ReferralId) -> Result<Option<ReferralRow>, StoreError> {
        Ok(referral::Entity::find_by_id(id.0)
            .one(&self.db)
            .await?
            .map(row_to_referral))
    }

    /// A provider's referrals, optionally of one status, after `after` (by id).
    pub async fn inbox(
        &self,
        provider: OrgId,
        status: Option<ReferralStatus>,
        after: Option<ReferralId>,
        limit: u64,
    ) -> Result<Vec<ReferralRow>, StoreError> {
        let mut q = referral::Entity::find().filter(referral::Column::ProviderId.eq(provider.0));
        if let Some(s) = status {
            q = q.filter(referral::Column::Status.eq(s.as_str()));
        }
        if let Some(a) = after {
            q = q.filter(referral::Column::Id.gt(a.0));
        }
        Ok(q.order_by_asc(referral::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(row_to_referral)
            .collect())
    }

    /// A client's disclosures made at or after `from` and before `to`, oldest first.
    pub async fn disclosures(
        &self,
        client: ClientId,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Vec<DisclosureRow>, StoreError> {
        let mut q = disclosure::Entity::find().filter(disclosure::Column::ClientId.eq(client.0));
        if let Some(from) = from {
            q = q.filter(disclosure::Column::DisclosedAt.gte(from));
        }
        if let Some(to) = to {
            q = q.filter(disclosure::Column::DisclosedAt.lt(to));
        }
        Ok(q.order_by_asc(disclosure::Column::DisclosedAt)
            .order_by_asc(disclosure::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|d| DisclosureRow {
                recipient: OrgId(d.recipient_org),
                consent: d.consent_id.map(ConsentId),
                legal_basis: d.legal_basis,
                event: d.event_id.map(EventId),
                what: d.what,
                at: d.disclosed_at,
            })
            .collect())
    }

    /// Record a disclosure made by reading (an API read by another organization): no event
    /// goes with it.
    pub async fn record_read_disclosure(
        &self,
        client: ClientId,
        recipient: OrgId,
        consent: Option<ConsentId>,
        what: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        disclosure::Entity::insert(disclosure::ActiveModel {
            id: Set(Uuid::now_v7()),
            client_id: Set(client.0),
            recipient_org: Set(recipient.0),
            consent_id: Set(consent.map(|c| c.0)),
            event_id: Set(None),
            what: Set(what.to_owned()),
            disclosed_at: Set(at),
            legal_basis: Set(None),
        })
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }

    pub async fn org_names(
        &self,
        ids: &[OrgId],
    ) -> Result<std::collections::HashMap<OrgId, String>, StoreError> {
        Ok(organization::Entity::find()
            .filter(organization::Column::Id.is_in(ids.iter().map(|o| o.0)))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|o| (OrgId(o.id), o.name))
            .collect())
    }

    pub async fn create_token(&self, t: NewToken<'_>) -> Result<Uuid, StoreError> {
        let id = Uuid::now_v7();
        api_token::Entity::insert(api_token::ActiveModel {
            id: Set(id),
            org_id: Set(t.org.0),
            role: Set(t.role.to_owned()),
            token_hash: Set(t.token_hash.to_owned()),
            label: Set(t.label.map(str::to_owned)),
            // A new person unless the token is another of someone's.
            staff_id: Set(Some(t.staff.map_or(id, |s| s.0))),
            created_at: Set(t.now),
            revoked_at: Set(None),
            expires_at: Set(Some(t.expires_at)),
            last_used_at: Set(None),
        })
        .exec_without_returning(&self.db)
        .await?;
        Ok(id)
    }

    /// Who holds the token with this hash, if it is neither revoked nor expired at `now`.
    pub async fn token_holder(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenHolder>, StoreError> {
        let Some(token) = self
            .live_token(
                Condition::all().add(api_token::Column::TokenHash.eq(token_hash)),
                now,
            )
            .await?
        else {
            return Ok(None);
        };
        // When it was last used, to the minute: one write a minute at most, not one a request.
        let minute_ago = now - chrono::Duration::minutes(1);
        if token.last_used_at.is_none_or(|t| t < minute_ago) {
            api_token::Entity::update_many()
                .col_expr(api_token::Column::LastUsedAt, Expr::value(Some(now)))
                .filter(api_token::Column::Id.eq(token.id))
                .filter(
                    Condition::any()
                        .add(api_token::Column::LastUsedAt.is_null())
                        .add(api_token::Column::LastUsedAt.lt(minute_ago)),
                )
                .exec(&self.db)
                .await?;
        }
        Ok(Some(holder(token)))
    }

    /// The staff members among `ids` who hold a live token at `now`: their organization and
    /// role (a person's newest live token says which), and the token's label (their name).
    pub async fn staff_members(
        &self,
        ids: &[StaffId],
        now: DateTime<Utc>,
    ) -> Result<Vec<StaffRow>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = api_token::Entity::find()
            .filter(
                Condition::all()
                    .add(api_token::Column::StaffId.is_in(ids.iter().map(|i| i.0)))
                    .add(api_token::Column::RevokedAt.is_null())
                    .add(
                        Condition::any()
                            .add(api_token::Column::ExpiresAt.is_null())
                            .add(api_token::Column::ExpiresAt.gt(now)),
                    ),
            )
            .order_by_desc(api_token::Column::CreatedAt)
            .all(&self.db)
            .await?;
        // People first (their accounts), then the service accounts (tokens) among the ids.
        let mut out: Vec<StaffRow> = staff_account::Entity::find()
            .filter(staff_account::Column::Id.is_in(ids.iter().map(|i| i.0)))
            .filter(staff_account::Column::Status.eq("active"))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|a| StaffRow {
                staff: StaffId(a.id),
                org: OrgId(a.org_id),
                role: a.role,
                name: Some(a.name),
            })
            .collect();
        for t in rows {
            let staff = StaffId(t.staff_id.unwrap_or(t.id));
            if out.iter().any(|s| s.staff == staff) {
                continue;
            }
            out.push(StaffRow {
                staff,
                org: OrgId(t.org_id),
                role: t.role,
                name: t.label,
            });
        }
        Ok(out)
    }

    /// Every token, oldest first (hashes left out).
    pub async fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        Ok(api_token::Entity::find()
            .order_by_asc(api_token::Column::CreatedAt)
            .order_by_asc(api_token::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|t| TokenRow {
                id: t.id,
                staff: StaffId(t.staff_id.unwrap_or(t.id)),
                org: OrgId(t.org_id),
                role: t.role,
                label: t.label,
                created_at: t.created_at,
                expires_at: t.expires_at,
                revoked_at: t.revoked_at,
                last_used_at: t.last_used_at,
            })
            .collect())
    }

    pub async fn revoke_token(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
        Ok(api_token::Entity::update_many()
            .col_expr(api_token::Column::RevokedAt, Expr::value(Some(now)))
            .filter(api_token::Column::Id.eq(id))
            .filter(api_token::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await?
            .rows_affected
            == 1)
    }
}

fn row_to_referral(r: referral::Model) -> ReferralRow {
    ReferralRow {
        id: ReferralId(r.id),
        client: ClientId(r.client_id),
        provider: OrgId(r.provider_id),
        to_level: LevelId(r.to_level),
        status: r.status,
    }
}

impl Store {
    async fn live_token(
        &self,
        which: Condition,
        now: DateTime<Utc>,
    ) -> Result<Option<api_token::Model>, StoreError> {
        Ok(api_token::Entity::find()
            .filter(
                which.add(api_token::Column::RevokedAt.is_null()).add(
                    Condition::any()
                        .add(api_token::Column::ExpiresAt.is_null())
                        .add(api_token::Column::ExpiresAt.gt(now)),
                ),
            )
            .one(&self.db)
            .await?)
    }
}

fn holder(t: api_token::Model) -> TokenHolder {
    TokenHolder {
        org: OrgId(t.org_id),
        role: t.role,
        staff: StaffId(t.staff_id.unwrap_or(t.id)),
    }
}
