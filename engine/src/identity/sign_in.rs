//! Signing in: a single-use link to choose a password, a password and then a second factor
//! (TOTP, or a recovery code), enrolment of TOTP, and the sessions a browser then holds — each
//! a secret the browser keeps in a cookie and this side keeps only as its hash, checked on
//! every request (so ending one ends it on every process at once), with an idle timeout and
//! an absolute end.
//!
//! Every refusal of a sign-in is `Error::Unauthenticated`, whatever the reason — unknown
//! address, wrong password, locked account, wrong or reused code — and an unknown address costs
//! the same hashing as a known one, so nothing tells whether an account exists.

use super::audit::Audit;
use super::credentials::{self, otpauth_uri, recovery_hash, totp_step};
use super::staff::{LinkPurpose, Person};
use super::{role_and_status, secret};
use crate::dom::Actor;
use crate::dom::identity::{self as rules, StaffStatus};
use crate::engine::Engine;
use crate::error::Error;
use crate::reads::token_hash;
use crate::store::{AccountChange, AccountRow, SessionRow};
use chrono::{DateTime, Utc};
use std::net::IpAddr;

/// Session stages as stored.
const OPEN: &str = "open";
const CODE: &str = "code";
const ENROL: &str = "enrol";

/// A session just opened: the secret for the browser's cookie (never stored) and when it
/// ends, at the latest and if left idle.
#[derive(Clone)]
pub struct Session {
    pub secret: String,
    pub expires_at: DateTime<Utc>,
    pub idle_ends_at: DateTime<Utc>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("secret", &"…")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// The step a sign-in waits at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PendingStep {
    /// A TOTP code (or a recovery code) is due.
    Code,
    /// TOTP is to be enrolled (the person has none yet, and their role needs it).
    Enrol,
}

/// A sign-in half done: its secret (for a cookie; good for [`rules::SECOND_FACTOR_WINDOW`])
/// and the step it waits at.
#[derive(Clone)]
pub struct Pending {
    pub secret: String,
    pub step: PendingStep,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("secret", &"…")
            .field("step", &self.step)
            .finish()
    }
}

/// Where a sign-in stands after a step.
#[derive(Debug)]
pub enum SignedIn {
    Open {
        session: Session,
        actor: Actor,
        /// Recovery codes to show the person once (after enrolling TOTP), else empty.
        recovery_codes: Vec<String>,
    },
    Pending(Pending),
}

/// TOTP being enrolled: the secret to type in, and the `otpauth://` URI to scan.
#[derive(Clone)]
pub struct Enrolment {
    pub secret: String,
    pub otpauth_uri: String,
}

/// An open session as its person sees it (their own, or one in their list of sessions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    /// An id for the session in a list (not its secret; the secret cannot be had from it).
    pub id: String,
    pub method: String,
    pub address: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub idle_ends_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

fn info(s: &SessionRow) -> SessionInfo {
    SessionInfo {
        id: s.hash[..16].to_owned(),
        method: s.method.clone(),
        address: s.address.clone(),
        created_at: s.created_at,
        last_seen_at: s.last_seen_at,
        idle_ends_at: s.last_seen_at + chrono::Duration::seconds(s.idle_secs),
        expires_at: s.expires_at,
    }
}

/// How often a session's idle clock is written back: a request within this of the last one
/// does not write.
const TOUCH_EVERY: chrono::Duration = chrono::Duration::seconds(20);

/// What a single-use link is for and whom, to show on its page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    pub purpose: LinkPurpose,
    pub name: String,
    pub email: String,
    pub org_name: String,
    pub expires_at: DateTime<Utc>,
}

impl Engine {
    fn unix_now() -> u64 {
        u64::try_from(Utc::now().timestamp()).unwrap_or(0)
    }

    /// Too many sign-in attempts from one address (every step counts): refused before any
    /// password is hashed, so nobody can hammer the hashing either.
    fn throttle(&self, from: Option<IpAddr>) -> Result<(), Error> {
        if let Some(ip) = from
            && self.sign_in_limiter().check_key(&ip).is_err()
        {
            tracing::warn!("sign-in attempts from one address over the rate limit");
            return Err(Error::Unauthenticated);
        }
        Ok(())
    }

    async fn open_session(
        &self,
        account: &AccountRow,
        stage: &str,
        method: &str,
        from: Option<IpAddr>,
        replacing: Option<&str>,
    ) -> Result<(String, SessionRow), Error> {
        let (role, _) = role_and_status(account)?;
        let now = Utc::now();
        let secret = secret("cps_", 32);
        let (idle, expires_at) = if stage == OPEN {
            (
                rules::idle_timeout(role, self.idle_timeout()),
                now + rules::SESSION_LIFETIME,
            )
        } else {
            (
                rules::SECOND_FACTOR_WINDOW,
                now + rules::SECOND_FACTOR_WINDOW,
            )
        };
        let row = SessionRow {
            hash: token_hash(&secret),
            staff: account.id,
            stage: stage.to_owned(),
            method: method.to_owned(),
            address: from.map(|a| a.to_string()),
            created_at: now,
            last_seen_at: now,
            idle_secs: idle.num_seconds(),
            expires_at,
        };
        match replacing {
            Some(old) => {
                if !self.store().advance_session(&token_hash(old), &row).await? {
                    return Err(Error::Unauthenticated);
                }
            }
            None => self.store().insert_session(&row).await?,
        }
        Ok((secret, row))
    }

    pub(super) async fn opened(
        &self,
        account: &AccountRow,
        method: &str,
        from: Option<IpAddr>,
        replacing: Option<&str>,
        recovery_codes: Vec<String>,
    ) -> Result<SignedIn, Error> {
        let (role, _) = role_and_status(account)?;
        let (secret, row) = self
            .open_session(account, OPEN, method, from, replacing)
            .await?;
        self.store()
            .change_account(
                account.id,
                AccountChange {
                    failed_sign_ins: Some(0),
                    locked_until: Some(None),
                    last_sign_in_at: Some(row.created_at),
                    ..AccountChange::default()
                },
                Utc::now(),
                None,
            )
            .await?;
        Audit::about(account)
            .from(from)
            .detail(method)
            .write(self, "signed_in")
            .await?;
        let session = Session {
            secret,
            expires_at: row.expires_at,
            idle_ends_at: row.last_seen_at + chrono::Duration::seconds(row.idle_secs),
        };
        Ok(SignedIn::Open {
            session,
            actor: Actor::person(account.org, role, account.id),
            recovery_codes,
        })
    }

    /// After the password (or a link): the second step due, or the session when the role
    /// needs none.
    async fn after_password(
        &self,
        account: &AccountRow,
        from: Option<IpAddr>,
        replacing: Option<&str>,
    ) -> Result<SignedIn, Error> {
        let (role, _) = role_and_status(account)?;
        if !rules::needs_second_factor(role) {
            return self
                .opened(account, "password", from, replacing, Vec::new())
                .await;
        }
        let (stage, step) = if account.totp_secret.is_some() {
            (CODE, PendingStep::Code)
        } else {
            (ENROL, PendingStep::Enrol)
        };
        let (secret, _) = self
            .open_session(account, stage, "password", from, replacing)
            .await?;
        Ok(SignedIn::Pending(Pending { secret, step }))
    }

    /// A failed step of `account`'s sign-in: counted, the account locked after
    /// [`rules::LOCK_AFTER_FAILURES`] in a row.
    async fn failed(&self, account: &AccountRow, step: &str, from: Option<IpAddr>) -> Error {
        let now = Utc::now();
        let (failures, locked_until) = rules::after_failure(account.failed_sign_ins, now);
        let written = self
            .store()
            .change_account(
                account.id,
                AccountChange {
                    failed_sign_ins: Some(failures),
                    locked_until: locked_until.map(Some),
                    ..AccountChange::default()
                },
                now,
                None,
            )
            .await;
        let audit = Audit::about(account)
            .from(from)
            .detail(step)
            .write(self, "sign_in_failed")
            .await;
        let locked = match locked_until {
            Some(until) if !rules::is_locked(account.locked_until, now) => {
                Audit::about(account)
                    .from(from)
                    .detail(&format!("until {}", until.format("%Y-%m-%dT%H:%M:%SZ")))
                    .write(self, "locked")
                    .await
            }
            _ => Ok(()),
        };
        match (written, audit, locked) {
            (Err(e), _, _) => e.into(),
            (_, Err(e), _) | (_, _, Err(e)) => e,
            _ => Error::Unauthenticated,
        }
    }

    /// Sign in with an e-mail address and password: the second step due (or the session).
    /// `Unauthenticated` for any failure, saying nothing of which.
    pub async fn sign_in_password(
        &self,
        email: &str,
        password: &str,
        from: Option<IpAddr>,
    ) -> Result<SignedIn, Error> {
        self.throttle(from)?;
        let account = match rules::normalize_email(email) {
            Ok(e) => self.store().account_by_email(&e).await?,
            Err(_) => None,
        };
        let good = credentials::verify_password(
            password,
            account.as_ref().and_then(|a| a.password_hash.as_deref()),
        )
        .await;
        let Some(account) = account else {
            Audit::new(None, None)
                .from(from)
                .detail("password")
                .write(self, "sign_in_failed")
                .await?;
            return Err(Error::Unauthenticated);
        };
        let (_, status) = role_and_status(&account)?;
        if status != StaffStatus::Active {
            Audit::about(&account)
                .from(from)
                .detail(&format!("password, account {}", status.as_str()))
                .write(self, "sign_in_failed")
                .await?;
            return Err(Error::Unauthenticated);
        }
        if rules::is_locked(account.locked_until, Utc::now()) {
            Audit::about(&account)
                .from(from)
                .detail("password, account locked")
                .write(self, "sign_in_failed")
                .await?;
            return Err(Error::Unauthenticated);
        }
        if !good {
            return Err(self.failed(&account, "password", from).await);
        }
        self.after_password(&account, from, None).await
    }

    /// The account a half-done sign-in is for, and the step it waits at.
    async fn pending_account(
        &self,
        pending: &str,
    ) -> Result<(SessionRow, AccountRow, PendingStep), Error> {
        let (s, a) = self
            .store()
            .session(&token_hash(pending))
            .await?
            .ok_or(Error::Unauthenticated)?;
        let step = match s.stage.as_str() {
            CODE => PendingStep::Code,
            ENROL => PendingStep::Enrol,
            _ => return Err(Error::Unauthenticated),
        };
        let (_, status) = role_and_status(&a)?;
        if !s.live_at(Utc::now())
            || status != StaffStatus::Active
            || rules::is_locked(a.locked_until, Utc::now())
        {
            return Err(Error::Unauthenticated);
        }
        Ok((s, a, step))
    }

    /// The step a half-done sign-in waits at (`Unauthenticated` once it lapsed).
    pub async fn pending_step(&self, pending: &str) -> Result<PendingStep, Error> {
        Ok(self.pending_account(pending).await?.2)
    }

    /// TOTP to enrol for a sign-in waiting at [`PendingStep::Enrol`]: the secret to type or
    /// scan (the same one until it is confirmed).
    pub async fn enrolment(&self, pending: &str) -> Result<Enrolment, Error> {
        let (_, account, step) = self.pending_account(pending).await?;
        if step != PendingStep::Enrol {
            return Err(Error::Unauthenticated);
        }
        let secret = match &account.totp_pending {
            Some(s) => s.clone(),
            None => {
                let s = credentials::new_totp_secret();
                self.store()
                    .change_account(
                        account.id,
                        AccountChange {
                            totp_pending: Some(Some(s.clone())),
                            ..AccountChange::default()
                        },
                        Utc::now(),
                        Some(account.updated_at),
                    )
                    .await?;
                // Read back: a second page load at the same moment made the one kept.
                self.store()
                    .account(account.id)
                    .await?
                    .and_then(|a| a.totp_pending)
                    .ok_or(Error::Unauthenticated)?
            }
        };
        let otpauth_uri = otpauth_uri(&secret, &account.email).ok_or(Error::Unauthenticated)?;
        Ok(Enrolment {
            secret,
            otpauth_uri,
        })
    }

    /// Confirm TOTP enrolment with a code from the app: TOTP is on, recovery codes are made
    /// (shown once, in the answer), and the session opens.
    pub async fn confirm_enrolment(
        &self,
        pending: &str,
        code: &str,
        from: Option<IpAddr>,
    ) -> Result<SignedIn, Error> {
        self.throttle(from)?;
        let (_, account, step) = self.pending_account(pending).await?;
        let Some(secret) = account
            .totp_pending
            .clone()
            .filter(|_| step == PendingStep::Enrol)
        else {
            return Err(Error::Unauthenticated);
        };
        let Some(at) = totp_step(&secret, code, Self::unix_now()) else {
            return Err(self.failed(&account, "totp enrolment", from).await);
        };
        let (codes, hashes) = credentials::new_recovery_codes(rules::RECOVERY_CODES);
        let changed = self
            .store()
            .change_account(
                account.id,
                AccountChange {
                    totp_secret: Some(Some(secret)),
                    totp_pending: Some(None),
                    totp_last_step: Some(Some(at)),
                    recovery_codes: Some(hashes),
                    ..AccountChange::default()
                },
                Utc::now(),
                Some(account.updated_at),
            )
            .await?;
        if !changed {
            return Err(Error::Unauthenticated);
        }
        Audit::about(&account)
            .from(from)
            .write(self, "totp_enrolled")
            .await?;
        self.opened(&account, "password+totp", from, Some(pending), codes)
            .await
    }

    /// The second factor of a sign-in waiting at [`PendingStep::Code`]: a TOTP code (each good
    /// once), or one of the recovery codes (each good once).
    pub async fn second_factor(
        &self,
        pending: &str,
        code: &str,
        from: Option<IpAddr>,
    ) -> Result<SignedIn, Error> {
        self.throttle(from)?;
        let (_, account, step) = self.pending_account(pending).await?;
        let Some(secret) = account
            .totp_secret
            .clone()
            .filter(|_| step == PendingStep::Code)
        else {
            return Err(Error::Unauthenticated);
        };
        if let Some(at) = totp_step(&secret, code, Self::unix_now()) {
            if !self
                .store()
                .use_totp_step(account.id, at, Utc::now())
                .await?
            {
                return Err(self.failed(&account, "totp code reused", from).await);
            }
            return self
                .opened(&account, "password+totp", from, Some(pending), Vec::new())
                .await;
        }
        let hash = recovery_hash(code);
        if code.chars().filter(char::is_ascii_alphanumeric).count() == 12
            && account.recovery_codes.contains(&hash)
        {
            let left: Vec<String> = account
                .recovery_codes
                .iter()
                .filter(|h| **h != hash)
                .cloned()
                .collect();
            let used = self
                .store()
                .change_account(
                    account.id,
                    AccountChange {
                        recovery_codes: Some(left.clone()),
                        ..AccountChange::default()
                    },
                    Utc::now(),
                    Some(account.updated_at),
                )
                .await?;
            if !used {
                return Err(self.failed(&account, "recovery code raced", from).await);
            }
            Audit::about(&account)
                .from(from)
                .detail(&format!("{} left", left.len()))
                .write(self, "recovery_code_used")
                .await?;
            return self
                .opened(
                    &account,
                    "password+recovery",
                    from,
                    Some(pending),
                    Vec::new(),
                )
                .await;
        }
        Err(self.failed(&account, "totp code", from).await)
    }

    /// What a single-use link is for, to show its page: `NotFound` once it is used, lapsed
    /// or unknown (all three alike).
    pub async fn link(&self, link: &str) -> Result<LinkInfo, Error> {
        Ok(self.live_link(link).await?.1)
    }

    /// A link still good, with its account and what its page shows.
    async fn live_link(&self, link: &str) -> Result<(AccountRow, LinkInfo), Error> {
        let gone = || Error::NotFound("that link (it is used, expired or unknown)".into());
        let row = self
            .store()
            .link(&token_hash(link))
            .await?
            .filter(|l| l.used_at.is_none() && l.expires_at > Utc::now())
            .ok_or_else(gone)?;
        let account = self.store().account(row.staff).await?.ok_or_else(gone)?;
        let (_, status) = role_and_status(&account)?;
        if status == StaffStatus::Deactivated {
            return Err(gone());
        }
        let org_name = self
            .store()
            .org_names(&[account.org])
            .await?
            .remove(&account.org)
            .unwrap_or_default();
        let info = LinkInfo {
            purpose: LinkPurpose::parse(&row.purpose).ok_or_else(gone)?,
            name: account.name.clone(),
            email: account.email.clone(),
            org_name,
            expires_at: row.expires_at,
        };
        Ok((account, info))
    }

    /// Use a single-use link: the password it sets (checked against the rules first; a
    /// refused password leaves the link good), then the sign-in's next step. A reset ends
    /// every session the person had.
    pub async fn use_link(
        &self,
        link: &str,
        password: &str,
        from: Option<IpAddr>,
    ) -> Result<SignedIn, Error> {
        self.throttle(from)?;
        let gone = || Error::NotFound("that link (it is used, expired or unknown)".into());
        let (account, info) = self.live_link(link).await?;
        rules::check_password(password, &info.email, &info.name)
            .map_err(|p| Error::BadInput(p.to_string()))?;
        let hash = credentials::hash_password(password).await?;
        if !self.store().use_link(&token_hash(link), Utc::now()).await? {
            return Err(gone());
        }
        self.store()
            .change_account(
                account.id,
                AccountChange {
                    password_hash: Some(Some(hash)),
                    status: Some(StaffStatus::Active.as_str().to_owned()),
                    failed_sign_ins: Some(0),
                    locked_until: Some(None),
                    ..AccountChange::default()
                },
                Utc::now(),
                None,
            )
            .await?;
        self.store().delete_sessions_of(account.id, None).await?;
        Audit::about(&account)
            .from(from)
            .detail(info.purpose.as_str())
            .write(self, "password_set")
            .await?;
        // Read back: the password and status just written, as the next step judges them.
        let account = self.store().account(account.id).await?.ok_or_else(gone)?;
        self.after_password(&account, from, None).await
    }

    /// The open session behind a secret: `Unauthenticated` once it idled out, reached its end,
    /// was ended, or its person was deactivated. Each call restarts its idle clock.
    pub async fn session(&self, secret: &str) -> Result<Actor, Error> {
        Ok(self.session_person(secret).await?.0)
    }

    /// The open session behind a secret, with its person and when it ends.
    pub async fn session_person(
        &self,
        secret: &str,
    ) -> Result<(Actor, Person, SessionInfo), Error> {
        let hash = token_hash(secret);
        let (mut s, a) = self
            .store()
            .session(&hash)
            .await?
            .ok_or(Error::Unauthenticated)?;
        let now = Utc::now();
        let (role, status) = role_and_status(&a)?;
        if s.stage != OPEN || !s.live_at(now) || status != StaffStatus::Active {
            return Err(Error::Unauthenticated);
        }
        if now - s.last_seen_at >= TOUCH_EVERY {
            self.store().touch_session(&hash, now).await?;
            s.last_seen_at = now;
        }
        Ok((Actor::person(a.org, role, a.id), Person::of(&a)?, info(&s)))
    }

    /// End a session (sign out). Ending one that is gone is no error.
    pub async fn sign_out(&self, secret: &str) -> Result<(), Error> {
        let hash = token_hash(secret);
        if let Some((_, a)) = self.store().session(&hash).await? {
            self.store().delete_session(&hash).await?;
            Audit::about(&a).write(self, "signed_out").await?;
        }
        Ok(())
    }

    /// End every session of the signed-in person but the one `keep` (sign out everywhere
    /// else): how many ended.
    pub async fn sign_out_elsewhere(&self, actor: &Actor, keep: &str) -> Result<u64, Error> {
        let staff = actor.staff.ok_or(Error::Unauthenticated)?;
        let ended = self
            .store()
            .delete_sessions_of(staff, Some(&token_hash(keep)))
            .await?;
        if let Some(a) = self.store().account(staff).await? {
            Audit::about(&a)
                .detail(&format!("{ended} ended"))
                .write(self, "signed_out_everywhere")
                .await?;
        }
        Ok(ended)
    }

    /// The signed-in person's open sessions, newest first.
    pub async fn my_sessions(&self, actor: &Actor) -> Result<Vec<SessionInfo>, Error> {
        let staff = actor.staff.ok_or(Error::Unauthenticated)?;
        let now = Utc::now();
        Ok(self
            .store()
            .sessions_of(staff)
            .await?
            .iter()
            .filter(|s| s.live_at(now))
            .map(info)
            .collect())
    }

    /// The person behind an actor (`None` for a service account or the engine).
    pub async fn person(&self, actor: &Actor) -> Result<Option<Person>, Error> {
        let Some(staff) = actor.staff else {
            return Ok(None);
        };
        match self.store().account(staff).await? {
            Some(a) => Ok(Some(Person::of(&a)?)),
            None => Ok(None),
        }
    }
}
