//! Telling the person who must act. `notifications`: one notice (its kind, the organization
//! and role or person it goes to, the client and referral it is about — kept for the link and
//! for what settles it, never sent out —, the moment that matters, when it is told, when
//! silence escalates it), written in the transaction of the decision that raised it; its
//! status (`scheduled` until told, `open`, or `dropped` when it no longer applied at its
//! time), when it was first read, acted on (`resolved_at`) and escalated, and whether its
//! deliveries were made. `notification_reads`: who read which, when. `notification_deliveries`:
//! one e-mail to a person or one webhook call per notice (unique, so never two), when it may go
//! (`send_at`, the engine's clock: a digest's hour, the end of quiet hours), when it may be
//! tried again (`retry_at`, the wall clock), its lease, attempts and result;
//! `notification_attempts` every attempt and what came of it. `notice_rules`: an
//! organization's own rules (a kind off, its own silence deadline). `notification_prefs`: a
//! person's e-mail choice per kind; `staff_accounts` gains quiet hours. `org_webhooks`: an
//! organization's webhook, its signing secret, and its failures.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    Kind,
    OrgId,
    Role,
    StaffId,
    ClientId,
    ReferralId,
    DueAt,
    ShowAt,
    Status,
    EscalateAt,
    Escalates,
    EscalatedAt,
    ResolvedAt,
    FirstReadAt,
    Expanded,
    CreatedAt,
}

#[derive(DeriveIden)]
enum NotificationReads {
    Table,
    NotificationId,
    StaffId,
    ReadAt,
}

#[derive(DeriveIden)]
enum NotificationDeliveries {
    Table,
    Id,
    NotificationId,
    Channel,
    Target,
    Status,
    SendAt,
    RetryAt,
    LeasedUntil,
    Attempts,
    SentAt,
    LastError,
}

#[derive(DeriveIden)]
enum NotificationAttempts {
    Table,
    Id,
    DeliveryId,
    At,
    Ok,
    Detail,
}

#[derive(DeriveIden)]
enum NoticeRules {
    Table,
    OrgId,
    Kind,
    Off,
    EscalateMinutes,
}

#[derive(DeriveIden)]
enum NotificationPrefs {
    Table,
    StaffId,
    Kind,
    Mode,
}

#[derive(DeriveIden)]
enum StaffAccounts {
    Table,
    QuietFrom,
    QuietTo,
}

#[derive(DeriveIden)]
enum OrgWebhooks {
    Table,
    Id,
    OrgId,
    Url,
    Secret,
    Enabled,
    Failures,
    DisabledAt,
    CreatedAt,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Notifications::Table)
                .col(pk_uuid(Notifications::Id))
                .col(string(Notifications::Kind))
                .col(uuid(Notifications::OrgId))
                .col(string_null(Notifications::Role))
                .col(uuid_null(Notifications::StaffId))
                .col(uuid_null(Notifications::ClientId))
                .col(uuid_null(Notifications::ReferralId))
                .col(timestamp_with_time_zone_null(Notifications::DueAt))
                .col(timestamp_with_time_zone(Notifications::ShowAt))
                .col(string(Notifications::Status))
                .col(timestamp_with_time_zone_null(Notifications::EscalateAt))
                .col(uuid_null(Notifications::Escalates))
                .col(timestamp_with_time_zone_null(Notifications::EscalatedAt))
                .col(timestamp_with_time_zone_null(Notifications::ResolvedAt))
                .col(timestamp_with_time_zone_null(Notifications::FirstReadAt))
                .col(boolean(Notifications::Expanded).default(false))
                .col(timestamp_with_time_zone(Notifications::CreatedAt))
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            (
                "notifications_org",
                vec![Notifications::OrgId, Notifications::ShowAt],
            ),
            ("notifications_client", vec![Notifications::ClientId]),
            (
                "notifications_status",
                vec![Notifications::Status, Notifications::ShowAt],
            ),
            ("notifications_escalate", vec![Notifications::EscalateAt]),
            ("notifications_escalates", vec![Notifications::Escalates]),
        ] {
            let mut index = Index::create();
            index.name(name).table(Notifications::Table);
            for c in cols {
                index.col(c);
            }
            m.create_index(index.to_owned()).await?;
        }
        m.create_table(
            Table::create()
                .table(NotificationReads::Table)
                .col(uuid(NotificationReads::NotificationId))
                .col(uuid(NotificationReads::StaffId))
                .col(timestamp_with_time_zone(NotificationReads::ReadAt))
                .primary_key(
                    Index::create()
                        .col(NotificationReads::NotificationId)
                        .col(NotificationReads::StaffId),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(NotificationDeliveries::Table)
                .col(pk_uuid(NotificationDeliveries::Id))
                .col(uuid(NotificationDeliveries::NotificationId))
                .col(string(NotificationDeliveries::Channel))
                .col(uuid(NotificationDeliveries::Target))
                .col(string(NotificationDeliveries::Status))
                .col(timestamp_with_time_zone(NotificationDeliveries::SendAt))
                .col(timestamp_with_time_zone_null(
                    NotificationDeliveries::RetryAt,
                ))
                .col(timestamp_with_time_zone_null(
                    NotificationDeliveries::LeasedUntil,
                ))
                .col(integer(NotificationDeliveries::Attempts).default(0))
                .col(timestamp_with_time_zone_null(
                    NotificationDeliveries::SentAt,
                ))
                .col(string_null(NotificationDeliveries::LastError))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("notification_deliveries_once")
                .table(NotificationDeliveries::Table)
                .col(NotificationDeliveries::NotificationId)
                .col(NotificationDeliveries::Channel)
                .col(NotificationDeliveries::Target)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("notification_deliveries_waiting")
                .table(NotificationDeliveries::Table)
                .col(NotificationDeliveries::Status)
                .col(NotificationDeliveries::SendAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(NotificationAttempts::Table)
                .col(pk_uuid(NotificationAttempts::Id))
                .col(uuid(NotificationAttempts::DeliveryId))
                .col(timestamp_with_time_zone(NotificationAttempts::At))
                .col(boolean(NotificationAttempts::Ok))
                .col(string(NotificationAttempts::Detail))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("notification_attempts_delivery")
                .table(NotificationAttempts::Table)
                .col(NotificationAttempts::DeliveryId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(NoticeRules::Table)
                .col(uuid(NoticeRules::OrgId))
                .col(string(NoticeRules::Kind))
                .col(boolean(NoticeRules::Off).default(false))
                .col(integer_null(NoticeRules::EscalateMinutes))
                .primary_key(
                    Index::create()
                        .col(NoticeRules::OrgId)
                        .col(NoticeRules::Kind),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(NotificationPrefs::Table)
                .col(uuid(NotificationPrefs::StaffId))
                .col(string(NotificationPrefs::Kind))
                .col(string(NotificationPrefs::Mode))
                .primary_key(
                    Index::create()
                        .col(NotificationPrefs::StaffId)
                        .col(NotificationPrefs::Kind),
                )
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(StaffAccounts::Table)
                .add_column(integer_null(StaffAccounts::QuietFrom))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(StaffAccounts::Table)
                .add_column(integer_null(StaffAccounts::QuietTo))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(OrgWebhooks::Table)
                .col(pk_uuid(OrgWebhooks::Id))
                .col(uuid(OrgWebhooks::OrgId))
                .col(string(OrgWebhooks::Url))
                .col(string(OrgWebhooks::Secret))
                .col(boolean(OrgWebhooks::Enabled).default(true))
                .col(integer(OrgWebhooks::Failures).default(0))
                .col(timestamp_with_time_zone_null(OrgWebhooks::DisabledAt))
                .col(timestamp_with_time_zone(OrgWebhooks::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("org_webhooks_org")
                .table(OrgWebhooks::Table)
                .col(OrgWebhooks::OrgId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            OrgWebhooks::Table.into_iden(),
            NotificationPrefs::Table.into_iden(),
            NoticeRules::Table.into_iden(),
            NotificationAttempts::Table.into_iden(),
            NotificationDeliveries::Table.into_iden(),
            NotificationReads::Table.into_iden(),
            Notifications::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        for c in [StaffAccounts::QuietFrom, StaffAccounts::QuietTo] {
            m.alter_table(
                Table::alter()
                    .table(StaffAccounts::Table)
                    .drop_column(c)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
