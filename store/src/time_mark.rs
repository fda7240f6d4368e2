//! How the database tells the time: the `engine_clock` row (marked when first served) and
//! the skipped clock kept in it, moved forward step by step under a version check; and the
//! timer reads a time-skipping engine advances by.

use super::entities::*;
use super::{Store, StoreError};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

const ROW: i32 = 1;
const WALL: &str = "wall";
const SKIPPING: &str = "skipping";

/// How a database tells the time, once it has been served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeMark {
    /// Served by a normal `carepath serve`: the wall clock.
    Wall,
    /// Served with time skipping: the clock is `now`, moved only forward; `version` counts
    /// its moves (the compare-and-set of [`Store::move_skipped_clock`]).
    Skipping { now: DateTime<Utc>, version: i64 },
}

impl Store {
    /// The database's mark; `None` when it was never served since marks exist.
    pub async fn time_mark(&self) -> Result<Option<TimeMark>, StoreError> {
        engine_clock::Entity::find_by_id(ROW)
            .one(&self.db)
            .await?
            .map(mark_of)
            .transpose()
    }

    /// Mark an unmarked database with `mark` (at `marked_at`, the wall clock); a database
    /// already marked keeps its mark. Returns the mark it has afterwards, so of two processes
    /// marking one new database at once, both see the same winner.
    pub async fn claim_time_mark(
        &self,
        mark: TimeMark,
        marked_at: DateTime<Utc>,
    ) -> Result<TimeMark, StoreError> {
        {
            let _writer = self.writer().await;
            let (mode, now, version) = match mark {
                TimeMark::Wall => (WALL, None, 0),
                TimeMark::Skipping { now, version } => (SKIPPING, Some(now), version),
            };
            engine_clock::Entity::insert(engine_clock::ActiveModel {
                id: Set(ROW),
                mode: Set(mode.to_owned()),
                now: Set(now),
                version: Set(version),
                marked_at: Set(marked_at),
            })
            .on_conflict(
                OnConflict::column(engine_clock::Column::Id)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        }
        self.time_mark()
            .await?
            .ok_or_else(|| StoreError::Corrupt("the engine_clock row vanished".into()))
    }

    /// Does the database hold care data — a client, hence events and timers — written before
    /// it was marked? Organizations and tokens are set-up, not care: they do not count.
    pub async fn holds_clients(&self) -> Result<bool, StoreError> {
        Ok(client::Entity::find().count(&self.db).await? > 0)
    }

    /// Move the skipped clock to `to` if it is still at `version` (it becomes `version + 1`);
    /// false when another process moved it first. Never backwards: a `to` before the stored
    /// clock changes nothing and is false too.
    pub async fn move_skipped_clock(
        &self,
        version: i64,
        to: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let _writer = self.writer().await;
        let res = engine_clock::Entity::update_many()
            .col_expr(engine_clock::Column::Now, Expr::value(Some(to)))
            .col_expr(engine_clock::Column::Version, Expr::value(version + 1))
            .filter(engine_clock::Column::Id.eq(ROW))
            .filter(engine_clock::Column::Mode.eq(SKIPPING))
            .filter(engine_clock::Column::Version.eq(version))
            .filter(engine_clock::Column::Now.lte(to))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// The earliest due time of a pending timer after `after`, up to `until` (inclusive):
    /// where a skipped clock stops next.
    pub async fn next_due_after(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(timer::Entity::find()
            .select_only()
            .column(timer::Column::DueAt)
            .filter(timer::Column::Status.eq("pending"))
            .filter(timer::Column::DueAt.gt(after))
            .filter(timer::Column::DueAt.lte(until))
            .order_by_asc(timer::Column::DueAt)
            .limit(1)
            .into_tuple::<DateTime<Utc>>()
            .one(&self.db)
            .await?)
    }
}

fn mark_of(row: engine_clock::Model) -> Result<TimeMark, StoreError> {
    match (row.mode.as_str(), row.now) {
        (WALL, _) => Ok(TimeMark::Wall),
        (SKIPPING, Some(now)) => Ok(TimeMark::Skipping {
            now,
            version: row.version,
        }),
        (other, _) => Err(StoreError::Corrupt(format!(
            "engine_clock mode {other:?} without a clock"
        ))),
    }
}
