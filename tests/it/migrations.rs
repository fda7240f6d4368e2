//! The schema's migrations undo and redo cleanly, on both databases.

use crate::on_both_backends;
use crate::support::{Backend, TestDb};
use carepath_engine::clock::SystemClock;
use carepath_engine::domain::{Actor, MatService, Role};
use carepath_engine::ids::OrgId;
use carepath_migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use std::sync::Arc;

/// The tables in the database, sorted.
async fn tables(db: &DatabaseConnection) -> Vec<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT table_name AS name FROM information_schema.tables \
             WHERE table_schema = 'public' ORDER BY 1"
        }
        _ => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1"
        }
    };
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("list tables")
        .iter()
        .map(|r| r.try_get::<String>("", "name").expect("name"))
        .collect()
}

async fn down_to_nothing_and_up_again(b: Backend) {
    let test_db = TestDb::new(b).await;
    // The schema as the engine leaves it, then every migration down and up again underneath.
    drop(test_db.engine(Arc::new(SystemClock)).await);
    let conn = test_db.sql().await;
    let db = &conn;
    let schema = tables(db).await;
    assert!(schema.len() > 5, "{schema:?}");

    Migrator::down(db, None)
        .await
        .expect("every migration undone");
    assert_eq!(
        tables(db).await,
        ["seaql_migrations"],
        "nothing else is left"
    );

    Migrator::up(db, None).await.expect("every migration again");
    assert_eq!(tables(db).await, schema);
    if b == Backend::Postgres {
        // Migration 4's trigger, dropped by migration 6, is not back.
        let row = db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT count(*) AS n FROM pg_trigger WHERE tgname = 'outbox_notify'",
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.try_get::<i64>("", "n").unwrap(), 0);
    }
    // And the schema takes writes.
    let org = OrgId::new();
    let engine = test_db.engine(Arc::new(SystemClock)).await;
    let admin = Actor::new(org, Role::Admin);
    engine
        .register_org(&admin, org, "Harbor")
        .await
        .expect("write after migrating again");
    assert_eq!(engine.org_names(&[org]).await.unwrap()[&org], "Harbor");
    engine
        .set_mat_services(&admin, org, &[MatService::Otp])
        .await
        .expect("MAT services after migrating again");
    assert_eq!(
        engine.mat_services(&[org]).await.unwrap()[&org],
        [MatService::Otp].into()
    );
}

on_both_backends!(down_to_nothing_and_up_again);
