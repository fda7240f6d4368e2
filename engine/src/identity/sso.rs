//! An organization's own identity provider (OpenID Connect): its settings, set by its admin,
//! and the sign-in of a person whose ID token the console's client has verified. Which
//! account and role a token gives is the domain's rule (`identity::sso_match`, `sso_role`,
//! `sso_second_factor`); the provider's own second factor stands in for TOTP.

use super::audit::Audit;
use super::role_and_status;
use super::sign_in::{Session, SignedIn};
use crate::dom::Actor;
use crate::dom::identity::{self as rules, SsoClaims, SsoMatch, SsoSettings, StaffStatus};
use crate::engine::Engine;
use crate::error::Error;
use crate::ids::{OrgId, StaffId};
use crate::store::{AccountChange, AccountRow};
use chrono::Utc;
use std::net::IpAddr;

impl Engine {
    /// The organizations that sign in through an identity provider: (id, name), by name.
    pub async fn sso_organizations(&self) -> Result<Vec<(OrgId, String)>, Error> {
        Ok(self.store().sso_orgs().await?)
    }

    /// An organization's single sign-on settings (with the client secret, for the console's
    /// client; never shown back to a person).
    pub async fn sso_settings(&self, org: OrgId) -> Result<Option<SsoSettings>, Error> {
        match self.store().org_sso(org).await? {
            Some(json) => Ok(Some(serde_json::from_value(json).map_err(|e| {
                Error::Storage(crate::store::StoreError::Corrupt(e.to_string()))
            })?)),
            None => Ok(None),
        }
    }

    /// Set (or clear) an organization's single sign-on: its admin, or the operator.
    pub async fn set_sso_settings(
        &self,
        actor: &Actor,
        org: OrgId,
        settings: Option<SsoSettings>,
    ) -> Result<(), Error> {
        rules::manage_staff(actor, org)?;
        if !self.store().org_exists(org).await? {
            return Err(Error::NotFound(format!("organization {org}")));
        }
        if let Some(s) = &settings {
            let url_like = s.issuer.starts_with("https://") || s.issuer.starts_with("http://");
            if !url_like {
                return Err(Error::BadInput(format!(
                    "the issuer {:?} is not an http(s) URL",
                    s.issuer
                )));
            }
            for (what, v) in [("issuer", &s.issuer), ("client id", &s.client_id)] {
                crate::dom::input::check_line(what, v)?;
                crate::dom::input::check_length(what, v, 500)?;
            }
            if s.role_claim.is_some() && s.role_values.is_empty() {
                return Err(Error::BadInput(
                    "a role claim needs at least one value mapped to a role".into(),
                ));
            }
            if s.role_values
                .iter()
                .any(|(_, r)| !rules::PERSON_ROLES.contains(r))
            {
                return Err(Error::BadInput(
                    "a role value maps to no person's role".into(),
                ));
            }
        }
        let json = settings
            .as_ref()
            .map(serde_json::to_value)
            .transpose()
            .map_err(|e| Error::BadInput(e.to_string()))?;
        self.store().set_org_sso(org, json, Utc::now()).await?;
        Audit::new(Some(org), None)
            .by(actor)
            .detail(if settings.is_some() { "set" } else { "cleared" })
            .write(self, "sso_settings_changed")
            .await
    }

    /// Sign in the person an organization's identity provider vouched for (an ID token the
    /// console verified): the account linked to the subject, else the one invited under the
    /// verified address (linked now), else a new one when the organization provisions. Every
    /// refusal is `Unauthenticated` (the reason is audited, not said).
    pub async fn sign_in_sso(
        &self,
        org: OrgId,
        claims: SsoClaims,
        from: Option<IpAddr>,
    ) -> Result<(Session, Actor), Error> {
        let settings = self
            .sso_settings(org)
            .await?
            .ok_or(Error::Unauthenticated)?;
        let refuse = |why: rules::SsoRefusal, account: Option<&AccountRow>| {
            let audit = match account {
                Some(a) => Audit::about(a),
                None => Audit::new(Some(org), None),
            };
            audit.from(from).detail(&format!("single sign-on: {why}"))
        };
        if let Err(why) = rules::sso_second_factor(&settings, &claims) {
            refuse(why, None).write(self, "sign_in_failed").await?;
            return Err(Error::Unauthenticated);
        }
        let by_subject = self
            .store()
            .account_by_sso(&settings.issuer, &claims.subject)
            .await?
            .filter(|a| a.org == org);
        let by_email = match claims.email.as_deref().map(rules::normalize_email) {
            Some(Ok(e)) => self
                .store()
                .account_by_email(&e)
                .await?
                .filter(|a| a.org == org && a.sso_subject.is_none()),
            _ => None,
        };
        let found = match rules::sso_match(&settings, &claims, by_subject, by_email) {
            Ok(m) => m,
            Err(why) => {
                refuse(why, None).write(self, "sign_in_failed").await?;
                return Err(Error::Unauthenticated);
            }
        };
        let now = Utc::now();
        let account = match found {
            SsoMatch::Linked(a) => a,
            SsoMatch::LinkByEmail(a) => {
                self.store()
                    .change_account(
                        a.id,
                        AccountChange {
                            sso: Some((settings.issuer.clone(), claims.subject.clone())),
                            ..AccountChange::default()
                        },
                        now,
                        None,
                    )
                    .await?;
                Audit::about(&a)
                    .from(from)
                    .write(self, "sso_linked")
                    .await?;
                a
            }
            SsoMatch::Provision => {
                let role = match rules::sso_role(&settings, &claims, None) {
                    Ok(r) => r,
                    Err(why) => {
                        refuse(why, None).write(self, "sign_in_failed").await?;
                        return Err(Error::Unauthenticated);
                    }
                };
                let email = claims
                    .email
                    .as_deref()
                    .map(rules::normalize_email)
                    .transpose()?
                    .ok_or(Error::Unauthenticated)?;
                let name = claims
                    .name
                    .clone()
                    .filter(|n| !n.trim().is_empty())
                    .unwrap_or_else(|| email.clone());
                let a = AccountRow {
                    id: StaffId(uuid::Uuid::now_v7()),
                    org,
                    role: role.as_str().to_owned(),
                    email,
                    name: name.trim().chars().take(200).collect(),
                    status: StaffStatus::Active.as_str().to_owned(),
                    password_hash: None,
                    totp_secret: None,
                    totp_pending: None,
                    totp_last_step: None,
                    recovery_codes: Vec::new(),
                    sso_issuer: Some(settings.issuer.clone()),
                    sso_subject: Some(claims.subject.clone()),
                    failed_sign_ins: 0,
                    locked_until: None,
                    created_at: now,
                    updated_at: now,
                    last_sign_in_at: None,
                };
                if self.store().insert_account(&a).await.is_err() {
                    // The address has an account elsewhere: not this organization's to take.
                    refuse(rules::SsoRefusal::NoAccount, None)
                        .write(self, "sign_in_failed")
                        .await?;
                    return Err(Error::Unauthenticated);
                }
                Audit::about(&a)
                    .from(from)
                    .detail(role.as_str())
                    .write(self, "sso_provisioned")
                    .await?;
                a
            }
        };
        let (current, status) = role_and_status(&account)?;
        if status == StaffStatus::Deactivated {
            refuse(rules::SsoRefusal::Deactivated, Some(&account))
                .write(self, "sign_in_failed")
                .await?;
            return Err(Error::Unauthenticated);
        }
        let role = match rules::sso_role(&settings, &claims, Some(current)) {
            Ok(r) => r,
            Err(why) => {
                refuse(why, Some(&account))
                    .write(self, "sign_in_failed")
                    .await?;
                return Err(Error::Unauthenticated);
            }
        };
        let mut change = AccountChange::default();
        if status == StaffStatus::Invited {
            change.status = Some(StaffStatus::Active.as_str().to_owned());
        }
        if role != current {
            change.role = Some(role.as_str().to_owned());
        }
        if change.status.is_some() || change.role.is_some() {
            self.store()
                .change_account(account.id, change, now, None)
                .await?;
            if role != current {
                Audit::about(&account)
                    .from(from)
                    .detail(&format!(
                        "{} to {} by the identity provider",
                        current.as_str(),
                        role.as_str()
                    ))
                    .write(self, "role_changed")
                    .await?;
            }
        }
        let account = self
            .store()
            .account(account.id)
            .await?
            .ok_or(Error::Unauthenticated)?;
        match self.opened(&account, "sso", from, None, Vec::new()).await? {
            SignedIn::Open { session, actor, .. } => Ok((session, actor)),
            SignedIn::Pending(_) => Err(Error::Unauthenticated),
        }
    }
}
