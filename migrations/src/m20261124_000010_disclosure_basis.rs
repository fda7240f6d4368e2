//! A disclosure records its legal basis when no consent covers it (`legal_basis`, e.g. a
//! medical emergency under 42 CFR 2.51, with the clinician's reason).
//!
//! A disclosure is recorded once per event and recipient: the decision records a referral or
//! a handoff as it commits, and the relay or a live subscription records an event it delivers
//! to another organization — the same event reaching the same organization again (by another
//! path, or republished) adds no second record. Disclosures made by reading have no event
//! (NULL), and NULLs never collide in a unique index, on either database.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Disclosures {
    Table,
    EventId,
    RecipientOrg,
    LegalBasis,
}

const INDEX: &str = "disclosures_event_recipient";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Disclosures::Table)
                .add_column(string_null(Disclosures::LegalBasis))
                .to_owned(),
        )
        .await?;
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
        .await?;
        m.alter_table(
            Table::alter()
                .table(Disclosures::Table)
                .drop_column(Disclosures::LegalBasis)
                .to_owned(),
        )
        .await
    }
}
