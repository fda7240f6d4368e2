//! Each organization's time zone (an IANA name, `America/New_York`): the console shows its
//! people times in it and reads the times they type in it. `NULL`: UTC, as before.

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    TimeZone,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Organizations::Table)
                .add_column(ColumnDef::new(Organizations::TimeZone).string().null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Organizations::Table)
                .drop_column(Organizations::TimeZone)
                .to_owned(),
        )
        .await
    }
}
