//! People and how they sign in: staff accounts, their single-use links, their browser
//! sessions, the sign-in audit, and each organization's single sign-on settings. What is
//! stored is what the engine decided; secrets are stored only as hashes (sessions, links,
//! recovery codes) or as the password hash Argon2id gave.

use super::entities::*;
use super::{Store, StoreError, corrupt};
use carepath_domain::ids::*;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

/// A staff account as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountRow {
    pub id: StaffId,
    pub org: OrgId,
    pub role: String,
    pub email: String,
    pub name: String,
    pub status: String,
    pub password_hash: Option<String>,
    pub totp_secret: Option<String>,
    pub totp_pending: Option<String>,
    pub totp_last_step: Option<i64>,
    /// SHA-256 hashes of the recovery codes not yet used.
    pub recovery_codes: Vec<String>,
    pub sso_issuer: Option<String>,
    pub sso_subject: Option<String>,
    pub failed_sign_ins: u32,
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for AccountRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountRow")
            .field("id", &self.id)
            .field("org", &self.org)
            .field("role", &self.role)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// A change to an account: each `Some` field is written.
#[derive(Clone, Default)]
pub struct AccountChange {
    pub role: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
    pub password_hash: Option<Option<String>>,
    pub totp_secret: Option<Option<String>>,
    pub totp_pending: Option<Option<String>>,
    pub totp_last_step: Option<Option<i64>>,
    pub recovery_codes: Option<Vec<String>>,
    pub sso: Option<(String, String)>,
    pub failed_sign_ins: Option<u32>,
    pub locked_until: Option<Option<DateTime<Utc>>>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
}

/// A single-use link (invitation or password reset) as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkRow {
    pub staff: StaffId,
    pub purpose: String,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

/// A browser session as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    /// The hash of its secret (an id for listing: the secret cannot be had from it).
    pub hash: String,
    pub staff: StaffId,
    pub stage: String,
    pub method: String,
    pub address: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub idle_secs: i64,
    pub expires_at: DateTime<Utc>,
}

impl SessionRow {
    /// Whether it is still open at `now`: neither idle too long nor past its end.
    pub fn live_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at > now && self.last_seen_at + chrono::Duration::seconds(self.idle_secs) > now
    }
}

/// One line of the sign-in audit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRow {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub org: Option<OrgId>,
    /// The account it is about.
    pub staff: Option<StaffId>,
    /// Who did it, when it was another person (an admin's change).
    pub by: Option<StaffId>,
    pub kind: String,
    pub detail: Option<String>,
    pub address: Option<String>,
}

fn account(m: staff_account::Model) -> Result<AccountRow, StoreError> {
    let recovery_codes = match m.recovery_codes {
        Some(j) => serde_json::from_value(j).map_err(corrupt)?,
        None => Vec::new(),
    };
    Ok(AccountRow {
        id: StaffId(m.id),
        org: OrgId(m.org_id),
        role: m.role,
        email: m.email,
        name: m.name,
        status: m.status,
        password_hash: m.password_hash,
        totp_secret: m.totp_secret,
        totp_pending: m.totp_pending,
        totp_last_step: m.totp_last_step,
        recovery_codes,
        sso_issuer: m.sso_issuer,
        sso_subject: m.sso_subject,
        failed_sign_ins: u32::try_from(m.failed_sign_ins).unwrap_or(0),
        locked_until: m.locked_until,
        created_at: m.created_at,
        updated_at: m.updated_at,
        last_sign_in_at: m.last_sign_in_at,
    })
}

fn session(m: staff_session::Model) -> SessionRow {
    SessionRow {
        hash: m.session_hash,
        staff: StaffId(m.staff_id),
        stage: m.stage,
        method: m.method,
        address: m.address,
        created_at: m.created_at,
        last_seen_at: m.last_seen_at,
        idle_secs: i64::from(m.idle_secs),
        expires_at: m.expires_at,
    }
}

impl Store {
    /// Store a new account; `Conflict` when its e-mail address is taken.
    pub async fn insert_account(&self, a: &AccountRow) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        staff_account::Entity::insert(staff_account::ActiveModel {
            id: Set(a.id.0),
            org_id: Set(a.org.0),
            role: Set(a.role.clone()),
            email: Set(a.email.clone()),
            name: Set(a.name.clone()),
            status: Set(a.status.clone()),
            password_hash: Set(a.password_hash.clone()),
            totp_secret: Set(a.totp_secret.clone()),
            totp_pending: Set(a.totp_pending.clone()),
            totp_last_step: Set(a.totp_last_step),
            recovery_codes: Set(None),
            sso_issuer: Set(a.sso_issuer.clone()),
            sso_subject: Set(a.sso_subject.clone()),
            failed_sign_ins: Set(0),
            locked_until: Set(None),
            created_at: Set(a.created_at),
            updated_at: Set(a.updated_at),
            last_sign_in_at: Set(None),
            quiet_from: Set(None),
            quiet_to: Set(None),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(|e| StoreError::from_write(e, "that e-mail address has an account already"))?;
        Ok(())
    }

    pub async fn account(&self, id: StaffId) -> Result<Option<AccountRow>, StoreError> {
        staff_account::Entity::find_by_id(id.0)
            .one(&self.db)
            .await?
            .map(account)
            .transpose()
    }

    /// The account signing in with this (normalized) e-mail address.
    pub async fn account_by_email(&self, email: &str) -> Result<Option<AccountRow>, StoreError> {
        staff_account::Entity::find()
            .filter(staff_account::Column::Email.eq(email))
            .one(&self.db)
            .await?
            .map(account)
            .transpose()
    }

    /// The account linked to an identity provider's subject.
    pub async fn account_by_sso(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<AccountRow>, StoreError> {
        staff_account::Entity::find()
            .filter(staff_account::Column::SsoIssuer.eq(issuer))
            .filter(staff_account::Column::SsoSubject.eq(subject))
            .one(&self.db)
            .await?
            .map(account)
            .transpose()
    }

    /// An organization's accounts, by name.
    pub async fn accounts_of(&self, org: OrgId) -> Result<Vec<AccountRow>, StoreError> {
        staff_account::Entity::find()
            .filter(staff_account::Column::OrgId.eq(org.0))
            .order_by_asc(staff_account::Column::Name)
            .order_by_asc(staff_account::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(account)
            .collect()
    }

    /// Write `change` to the account, at `now` — only if it was last changed at
    /// `if_unchanged_since` when that is given (a compare-and-set: `false`, nothing written,
    /// when someone changed it in between).
    pub async fn change_account(
        &self,
        id: StaffId,
        change: AccountChange,
        now: DateTime<Utc>,
        if_unchanged_since: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        use staff_account::Column as C;
        let mut q = staff_account::Entity::update_many().col_expr(C::UpdatedAt, Expr::value(now));
        if let Some(v) = change.role {
            q = q.col_expr(C::Role, Expr::value(v));
        }
        if let Some(v) = change.name {
            q = q.col_expr(C::Name, Expr::value(v));
        }
        if let Some(v) = change.status {
            q = q.col_expr(C::Status, Expr::value(v));
        }
        if let Some(v) = change.password_hash {
            q = q.col_expr(C::PasswordHash, Expr::value(v));
        }
        if let Some(v) = change.totp_secret {
            q = q.col_expr(C::TotpSecret, Expr::value(v));
        }
        if let Some(v) = change.totp_pending {
            q = q.col_expr(C::TotpPending, Expr::value(v));
        }
        if let Some(v) = change.totp_last_step {
            q = q.col_expr(C::TotpLastStep, Expr::value(v));
        }
        if let Some(v) = change.recovery_codes {
            q = q.col_expr(
                C::RecoveryCodes,
                Expr::value(serde_json::to_value(v).map_err(corrupt)?),
            );
        }
        if let Some((issuer, subject)) = change.sso {
            q = q
                .col_expr(C::SsoIssuer, Expr::value(issuer))
                .col_expr(C::SsoSubject, Expr::value(subject));
        }
        if let Some(v) = change.failed_sign_ins {
            q = q.col_expr(
                C::FailedSignIns,
                Expr::value(i32::try_from(v).unwrap_or(i32::MAX)),
            );
        }
        if let Some(v) = change.locked_until {
            q = q.col_expr(C::LockedUntil, Expr::value(v));
        }
        if let Some(v) = change.last_sign_in_at {
            q = q.col_expr(C::LastSignInAt, Expr::value(Some(v)));
        }
        q = q.filter(C::Id.eq(id.0));
        if let Some(at) = if_unchanged_since {
            q = q.filter(C::UpdatedAt.eq(at));
        }
        let _writer = self.writer().await;
        Ok(q.exec(&self.db)
            .await
            .map_err(|e| StoreError::from_write(e, "that sign-in is linked to another account"))?
            .rows_affected
            == 1)
    }

    /// Take TOTP time step `step` for the account: `false` when that step or a later one was
    /// used already (a code is good once).
    pub async fn use_totp_step(
        &self,
        id: StaffId,
        step: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        use staff_account::Column as C;
        let _writer = self.writer().await;
        Ok(staff_account::Entity::update_many()
            .col_expr(C::TotpLastStep, Expr::value(Some(step)))
            .col_expr(C::UpdatedAt, Expr::value(now))
            .filter(C::Id.eq(id.0))
            .filter(
                Condition::any()
                    .add(C::TotpLastStep.is_null())
                    .add(C::TotpLastStep.lt(step)),
            )
            .exec(&self.db)
            .await?
            .rows_affected
            == 1)
    }

    /// Store a single-use link for `staff`; the links of the same purpose it still had end.
    pub async fn insert_link(
        &self,
        hash: &str,
        staff: StaffId,
        purpose: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        staff_link::Entity::update_many()
            .col_expr(staff_link::Column::UsedAt, Expr::value(Some(now)))
            .filter(staff_link::Column::StaffId.eq(staff.0))
            .filter(staff_link::Column::Purpose.eq(purpose))
            .filter(staff_link::Column::UsedAt.is_null())
            .exec(&self.db)
            .await?;
        staff_link::Entity::insert(staff_link::ActiveModel {
            token_hash: Set(hash.to_owned()),
            staff_id: Set(staff.0),
            purpose: Set(purpose.to_owned()),
            created_at: Set(now),
            expires_at: Set(expires_at),
            used_at: Set(None),
        })
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }

    pub async fn link(&self, hash: &str) -> Result<Option<LinkRow>, StoreError> {
        Ok(staff_link::Entity::find_by_id(hash.to_owned())
            .one(&self.db)
            .await?
            .map(|l| LinkRow {
                staff: StaffId(l.staff_id),
                purpose: l.purpose,
                expires_at: l.expires_at,
                used_at: l.used_at,
            }))
    }

    /// Use a link once: `false` when it is used, expired or unknown.
    pub async fn use_link(&self, hash: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let _writer = self.writer().await;
        Ok(staff_link::Entity::update_many()
            .col_expr(staff_link::Column::UsedAt, Expr::value(Some(now)))
            .filter(staff_link::Column::TokenHash.eq(hash))
            .filter(staff_link::Column::UsedAt.is_null())
            .filter(staff_link::Column::ExpiresAt.gt(now))
            .exec(&self.db)
            .await?
            .rows_affected
            == 1)
    }

    /// End every link of `staff` not yet used.
    pub async fn end_links_of(&self, staff: StaffId, now: DateTime<Utc>) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        staff_link::Entity::update_many()
            .col_expr(staff_link::Column::UsedAt, Expr::value(Some(now)))
            .filter(staff_link::Column::StaffId.eq(staff.0))
            .filter(staff_link::Column::UsedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Store a session; the sessions already past their end are cleared on the way.
    pub async fn insert_session(&self, s: &SessionRow) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        staff_session::Entity::delete_many()
            .filter(staff_session::Column::ExpiresAt.lte(s.created_at))
            .exec(&self.db)
            .await?;
        staff_session::Entity::insert(staff_session::ActiveModel {
            session_hash: Set(s.hash.clone()),
            staff_id: Set(s.staff.0),
            stage: Set(s.stage.clone()),
            method: Set(s.method.clone()),
            address: Set(s.address.clone()),
            created_at: Set(s.created_at),
            last_seen_at: Set(s.last_seen_at),
            idle_secs: Set(i32::try_from(s.idle_secs).unwrap_or(i32::MAX)),
            expires_at: Set(s.expires_at),
        })
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }

    /// The session with this hash and its account, whatever their state (the engine judges).
    pub async fn session(
        &self,
        hash: &str,
    ) -> Result<Option<(SessionRow, AccountRow)>, StoreError> {
        let Some(s) = staff_session::Entity::find_by_id(hash.to_owned())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let s = session(s);
        Ok(self.account(s.staff).await?.map(|a| (s, a)))
    }

    /// A session seen at `now`: its idle clock starts again.
    pub async fn touch_session(&self, hash: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        staff_session::Entity::update_many()
            .col_expr(staff_session::Column::LastSeenAt, Expr::value(now))
            .filter(staff_session::Column::SessionHash.eq(hash))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Replace a session by one at a further stage (a new secret at each step: a secret that
    /// passed one step is good for nothing after it). `false` when it was gone.
    pub async fn advance_session(&self, old: &str, new: &SessionRow) -> Result<bool, StoreError> {
        let _writer = self.writer().await;
        let gone = staff_session::Entity::delete_by_id(old.to_owned())
            .exec(&self.db)
            .await?
            .rows_affected;
        if gone != 1 {
            return Ok(false);
        }
        drop(_writer);
        self.insert_session(new).await?;
        Ok(true)
    }

    pub async fn delete_session(&self, hash: &str) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        staff_session::Entity::delete_by_id(hash.to_owned())
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// End every session of `staff` (all but `keep`, when given): how many ended.
    pub async fn delete_sessions_of(
        &self,
        staff: StaffId,
        keep: Option<&str>,
    ) -> Result<u64, StoreError> {
        let mut q =
            staff_session::Entity::delete_many().filter(staff_session::Column::StaffId.eq(staff.0));
        if let Some(k) = keep {
            q = q.filter(staff_session::Column::SessionHash.ne(k));
        }
        let _writer = self.writer().await;
        Ok(q.exec(&self.db).await?.rows_affected)
    }

    /// The open sessions of `staff`, newest first.
    pub async fn sessions_of(&self, staff: StaffId) -> Result<Vec<SessionRow>, StoreError> {
        Ok(staff_session::Entity::find()
            .filter(staff_session::Column::StaffId.eq(staff.0))
            .filter(staff_session::Column::Stage.eq("open"))
            .order_by_desc(staff_session::Column::CreatedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(session)
            .collect())
    }

    /// Revoke every live API token issued to `staff` (an earlier release issued people
    /// tokens): how many.
    pub async fn revoke_tokens_of(
        &self,
        staff: StaffId,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let _writer = self.writer().await;
        Ok(api_token::Entity::update_many()
            .col_expr(api_token::Column::RevokedAt, Expr::value(Some(now)))
            .filter(api_token::Column::StaffId.eq(staff.0))
            .filter(api_token::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await?
            .rows_affected)
    }

    pub async fn insert_audit(&self, a: &AuditRow) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        sign_in_audit::Entity::insert(sign_in_audit::ActiveModel {
            id: Set(a.id),
            at: Set(a.at),
            org_id: Set(a.org.map(|o| o.0)),
            staff_id: Set(a.staff.map(|s| s.0)),
            by_staff: Set(a.by.map(|s| s.0)),
            kind: Set(a.kind.clone()),
            detail: Set(a.detail.clone()),
            address: Set(a.address.clone()),
        })
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }

    /// The audit of `org` (every organization's when `None`), newest first, before the line
    /// `before`.
    pub async fn audit(
        &self,
        org: Option<OrgId>,
        before: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let mut q = sign_in_audit::Entity::find();
        if let Some(o) = org {
            q = q.filter(sign_in_audit::Column::OrgId.eq(o.0));
        }
        if let Some(b) = before {
            q = q.filter(sign_in_audit::Column::Id.lt(b));
        }
        Ok(q.order_by_desc(sign_in_audit::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|a| AuditRow {
                id: a.id,
                at: a.at,
                org: a.org_id.map(OrgId),
                staff: a.staff_id.map(StaffId),
                by: a.by_staff.map(StaffId),
                kind: a.kind,
                detail: a.detail,
                address: a.address,
            })
            .collect())
    }

    /// An organization's single sign-on settings, as stored (JSON).
    pub async fn org_sso(&self, org: OrgId) -> Result<Option<serde_json::Value>, StoreError> {
        Ok(org_sso::Entity::find_by_id(org.0)
            .one(&self.db)
            .await?
            .map(|r| r.settings))
    }

    /// Set (or, with `None`, clear) an organization's single sign-on settings.
    pub async fn set_org_sso(
        &self,
        org: OrgId,
        settings: Option<serde_json::Value>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        org_sso::Entity::delete_by_id(org.0).exec(&self.db).await?;
        if let Some(settings) = settings {
            org_sso::Entity::insert(org_sso::ActiveModel {
                org_id: Set(org.0),
                settings: Set(settings),
                updated_at: Set(now),
            })
            .exec_without_returning(&self.db)
            .await?;
        }
        Ok(())
    }

    /// The organizations with single sign-on, with their names, by name.
    pub async fn sso_orgs(&self) -> Result<Vec<(OrgId, String)>, StoreError> {
        let ids: Vec<Uuid> = org_sso::Entity::find()
            .all(&self.db)
            .await?
            .into_iter()
            .map(|r| r.org_id)
            .collect();
        Ok(organization::Entity::find()
            .filter(organization::Column::Id.is_in(ids))
            .order_by_asc(organization::Column::Name)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|o| (OrgId(o.id), o.name))
            .collect())
    }
}
