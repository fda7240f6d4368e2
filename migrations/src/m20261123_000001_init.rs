//! The engine's tables: organizations and their capacity, clients (state document + the
//! columns queries filter on), referrals (projection and denial log), the append-only care
//! event log, the outbox, durable timers, idempotency records and the disclosure accounting.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ProviderLevels {
    Table,
    OrgId,
    Level,
    Capacity,
    Occupied,
}

#[derive(DeriveIden)]
enum Clients {
    Table,
    Id,
    HomeOrg,
    Status,
    Level,
    ProviderId,
    Version,
    LastSeq,
    State,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Referrals {
    Table,
    Id,
    ClientId,
    GroupId,
    ProviderId,
    ToLevel,
    Status,
    DeclineCode,
    DeclineNote,
    SentAt,
    AnswerBy,
    AnsweredAt,
}

#[derive(DeriveIden)]
enum CareEvents {
    Table,
    Id,
    ClientId,
    Seq,
    EventType,
    Level,
    ActorOrg,
    RecipientOrg,
    OccurredAt,
    Payload,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    EventId,
    ClientId,
    CreatedAt,
    PublishedAt,
}

#[derive(DeriveIden)]
enum Timers {
    Table,
    Id,
    ClientId,
    Key,
    Kind,
    DueAt,
    Status,
    Payload,
    FiredAt,
}

#[derive(DeriveIden)]
enum Idempotency {
    Table,
    ActorOrg,
    Key,
    RequestHash,
    ClientId,
    Response,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Disclosures {
    Table,
    Id,
    ClientId,
    RecipientOrg,
    ConsentId,
    EventId,
    What,
    DisclosedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Organizations::Table)
                .col(pk_uuid(Organizations::Id))
                .col(string(Organizations::Name))
                .col(timestamp_with_time_zone(Organizations::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ProviderLevels::Table)
                .col(uuid(ProviderLevels::OrgId))
                .col(string(ProviderLevels::Level))
                .col(integer(ProviderLevels::Capacity))
                .col(integer(ProviderLevels::Occupied).default(0))
                .primary_key(
                    Index::create()
                        .col(ProviderLevels::OrgId)
                        .col(ProviderLevels::Level),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(ProviderLevels::Table, ProviderLevels::OrgId)
                        .to(Organizations::Table, Organizations::Id),
                )
                .check(Expr::col(ProviderLevels::Occupied).gte(0))
                .check(Expr::col(ProviderLevels::Capacity).gte(0))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Clients::Table)
                .col(pk_uuid(Clients::Id))
                .col(uuid(Clients::HomeOrg))
                .col(string(Clients::Status))
                .col(string_null(Clients::Level))
                .col(uuid_null(Clients::ProviderId))
                .col(big_integer(Clients::Version))
                .col(big_integer(Clients::LastSeq))
                .col(json_binary(Clients::State))
                .col(timestamp_with_time_zone(Clients::CreatedAt))
                .col(timestamp_with_time_zone(Clients::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Clients::Table, Clients::HomeOrg)
                        .to(Organizations::Table, Organizations::Id),
                )
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("clients_level_id", vec![Clients::Level, Clients::Id]),
            (
                "clients_provider_id",
                vec![Clients::ProviderId, Clients::Id],
            ),
            ("clients_home_org_id", vec![Clients::HomeOrg, Clients::Id]),
        ] {
            let mut idx = Index::create();
            idx.name(name).table(Clients::Table);
            for c in cols {
                idx.col(c);
            }
            m.create_index(idx.to_owned()).await?;
        }

        m.create_table(
            Table::create()
                .table(Referrals::Table)
                .col(pk_uuid(Referrals::Id))
                .col(uuid(Referrals::ClientId))
                .col(uuid(Referrals::GroupId))
                .col(uuid(Referrals::ProviderId))
                .col(string(Referrals::ToLevel))
                .col(string(Referrals::Status))
                .col(string_null(Referrals::DeclineCode))
                .col(text_null(Referrals::DeclineNote))
                .col(timestamp_with_time_zone(Referrals::SentAt))
                .col(timestamp_with_time_zone(Referrals::AnswerBy))
                .col(timestamp_with_time_zone_null(Referrals::AnsweredAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Referrals::Table, Referrals::ClientId)
                        .to(Clients::Table, Clients::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Referrals::Table, Referrals::ProviderId)
                        .to(Organizations::Table, Organizations::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("referrals_inbox")
                .table(Referrals::Table)
                .col(Referrals::ProviderId)
                .col(Referrals::Status)
                .col(Referrals::Id)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("referrals_client")
                .table(Referrals::Table)
                .col(Referrals::ClientId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(CareEvents::Table)
                .col(pk_uuid(CareEvents::Id))
                .col(uuid(CareEvents::ClientId))
                .col(big_integer(CareEvents::Seq))
                .col(string(CareEvents::EventType))
                .col(string_null(CareEvents::Level))
                .col(uuid_null(CareEvents::ActorOrg))
                .col(uuid_null(CareEvents::RecipientOrg))
                .col(timestamp_with_time_zone(CareEvents::OccurredAt))
                .col(json_binary(CareEvents::Payload))
                .foreign_key(
                    ForeignKey::create()
                        .from(CareEvents::Table, CareEvents::ClientId)
                        .to(Clients::Table, Clients::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("care_events_client_seq")
                .table(CareEvents::Table)
                .col(CareEvents::ClientId)
                .col(CareEvents::Seq)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Outbox::Table)
                .col(big_pk_auto(Outbox::Id))
                .col(uuid_uniq(Outbox::EventId))
                .col(uuid(Outbox::ClientId))
                .col(timestamp_with_time_zone(Outbox::CreatedAt))
                .col(timestamp_with_time_zone_null(Outbox::PublishedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Outbox::Table, Outbox::EventId)
                        .to(CareEvents::Table, CareEvents::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("outbox_unpublished")
                .table(Outbox::Table)
                .col(Outbox::PublishedAt)
                .col(Outbox::Id)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Timers::Table)
                .col(pk_uuid(Timers::Id))
                .col(uuid(Timers::ClientId))
                .col(string(Timers::Key))
                .col(string(Timers::Kind))
                .col(timestamp_with_time_zone(Timers::DueAt))
                .col(string(Timers::Status))
                .col(json_binary(Timers::Payload))
                .col(timestamp_with_time_zone_null(Timers::FiredAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Timers::Table, Timers::ClientId)
                        .to(Clients::Table, Clients::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("timers_due")
                .table(Timers::Table)
                .col(Timers::Status)
                .col(Timers::DueAt)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Idempotency::Table)
                .col(uuid(Idempotency::ActorOrg))
                .col(string(Idempotency::Key))
                .col(string(Idempotency::RequestHash))
                .col(uuid_null(Idempotency::ClientId))
                .col(json_binary(Idempotency::Response))
                .col(timestamp_with_time_zone(Idempotency::CreatedAt))
                .primary_key(
                    Index::create()
                        .col(Idempotency::ActorOrg)
                        .col(Idempotency::Key),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Disclosures::Table)
                .col(pk_uuid(Disclosures::Id))
                .col(uuid(Disclosures::ClientId))
                .col(uuid(Disclosures::RecipientOrg))
                .col(uuid_null(Disclosures::ConsentId))
                .col(uuid_null(Disclosures::EventId))
                .col(string(Disclosures::What))
                .col(timestamp_with_time_zone(Disclosures::DisclosedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Disclosures::Table, Disclosures::ClientId)
                        .to(Clients::Table, Clients::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("disclosures_client")
                .table(Disclosures::Table)
                .col(Disclosures::ClientId)
                .col(Disclosures::DisclosedAt)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            Disclosures::Table.into_iden(),
            Idempotency::Table.into_iden(),
            Timers::Table.into_iden(),
            Outbox::Table.into_iden(),
            CareEvents::Table.into_iden(),
            Referrals::Table.into_iden(),
            Clients::Table.into_iden(),
            ProviderLevels::Table.into_iden(),
            Organizations::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
