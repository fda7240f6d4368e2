//! Slots held for clients on their way: an accepted referral, a handoff under way. They count
//! against a provider's capacity beside the occupied ones. Referrals accepted before this
//! migration hold their slot from now on.

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum ProviderLevels {
    Table,
    Held,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(ProviderLevels::Table)
                .add_column(
                    ColumnDef::new(ProviderLevels::Held)
                        .integer()
                        .not_null()
                        .default(0),
                )
                .to_owned(),
        )
        .await?;
        // The same statement on SQLite and PostgreSQL.
        m.get_connection()
            .execute_unprepared(
                "UPDATE provider_levels SET held = (SELECT COUNT(*) FROM referrals r \
                 WHERE r.provider_id = provider_levels.org_id \
                 AND r.to_level = provider_levels.level AND r.status = 'accepted')",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(ProviderLevels::Table)
                .drop_column(ProviderLevels::Held)
                .to_owned(),
        )
        .await
    }
}
