//! The console's sessions: a person signs in with their token once, and the browser then
//! holds a session secret in an HttpOnly cookie. Only the secret's hash is kept, with the
//! token it was opened with — so revoking the token or letting it expire ends its sessions —
//! and the wall-clock moment the session lapses.

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum ConsoleSessions {
    Table,
    SessionHash,
    TokenId,
    CreatedAt,
    ExpiresAt,
}

const BY_EXPIRY: &str = "console_sessions_expires_at";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ConsoleSessions::Table)
                .col(
                    ColumnDef::new(ConsoleSessions::SessionHash)
                        .string()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(ConsoleSessions::TokenId).uuid().not_null())
                .col(
                    ColumnDef::new(ConsoleSessions::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(ConsoleSessions::ExpiresAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name(BY_EXPIRY)
                .table(ConsoleSessions::Table)
                .col(ConsoleSessions::ExpiresAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ConsoleSessions::Table).to_owned())
            .await
    }
}
