//! Durable storage of runs, events and logs in SQLite (WAL). A request's events and log lines
//! are stored together or not at all, and its answer waits for the fsync.
//!
//! Group commit: ingest commits go to one writer task, which stores every commit waiting for it
//! in one transaction and pays one fsync for all of them (a group that fails is retried one
//! commit at a time, so one faulty commit fails alone). Under load, requests of many runs share each fsync; alone, a
//! request is committed at once.

use crate::domain::{Graph, LogLine, RunState, RunSummary, Seq, Status, StoredEvent};
use chrono::{DateTime, SecondsFormat, Utc};
use futures::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot, Mutex};

/// Commits stored by one transaction at most.
const GROUP_LIMIT: usize = 512;
/// Rows per multi-row INSERT (4 or 5 values each, well under SQLite's variable limit).
const ROWS_PER_INSERT: usize = 500;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data of run `{run}` is unreadable: {detail}")]
    Corrupt { run: String, detail: String },
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
    pub limit: u32,
}

/// One request's writes to one run, stored all or nothing. Serialised by the caller, so the
/// one writer task only runs SQL.
pub struct Commit {
    pub run: String,
    /// Numbered by the caller, continuing the run's `last_seq`.
    pub events: Vec<EventRow>,
    /// The run's new summary and status, when events changed them.
    pub summary: Option<(Status, Seq, String)>,
    pub logs: Vec<LogAppend>,
    /// The folded state after these events (JSON), to load from instead of refolding.
    pub checkpoint: Option<String>,
}

/// A stored event as a row: its seq, idempotency key and JSON body.
pub struct EventRow {
    pub seq: Seq,
    pub id: Option<String>,
    pub body: String,
}

impl EventRow {
    pub fn of(event: &StoredEvent) -> EventRow {
        EventRow {
            seq: event.seq,
            id: event.id.clone(),
            body: json(event),
        }
    }
}

impl Commit {
    /// The commit of `events` (and `logs`) leaving the run in `state`; with a checkpoint of
    /// that state when `checkpoint` is true.
    pub fn new(
        run: &str,
        events: &[StoredEvent],
        logs: Vec<LogAppend>,
        state: &RunState,
        checkpoint: bool,
    ) -> Commit {
        let summary = state.summary();
        Commit {
            run: run.to_owned(),
            events: events.iter().map(EventRow::of).collect(),
            summary: (!events.is_empty()).then(|| (summary.status, summary.seq, json(&summary))),
            logs,
            checkpoint: checkpoint.then(|| json(state)),
        }
    }
}

/// Numbered log lines per step, as a commit stored them.
pub type Numbered = Vec<(String, Vec<LogLine>)>;

struct Job {
    commit: Commit,
    done: oneshot::Sender<Result<Numbered, StoreError>>,
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
    write: Arc<Mutex<()>>,
    /// The group-commit writer's queue. Unbounded because every job has a caller waiting for
    /// its answer: the number of requests in flight bounds it.
    commits: mpsc::UnboundedSender<Job>,
}

/// The schema's migrations, embedded in the binary and applied in order at start.
const MIGRATIONS: [(i64, &str, &str); 2] = [
    (1, "initial", include_str!("migrations/0001_initial.sql")),
    (
        2,
        "epochs and checkpoints",
        include_str!("migrations/0002_epochs_and_checkpoints.sql"),
    ),
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
fn bind_seq(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

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
        Migrator::new(Embedded).await?.run(&pool).await?;
        let write = Arc::new(Mutex::new(()));
        let (commits, queue) = mpsc::unbounded_channel();
        tokio::spawn(write_groups(pool.clone(), Arc::clone(&write), queue));
        Ok(Store {
            pool,
            write,
            commits,
        })
    }

    /// Closes every connection (checkpointing the WAL); the store is unusable afterwards.
    pub async fn close(&self) {
        self.pool.close().await;
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
        let rows = sqlx::query(
            "SELECT id, summary FROM runs
             WHERE (?1 IS NULL OR pipeline = ?1) AND (?2 IS NULL OR status = ?2)
             ORDER BY created_at DESC, id DESC LIMIT ?3",
        )
        .bind(&filter.pipeline)
        .bind(filter.status.map(Status::as_str))
        .bind(i64::from(filter.limit))
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

    /// Runs the built-in executor owned that were still active: after a restart nobody runs them.
    pub async fn orphaned_runs(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM runs WHERE executor = 1 AND status IN ('pending', 'running')",
        )
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
        for chunk in ids.chunks(ROWS_PER_INSERT) {
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
        let (done, answer) = oneshot::channel();
        self.commits
            .send(Job { commit, done })
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
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

/// The writer task: takes every commit waiting, stores them in one transaction, and answers
/// each once the transaction is durable. Commits are validated before they get here, so a
/// failing one is rare; when a group fails, its commits are retried one transaction each, so
/// that only the faulty one fails.
async fn write_groups(
    pool: SqlitePool,
    write: Arc<Mutex<()>>,
    mut queue: mpsc::UnboundedReceiver<Job>,
) {
    let mut jobs = Vec::new();
    while queue.recv_many(&mut jobs, GROUP_LIMIT).await > 0 {
        let group = std::mem::take(&mut jobs);
        let _write = write.lock().await;
        let commits: Vec<&Commit> = group.iter().map(|job| &job.commit).collect();
        let outcomes = match write_group(&pool, &commits).await {
            Ok(numbered) => numbered.into_iter().map(Ok).collect(),
            Err(e) if group.len() == 1 => vec![Err(StoreError::Db(e))],
            Err(e) => {
                tracing::warn!(error = %e, commits = group.len(), "group commit failed; committing one by one");
                let mut outcomes = Vec::with_capacity(group.len());
                for commit in &commits {
                    let alone = write_group(&pool, std::slice::from_ref(commit)).await;
                    outcomes.push(alone.map(|mut n| n.remove(0)).map_err(StoreError::Db));
                }
                outcomes
            }
        };
        for (job, outcome) in group.into_iter().zip(outcomes) {
            let _ = job.done.send(outcome);
        }
    }
}

/// Stores `commits` in one transaction (one fsync).
async fn write_group(pool: &SqlitePool, commits: &[&Commit]) -> Result<Vec<Numbered>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut numbered = Vec::with_capacity(commits.len());
    for commit in commits {
        numbered.push(write_commit(&mut tx, commit).await?);
    }
    tx.commit().await?;
    Ok(numbered)
}

/// One commit's rows; events and log lines in multi-row INSERTs.
async fn write_commit(
    conn: &mut SqliteConnection,
    commit: &Commit,
) -> Result<Numbered, sqlx::Error> {
    let run = commit.run.as_str();
    for rows in commit.events.chunks(ROWS_PER_INSERT) {
        let mut insert: QueryBuilder<Sqlite> =
            QueryBuilder::new("INSERT INTO events (run_id, seq, event_id, body) ");
        insert.push_values(rows, |mut values, row| {
            values
                .push_bind(run)
                .push_bind(bind_seq(row.seq))
                .push_bind(&row.id)
                .push_bind(&row.body);
        });
        insert.build().execute(&mut *conn).await?;
    }
    if let Some((status, seq, summary)) = &commit.summary {
        sqlx::query("UPDATE runs SET status = ?, last_seq = ?, summary = ? WHERE id = ?")
            .bind(status.as_str())
            .bind(bind_seq(*seq))
            .bind(summary)
            .bind(run)
            .execute(&mut *conn)
            .await?;
    }
    if let Some(state) = &commit.checkpoint {
        sqlx::query("UPDATE runs SET state = ? WHERE id = ?")
            .bind(state)
            .bind(run)
            .execute(&mut *conn)
            .await?;
    }
    let mut numbered = Vec::with_capacity(commit.logs.len());
    for batch in &commit.logs {
        let last: i64 =
            sqlx::query("SELECT COALESCE(MAX(n), 0) FROM logs WHERE run_id = ? AND step = ?")
                .bind(run)
                .bind(&batch.step)
                .fetch_one(&mut *conn)
                .await?
                .get(0);
        let lines: Vec<LogLine> = batch
            .lines
            .iter()
            .enumerate()
            .map(|(k, line)| LogLine {
                n: last as u64 + k as u64 + 1,
                stream: batch.stream.clone(),
                line: line.clone(),
            })
            .collect();
        for rows in lines.chunks(ROWS_PER_INSERT) {
            let mut insert: QueryBuilder<Sqlite> =
                QueryBuilder::new("INSERT INTO logs (run_id, step, n, stream, line) ");
            insert.push_values(rows, |mut values, line| {
                values
                    .push_bind(run)
                    .push_bind(&batch.step)
                    .push_bind(bind_seq(line.n))
                    .push_bind(&line.stream)
                    .push_bind(&line.line);
            });
            insert.build().execute(&mut *conn).await?;
        }
        numbered.push((batch.step.clone(), lines));
    }
    Ok(numbered)
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
        epoch: row.get("epoch"),
        summary,
        id,
    })
}
