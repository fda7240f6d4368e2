//! PostgreSQL: wake relays from the database itself when outbox rows are inserted, so a
//! commit needs no NOTIFY statement of its own (the notification is sent only if the
//! transaction commits). Nothing on SQLite, where the engine signals in-process.

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
        db.execute_unprepared(
            "CREATE OR REPLACE FUNCTION carepath_outbox_notify() RETURNS trigger AS $$
             BEGIN PERFORM pg_notify('carepath_outbox', ''); RETURN NULL; END
             $$ LANGUAGE plpgsql",
        )
        .await?;
        db.execute_unprepared(
            "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
             FOR EACH STATEMENT EXECUTE FUNCTION carepath_outbox_notify()",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
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
}
