//! FHIR bulk exports (`$export`): each job as it was asked for — by which organization, in
//! which role, by whom, for which group, types and `_since` — with its status and when it was
//! last worked on (a job whose worker stopped beating is failed, not left running), and the
//! NDJSON files it wrote, one row per part of a resource type.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveIden)]
enum FhirExportJobs {
    Table,
    Id,
    OrgId,
    Role,
    StaffId,
    GroupOrg,
    Request,
    Types,
    Since,
    Status,
    ClientsDone,
    CreatedAt,
    HeartbeatAt,
    FinishedAt,
    Error,
}

#[derive(DeriveIden)]
enum FhirExportFiles {
    Table,
    JobId,
    ResourceType,
    Part,
    Body,
    Lines,
}

const JOBS_BY_STATUS: &str = "fhir_export_jobs_status";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(FhirExportJobs::Table)
                .col(
                    ColumnDef::new(FhirExportJobs::Id)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(FhirExportJobs::OrgId).uuid().not_null())
                .col(ColumnDef::new(FhirExportJobs::Role).string().not_null())
                .col(ColumnDef::new(FhirExportJobs::StaffId).uuid().null())
                .col(ColumnDef::new(FhirExportJobs::GroupOrg).uuid().null())
                .col(ColumnDef::new(FhirExportJobs::Request).text().not_null())
                .col(ColumnDef::new(FhirExportJobs::Types).text().not_null())
                .col(
                    ColumnDef::new(FhirExportJobs::Since)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(ColumnDef::new(FhirExportJobs::Status).string().not_null())
                .col(big_integer(FhirExportJobs::ClientsDone).default(0))
                .col(
                    ColumnDef::new(FhirExportJobs::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(FhirExportJobs::HeartbeatAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(FhirExportJobs::FinishedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(ColumnDef::new(FhirExportJobs::Error).text().null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name(JOBS_BY_STATUS)
                .table(FhirExportJobs::Table)
                .col(FhirExportJobs::Status)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(FhirExportFiles::Table)
                .col(ColumnDef::new(FhirExportFiles::JobId).uuid().not_null())
                .col(
                    ColumnDef::new(FhirExportFiles::ResourceType)
                        .string()
                        .not_null(),
                )
                .col(ColumnDef::new(FhirExportFiles::Part).integer().not_null())
                .col(ColumnDef::new(FhirExportFiles::Body).text().not_null())
                .col(ColumnDef::new(FhirExportFiles::Lines).integer().not_null())
                .primary_key(
                    Index::create()
                        .col(FhirExportFiles::JobId)
                        .col(FhirExportFiles::ResourceType)
                        .col(FhirExportFiles::Part),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(FhirExportFiles::Table, FhirExportFiles::JobId)
                        .to(FhirExportJobs::Table, FhirExportJobs::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(FhirExportFiles::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(FhirExportJobs::Table).to_owned())
            .await
    }
}
