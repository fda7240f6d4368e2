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
pub mod identity;
pub mod input;
pub mod measures;
pub mod next;
pub mod notify;
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

/// What the domain means as its API beyond the engine: the values a door renders and the
/// commands it sends — never the decision, the policy's rules or the view's cutting, which the
/// engine applies. `carepath-engine` re-exports this module, and only this, as its `domain`.
pub mod model {
    pub use crate::command::*;
    pub use crate::error::DecisionError;
    pub use crate::event::*;
    pub use crate::gates::{GateReason, ReadinessAsk};
    pub use crate::identity::{
        MIN_PASSWORD_CHARS, PERSON_ROLES, PasswordProblem, SsoClaims, SsoRefusal, SsoSettings,
        StaffStatus,
    };
    pub use crate::ids;
    pub use crate::next::{Action, Step};
    pub use crate::notify::{
        Addressee, DefaultEscalation, EmailMode, NoticeKind, QuietHours, Rule, Who,
    };
    pub use crate::policy::{ClientPart, ClientView, REDISCLOSURE_NOTICE, ReferralView};
    pub use crate::state::*;
    pub use crate::view::{
        Asked, CareHistory, CaseManagement, Checklist, ConsentSeen, EpisodeSeen, MatPlanSeen,
        Movement, Seen, VisibleClient,
    };

    /// The measures as values (their fold is the engine's to run).
    pub mod measures {
        pub use crate::measures::{
            DischargeMeasures, HandoffMeasures, LoopMeasures, Measures, MoudMeasures,
            ProviderHours, Ratio, ReferralMeasures, Scope, Spread,
        };
    }

    /// The calendar a follow-up check keeps (HEDIS FUI), for those who audit the engine's
    /// timers against it (the simulation's checks).
    pub use crate::gates::followup_due;
}
