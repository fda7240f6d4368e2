//! People, not only organizations: each token names the staff member it was issued to (who
//! keeps that identity when the token is rotated; existing tokens become one person each),
//! and the client row projects the episode's case manager and when a referral group ran out,
//! so a case manager's escalations are a query.

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    StaffId,
}

#[derive(DeriveIden)]
enum Clients {
    Table,
    HomeOrg,
    CaseManager,
    EscalatedAt,
}

const INDEX: &str = "clients_escalations";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(ApiTokens::Table)
                .add_column(ColumnDef::new(ApiTokens::StaffId).uuid().null())
                .to_owned(),
        )
        .await?;
        m.exec_stmt(
            Query::update()
                .table(ApiTokens::Table)
                .value(ApiTokens::StaffId, Expr::col(ApiTokens::Id))
                .to_owned(),
        )
        .await?;
        for col in [Clients::CaseManager, Clients::EscalatedAt] {
            let def = match col {
                Clients::EscalatedAt => ColumnDef::new(col)
                    .timestamp_with_time_zone()
                    .null()
                    .to_owned(),
                _ => ColumnDef::new(col).uuid().null().to_owned(),
            };
            m.alter_table(
                Table::alter()
                    .table(Clients::Table)
                    .add_column(def)
                    .to_owned(),
            )
            .await?;
        }
        m.create_index(
            Index::create()
                .name(INDEX)
                .table(Clients::Table)
                .col(Clients::HomeOrg)
                .col(Clients::EscalatedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name(INDEX).table(Clients::Table).to_owned())
            .await?;
        for col in [Clients::EscalatedAt, Clients::CaseManager] {
            m.alter_table(
                Table::alter()
                    .table(Clients::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        m.alter_table(
            Table::alter()
                .table(ApiTokens::Table)
                .drop_column(ApiTokens::StaffId)
                .to_owned(),
        )
        .await
    }
}
