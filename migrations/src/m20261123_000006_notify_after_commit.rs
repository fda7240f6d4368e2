//! PostgreSQL: the trigger of migration 4 goes — that migration undone. A transaction that
//! notifies holds the notification queue's one lock through its commit's WAL flush, so every
//! commit that inserted outbox rows waited for the one before it to reach the disk; the
//! engine now sends the NOTIFY after the commit instead (`store/src/announce.rs`).

use super::m20261123_000004_outbox_notify::Migration as NotifyTrigger;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        NotifyTrigger.down(m).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        NotifyTrigger.up(m).await
    }
}
