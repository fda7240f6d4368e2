//! Single sign-on: an organization that has its own identity provider (OpenID Connect) signs
//! its people in through it. The protocol is [`oidc`]; its routes come with the engine's
//! single sign-on.

pub mod oidc;

pub use oidc::{SsoError as Failure, verify_id_token};
