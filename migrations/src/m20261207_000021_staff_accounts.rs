//! People sign in as themselves. `staff_accounts`: a person of one organization with a role,
//! an e-mail address (the sign-in name, unique) and a display name, their Argon2id password
//! hash, TOTP secret (and the one being enrolled), the last TOTP time step used (no code twice),
//! their recovery codes' hashes, the identity provider's subject once linked, and the failed
//! sign-ins that lock the account. `staff_links`: single-use invitation and password-reset
//! links, by the hash of the secret in the link. `staff_sessions`: a browser's session, by the
//! hash of its secret — at the second-factor step, enrolling TOTP, or open — with its idle
//! timeout and absolute end. `sign_in_audit`: every sign-in, failure, lockout, enrolment and
//! change to an account. `org_sso`: an organization's OpenID Connect settings. API tokens are
//! service accounts now (their `label` the account's name, `last_used_at` kept); the console's
//! token sessions (`console_sessions`) end: a token no longer opens the console.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveIden)]
enum StaffAccounts {
    Table,
    Id,
    OrgId,
    Role,
    Email,
    Name,
    Status,
    PasswordHash,
    TotpSecret,
    TotpPending,
    TotpLastStep,
    RecoveryCodes,
    SsoIssuer,
    SsoSubject,
    FailedSignIns,
    LockedUntil,
    CreatedAt,
    UpdatedAt,
    LastSignInAt,
}

#[derive(DeriveIden)]
enum StaffLinks {
    Table,
    TokenHash,
    StaffId,
    Purpose,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum StaffSessions {
    Table,
    SessionHash,
    StaffId,
    Stage,
    Method,
    Address,
    CreatedAt,
    LastSeenAt,
    IdleSecs,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum SignInAudit {
    Table,
    Id,
    At,
    OrgId,
    StaffId,
    ByStaff,
    Kind,
    Detail,
    Address,
}

#[derive(DeriveIden)]
enum OrgSso {
    Table,
    OrgId,
    Settings,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum ConsoleSessions {
    Table,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(StaffAccounts::Table)
                .col(pk_uuid(StaffAccounts::Id))
                .col(uuid(StaffAccounts::OrgId))
                .col(string(StaffAccounts::Role))
                .col(string_uniq(StaffAccounts::Email))
                .col(string(StaffAccounts::Name))
                .col(string(StaffAccounts::Status))
                .col(string_null(StaffAccounts::PasswordHash))
                .col(string_null(StaffAccounts::TotpSecret))
                .col(string_null(StaffAccounts::TotpPending))
                .col(big_integer_null(StaffAccounts::TotpLastStep))
                .col(json_null(StaffAccounts::RecoveryCodes))
                .col(string_null(StaffAccounts::SsoIssuer))
                .col(string_null(StaffAccounts::SsoSubject))
                .col(integer(StaffAccounts::FailedSignIns).default(0))
                .col(timestamp_with_time_zone_null(StaffAccounts::LockedUntil))
                .col(timestamp_with_time_zone(StaffAccounts::CreatedAt))
                .col(timestamp_with_time_zone(StaffAccounts::UpdatedAt))
                .col(timestamp_with_time_zone_null(StaffAccounts::LastSignInAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(StaffAccounts::Table, StaffAccounts::OrgId)
                        .to(Organizations::Table, Organizations::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("staff_accounts_org")
                .table(StaffAccounts::Table)
                .col(StaffAccounts::OrgId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("staff_accounts_sso_subject")
                .table(StaffAccounts::Table)
                .col(StaffAccounts::SsoIssuer)
                .col(StaffAccounts::SsoSubject)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(StaffLinks::Table)
                .col(string(StaffLinks::TokenHash).primary_key())
                .col(uuid(StaffLinks::StaffId))
                .col(string(StaffLinks::Purpose))
                .col(timestamp_with_time_zone(StaffLinks::CreatedAt))
                .col(timestamp_with_time_zone(StaffLinks::ExpiresAt))
                .col(timestamp_with_time_zone_null(StaffLinks::UsedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("staff_links_staff")
                .table(StaffLinks::Table)
                .col(StaffLinks::StaffId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(StaffSessions::Table)
                .col(string(StaffSessions::SessionHash).primary_key())
                .col(uuid(StaffSessions::StaffId))
                .col(string(StaffSessions::Stage))
                .col(string(StaffSessions::Method))
                .col(string_null(StaffSessions::Address))
                .col(timestamp_with_time_zone(StaffSessions::CreatedAt))
                .col(timestamp_with_time_zone(StaffSessions::LastSeenAt))
                .col(integer(StaffSessions::IdleSecs))
                .col(timestamp_with_time_zone(StaffSessions::ExpiresAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("staff_sessions_staff")
                .table(StaffSessions::Table)
                .col(StaffSessions::StaffId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SignInAudit::Table)
                .col(pk_uuid(SignInAudit::Id))
                .col(timestamp_with_time_zone(SignInAudit::At))
                .col(uuid_null(SignInAudit::OrgId))
                .col(uuid_null(SignInAudit::StaffId))
                .col(uuid_null(SignInAudit::ByStaff))
                .col(string(SignInAudit::Kind))
                .col(string_null(SignInAudit::Detail))
                .col(string_null(SignInAudit::Address))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("sign_in_audit_org_at")
                .table(SignInAudit::Table)
                .col(SignInAudit::OrgId)
                .col(SignInAudit::At)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(OrgSso::Table)
                .col(uuid(OrgSso::OrgId).primary_key())
                .col(json(OrgSso::Settings))
                .col(timestamp_with_time_zone(OrgSso::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(OrgSso::Table, OrgSso::OrgId)
                        .to(Organizations::Table, Organizations::Id),
                )
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(ApiTokens::Table)
                .add_column(timestamp_with_time_zone_null(ApiTokens::LastUsedAt))
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(ConsoleSessions::Table).to_owned())
            .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            StaffAccounts::Table.into_iden(),
            StaffLinks::Table.into_iden(),
            StaffSessions::Table.into_iden(),
            SignInAudit::Table.into_iden(),
            OrgSso::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        m.alter_table(
            Table::alter()
                .table(ApiTokens::Table)
                .drop_column(ApiTokens::LastUsedAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ConsoleSessions::Table)
                .col(string(Alias::new("session_hash")).primary_key())
                .col(uuid(Alias::new("token_id")))
                .col(timestamp_with_time_zone(Alias::new("created_at")))
                .col(timestamp_with_time_zone(Alias::new("expires_at")))
                .to_owned(),
        )
        .await
    }
}
