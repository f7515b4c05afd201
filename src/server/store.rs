//! Durable storage of runs, events and logs in SQLite (WAL). Every write is one transaction:
//! a run's events get their gapless `seq` in the same transaction that stores them, and a
//! request's events and log lines are stored together or not at all.

use crate::domain::{Graph, LogLine, RunSummary, Seq, Status, StoredEvent};
use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::Mutex;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("stored data of run `{run}` is unreadable: {detail}")]
    Corrupt { run: String, detail: String },
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
    pub summary: RunSummary,
}

/// Filters for run history.
#[derive(Clone, Debug, Default)]
pub struct RunFilter {
    pub pipeline: Option<String>,
    pub status: Option<Status>,
    pub limit: u32,
}

/// Log lines of one step to append in a commit; numbers are assigned by the store.
pub struct LogAppend {
    pub step: String,
    pub stream: String,
    pub lines: Vec<String>,
}

pub struct Store {
    pool: SqlitePool,
    /// SQLite has one writer; serialising write transactions here avoids busy-upgrade failures
    /// of concurrent deferred transactions.
    write: Mutex<()>,
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    pipeline TEXT,
    name TEXT NOT NULL,
    graph TEXT NOT NULL,
    executor INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL,
    last_seq INTEGER NOT NULL DEFAULT 0,
    summary TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_created ON runs(created_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event_id TEXT,
    body TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS events_by_id ON events(run_id, event_id) WHERE event_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS logs (
    run_id TEXT NOT NULL,
    step TEXT NOT NULL,
    n INTEGER NOT NULL,
    stream TEXT NOT NULL,
    line TEXT NOT NULL,
    PRIMARY KEY (run_id, step, n)
) WITHOUT ROWID;
"#;

fn stamp(ts: DateTime<Utc>) -> String {
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
        sqlx::raw_sql(SCHEMA).execute(&pool).await?;
        Ok(Store {
            pool,
            write: Mutex::new(()),
        })
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
            "INSERT OR IGNORE INTO runs (id, pipeline, name, graph, executor, created_at, status, last_seq, summary)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&run.id)
        .bind(&run.pipeline)
        .bind(&run.name)
        .bind(json(&run.graph))
        .bind(run.executor)
        .bind(stamp(run.created_at))
        .bind(run.summary.status.as_str())
        .bind(run.summary.seq as i64)
        .bind(json(&run.summary))
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    pub async fn run(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        let row = sqlx::query("SELECT id, pipeline, name, graph, executor, created_at, summary FROM runs WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| record(&r)).transpose()
    }

    /// Run history, newest first.
    pub async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, pipeline, name, graph, executor, created_at, summary FROM runs
             WHERE (?1 IS NULL OR pipeline = ?1) AND (?2 IS NULL OR status = ?2)
             ORDER BY created_at DESC, id DESC LIMIT ?3",
        )
        .bind(&filter.pipeline)
        .bind(filter.status.map(Status::as_str))
        .bind(i64::from(filter.limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(record).collect()
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

    /// Seqs of already stored events with these idempotency keys.
    pub async fn seqs_for_ids(
        &self,
        run: &str,
        ids: &[&str],
    ) -> Result<HashMap<String, Seq>, StoreError> {
        let mut found = HashMap::new();
        for id in ids {
            let row = sqlx::query("SELECT seq FROM events WHERE run_id = ? AND event_id = ?")
                .bind(run)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
            if let Some(row) = row {
                found.insert((*id).to_owned(), row.get::<i64, _>(0) as Seq);
            }
        }
        Ok(found)
    }

    /// Stores events (already numbered by the caller, continuing `last_seq`), the new summary
    /// and log lines in one transaction. Returns the numbered log lines per step.
    pub async fn commit(
        &self,
        run: &str,
        events: &[StoredEvent],
        summary: &RunSummary,
        logs: &[LogAppend],
    ) -> Result<Vec<(String, Vec<LogLine>)>, StoreError> {
        let _write = self.write.lock().await;
        let mut tx = self.pool.begin().await?;
        for event in events {
            sqlx::query("INSERT INTO events (run_id, seq, event_id, body) VALUES (?, ?, ?, ?)")
                .bind(run)
                .bind(event.seq as i64)
                .bind(&event.id)
                .bind(json(event))
                .execute(&mut *tx)
                .await?;
        }
        if !events.is_empty() {
            sqlx::query("UPDATE runs SET status = ?, last_seq = ?, summary = ? WHERE id = ?")
                .bind(summary.status.as_str())
                .bind(summary.seq as i64)
                .bind(json(summary))
                .bind(run)
                .execute(&mut *tx)
                .await?;
        }
        let mut numbered = Vec::with_capacity(logs.len());
        for batch in logs {
            let last: i64 =
                sqlx::query("SELECT COALESCE(MAX(n), 0) FROM logs WHERE run_id = ? AND step = ?")
                    .bind(run)
                    .bind(&batch.step)
                    .fetch_one(&mut *tx)
                    .await?
                    .get(0);
            let mut lines = Vec::with_capacity(batch.lines.len());
            for (k, line) in batch.lines.iter().enumerate() {
                let n = last as u64 + k as u64 + 1;
                sqlx::query(
                    "INSERT INTO logs (run_id, step, n, stream, line) VALUES (?, ?, ?, ?, ?)",
                )
                .bind(run)
                .bind(&batch.step)
                .bind(n as i64)
                .bind(&batch.stream)
                .bind(line)
                .execute(&mut *tx)
                .await?;
                lines.push(LogLine {
                    n,
                    stream: batch.stream.clone(),
                    line: line.clone(),
                });
            }
            numbered.push((batch.step.clone(), lines));
        }
        tx.commit().await?;
        Ok(numbered)
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
        .bind(since as i64)
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
            .bind(after as i64)
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

fn json<T: serde::Serialize>(value: &T) -> String {
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
        summary,
        id,
    })
}
