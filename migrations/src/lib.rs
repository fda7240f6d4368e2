//! Carepath's database schema, for SQLite and PostgreSQL alike.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_init;
mod m20261123_000002_api_tokens;
mod m20261123_000003_relay;
mod m20261123_000004_outbox_notify;
mod m20261123_000005_outbox_waiting_only;
mod m20261123_000006_notify_after_commit;
mod m20261124_000010_disclosure_basis;
mod m20261124_000011_token_expiry;
mod m20261202_000012_linked_senders;
mod m20261202_000013_slot_holds;
mod m20261202_000014_mat_services;
mod m20261202_000015_lost_to_care;
mod m20261202_000016_engine_clock;
mod m20261202_000017_case_managers;
mod m20261202_000018_client_identities;
mod m20261202_000019_console_sessions;
mod m20261202_000020_fhir_exports;
mod m20261207_000021_staff_accounts;
mod m20261207_000022_notifications;
mod m20261207_000023_notice_queues;
mod m20261208_000024_org_time_zone;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_init::Migration),
            Box::new(m20261123_000002_api_tokens::Migration),
            Box::new(m20261123_000003_relay::Migration),
            Box::new(m20261123_000004_outbox_notify::Migration),
            Box::new(m20261123_000005_outbox_waiting_only::Migration),
            Box::new(m20261123_000006_notify_after_commit::Migration),
            Box::new(m20261124_000010_disclosure_basis::Migration),
            Box::new(m20261124_000011_token_expiry::Migration),
            Box::new(m20261202_000012_linked_senders::Migration),
            Box::new(m20261202_000013_slot_holds::Migration),
            Box::new(m20261202_000014_mat_services::Migration),
            Box::new(m20261202_000015_lost_to_care::Migration),
            Box::new(m20261202_000016_engine_clock::Migration),
            Box::new(m20261202_000017_case_managers::Migration),
            Box::new(m20261202_000018_client_identities::Migration),
            Box::new(m20261202_000019_console_sessions::Migration),
            Box::new(m20261202_000020_fhir_exports::Migration),
            Box::new(m20261207_000021_staff_accounts::Migration),
            Box::new(m20261207_000022_notifications::Migration),
            Box::new(m20261207_000023_notice_queues::Migration),
            Box::new(m20261208_000024_org_time_zone::Migration),
        ]
    }
}
