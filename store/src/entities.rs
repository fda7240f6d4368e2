//! sea-orm entities for the tables in `migrations/`.

pub mod organization {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "organizations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub name: String,
        pub created_at: DateTimeUtc,
        /// An IANA time zone name; `None`: UTC.
        pub time_zone: Option<String>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod provider_level {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "provider_levels")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub level: String,
        pub capacity: i32,
        pub occupied: i32,
        /// Slots held for clients on their way (accepted referrals, handoffs under way).
        pub held: i32,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// The MAT services an organization provides, one row each (`MatService::as_str`).
pub mod organization_mat_service {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "organization_mat_services")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub service: String,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod client {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "clients")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub home_org: Uuid,
        pub status: String,
        pub level: Option<String>,
        pub provider_id: Option<Uuid>,
        pub version: i64,
        pub last_seq: i64,
        pub state: Json,
        /// Why the client is lost to care (`LostReason`), while it is.
        pub lost_to_care: Option<String>,
        /// The staff member named on the current (or last) episode.
        pub case_manager: Option<Uuid>,
        /// When a referral group ran out with nothing sent since (an escalation), while so.
        pub escalated_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod referral {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "referrals")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub client_id: Uuid,
        pub group_id: Uuid,
        pub provider_id: Uuid,
        pub to_level: String,
        pub status: String,
        pub decline_code: Option<String>,
        pub decline_note: Option<String>,
        pub sent_at: DateTimeUtc,
        pub answer_by: DateTimeUtc,
        pub answered_at: Option<DateTimeUtc>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod care_event {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "care_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub client_id: Uuid,
        pub seq: i64,
        pub event_type: String,
        pub level: Option<String>,
        pub actor_org: Option<Uuid>,
        pub recipient_org: Option<Uuid>,
        pub occurred_at: DateTimeUtc,
        pub payload: Json,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod outbox {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "outbox")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub event_id: Uuid,
        pub client_id: Uuid,
        pub created_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod timer {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "timers")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub client_id: Uuid,
        pub key: String,
        pub kind: String,
        pub due_at: DateTimeUtc,
        pub status: String,
        pub payload: Json,
        pub fired_at: Option<DateTimeUtc>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod idempotency {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "idempotency")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub actor_org: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub request_hash: String,
        pub client_id: Option<Uuid>,
        pub response: Json,
        pub created_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod disclosure {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "disclosures")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub client_id: Uuid,
        pub recipient_org: Uuid,
        pub consent_id: Option<Uuid>,
        pub event_id: Option<Uuid>,
        pub what: String,
        pub disclosed_at: DateTimeUtc,
        pub legal_basis: Option<String>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod client_identity {
    use sea_orm::entity::prelude::*;

    /// A client's display name and record number (never in `clients.state`).
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "client_identities")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub client_id: Uuid,
        pub home_org: Uuid,
        pub display_name: String,
        /// The name folded for search (lower case, single spaces).
        pub name_key: String,
        pub record_number: Option<String>,
        pub updated_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod staff_account {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "staff_accounts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub org_id: Uuid,
        pub role: String,
        #[sea_orm(unique)]
        pub email: String,
        pub name: String,
        pub status: String,
        pub password_hash: Option<String>,
        pub totp_secret: Option<String>,
        pub totp_pending: Option<String>,
        pub totp_last_step: Option<i64>,
        pub recovery_codes: Option<Json>,
        pub sso_issuer: Option<String>,
        pub sso_subject: Option<String>,
        pub failed_sign_ins: i32,
        pub locked_until: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub last_sign_in_at: Option<DateTimeUtc>,
        /// Quiet hours (UTC, whole hours): e-mail waits until they end.
        pub quiet_from: Option<i32>,
        pub quiet_to: Option<i32>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod staff_link {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "staff_links")]
    pub struct Model {
        /// SHA-256 of the secret in the link.
        #[sea_orm(primary_key, auto_increment = false)]
        pub token_hash: String,
        pub staff_id: Uuid,
        pub purpose: String,
        pub created_at: DateTimeUtc,
        pub expires_at: DateTimeUtc,
        pub used_at: Option<DateTimeUtc>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod staff_session {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "staff_sessions")]
    pub struct Model {
        /// SHA-256 of the session secret the browser holds.
        #[sea_orm(primary_key, auto_increment = false)]
        pub session_hash: String,
        pub staff_id: Uuid,
        pub stage: String,
        pub method: String,
        pub address: Option<String>,
        pub created_at: DateTimeUtc,
        pub last_seen_at: DateTimeUtc,
        pub idle_secs: i32,
        pub expires_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod sign_in_audit {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sign_in_audit")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub at: DateTimeUtc,
        pub org_id: Option<Uuid>,
        pub staff_id: Option<Uuid>,
        pub by_staff: Option<Uuid>,
        pub kind: String,
        pub detail: Option<String>,
        pub address: Option<String>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod org_sso {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "org_sso")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org_id: Uuid,
        pub settings: Json,
        pub updated_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod api_token {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub org_id: Uuid,
        pub role: String,
        #[sea_orm(unique)]
        pub token_hash: String,
        pub label: Option<String>,
        /// The person the token was issued to.
        pub staff_id: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub revoked_at: Option<DateTimeUtc>,
        pub expires_at: Option<DateTimeUtc>,
        pub last_used_at: Option<DateTimeUtc>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod relay_lease {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "relay_leases")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub holder: String,
        pub expires_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// Broker users that speak for an organization on the inbound queue.
pub mod linked_sender {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "linked_senders")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: String,
        pub org_id: Uuid,
        pub created_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// How the database tells the time (one row, id 1): `wall` or `skipping`, with the skipped
/// clock.
pub mod engine_clock {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "engine_clock")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub mode: String,
        pub now: Option<DateTimeUtc>,
        pub version: i64,
        pub marked_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// A FHIR bulk export (`$export`) as it was asked for, and how far it got.
pub mod fhir_export_job {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "fhir_export_jobs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The organization that asked; the only one that reads the job and its files.
        pub org_id: Uuid,
        pub role: String,
        pub staff_id: Option<Uuid>,
        /// A group-level export: the organization whose clients the group is.
        pub group_org: Option<Uuid>,
        #[sea_orm(column_type = "Text")]
        pub request: String,
        /// The resource types asked for, comma-separated; empty: every type.
        #[sea_orm(column_type = "Text")]
        pub types: String,
        pub since: Option<DateTimeUtc>,
        pub status: String,
        pub clients_done: i64,
        /// On the engine's clock: the export's `transactionTime`.
        pub created_at: DateTimeUtc,
        /// On the wall clock: when a worker last reported on it.
        pub heartbeat_at: DateTimeUtc,
        pub finished_at: Option<DateTimeUtc>,
        #[sea_orm(column_type = "Text", nullable)]
        pub error: Option<String>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// One NDJSON file of an export: a part of one resource type's lines.
pub mod fhir_export_file {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "fhir_export_files")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub job_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub resource_type: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub part: i32,
        #[sea_orm(column_type = "Text")]
        pub body: String,
        pub lines: i32,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod notification {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "notifications")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub kind: String,
        pub org_id: Uuid,
        pub role: Option<String>,
        pub staff_id: Option<Uuid>,
        pub client_id: Option<Uuid>,
        pub referral_id: Option<Uuid>,
        pub due_at: Option<DateTimeUtc>,
        pub show_at: DateTimeUtc,
        /// `scheduled`, `open` or `dropped`.
        pub status: String,
        pub escalate_at: Option<DateTimeUtc>,
        pub escalates: Option<Uuid>,
        pub escalated_at: Option<DateTimeUtc>,
        pub resolved_at: Option<DateTimeUtc>,
        pub first_read_at: Option<DateTimeUtc>,
        pub expanded: bool,
        pub created_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod notification_read {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "notification_reads")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub notification_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub staff_id: Uuid,
        pub read_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod notification_delivery {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "notification_deliveries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub notification_id: Uuid,
        /// `email` or `webhook`.
        pub channel: String,
        /// The person (e-mail) or the webhook.
        pub target: Uuid,
        /// `waiting`, `sent`, or `dropped` (the person or webhook is gone).
        pub status: String,
        pub send_at: DateTimeUtc,
        pub retry_at: Option<DateTimeUtc>,
        pub leased_until: Option<DateTimeUtc>,
        pub attempts: i32,
        pub sent_at: Option<DateTimeUtc>,
        pub last_error: Option<String>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod notification_attempt {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "notification_attempts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub delivery_id: Uuid,
        pub at: DateTimeUtc,
        pub ok: bool,
        pub detail: String,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod notice_rule {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "notice_rules")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub kind: String,
        pub off: bool,
        /// Minutes of silence before it escalates; `Some(0)`: never; `None`: the default.
        pub escalate_minutes: Option<i32>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod notification_pref {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "notification_prefs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub staff_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub kind: String,
        pub mode: String,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod org_webhook {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "org_webhooks")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub org_id: Uuid,
        pub url: String,
        pub secret: String,
        pub enabled: bool,
        pub failures: i32,
        pub disabled_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}
