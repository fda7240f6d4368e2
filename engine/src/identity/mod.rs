//! Who signs in: people (staff accounts of one organization, with a password and TOTP or
//! their organization's identity provider) and systems (service accounts, the API's bearer
//! tokens). The rules are the domain's (`carepath_domain::identity`); here are their
//! mechanics — Argon2id hashes, TOTP codes, single-use links, sessions — and the sign-in audit.
//!
//! `credentials.rs` hashing and codes; `staff.rs` an organization's people and service
//! accounts, managed by its admins; `sign_in.rs` links, passwords, the second factor and
//! sessions; `sso.rs` an organization's identity provider; `audit.rs` the audit trail.

mod audit;
mod credentials;
mod sign_in;
mod sso;
mod staff;

pub use audit::AuditEntry;
pub use sign_in::{Enrolment, LinkInfo, Pending, PendingStep, Session, SessionInfo, SignedIn};
pub use staff::{Link, LinkPurpose, Person, ServiceAccount};

use crate::dom::Role;
use crate::dom::identity::StaffStatus;
use crate::error::Error;
use crate::store::AccountRow;

/// A fresh secret: `bytes` random bytes from the operating system, as lower-case hex after
/// `prefix` (so a leaked one says what it is).
pub(crate) fn secret(prefix: &str, bytes: usize) -> String {
    use password_hash::rand_core::{OsRng, RngCore};
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    let mut s = String::with_capacity(prefix.len() + 2 * bytes);
    s.push_str(prefix);
    for b in buf {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// A stored account read back: its role and status as the domain's values.
pub(crate) fn role_and_status(a: &AccountRow) -> Result<(Role, StaffStatus), Error> {
    let role = Role::parse(&a.role)
        .ok_or_else(|| Error::Storage(crate::store::StoreError::Corrupt("account role".into())))?;
    let status = StaffStatus::parse(&a.status).ok_or_else(|| {
        Error::Storage(crate::store::StoreError::Corrupt("account status".into()))
    })?;
    Ok((role, status))
}
