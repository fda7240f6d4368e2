//! The MAT services each organization provides (`otp`, `prescriber`, `pharmacy`,
//! `injection`): which MAT bookings it can take. One row per organization and service, as
//! `provider_levels` holds one per organization and level; an organization with none has no
//! row, so the organizations that exist before this migration provide none until an admin
//! sets them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum OrganizationMatServices {
    Table,
    OrgId,
    Service,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(OrganizationMatServices::Table)
                .col(uuid(OrganizationMatServices::OrgId))
                .col(string(OrganizationMatServices::Service))
                .primary_key(
                    Index::create()
                        .col(OrganizationMatServices::OrgId)
                        .col(OrganizationMatServices::Service),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(
                            OrganizationMatServices::Table,
                            OrganizationMatServices::OrgId,
                        )
                        .to(Organizations::Table, Organizations::Id),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(OrganizationMatServices::Table)
                .to_owned(),
        )
        .await
    }
}
