//! Whether a client is lost to care, and why, beside its status: the outreach list of the
//! organization holding the record is a query on it.

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum Clients {
    Table,
    HomeOrg,
    LostToCare,
}

const INDEX: &str = "clients_outreach";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Clients::Table)
                .add_column(ColumnDef::new(Clients::LostToCare).string().null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name(INDEX)
                .table(Clients::Table)
                .col(Clients::HomeOrg)
                .col(Clients::LostToCare)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name(INDEX).table(Clients::Table).to_owned())
            .await?;
        m.alter_table(
            Table::alter()
                .table(Clients::Table)
                .drop_column(Clients::LostToCare)
                .to_owned(),
        )
        .await
    }
}
