//! The two queues the engine reads notices from, each as an index of only what waits in it.
//!
//! - `notifications_to_expand` on `show_at`, over the open notices whose deliveries are not
//!   made yet: the notifier asks for them on every pass (a pass follows every commit that
//!   raised a notice). Through `notifications_status (status, show_at)` that read visited every
//!   open notice, expanded or not, and open notices are as many as the census leaves
//!   unresolved: in a 300-journey load run, 1,300 pages a pass by the end, and growing.
//! - `notifications_silent` on `escalate_at`, over the open notices nobody has read, acted on
//!   or escalated: the sweep asks for those whose silence deadline passed every few seconds.
//!   Through `notifications_escalate (escalate_at)`, dropped here, it visited every notice
//!   whose deadline ever passed, the whole history.
//!
//! Marking a notice expanded, read, resolved or escalated now moves it out of an index (an
//! update PostgreSQL can no longer make in place), once per notice and mark.
//!
//! Each index leads with `status`, constant in it, so that SQLite, which without statistics
//! prefers an index with an equality on its first column, takes it over `notifications_status`.
//!
//! The conditions are written as the store's queries write them (`carepath_store::
//! NOTICES_TO_EXPAND`, `carepath_store::NOTICES_SILENT`), literally: a planner uses a partial
//! index only for a query whose condition implies the index's, and a bound parameter implies
//! nothing.

use sea_orm_migration::prelude::*;

const UP: [&str; 3] = [
    "CREATE INDEX notifications_to_expand ON notifications (status, show_at) \
     WHERE status = 'open' AND NOT expanded",
    "CREATE INDEX notifications_silent ON notifications (status, escalate_at) \
     WHERE status = 'open' AND escalated_at IS NULL AND resolved_at IS NULL AND first_read_at IS NULL",
    "DROP INDEX notifications_escalate",
];

const DOWN: [&str; 3] = [
    "CREATE INDEX notifications_escalate ON notifications (escalate_at)",
    "DROP INDEX notifications_silent",
    "DROP INDEX notifications_to_expand",
];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for sql in UP {
            m.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for sql in DOWN {
            m.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
