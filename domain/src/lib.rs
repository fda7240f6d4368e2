//! Carepath's domain, pure: the care pathway model, the client aggregate, commands, events,
//! gates, who-may-do-what and the decision function. No I/O, no clock, no randomness: time
//! and organizations come in as arguments. The crate's only dependencies are chrono, serde,
//! uuid and thiserror, so nothing here can reach a database, a broker or the network.

pub mod ids;
pub mod pathway;

pub mod audience;
mod command;
mod decide;
mod error;
mod event;
pub mod gates;
pub mod input;
pub mod measures;
pub mod policy;
mod state;
pub mod view;

pub use command::*;
pub use decide::{
    Context, Decision, OrgDirectory, OrgInfo, StaffDirectory, StaffMember, decide, decide_checked,
};
pub use error::DecisionError;
pub use event::*;
pub use policy::{
    ClientPart, ClientView, REDISCLOSURE_NOTICE, ReferralView, authorize, may_see_event,
    read_access, referral_access, require_full, visible_referrals,
};
pub use state::*;
pub use view::{Seen, VisibleClient};
