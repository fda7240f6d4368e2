//! Identifiers. Every id is a UUID newtype so that a client id can never be passed where an
//! organization id is expected.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered id (UUID v7).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                Self(u)
            }
        }
    };
}

uuid_id!(
    /// A client's pseudonymous id: the only client identifier that leaves the engine.
    ClientId
);
uuid_id!(
    /// An organization: a provider, a case-management program, a pharmacy, an OTP.
    OrgId
);
uuid_id!(
    /// A staff member (a case manager, a supervisor, a coordinator): the person behind one or
    /// more API tokens, which keep it when they are rotated. Never a client.
    StaffId
);
uuid_id!(
    /// A care event. Derived from (client, sequence number), see [`EventId::for_seq`].
    EventId
);
uuid_id!(
    /// A referral to one provider. It is the id of the `referral.sent` event that created it.
    ReferralId
);
uuid_id!(
    /// Referrals sent together to several providers for one level share a group.
    ReferralGroupId
);
uuid_id!(
    /// A Part 2 consent. It is the id of the `consent.recorded` event that created it.
    ConsentId
);
uuid_id!(
    /// A level-of-care assessment.
    AssessmentId
);
uuid_id!(
    /// A booked aftercare appointment or MAT dose, refill or injection.
    BookingId
);
uuid_id!(
    /// An episode of care: from admission to discharge.
    EpisodeId
);
uuid_id!(
    /// A durable timer.
    TimerId
);
uuid_id!(
    /// A notification to a person or to an organization's people in one role. Derived from
    /// what caused it, see [`NoticeId::derive`], so the same cause never notifies twice.
    NoticeId
);

/// Namespace for ids derived from other ids (UUID v5).
const NAMESPACE: Uuid = Uuid::from_u128(0x6361_7265_7061_7468_2d69_6473_2d76_3135);

impl NoticeId {
    /// The id of the notice `what` (its kind and addressee, said as text) about `cause` (an
    /// event, a notice it escalates, a client and a date): the same cause and addressee
    /// always give the same id, so an event delivered or decided twice notifies once.
    pub fn derive(cause: Uuid, what: &str) -> Self {
        let mut name = Vec::with_capacity(16 + what.len());
        name.extend_from_slice(cause.as_bytes());
        name.extend_from_slice(what.as_bytes());
        Self(Uuid::new_v5(&NAMESPACE, &name))
    }
}

impl EventId {
    /// The id of a client's `seq`-th event. Deterministic, so the pure core needs no random
    /// source, and unique because (client, seq) is.
    pub fn for_seq(client: ClientId, seq: i64) -> Self {
        let mut name = [0u8; 24];
        name[..16].copy_from_slice(client.0.as_bytes());
        name[16..].copy_from_slice(&seq.to_be_bytes());
        Self(Uuid::new_v5(&NAMESPACE, &name))
    }
}

impl TimerId {
    /// A timer's id from its client and its key, so scheduling the same timer twice is one row.
    pub fn for_key(client: ClientId, key: &str) -> Self {
        let mut name = Vec::with_capacity(16 + key.len());
        name.extend_from_slice(client.0.as_bytes());
        name.extend_from_slice(key.as_bytes());
        Self(Uuid::new_v5(&NAMESPACE, &name))
    }
}
