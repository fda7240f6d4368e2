//! How the organization holding a record recognises its client — a display name and its own
//! record number — kept in a table of its own beside the record, never in the client's state
//! or its events. `name_key` is the name folded for search; a record number is unique within
//! the organization.

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum ClientIdentities {
    Table,
    ClientId,
    HomeOrg,
    DisplayName,
    NameKey,
    RecordNumber,
    UpdatedAt,
}

const BY_NUMBER: &str = "client_identities_record_number";
const BY_NAME: &str = "client_identities_name";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ClientIdentities::Table)
                .col(
                    ColumnDef::new(ClientIdentities::ClientId)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(ClientIdentities::HomeOrg).uuid().not_null())
                .col(
                    ColumnDef::new(ClientIdentities::DisplayName)
                        .string()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(ClientIdentities::NameKey)
                        .string()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(ClientIdentities::RecordNumber)
                        .string()
                        .null(),
                )
                .col(
                    ColumnDef::new(ClientIdentities::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name(BY_NUMBER)
                .table(ClientIdentities::Table)
                .col(ClientIdentities::HomeOrg)
                .col(ClientIdentities::RecordNumber)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name(BY_NAME)
                .table(ClientIdentities::Table)
                .col(ClientIdentities::HomeOrg)
                .col(ClientIdentities::NameKey)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ClientIdentities::Table).to_owned())
            .await
    }
}
