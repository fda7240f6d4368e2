//! How a database tells the time: one row, written when it is first served. `wall` (a normal
//! `carepath serve`) or `skipping` (`serve --time-skipping`), with the skipped clock itself —
//! it moves only forward, one step per due time, each step a new `version` — so a training
//! or test database never becomes a production one, nor the reverse.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum EngineClock {
    Table,
    Id,
    Mode,
    Now,
    Version,
    MarkedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(EngineClock::Table)
                // Always 1: one row per database.
                .col(integer(EngineClock::Id).primary_key())
                .col(string(EngineClock::Mode))
                .col(timestamp_with_time_zone_null(EngineClock::Now))
                .col(big_integer(EngineClock::Version).default(0))
                .col(timestamp_with_time_zone(EngineClock::MarkedAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(EngineClock::Table).to_owned())
            .await
    }
}
