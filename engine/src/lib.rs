//! Carepath's engine: the care-pathway model, the handoff state machine and its gates, and the
//! durable store. See ARCHITECTURE.md for the map.
//!
//! Flow of one command: [`Engine::execute`] loads the client, calls the pure
//! [`domain::decide`], and commits the new state, its events, outbox rows, timers and the
//! idempotency record in one transaction ([`store`]).

pub mod clock;
pub mod domain;
mod engine;
mod error;
pub mod ids;
mod live;
mod outbox;
pub mod pathway;
mod reads;
pub mod store;

pub use engine::{Engine, EventRef, Outcome, Request};
pub use error::Error;
pub use live::Published;
pub use outbox::Outgoing;
pub use reads::{ReferralRead, token_hash};
