//! Carepath's engine: the care-pathway model, the handoff state machine and its gates, and the
//! durable store. See ARCHITECTURE.md for the map.
//!
//! Flow of one command: [`Engine::execute`] loads the client, calls the pure
//! [`domain::decide`], and commits the new state, its events, outbox rows, timers and the
//! idempotency record in one transaction ([`store`]).

mod admin;
mod audit;
mod backoff;
mod care_records;
pub mod clock;
mod engine;
mod error;
mod exports;
mod identity;
mod live;
mod measures;
mod notices;
mod outbox;
mod pace;
mod reads;
mod skipping;
mod worklists;
use carepath_store as store;

/// The whole domain, for the engine's own use.
use carepath_domain as dom;
pub use carepath_domain::ids;
/// The domain's values — what a door renders and the commands it sends — and nothing of its
/// decisions, rules or view-cutting, which the engine applies (`carepath_domain::model`).
pub use carepath_domain::model as domain;

/// The pathway model (from the domain) and its loader (from `carepath-workflows`).
pub mod pathway {
    pub use carepath_domain::pathway::*;
    pub use carepath_workflows::{
        DEFAULT_PATHWAY_NAME, DEFAULT_PATHWAY_TOML, PathwayError, PathwayErrors, default_pathway,
        load_file, parse,
    };
}

/// How a SQLite database's commits reach the disk ([`Engine::open_in_with`]).
pub use store::Durability;
/// Rows the engine's reads return as they are stored (no domain meaning to add).
pub use store::{CensusRow, DisclosureRow, OrgListing, TimerRow, TokenRow};
/// The conditions the store reads the notices waiting to be expanded and the notices still
/// silent by, as SQL: each is its partial index's (migration 23), and the tests ask the
/// databases' planners whether the index serves it.
pub use store::{NOTICES_SILENT, NOTICES_TO_EXPAND};

pub use admin::parse_time_zone;
pub use backoff::Backoff;
pub use care_records::CareRecord;
pub use engine::{Engine, EventRef, Outcome, Request};
pub use error::Error;
pub use exports::{
    EXPORT_STALE_AFTER, ExportFile, ExportJob, ExportRequest, ExportRun, ExportStatus,
    MAX_EXPORT_REQUEST,
};
pub use identity::{
    AuditEntry, Enrolment, Link, LinkInfo, LinkPurpose, Pending, PendingStep, Person,
    ServiceAccount, Session, SessionInfo, SignedIn,
};
pub use live::Published;
pub use notices::{
    About, DeliveryFailure, DeliveryRecord, Destination, Dispatch, EmailPreferences, Message,
    NOTICES_LISTED, NoticeRuleView, NoticeSweep, Notification, WEBHOOK_FAILURE_LIMIT, Webhook,
};
pub use outbox::Outgoing;
pub use pace::EventLag;
pub use reads::{ReferralRead, token_hash};
pub use skipping::{Advanced, MAX_ADVANCE_DAYS, TimeMode};
pub use worklists::{FollowupDue, NoShowDue, WorkItem};
