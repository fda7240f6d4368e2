//! An organization's people and service accounts, managed by its admins (and by the operator
//! at the command line, as the engine): invitations, roles, deactivation, reset links, and the
//! API tokens systems hold.

use super::audit::Audit;
use super::{role_and_status, secret};
use crate::dom::identity::{self as rules, StaffStatus};
use crate::dom::{Actor, Role};
use crate::engine::Engine;
use crate::error::Error;
use crate::ids::{OrgId, StaffId};
use crate::reads::token_hash;
use crate::store::{AccountChange, AccountRow};
use chrono::{DateTime, Utc};

/// A person as their admins and they themselves see them (never a secret or hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    pub id: StaffId,
    pub org: OrgId,
    pub role: Role,
    pub email: String,
    pub name: String,
    pub status: StaffStatus,
    /// Whether they have a password (else they sign in only through their organization's
    /// identity provider, or have not accepted their invitation).
    pub has_password: bool,
    /// Whether TOTP is enrolled.
    pub totp: bool,
    /// Recovery codes left.
    pub recovery_codes_left: usize,
    /// Whether an identity provider's subject is linked.
    pub sso_linked: bool,
    /// Locked after failed sign-ins, until then.
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
}

impl Person {
    pub(crate) fn of(a: &AccountRow) -> Result<Person, Error> {
        let (role, status) = role_and_status(a)?;
        Ok(Person {
            id: a.id,
            org: a.org,
            role,
            email: a.email.clone(),
            name: a.name.clone(),
            status,
            has_password: a.password_hash.is_some(),
            totp: a.totp_secret.is_some(),
            recovery_codes_left: a.recovery_codes.len(),
            sso_linked: a.sso_subject.is_some(),
            locked_until: a.locked_until,
            created_at: a.created_at,
            last_sign_in_at: a.last_sign_in_at,
        })
    }
}

/// What a single-use link is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkPurpose {
    /// Accept an invitation: choose a password, enrol TOTP.
    Invite,
    /// Choose a new password.
    Reset,
}

impl LinkPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::Invite => "invite",
            LinkPurpose::Reset => "reset",
        }
    }
    pub(crate) fn parse(s: &str) -> Option<LinkPurpose> {
        match s {
            "invite" => Some(LinkPurpose::Invite),
            "reset" => Some(LinkPurpose::Reset),
            _ => None,
        }
    }
}

/// A single-use link just made: its secret (shown once, to be sent to the person; only its
/// hash is kept) and when it lapses. The console's path for it is `/welcome/<secret>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Link {
    pub secret: String,
    pub purpose: LinkPurpose,
    pub expires_at: DateTime<Utc>,
}

impl Link {
    /// The link's path on the console.
    pub fn path(&self) -> String {
        format!("/welcome/{}", self.secret)
    }
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("secret", &"…")
            .field("purpose", &self.purpose)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A service account: a system's API token (never the token itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceAccount {
    pub id: uuid::Uuid,
    /// The actor id commands it sends are recorded under.
    pub staff: StaffId,
    pub org: OrgId,
    pub role: Role,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Engine {
    /// Invite a person to `org` in `role`: their account (invited, no password) and a
    /// single-use link to accept it. The caller is an admin of `org`, or the operator
    /// (`Role::System`) — the only way to make an organization's first admin.
    pub async fn invite_staff(
        &self,
        actor: &Actor,
        org: OrgId,
        email: &str,
        name: &str,
        role: Role,
    ) -> Result<(Person, Link), Error> {
        rules::manage_staff(actor, org)?;
        let email = rules::normalize_email(email)?;
        crate::dom::input::check_line("name", name)?;
        crate::dom::input::check_length("name", name, 200)?;
        if !rules::PERSON_ROLES.contains(&role) {
            return Err(Error::BadInput(format!(
                "a person cannot hold the role {}",
                role.as_str()
            )));
        }
        if !self.store().org_exists(org).await? {
            return Err(Error::NotFound(format!("organization {org}")));
        }
        let now = Utc::now();
        let account = AccountRow {
            id: StaffId(uuid::Uuid::now_v7()),
            org,
            role: role.as_str().to_owned(),
            email,
            name: name.trim().to_owned(),
            status: StaffStatus::Invited.as_str().to_owned(),
            password_hash: None,
            totp_secret: None,
            totp_pending: None,
            totp_last_step: None,
            recovery_codes: Vec::new(),
            sso_issuer: None,
            sso_subject: None,
            failed_sign_ins: 0,
            locked_until: None,
            created_at: now,
            updated_at: now,
            last_sign_in_at: None,
        };
        self.store().insert_account(&account).await?;
        let link = self.new_link(account.id, LinkPurpose::Invite, now).await?;
        Audit::about(&account)
            .by(actor)
            .detail(role.as_str())
            .write(self, "invited")
            .await?;
        Ok((Person::of(&account)?, link))
    }

    pub(crate) async fn new_link(
        &self,
        staff: StaffId,
        purpose: LinkPurpose,
        now: DateTime<Utc>,
    ) -> Result<Link, Error> {
        let secret = secret("cpl_", 24);
        let expires_at = now
            + match purpose {
                LinkPurpose::Invite => rules::INVITE_VALID,
                LinkPurpose::Reset => rules::RESET_VALID,
            };
        self.store()
            .insert_link(
                &token_hash(&secret),
                staff,
                purpose.as_str(),
                now,
                expires_at,
            )
            .await?;
        Ok(Link {
            secret,
            purpose,
            expires_at,
        })
    }

    /// An account the caller manages (an admin of its organization); another
    /// organization's is not found, as an id that does not exist.
    async fn managed(&self, actor: &Actor, id: StaffId) -> Result<AccountRow, Error> {
        let account = self
            .store()
            .account(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("staff member {id}")))?;
        match rules::manage_staff(actor, account.org) {
            Ok(()) => Ok(account),
            Err(crate::dom::DecisionError::NotFound { .. }) => {
                Err(Error::NotFound(format!("staff member {id}")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// An organization's people, by name: for its admins.
    pub async fn staff_accounts(&self, actor: &Actor, org: OrgId) -> Result<Vec<Person>, Error> {
        rules::manage_staff(actor, org)?;
        self.store()
            .accounts_of(org)
            .await?
            .iter()
            .map(Person::of)
            .collect()
    }

    /// One person, for an admin of their organization.
    pub async fn staff_member(&self, actor: &Actor, id: StaffId) -> Result<Person, Error> {
        Person::of(&self.managed(actor, id).await?)
    }

    /// Whether a change to `target` leaves its organization an active admin.
    async fn keeps_an_admin(&self, target: &AccountRow, becomes_admin: bool) -> Result<(), Error> {
        let (role, status) = role_and_status(target)?;
        let others = self
            .store()
            .accounts_of(target.org)
            .await?
            .into_iter()
            .filter(|a| a.id != target.id && a.role == Role::Admin.as_str() && a.status == "active")
            .count();
        rules::keeps_an_admin(
            role == Role::Admin && status == StaffStatus::Active,
            becomes_admin,
            others,
        )?;
        Ok(())
    }

    /// Give a person another role; their open sessions end (they sign in again in it).
    pub async fn change_staff_role(
        &self,
        actor: &Actor,
        id: StaffId,
        role: Role,
    ) -> Result<Person, Error> {
        let account = self.managed(actor, id).await?;
        if !rules::PERSON_ROLES.contains(&role) {
            return Err(Error::BadInput(format!(
                "a person cannot hold the role {}",
                role.as_str()
            )));
        }
        if account.role == role.as_str() {
            return Person::of(&account);
        }
        self.keeps_an_admin(&account, role == Role::Admin).await?;
        let now = Utc::now();
        self.store()
            .change_account(
                id,
                AccountChange {
                    role: Some(role.as_str().to_owned()),
                    ..AccountChange::default()
                },
                now,
                None,
            )
            .await?;
        self.store().delete_sessions_of(id, None).await?;
        Audit::about(&account)
            .by(actor)
            .detail(&format!("{} to {}", account.role, role.as_str()))
            .write(self, "role_changed")
            .await?;
        self.staff_member(actor, id).await
    }

    /// Deactivate a person: every session and token of theirs ends at once (every process
    /// asks the database on every request), their open links too.
    pub async fn deactivate_staff(&self, actor: &Actor, id: StaffId) -> Result<Person, Error> {
        let account = self.managed(actor, id).await?;
        self.keeps_an_admin(&account, false).await?;
        let now = Utc::now();
        self.store()
            .change_account(
                id,
                AccountChange {
                    status: Some(StaffStatus::Deactivated.as_str().to_owned()),
                    ..AccountChange::default()
                },
                now,
                None,
            )
            .await?;
        let sessions = self.store().delete_sessions_of(id, None).await?;
        let tokens = self.store().revoke_tokens_of(id, now).await?;
        self.store().end_links_of(id, now).await?;
        Audit::about(&account)
            .by(actor)
            .detail(&format!("{sessions} sessions and {tokens} tokens ended"))
            .write(self, "deactivated")
            .await?;
        self.staff_member(actor, id).await
    }

    /// Reactivate a person: active again if they had chosen a password or linked a sign-in,
    /// else invited (with a new link to send them).
    pub async fn reactivate_staff(
        &self,
        actor: &Actor,
        id: StaffId,
    ) -> Result<(Person, Option<Link>), Error> {
        let account = self.managed(actor, id).await?;
        let (_, status) = role_and_status(&account)?;
        if status != StaffStatus::Deactivated {
            return Err(Error::Conflict(format!(
                "{} is {}, not deactivated",
                account.name,
                status.as_str()
            )));
        }
        let now = Utc::now();
        let ready = account.password_hash.is_some() || account.sso_subject.is_some();
        let status = if ready {
            StaffStatus::Active
        } else {
            StaffStatus::Invited
        };
        self.store()
            .change_account(
                id,
                AccountChange {
                    status: Some(status.as_str().to_owned()),
                    failed_sign_ins: Some(0),
                    locked_until: Some(None),
                    ..AccountChange::default()
                },
                now,
                None,
            )
            .await?;
        let link = if ready {
            None
        } else {
            Some(self.new_link(id, LinkPurpose::Invite, now).await?)
        };
        Audit::about(&account)
            .by(actor)
            .write(self, "reactivated")
            .await?;
        Ok((self.staff_member(actor, id).await?, link))
    }

    /// A new single-use link for a person: an invitation again when they never accepted
    /// theirs, else a password reset (their sessions end when they use it). Also lifts a
    /// lock.
    pub async fn staff_link(&self, actor: &Actor, id: StaffId) -> Result<Link, Error> {
        let account = self.managed(actor, id).await?;
        let (_, status) = role_and_status(&account)?;
        let purpose = match status {
            StaffStatus::Deactivated => {
                return Err(Error::Conflict(format!(
                    "{} is deactivated: reactivate them first",
                    account.name
                )));
            }
            StaffStatus::Invited => LinkPurpose::Invite,
            StaffStatus::Active => LinkPurpose::Reset,
        };
        let now = Utc::now();
        let link = self.new_link(id, purpose, now).await?;
        self.store()
            .change_account(
                id,
                AccountChange {
                    failed_sign_ins: Some(0),
                    locked_until: Some(None),
                    ..AccountChange::default()
                },
                now,
                None,
            )
            .await?;
        Audit::about(&account)
            .by(actor)
            .detail(purpose.as_str())
            .write(self, "link_issued")
            .await?;
        Ok(link)
    }

    /// Take a person's authenticator away (a lost phone): TOTP and the recovery codes are
    /// gone and every session of theirs ends; their next sign-in, after the password, sets up
    /// an authenticator again.
    pub async fn reset_authenticator(&self, actor: &Actor, id: StaffId) -> Result<Person, Error> {
        let account = self.managed(actor, id).await?;
        let now = Utc::now();
        self.store()
            .change_account(
                id,
                AccountChange {
                    totp_secret: Some(None),
                    totp_pending: Some(None),
                    totp_last_step: Some(None),
                    recovery_codes: Some(Vec::new()),
                    ..AccountChange::default()
                },
                now,
                None,
            )
            .await?;
        let sessions = self.store().delete_sessions_of(id, None).await?;
        Audit::about(&account)
            .by(actor)
            .detail(&format!("{sessions} sessions ended"))
            .write(self, "authenticator_reset")
            .await?;
        self.staff_member(actor, id).await
    }

    /// A service account for a system of `org`: a named API token in `role`, valid `days`
    /// (returned once; its hash is kept). Its admins make them, or the operator.
    pub async fn create_service_account(
        &self,
        actor: &Actor,
        org: OrgId,
        name: &str,
        role: Role,
        days: u32,
    ) -> Result<(ServiceAccount, String), Error> {
        rules::manage_staff(actor, org)?;
        crate::dom::input::check_line("name", name)?;
        crate::dom::input::check_length("name", name, 200)?;
        let (id, token) = self
            .issue_token(org, role, Some(name.trim()), days, None)
            .await?;
        let account = self
            .service_accounts(actor, org)
            .await?
            .into_iter()
            .find(|a| a.id == id)
            .ok_or_else(|| Error::NotFound("the service account just made".into()))?;
        self.audit_service_account(actor, &account, "service_account_created")
            .await?;
        Ok((account, token))
    }

    /// An organization's service accounts, oldest first.
    pub async fn service_accounts(
        &self,
        actor: &Actor,
        org: OrgId,
    ) -> Result<Vec<ServiceAccount>, Error> {
        rules::manage_staff(actor, org)?;
        Ok(self
            .store()
            .tokens()
            .await?
            .into_iter()
            .filter(|t| t.org == org)
            .filter_map(|t| {
                Some(ServiceAccount {
                    id: t.id,
                    staff: t.staff,
                    org: t.org,
                    role: Role::parse(&t.role)?,
                    name: t.label.unwrap_or_default(),
                    created_at: t.created_at,
                    expires_at: t.expires_at,
                    last_used_at: t.last_used_at,
                    revoked_at: t.revoked_at,
                })
            })
            .collect())
    }

    /// Revoke a service account's token: refused from the next request on, on every process.
    pub async fn revoke_service_account(
        &self,
        actor: &Actor,
        org: OrgId,
        id: uuid::Uuid,
    ) -> Result<(), Error> {
        let account = self
            .service_accounts(actor, org)
            .await?
            .into_iter()
            .find(|a| a.id == id)
            .ok_or_else(|| Error::NotFound(format!("service account {id}")))?;
        self.revoke_token(id).await?;
        self.audit_service_account(actor, &account, "service_account_revoked")
            .await
    }

    async fn audit_service_account(
        &self,
        actor: &Actor,
        account: &ServiceAccount,
        kind: &str,
    ) -> Result<(), Error> {
        Audit::new(Some(account.org), Some(account.staff))
            .by(actor)
            .detail(account.role.as_str())
            .write(self, kind)
            .await
    }
}
