//! Every API token expires: `expires_at`, set when the token is created (`token_days` of the
//! configuration). Tokens created before this migration get 90 days from now, the default.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    ExpiresAt,
}

/// Days the tokens that exist before this migration stay valid.
const EXISTING_TOKEN_DAYS: i64 = 90;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(ApiTokens::Table)
                .add_column(timestamp_with_time_zone_null(ApiTokens::ExpiresAt))
                .to_owned(),
        )
        .await?;
        let until = chrono::Utc::now() + chrono::Duration::days(EXISTING_TOKEN_DAYS);
        m.exec_stmt(
            Query::update()
                .table(ApiTokens::Table)
                .value(ApiTokens::ExpiresAt, until)
                .and_where(Expr::col(ApiTokens::ExpiresAt).is_null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(ApiTokens::Table)
                .drop_column(ApiTokens::ExpiresAt)
                .to_owned(),
        )
        .await
    }
}
