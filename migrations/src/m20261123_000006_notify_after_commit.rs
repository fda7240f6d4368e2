//! PostgreSQL: the trigger of migration 4 goes. A transaction that notifies holds the
//! notification queue's one lock through its commit's WAL flush, so every commit that
//! inserted outbox rows waited for the one before it to reach the disk; the engine now
//! sends the NOTIFY after the commit instead (`engine/src/store/announce.rs`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = m.get_connection();
        db.execute_unprepared("DROP TRIGGER IF EXISTS outbox_notify ON outbox")
            .await?;
        db.execute_unprepared("DROP FUNCTION IF EXISTS carepath_outbox_notify()")
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Migration 4 again.
        super::m20261123_000004_outbox_notify::Migration.up(m).await
    }
}
