//! People for the tests: a staff member made through the engine as an organization's admin
//! makes one (an invitation, the password chosen through the link, TOTP enrolled with a code
//! computed here from the secret, as an authenticator app computes it), and the codes they
//! type later — each a new 30-second step, since a code is good once.

use carepath_engine::domain::{Actor, Role};
use carepath_engine::ids::{OrgId, StaffId};
use carepath_engine::{Engine, SignedIn};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A password every test person has (long, not common, not their name).
pub const PASSWORD: &str = "correct horse battery staple";

/// A signed-up person: how they sign in.
#[derive(Debug)]
pub struct Person {
    pub staff: StaffId,
    pub org: OrgId,
    pub role: Role,
    pub email: String,
    pub name: String,
    pub password: String,
    pub totp_secret: String,
    /// The last TOTP step a code was made for.
    last_step: AtomicU64,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The TOTP code of `secret` at time step `step` (RFC 6238, as an authenticator app makes it).
pub fn totp_code(secret: &str, step: u64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_owned())
        .to_bytes()
        .expect("a base32 secret");
    totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        bytes,
        None,
        String::new(),
    )
    .generate(step * 30)
}

impl Person {
    /// The person as an actor (what their session acts as).
    pub fn actor(&self) -> Actor {
        Actor::person(self.org, self.role, self.staff)
    }

    /// A code for the next sign-in: a step after the last one used (the engine takes each
    /// step once), within the one step ahead it allows — waiting for the clock when needed.
    pub async fn next_code(&self) -> String {
        loop {
            let now = unix_now() / 30;
            let last = self.last_step.load(Ordering::SeqCst);
            let step = now.max(last + 1);
            if step <= now + 1 {
                if self
                    .last_step
                    .compare_exchange(last, step, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
                {
                    return totp_code(&self.totp_secret, step);
                }
                continue;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// Sign up a person of `org` in `role` named `name`, as the operator and then the person
/// would: invited, password chosen through the link, TOTP enrolled.
pub async fn sign_up(engine: &Engine, org: OrgId, role: Role, name: &str) -> Person {
    let email = format!(
        "{}.{}@example.org",
        name.to_lowercase().replace(' ', "."),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let operator = Actor::new(org, Role::System);
    let (person, link) = engine
        .invite_staff(&operator, org, &email, name, role)
        .await
        .expect("invite");
    let pending = match engine
        .use_link(&link.secret, PASSWORD, None)
        .await
        .expect("password through the link")
    {
        SignedIn::Pending(p) => p,
        other => panic!("a second factor to enrol, not {other:?}"),
    };
    let enrolment = engine.enrolment(&pending.secret).await.expect("enrolment");
    let step = unix_now() / 30;
    match engine
        .confirm_enrolment(&pending.secret, &totp_code(&enrolment.secret, step), None)
        .await
        .expect("enrolment confirmed")
    {
        SignedIn::Open { recovery_codes, .. } => assert_eq!(recovery_codes.len(), 10),
        other => panic!("a session, not {other:?}"),
    }
    Person {
        staff: person.id,
        org,
        role,
        email,
        name: name.to_owned(),
        password: PASSWORD.to_owned(),
        totp_secret: enrolment.secret,
        last_step: AtomicU64::new(step),
    }
}
