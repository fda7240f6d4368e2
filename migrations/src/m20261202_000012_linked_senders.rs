//! The table of broker users that speak for an organization is the store's, not AMQP's:
//! `amqp_senders` becomes `linked_senders` (the relay is the only part that knows they are
//! RabbitMQ users).

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum AmqpSenders {
    Table,
}

#[derive(DeriveIden)]
enum LinkedSenders {
    Table,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.rename_table(
            Table::rename()
                .table(AmqpSenders::Table, LinkedSenders::Table)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.rename_table(
            Table::rename()
                .table(LinkedSenders::Table, AmqpSenders::Table)
                .to_owned(),
        )
        .await
    }
}
