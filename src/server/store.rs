//! Durable storage of runs, events and logs in SQLite (WAL). A request's events and log lines
//! are stored together or not at all, and its answer waits for the fsync.
//!
//! Group commit: ingest commits go to one writer task, which stores every commit waiting for it
//! in one transaction and pays one fsync for all of them (a group that fails is retried one
//! commit at a time, so one faulty commit fails alone). Under load, requests of many runs share each fsync; alone, a
//! request is committed at once.

mod security;

use super::group_commit::GroupCommit;
pub use super::group_commit::{Commit, LogAppend, Numbered};
use crate::domain::{Graph, LogLine, RunState, RunSummary, Seq, Status, StoredEvent};
use chrono::{DateTime, SecondsFormat, Utc};
use futures::future::BoxFuture;
pub use security::{NewAuditEntry, SessionRecord, TokenRecord};
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::Mutex;

/// Idempotency keys looked up per query (well under SQLite's variable limit).
const IDS_PER_QUERY: usize = 500;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data of run `{run}` is unreadable: {detail}")]
    Corrupt { run: String, detail: String },
    #[error("database error: {0}")]
    Write(#[from] rusqlite::Error),
    #[error("cannot start the database writer: {0}")]
    Thread(std::io::Error),
    #[error("the store is closed")]
    Closed,
}

/// A run as stored: identity, its graph, and the latest summary.
#[derive(Clone, Debug)]
pub struct RunRecord {
    pub id: String,
    pub pipeline: Option<String>,
    pub name: String,
    pub graph: Graph,
    /// True when the built-in executor runs it (so a restart knows it was interrupted).
    pub executor: bool,
    pub created_at: DateTime<Utc>,
    /// The history this run's seqs belong to (see the `epoch` migration).
    pub epoch: String,
    pub summary: RunSummary,
}

/// Filters for run history.
#[derive(Clone, Debug, Default)]
pub struct RunFilter {
    pub pipeline: Option<String>,
    pub status: Option<Status>,
    /// Runs created on this day (UTC).
    pub day: Option<chrono::NaiveDate>,
    /// Paging: only runs older than this run (newest first, so the next page starts after the
    /// last run of this one).
    pub before: Option<String>,
    pub limit: u32,
}

impl RunFilter {
    /// The filter of a run list's query, each field checked and named when bad.
    pub fn from_query(query: &crate::api::RunsQuery, limit: u32) -> Result<RunFilter, String> {
        let blank = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let status = match blank(&query.status) {
            Some(s) => {
                Some(Status::parse(&s).ok_or_else(|| format!("`status`: unknown status `{s}`"))?)
            }
            None => None,
        };
        let day = match blank(&query.day) {
            Some(d) => Some(
                chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                    .map_err(|_| format!("`day`: expected a date as YYYY-MM-DD, got `{d}`"))?,
            ),
            None => None,
        };
        Ok(RunFilter {
            pipeline: blank(&query.pipeline),
            status,
            day,
            before: blank(&query.before),
            limit,
        })
    }
}

pub struct Store {
    pool: SqlitePool,
    /// SQLite has one writer; serialising write transactions here avoids busy-upgrade failures
    /// of concurrent deferred transactions.
    write: Arc<Mutex<()>>,
    /// Ingest commits: one writer thread, group commit.
    writer: GroupCommit,
}

/// The schema's migrations, embedded in the binary and applied in order at start.
const MIGRATIONS: [(i64, &str, &str); 3] = [
    (1, "initial", include_str!("migrations/0001_initial.sql")),
    (
        2,
        "epochs and checkpoints",
        include_str!("migrations/0002_epochs_and_checkpoints.sql"),
    ),
    (3, "security", include_str!("migrations/0003_security.sql")),
];

/// Hands sqlx's migrator the embedded migrations.
#[derive(Debug)]
struct Embedded;

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(self) -> BoxFuture<'s, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async {
            Ok(MIGRATIONS
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        (*description).into(),
                        MigrationType::Simple,
                        (*sql).into(),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// SQLite binds signed 64-bit integers: larger positions mean "after everything", never a
/// wrapped negative number.
pub(super) fn bind_seq(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

pub(super) fn stamp(ts: DateTime<Utc>) -> String {
    ts.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Store {
    /// Opens (creating if needed) the database file with WAL and full fsync, so that a
    /// successful commit survives a crash of the process or the machine.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        Migrator::new(Embedded).await?.run(&pool).await?;
        let write = Arc::new(Mutex::new(()));
        let writer = GroupCommit::start(path, Arc::clone(&write))?;
        Ok(Store {
            pool,
            write,
            writer,
        })
    }

    /// Closes every connection (checkpointing the WAL); the store is unusable afterwards.
    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }

    /// Holds the writer lock (tests: to make commits queue into one group).
    #[cfg(test)]
    pub async fn write_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.write.lock().await
    }

    /// A cheap query proving the database answers (readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Inserts a run unless one with its id exists. Returns true when it was created.
    pub async fn insert_run(&self, run: &RunRecord) -> Result<bool, StoreError> {
        let _write = self.write.lock().await;
        let result = sqlx::query(
            "INSERT OR IGNORE INTO runs (id, pipeline, name, graph, executor, created_at, status, last_seq, summary, epoch)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&run.id)
        .bind(&run.pipeline)
        .bind(&run.name)
        .bind(json(&run.graph))
        .bind(run.executor)
        .bind(stamp(run.created_at))
        .bind(run.summary.status.as_str())
        .bind(bind_seq(run.summary.seq))
        .bind(json(&run.summary))
        .bind(&run.epoch)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    pub async fn run(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, pipeline, name, graph, executor, created_at, epoch, summary FROM runs WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| record(&r)).transpose()
    }

    /// The run's latest checkpoint of its folded state, if one was written.
    pub async fn checkpoint(&self, id: &str) -> Result<Option<RunState>, StoreError> {
        let row = sqlx::query("SELECT state FROM runs WHERE id = ? AND state IS NOT NULL")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            serde_json::from_str(r.get::<&str, _>(0)).map_err(|e| StoreError::Corrupt {
                run: id.to_owned(),
                detail: format!("checkpoint: {e}"),
            })
        })
        .transpose()
    }

    /// Run history, newest first.
    pub async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunSummary>, StoreError> {
        // Times are stored as RFC 3339 UTC text of one width, so they compare as text.
        let day = filter.day.map(|d| {
            let next = d.succ_opt().unwrap_or(d);
            (
                d.format("%Y-%m-%d").to_string(),
                next.format("%Y-%m-%d").to_string(),
            )
        });
        let rows = sqlx::query(
            "SELECT id, summary FROM runs
             WHERE (?1 IS NULL OR pipeline = ?1) AND (?2 IS NULL OR status = ?2)
               AND (?4 IS NULL OR (created_at >= ?4 AND created_at < ?5))
               AND (?6 IS NULL OR (created_at, id) < (SELECT created_at, id FROM runs WHERE id = ?6))
             ORDER BY created_at DESC, id DESC LIMIT ?3",
        )
        .bind(&filter.pipeline)
        .bind(filter.status.map(Status::as_str))
        .bind(i64::from(filter.limit))
        .bind(day.as_ref().map(|d| d.0.as_str()))
        .bind(day.as_ref().map(|d| d.1.as_str()))
        .bind(&filter.before)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                serde_json::from_str(r.get::<&str, _>(1)).map_err(|e| StoreError::Corrupt {
                    run: r.get(0),
                    detail: e.to_string(),
                })
            })
            .collect()
    }

    /// How long the last `limit` successful runs of `pipeline` took (medians, per run and per
    /// step), from their final states; `None` without such runs.
    pub async fn typical_durations(
        &self,
        pipeline: &str,
        limit: u32,
    ) -> Result<Option<crate::domain::eta::Typical>, StoreError> {
        use crate::domain::eta::{median, Typical};
        let rows = sqlx::query(
            "SELECT state FROM runs WHERE pipeline = ? AND status = 'success' AND state IS NOT NULL
             ORDER BY created_at DESC LIMIT ?",
        )
        .bind(pipeline)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut runs = Vec::new();
        let mut steps: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for row in &rows {
            let Ok(state) = serde_json::from_str::<RunState>(row.get::<&str, _>(0)) else {
                continue;
            };
            if let (Some(start), Some(end)) = (state.started_at, state.finished_at) {
                runs.push((end - start).num_milliseconds());
            }
            for (id, step) in &state.steps {
                if let (Some(start), Some(end)) = (step.started_at, step.finished_at) {
                    steps
                        .entry(id.clone())
                        .or_default()
                        .push((end - start).num_milliseconds());
                }
            }
        }
        let count = runs.len();
        Ok(median(runs).map(|run_ms| Typical {
            runs: count,
            run_ms,
            steps: steps
                .into_iter()
                .filter_map(|(id, ms)| Some((id, median(ms)?)))
                .collect(),
        }))
    }

    /// How long `step` took in the ended runs of `pipeline` created before `before`, the
    /// `limit` newest of those in which it ran, oldest first.
    pub async fn step_history(
        &self,
        pipeline: &str,
        step: &str,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<crate::api::PastStep>, StoreError> {
        // A slug needs no quoting in the JSON path; anything else cannot be a step.
        if !crate::domain::graph::is_slug(step) {
            return Ok(Vec::new());
        }
        let ended = format!("$.steps.\"{step}\".finished_at");
        let rows = sqlx::query(
            "SELECT id, state FROM runs
             WHERE pipeline = ? AND created_at < ? AND status NOT IN ('pending', 'running')
               AND state IS NOT NULL AND json_extract(state, ?) IS NOT NULL
             ORDER BY created_at DESC, id DESC LIMIT ?",
        )
        .bind(pipeline)
        .bind(stamp(before))
        .bind(&ended)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut past: Vec<crate::api::PastStep> = rows
            .iter()
            .filter_map(|row| {
                let state = serde_json::from_str::<RunState>(row.get::<&str, _>(1)).ok()?;
                let ran = state.steps.get(step)?;
                Some(crate::api::PastStep {
                    run: row.get(0),
                    status: ran.status,
                    ms: ran.duration_ms(ran.finished_at?)?,
                })
            })
            .collect();
        past.reverse();
        Ok(past)
    }

    /// Runs the built-in executor owned that were still active: after a restart nobody runs them.
    pub async fn orphaned_runs(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM runs WHERE executor = 1 AND status IN ('pending', 'running')",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| r.get::<String, _>(0)).collect())
    }

    /// Unfinished ad-hoc runs (reported by producers) whose last event (or creation, without
    /// events) is older than `before`.
    pub async fn silent_adhoc_runs(
        &self,
        before: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.id FROM runs r
             WHERE r.executor = 0 AND r.status IN ('pending', 'running')
               AND julianday(coalesce(
                     (SELECT json_extract(e.body, '$.ts') FROM events e
                      WHERE e.run_id = r.id ORDER BY e.seq DESC LIMIT 1),
                     r.created_at)) < julianday(?)",
        )
        .bind(stamp(before))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| r.get::<String, _>(0)).collect())
    }

    /// Gives every unfinished run a new epoch. Called at start: the server cannot tell whether
    /// the database it opens is the one it last wrote (a restored backup looks the same), so
    /// resume positions of runs that may still change are not trusted across a start. A
    /// finished run's history is final and keeps its epoch. Returns how many were renewed.
    pub async fn renew_open_epochs(&self) -> Result<u64, StoreError> {
        let _write = self.write.lock().await;
        let result = sqlx::query(
            "UPDATE runs SET epoch = lower(hex(randomblob(6))) WHERE status IN ('pending', 'running')",
        )
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }

    /// Seqs of already stored events with these idempotency keys.
    pub async fn seqs_for_ids(
        &self,
        run: &str,
        ids: &[&str],
    ) -> Result<HashMap<String, Seq>, StoreError> {
        let mut found = HashMap::new();
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let mut query: QueryBuilder<Sqlite> =
                QueryBuilder::new("SELECT event_id, seq FROM events WHERE run_id = ");
            query.push_bind(run).push(" AND event_id IN (");
            let mut list = query.separated(", ");
            for id in chunk {
                list.push_bind(*id);
            }
            query.push(")");
            for row in query.build().fetch_all(&self.pool).await? {
                found.insert(row.get::<String, _>(0), row.get::<i64, _>(1) as Seq);
            }
        }
        Ok(found)
    }

    /// Stores a commit (in a group with whatever else is waiting) and answers once it is
    /// durable. Returns the numbered log lines per step.
    pub async fn commit(&self, commit: Commit) -> Result<Numbered, StoreError> {
        self.writer.commit(commit).await
    }

    /// Stored events after `since`, in seq order, at most `limit`.
    pub async fn events_since(
        &self,
        run: &str,
        since: Seq,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT body FROM events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(run)
        .bind(bind_seq(since))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                serde_json::from_str(r.get::<&str, _>(0)).map_err(|e| StoreError::Corrupt {
                    run: run.to_owned(),
                    detail: e.to_string(),
                })
            })
            .collect()
    }

    /// Log lines of a step after line `after`, at most `limit`.
    pub async fn logs_after(
        &self,
        run: &str,
        step: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<LogLine>, StoreError> {
        let rows = sqlx::query("SELECT n, stream, line FROM logs WHERE run_id = ? AND step = ? AND n > ? ORDER BY n LIMIT ?")
            .bind(run)
            .bind(step)
            .bind(bind_seq(after))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| LogLine {
                n: r.get::<i64, _>(0) as u64,
                stream: r.get(1),
                line: r.get(2),
            })
            .collect())
    }
}

pub(super) fn json<T: serde::Serialize>(value: &T) -> String {
    // Our plain data types (string-keyed maps, no custom serialisers that fail) always serialise.
    serde_json::to_string(value).expect("plain data serialises to JSON")
}

fn record(row: &sqlx::sqlite::SqliteRow) -> Result<RunRecord, StoreError> {
    let id: String = row.get("id");
    let corrupt = |detail: String| StoreError::Corrupt {
        run: id.clone(),
        detail,
    };
    let graph =
        serde_json::from_str(row.get::<&str, _>("graph")).map_err(|e| corrupt(e.to_string()))?;
    let summary =
        serde_json::from_str(row.get::<&str, _>("summary")).map_err(|e| corrupt(e.to_string()))?;
    let created_at = DateTime::parse_from_rfc3339(row.get::<&str, _>("created_at"))
        .map_err(|e| corrupt(e.to_string()))?
        .with_timezone(&Utc);
    Ok(RunRecord {
        pipeline: row.get("pipeline"),
        name: row.get("name"),
        graph,
        executor: row.get("executor"),
        created_at,
        epoch: row.get("epoch"),
        summary,
        id,
    })
}
