//! The sign-in audit: every sign-in and failure, lockout, enrolment, invitation, role change,
//! deactivation and service account — who, when, from which address. Never a password, code,
//! secret or token; a failed sign-in under an address no account has is recorded without the
//! address tried (that would be a list of people's mistyped passwords' owners), with no
//! organization: only the operator reads it.

use crate::dom::Actor;
use crate::dom::identity as rules;
use crate::engine::Engine;
use crate::error::Error;
use crate::ids::{OrgId, StaffId};
use crate::store::{AccountRow, AuditRow};
use chrono::{DateTime, Utc};
use std::net::IpAddr;

/// One line of the audit as its readers see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: uuid::Uuid,
    pub at: DateTime<Utc>,
    pub org: Option<OrgId>,
    /// The account it is about.
    pub staff: Option<StaffId>,
    /// Who did it, when someone else did (an admin's change).
    pub by: Option<StaffId>,
    /// What happened: `signed_in`, `sign_in_failed`, `locked`, `totp_enrolled`,
    /// `recovery_code_used`, `authenticator_reset`, `password_set`, `invited`, `link_issued`, `role_changed`,
    /// `deactivated`, `reactivated`, `signed_out`, `signed_out_everywhere`,
    /// `sso_linked`, `sso_provisioned`, `sso_settings_changed`,
    /// `service_account_created`, `service_account_revoked`.
    pub kind: String,
    /// A word or two more (the method, the step that failed, the roles): no secret, ever.
    pub detail: Option<String>,
    pub address: Option<String>,
}

/// A line being written.
pub(crate) struct Audit {
    org: Option<OrgId>,
    staff: Option<StaffId>,
    by: Option<StaffId>,
    detail: Option<String>,
    address: Option<IpAddr>,
}

impl Audit {
    pub(crate) fn new(org: Option<OrgId>, staff: Option<StaffId>) -> Audit {
        Audit {
            org,
            staff,
            by: None,
            detail: None,
            address: None,
        }
    }

    pub(crate) fn about(account: &AccountRow) -> Audit {
        Audit::new(Some(account.org), Some(account.id))
    }

    pub(crate) fn by(mut self, actor: &Actor) -> Audit {
        self.by = actor.staff;
        self
    }

    pub(crate) fn detail(mut self, detail: &str) -> Audit {
        self.detail = Some(detail.to_owned());
        self
    }

    pub(crate) fn from(mut self, address: Option<IpAddr>) -> Audit {
        self.address = address;
        self
    }

    pub(crate) async fn write(self, engine: &Engine, kind: &str) -> Result<(), Error> {
        tracing::info!(
            kind,
            org = ?self.org.map(|o| o.0),
            staff = ?self.staff.map(|s| s.0),
            detail = self.detail.as_deref().unwrap_or(""),
            "sign-in audit"
        );
        engine
            .store()
            .insert_audit(&AuditRow {
                id: uuid::Uuid::now_v7(),
                at: Utc::now(),
                org: self.org,
                staff: self.staff,
                by: self.by,
                kind: kind.to_owned(),
                detail: self.detail,
                address: self.address.map(|a| a.to_string()),
            })
            .await?;
        Ok(())
    }
}

impl Engine {
    /// The sign-in audit of `org`, newest first, `limit` lines before the line `before`: for
    /// the organization's admins (the operator reads any, and with `None` every line,
    /// failures under unknown addresses too).
    pub async fn sign_in_audit(
        &self,
        actor: &Actor,
        org: Option<OrgId>,
        before: Option<uuid::Uuid>,
        limit: u64,
    ) -> Result<Vec<AuditEntry>, Error> {
        match org {
            Some(o) => rules::manage_staff(actor, o)?,
            None if actor.role == crate::dom::Role::System => {}
            None => {
                return Err(Error::Forbidden(
                    "the audit of every organization is the operator's".into(),
                ));
            }
        }
        Ok(self
            .store()
            .audit(org, before, limit.min(10_000))
            .await?
            .into_iter()
            .map(|a| AuditEntry {
                id: a.id,
                at: a.at,
                org: a.org,
                staff: a.staff,
                by: a.by,
                kind: a.kind,
                detail: a.detail,
                address: a.address,
            })
            .collect())
    }
}
