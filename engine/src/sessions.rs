//! The console's sign-in: a person gives their token once and gets a session — a secret the
//! browser keeps in an HttpOnly cookie, stored here only as its hash. A session lasts
//! [`SESSION_HOURS`] by the wall clock (it is about the person at the screen), and never
//! longer than its token: a token revoked or expired (by the engine's clock, as every token
//! is) ends its sessions at once.

use crate::dom::{Actor, Role};
use crate::engine::Engine;
use crate::error::Error;
use crate::reads::token_hash;
use chrono::{DateTime, Utc};

/// How long a session lasts after sign-in.
pub const SESSION_HOURS: i64 = 12;

/// A session just opened: the secret for the browser's cookie (never stored) and when it
/// lapses.
pub struct Session {
    pub secret: String,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("secret", &"…")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl Engine {
    /// Open a session for the holder of `token`: `Unauthenticated` when the token is not
    /// live.
    pub async fn sign_in(&self, token: &str) -> Result<(Session, Actor), Error> {
        let actor = self.authenticate(token.trim()).await?;
        let secret = format!(
            "cps_{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let wall_now = Utc::now();
        let expires_at = wall_now + chrono::Duration::hours(SESSION_HOURS);
        let opened = self
            .store()
            .open_session(
                &token_hash(&secret),
                &token_hash(token.trim()),
                self.clock().now(),
                wall_now,
                expires_at,
            )
            .await?;
        if !opened {
            return Err(Error::Unauthenticated);
        }
        Ok((Session { secret, expires_at }, actor))
    }

    /// The actor behind a session's secret: `Unauthenticated` once it lapsed, was ended, or
    /// its token was revoked or expired.
    pub async fn session(&self, secret: &str) -> Result<Actor, Error> {
        let holder = self
            .store()
            .session_holder(&token_hash(secret), self.clock().now(), Utc::now())
            .await?
            .ok_or(Error::Unauthenticated)?;
        let role = Role::parse(&holder.role).ok_or(Error::Unauthenticated)?;
        Ok(Actor::person(holder.org, role, holder.staff))
    }

    /// End a session (sign out).
    pub async fn sign_out(&self, secret: &str) -> Result<(), Error> {
        Ok(self.store().close_session(&token_hash(secret)).await?)
    }
}
