//! A disclosure is recorded once per event and recipient: the decision records a referral or
//! a handoff as it commits, and the relay or a live subscription records an event it delivers
//! to another organization — the same event reaching the same organization again (by another
//! path, or republished) adds no second record. Disclosures made by reading have no event
//! (NULL), and NULLs never collide in a unique index, on either database.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Disclosures {
    Table,
    EventId,
    RecipientOrg,
}

const INDEX: &str = "disclosures_event_recipient";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name(INDEX)
                .table(Disclosures::Table)
                .col(Disclosures::EventId)
                .col(Disclosures::RecipientOrg)
                .unique()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name(INDEX)
                .table(Disclosures::Table)
                .to_owned(),
        )
        .await
    }
}
