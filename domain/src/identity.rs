//! Who signs in, and the rules of it — pure: a person is a staff member of one organization
//! with a role; systems hold service accounts. What a password must be, when an account locks,
//! how long a session lives for a role, which roles need a second factor, who manages whose
//! staff, and how an identity provider's claims are matched to a person and a role. The
//! mechanics — hashing, codes, the OpenID Connect protocol — are the engine's and the
//! console's; every decision about them is made here.

use crate::command::{Actor, Role};
use crate::error::DecisionError;
use crate::ids::OrgId;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Shortest password accepted (NIST SP 800-63B asks at least 8, 15 without a second factor;
/// every person here has one, and 12 is what OWASP's ASVS asks).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted (a passphrase, not a file).
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Failed sign-ins in a row after which an account locks.
pub const LOCK_AFTER_FAILURES: u32 = 5;
/// How long a lock lasts: it doubles with each further failure, up to [`MAX_LOCK`].
pub const FIRST_LOCK: Duration = Duration::minutes(15);
pub const MAX_LOCK: Duration = Duration::hours(24);

/// A session's absolute lifetime, whatever the person does.
pub const SESSION_LIFETIME: Duration = Duration::hours(12);
/// A session's idle timeout for the roles that read client records, unless configured.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::minutes(30);
/// How long the step between a password and its second factor may take.
pub const SECOND_FACTOR_WINDOW: Duration = Duration::minutes(10);
/// How long an invitation link stays good.
pub const INVITE_VALID: Duration = Duration::days(7);
/// How long a password-reset link stays good.
pub const RESET_VALID: Duration = Duration::hours(24);
/// Recovery codes issued at enrolment; each works once.
pub const RECOVERY_CODES: usize = 10;

/// Where a staff member's account stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaffStatus {
    /// Invited: no password yet (or waiting for their first single sign-on).
    Invited,
    Active,
    /// Deactivated: no session, no sign-in, until reactivated.
    Deactivated,
}

impl StaffStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StaffStatus::Invited => "invited",
            StaffStatus::Active => "active",
            StaffStatus::Deactivated => "deactivated",
        }
    }
    pub fn parse(s: &str) -> Option<StaffStatus> {
        [
            StaffStatus::Invited,
            StaffStatus::Active,
            StaffStatus::Deactivated,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// The roles a person can hold (every role but the engine's own).
pub const PERSON_ROLES: [Role; 6] = [
    Role::CaseManager,
    Role::Supervisor,
    Role::Partner,
    Role::AftercareCoordinator,
    Role::Payer,
    Role::Admin,
];

/// Whether a role reads client records (every person's role does today: an admin as the
/// programs' qualified service organization, a payer the services its consents name). Such
/// a role signs in with a second factor and idles out after [`DEFAULT_IDLE_TIMEOUT`].
pub fn reads_client_records(role: Role) -> bool {
    match role {
        Role::CaseManager
        | Role::Supervisor
        | Role::Partner
        | Role::AftercareCoordinator
        | Role::Payer
        | Role::Admin => true,
        Role::System => false,
    }
}

/// Whether a person in `role` must pass a second factor (TOTP, or their identity
/// provider's) to open a session.
pub fn needs_second_factor(role: Role) -> bool {
    reads_client_records(role)
}

/// How long a session of `role` may sit idle: the configured timeout for the roles that read
/// client records, never longer than the absolute lifetime.
pub fn idle_timeout(role: Role, configured: Option<Duration>) -> Duration {
    let idle = if reads_client_records(role) {
        configured.unwrap_or(DEFAULT_IDLE_TIMEOUT)
    } else {
        SESSION_LIFETIME
    };
    idle.min(SESSION_LIFETIME)
}

/// Why a password is refused: said to the person choosing it, never logged with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    #[error("a password has at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("a password has at most {MAX_PASSWORD_CHARS} characters")]
    TooLong,
    #[error("a password cannot contain your e-mail address or your name")]
    Personal,
    #[error("that password is one of the most common: choose another")]
    Common,
    #[error("a password cannot be one character repeated or a run like abcdefghijklm")]
    Trivial,
    #[error("a password cannot hold control characters")]
    ControlCharacters,
}

/// The passwords attackers try first, of the lengths that would pass the length rule, lower
/// case (from the public breached-password top lists: SecLists' 10-million list, RockYou).
const COMMON: &[&str] = &[
    "password1234",
    "password12345",
    "password123456",
    "passwordpassword",
    "123456789012",
    "1234567890123",
    "qwertyuiop123",
    "qwerty123456",
    "qwertyuiopasdfgh",
    "iloveyou1234",
    "welcome12345",
    "letmein12345",
    "administrator",
    "administrator1",
    "changeme1234",
    "abcdefghijkl",
    "abc123456789",
    "1q2w3e4r5t6y",
    "1qaz2wsx3edc",
    "zaq12wsxcde3",
    "football1234",
    "baseball1234",
    "sunshine1234",
    "princess1234",
    "trustno1trustno1",
    "starwars1234",
    "superman1234",
    "monkey123456",
    "dragon123456",
    "master123456",
    "carepath1234",
    "carepassword",
];

/// A password chosen by a person with this e-mail address and name, checked before it is
/// hashed: long enough, not too long, not their address or name, not a common or trivial one.
pub fn check_password(password: &str, email: &str, name: &str) -> Result<(), PasswordProblem> {
    let chars = password.chars().count();
    if password.chars().any(char::is_control) {
        return Err(PasswordProblem::ControlCharacters);
    }
    if chars < MIN_PASSWORD_CHARS {
        return Err(PasswordProblem::TooShort);
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(PasswordProblem::TooLong);
    }
    let lower = password.to_lowercase();
    let email = email.trim().to_lowercase();
    let local = email.split('@').next().unwrap_or("");
    let mut parts: Vec<String> = name
        .split_whitespace()
        .map(str::to_lowercase)
        .filter(|w| w.chars().count() >= 3)
        .collect();
    parts.push(email.clone());
    if local.chars().count() >= 3 {
        parts.push(local.to_owned());
    }
    let personal = parts
        .iter()
        .any(|part| !part.is_empty() && lower.contains(part.as_str()));
    if personal {
        return Err(PasswordProblem::Personal);
    }
    if COMMON.contains(&lower.as_str()) {
        return Err(PasswordProblem::Common);
    }
    let codes: Vec<u32> = lower.chars().map(u32::from).collect();
    let repeated = codes.iter().all(|c| *c == codes[0]);
    let run =
        codes.windows(2).all(|w| w[1] == w[0] + 1) || codes.windows(2).all(|w| w[0] == w[1] + 1);
    if repeated || run {
        return Err(PasswordProblem::Trivial);
    }
    Ok(())
}

/// An account after one more failed sign-in at `now`, with `failures` in a row before it:
/// the new count, and until when it is locked (none before [`LOCK_AFTER_FAILURES`]).
pub fn after_failure(failures: u32, now: DateTime<Utc>) -> (u32, Option<DateTime<Utc>>) {
    let failures = failures.saturating_add(1);
    if failures < LOCK_AFTER_FAILURES {
        return (failures, None);
    }
    let doublings = (failures - LOCK_AFTER_FAILURES).min(16);
    let lock = (FIRST_LOCK * 2i32.pow(doublings)).min(MAX_LOCK);
    (failures, Some(now + lock))
}

/// Whether an account locked until `locked_until` is still locked at `now`.
pub fn is_locked(locked_until: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    locked_until.is_some_and(|t| t > now)
}

/// Managing an organization's people and service accounts — inviting, changing roles,
/// deactivating, issuing reset links and tokens, reading its sign-in audit — is the
/// organization's own admins' (and the operator's, at the command line, as the engine).
pub fn manage_staff(actor: &Actor, org: OrgId) -> Result<(), DecisionError> {
    match actor.role {
        Role::System => Ok(()),
        Role::Admin if actor.org == org => Ok(()),
        Role::Admin => Err(DecisionError::NotFound {
            what: "organization",
            id: org.to_string(),
        }),
        _ => Err(DecisionError::Forbidden(
            "only an admin of the organization manages its staff".into(),
        )),
    }
}

/// An admin's change to one of their organization's people, refused when it would leave the
/// organization with no admin able to sign in (the last active admin demoting or
/// deactivating themselves or another).
pub fn keeps_an_admin(
    target_is_active_admin: bool,
    becomes_admin: bool,
    other_active_admins: usize,
) -> Result<(), DecisionError> {
    if target_is_active_admin && !becomes_admin && other_active_admins == 0 {
        return Err(DecisionError::Conflict(
            "this is the organization's last active admin: make another admin first".into(),
        ));
    }
    Ok(())
}

/// How an organization signs its people in through its own identity provider (OpenID
/// Connect): set by its admin, read by the console's sign-in.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoSettings {
    /// The issuer (discovery at `<issuer>/.well-known/openid-configuration`).
    pub issuer: String,
    pub client_id: String,
    /// The client secret the provider issued (a confidential client); kept beside the
    /// settings, never shown back or logged.
    pub client_secret: String,
    /// The ID-token claim holding the person's roles or groups (`roles`, `groups`); `None`:
    /// each person keeps the role their admin gave them.
    pub role_claim: Option<String>,
    /// Which claim value gives which role; a person whose values map to several roles gets
    /// the first of [`PERSON_ROLES`] (the least privileged, admin last).
    pub role_values: Vec<(String, Role)>,
    /// Make an account on a first sign-in by someone the organization has not invited (just
    /// in time); off unless the admin turns it on.
    pub provision: bool,
    /// Require the provider's own second factor: the ID token's `amr` must name one
    /// (`mfa`, `otp`, `hwk`, `swk`, `sms`, `fpt`, …) or its `acr` be this value when set.
    pub require_mfa: bool,
    pub required_acr: Option<String>,
}

impl std::fmt::Debug for SsoSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"…")
            .field("role_claim", &self.role_claim)
            .field("role_values", &self.role_values)
            .field("provision", &self.provision)
            .field("require_mfa", &self.require_mfa)
            .field("required_acr", &self.required_acr)
            .finish()
    }
}

/// What a verified ID token says of the person (the console's OpenID Connect client fills it
/// only after checking the token's signature, issuer, audience, expiry and nonce).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SsoClaims {
    pub subject: String,
    pub email: Option<String>,
    /// Whether the provider vouches for the address (`email_verified`).
    pub email_verified: bool,
    pub name: Option<String>,
    /// The values of the organization's role claim (`SsoSettings::role_claim`).
    pub roles: Vec<String>,
    /// Authentication methods (`amr`) and context class (`acr`).
    pub amr: Vec<String>,
    pub acr: Option<String>,
}

/// Methods in an `amr` claim (RFC 8176) that are a second factor or stand for one.
const SECOND_FACTOR_AMR: &[&str] = &[
    "mfa", "otp", "hwk", "swk", "sms", "fpt", "face", "iris", "retina", "vbm", "sc", "tel",
];

/// Why an identity provider's sign-in is refused (said to the person in words that do not
/// tell whether an account exists).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SsoRefusal {
    #[error("the identity provider did not vouch for a second factor")]
    NoSecondFactor,
    #[error("no role of this organization is given to this person by the identity provider")]
    NoRole,
    #[error("no account of this organization is linked to this person")]
    NoAccount,
    #[error("the account is deactivated")]
    Deactivated,
}

/// Whom an organization's SSO sign-in is: the account linked to the subject, else the
/// account invited under the verified e-mail (linked now), else — when the organization
/// provisions — a new account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SsoMatch<S> {
    Linked(S),
    LinkByEmail(S),
    Provision,
}

/// The checks on a verified ID token before anyone is matched: the second factor the
/// organization requires.
pub fn sso_second_factor(settings: &SsoSettings, claims: &SsoClaims) -> Result<(), SsoRefusal> {
    if !settings.require_mfa {
        return Ok(());
    }
    if let Some(acr) = &settings.required_acr
        && claims.acr.as_deref() == Some(acr.as_str())
    {
        return Ok(());
    }
    if claims
        .amr
        .iter()
        .any(|m| SECOND_FACTOR_AMR.contains(&m.to_ascii_lowercase().as_str()))
    {
        return Ok(());
    }
    Err(SsoRefusal::NoSecondFactor)
}

/// The role an SSO sign-in gives: from the role claim when the organization maps one (the
/// first of [`PERSON_ROLES`] any value maps to — the least privileged before admin), else
/// the role the account already has (`None` for a new account: refused).
pub fn sso_role(
    settings: &SsoSettings,
    claims: &SsoClaims,
    current: Option<Role>,
) -> Result<Role, SsoRefusal> {
    if settings.role_claim.is_none() {
        return current.ok_or(SsoRefusal::NoRole);
    }
    PERSON_ROLES
        .iter()
        .copied()
        .find(|role| {
            settings
                .role_values
                .iter()
                .any(|(value, r)| r == role && claims.roles.iter().any(|v| v == value))
        })
        .ok_or(SsoRefusal::NoRole)
}

/// Which account an SSO sign-in is, given the account linked to the subject (if any) and
/// the one under the claimed e-mail in this organization (if any).
pub fn sso_match<S>(
    settings: &SsoSettings,
    claims: &SsoClaims,
    by_subject: Option<S>,
    by_email: Option<S>,
) -> Result<SsoMatch<S>, SsoRefusal> {
    if let Some(s) = by_subject {
        return Ok(SsoMatch::Linked(s));
    }
    if claims.email_verified
        && let Some(s) = by_email
    {
        return Ok(SsoMatch::LinkByEmail(s));
    }
    if settings.provision && claims.email_verified && claims.email.is_some() {
        return Ok(SsoMatch::Provision);
    }
    Err(SsoRefusal::NoAccount)
}

/// An e-mail address as accounts are keyed: trimmed, lower case, one `@` with something on
/// both sides and no spaces or control characters — or why not.
pub fn normalize_email(email: &str) -> Result<String, DecisionError> {
    let e = email.trim().to_lowercase();
    let bad = || DecisionError::BadInput(format!("{:?} is not an e-mail address", email.trim()));
    if e.len() > 254 || e.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    match e.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && domain.contains('.') && !domain.contains('@') =>
        {
            Ok(e)
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_long_personal_free_and_uncommon() {
        let ok = |p: &str| check_password(p, "dana.reyes@example.org", "Dana Reyes");
        assert_eq!(ok("short"), Err(PasswordProblem::TooShort));
        assert_eq!(ok(&"x".repeat(129)), Err(PasswordProblem::TooLong));
        assert_eq!(ok("dana.reyes-spring"), Err(PasswordProblem::Personal));
        assert_eq!(ok("my name is REYES ok"), Err(PasswordProblem::Personal));
        assert_eq!(ok("Password1234"), Err(PasswordProblem::Common));
        assert_eq!(ok("aaaaaaaaaaaaaa"), Err(PasswordProblem::Trivial));
        assert_eq!(ok("bcdefghijklmn"), Err(PasswordProblem::Trivial));
        assert_eq!(
            ok("tab\tinside password"),
            Err(PasswordProblem::ControlCharacters)
        );
        assert_eq!(ok("correct horse battery staple"), Ok(()));
    }

    #[test]
    fn an_account_locks_after_five_failures_and_longer_after_each_more() {
        let now = Utc::now();
        assert_eq!(after_failure(0, now), (1, None));
        assert_eq!(after_failure(3, now), (4, None));
        assert_eq!(after_failure(4, now), (5, Some(now + FIRST_LOCK)));
        assert_eq!(after_failure(5, now), (6, Some(now + FIRST_LOCK * 2)));
        assert_eq!(after_failure(40, now), (41, Some(now + MAX_LOCK)));
        assert!(is_locked(Some(now + FIRST_LOCK), now));
        assert!(!is_locked(Some(now), now));
    }

    #[test]
    fn an_admin_manages_only_its_own_organizations_staff() {
        let org = OrgId::new();
        assert!(manage_staff(&Actor::new(org, Role::Admin), org).is_ok());
        assert!(matches!(
            manage_staff(&Actor::new(OrgId::new(), Role::Admin), org),
            Err(DecisionError::NotFound { .. })
        ));
        assert!(matches!(
            manage_staff(&Actor::new(org, Role::CaseManager), org),
            Err(DecisionError::Forbidden(_))
        ));
        assert!(keeps_an_admin(true, false, 0).is_err());
        assert!(keeps_an_admin(true, false, 1).is_ok());
        assert!(keeps_an_admin(false, false, 0).is_ok());
    }

    fn settings() -> SsoSettings {
        SsoSettings {
            issuer: "https://idp.example".into(),
            client_id: "carepath".into(),
            client_secret: "s".into(),
            role_claim: Some("groups".into()),
            role_values: vec![
                ("cp-admins".into(), Role::Admin),
                ("cp-case".into(), Role::CaseManager),
            ],
            provision: false,
            require_mfa: true,
            required_acr: None,
        }
    }

    #[test]
    fn sso_maps_roles_least_privileged_first_and_asks_for_a_second_factor() {
        let s = settings();
        let mut c = SsoClaims {
            subject: "abc".into(),
            email: Some("a@b.org".into()),
            email_verified: true,
            roles: vec!["cp-admins".into(), "cp-case".into()],
            ..SsoClaims::default()
        };
        assert_eq!(sso_role(&s, &c, None), Ok(Role::CaseManager));
        c.roles = vec!["other".into()];
        assert_eq!(sso_role(&s, &c, Some(Role::Admin)), Err(SsoRefusal::NoRole));
        assert_eq!(sso_second_factor(&s, &c), Err(SsoRefusal::NoSecondFactor));
        c.amr = vec!["pwd".into(), "otp".into()];
        assert_eq!(sso_second_factor(&s, &c), Ok(()));
        let unmapped = SsoSettings {
            role_claim: None,
            ..s.clone()
        };
        assert_eq!(
            sso_role(&unmapped, &c, Some(Role::Partner)),
            Ok(Role::Partner)
        );
    }

    #[test]
    fn sso_links_by_subject_then_by_a_verified_email_and_provisions_only_when_asked() {
        let mut s = settings();
        let mut c = SsoClaims {
            subject: "abc".into(),
            email: Some("a@b.org".into()),
            email_verified: false,
            ..SsoClaims::default()
        };
        assert_eq!(sso_match(&s, &c, Some(1), Some(2)), Ok(SsoMatch::Linked(1)));
        assert_eq!(sso_match(&s, &c, None, Some(2)), Err(SsoRefusal::NoAccount));
        c.email_verified = true;
        assert_eq!(
            sso_match(&s, &c, None, Some(2)),
            Ok(SsoMatch::LinkByEmail(2))
        );
        assert_eq!(
            sso_match::<u8>(&s, &c, None, None),
            Err(SsoRefusal::NoAccount)
        );
        s.provision = true;
        assert_eq!(sso_match::<u8>(&s, &c, None, None), Ok(SsoMatch::Provision));
    }

    #[test]
    fn emails_are_keyed_lower_case() {
        assert_eq!(
            normalize_email(" Dana@Example.ORG ").unwrap(),
            "dana@example.org"
        );
        assert!(normalize_email("dana").is_err());
        assert!(normalize_email("da na@x.org").is_err());
        assert!(normalize_email("@x.org").is_err());
    }
}
