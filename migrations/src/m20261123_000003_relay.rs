//! The relay's lease (one relaying process at a time) and the AMQP senders: which broker
//! user speaks for which organization on the inbound queue.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RelayLeases {
    Table,
    Name,
    Holder,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum AmqpSenders {
    Table,
    UserId,
    OrgId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(RelayLeases::Table)
                .col(string(RelayLeases::Name).primary_key())
                .col(string(RelayLeases::Holder))
                .col(timestamp_with_time_zone(RelayLeases::ExpiresAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(AmqpSenders::Table)
                .col(string(AmqpSenders::UserId).primary_key())
                .col(uuid(AmqpSenders::OrgId))
                .col(timestamp_with_time_zone(AmqpSenders::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(AmqpSenders::Table, AmqpSenders::OrgId)
                        .to(Organizations::Table, Organizations::Id),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AmqpSenders::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(RelayLeases::Table).to_owned())
            .await
    }
}
