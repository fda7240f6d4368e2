//! Credentials: Argon2id password hashes (OWASP's parameters, the `argon2` crate's default —
//! 19 MiB, 2 passes, 1 lane — on a blocking thread, for a hash takes tens of milliseconds),
//! TOTP codes (RFC 6238: SHA-1, 6 digits, 30-second steps, one step of drift either way, the
//! `totp-rs` crate), and recovery codes (random, stored as SHA-256 hashes).

use crate::error::Error;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use password_hash::SaltString;
use password_hash::rand_core::OsRng;
use totp_rs::{Algorithm, Secret, TOTP};

/// The issuer name authenticator apps show beside the account.
pub const TOTP_ISSUER: &str = "Carepath";

/// Hash a password (Argon2id, a fresh salt), in PHC string form.
pub async fn hash_password(password: &str) -> Result<String, Error> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|_| Error::BadInput("that password cannot be hashed".into()))
    })
    .await
    .map_err(|_| Error::BadInput("that password cannot be hashed".into()))?
}

/// A hash nobody's password matches, checked when no account has the address given, so a
/// sign-in takes as long whether or not the account exists.
const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$YWJjZGVmZ2hpamtsbW5vcA$1u9+fqu3zDGmUO+xyrUFT+jj5RE5LwxwrnSx7IFHJNY";

/// Whether `password` matches `hash` (`None`: no account — the decoy is checked all the same).
pub async fn verify_password(password: &str, hash: Option<&str>) -> bool {
    let password = password.to_owned();
    let stored = hash.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        let phc = stored.as_deref().unwrap_or(DECOY);
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        ok && stored.is_some()
    })
    .await
    .unwrap_or(false)
}

/// A new TOTP secret (160 bits, RFC 4226's recommendation), base32.
pub fn new_totp_secret() -> String {
    use password_hash::rand_core::RngCore;
    let mut bytes = [0u8; 20];
    OsRng.fill_bytes(&mut bytes);
    Secret::Raw(bytes.to_vec()).to_encoded().to_string()
}

fn totp(secret_b32: &str, account: &str) -> Option<TOTP> {
    let bytes = Secret::Encoded(secret_b32.to_owned()).to_bytes().ok()?;
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        30,
        bytes,
        Some(TOTP_ISSUER.to_owned()),
        account.to_owned(),
    )
    .ok()
}

/// The `otpauth://` URI an authenticator app scans (as a QR code) to add the account.
pub fn otpauth_uri(secret_b32: &str, account: &str) -> Option<String> {
    totp(secret_b32, account).map(|t| t.get_url())
}

/// The time step whose code `code` is, within one step of `unix_seconds` either way, if any.
pub fn totp_step(secret_b32: &str, code: &str, unix_seconds: u64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret_b32, "")?;
    let step = unix_seconds / 30;
    [step.saturating_sub(1), step, step + 1]
        .into_iter()
        .find(|s| constant_eq(&t.generate(s * 30), &code))
        .and_then(|s| i64::try_from(s).ok())
}

fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// New recovery codes as the person writes them down (`xxxx-xxxx-xxxx`, 60 bits each), and
/// their hashes as stored.
pub fn new_recovery_codes(n: usize) -> (Vec<String>, Vec<String>) {
    let codes: Vec<String> = (0..n)
        .map(|_| {
            let hex = super::secret("", 6);
            format!("{}-{}-{}", &hex[0..4], &hex[4..8], &hex[8..12])
        })
        .collect();
    let hashes = codes.iter().map(|c| recovery_hash(c)).collect();
    (codes, hashes)
}

/// A recovery code's stored hash (spaces and dashes, and case, do not matter).
pub fn recovery_hash(code: &str) -> String {
    let bare: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    crate::reads::token_hash(&format!("recovery:{bare}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_password_verifies_against_its_hash_only() {
        let h = hash_password("correct horse battery staple").await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password("correct horse battery staple", Some(&h)).await);
        assert!(!verify_password("correct horse battery stapler", Some(&h)).await);
        assert!(!verify_password("anything", None).await);
    }

    #[test]
    fn a_totp_code_is_found_within_a_step_of_drift() {
        let s = new_totp_secret();
        let t = totp(&s, "x").unwrap();
        let now = 1_800_000_000u64;
        assert_eq!(
            totp_step(&s, &t.generate(now), now),
            Some((now / 30) as i64)
        );
        assert_eq!(
            totp_step(&s, &t.generate(now - 30), now),
            Some((now / 30 - 1) as i64)
        );
        assert_eq!(totp_step(&s, &t.generate(now - 90), now), None);
        assert_eq!(totp_step(&s, "12345", now), None);
        assert!(
            otpauth_uri(&s, "dana@example.org")
                .unwrap()
                .starts_with("otpauth://totp/Carepath:")
        );
    }

    #[test]
    fn recovery_codes_hash_alike_however_typed() {
        let (codes, hashes) = new_recovery_codes(10);
        assert_eq!(codes.len(), 10);
        assert_eq!(
            recovery_hash(&codes[3].to_uppercase().replace('-', " ")),
            hashes[3]
        );
    }
}
