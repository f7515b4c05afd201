//! Group commit on a thread of its own. Ingest commits queue here; one writer thread stores
//! every commit waiting in one transaction and pays one fsync for all of them, then answers
//! each. It talks to SQLite directly (rusqlite, cached prepared statements) rather than
//! through the async pool, whose every statement is a round trip to a worker thread: a
//! commit costs a few microseconds of SQLite work, and the round trips cost more than that.
//!
//! A group that fails is retried one commit per transaction, so one faulty commit fails alone.

use super::store::{bind_seq, json, StoreError};
use crate::domain::{LogLine, RunState, Seq, Status, StoredEvent};
use rusqlite::{params, Connection, Transaction};
use std::path::Path;
use std::sync::{Arc, Mutex as StdMutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Mutex};

/// Commits stored by one transaction at most.
const GROUP_LIMIT: usize = 512;

/// One request's writes to one run, stored all or nothing. Serialised by the caller, so the
/// writer thread only runs SQL.
pub struct Commit {
    pub run: String,
    /// Numbered by the caller, continuing the run's `last_seq`.
    pub events: Vec<EventRow>,
    /// The run's new status, last seq and summary (JSON), when events changed them.
    pub summary: Option<(Status, Seq, String)>,
    pub logs: Vec<LogAppend>,
    /// The folded state after these events (JSON), to load from instead of refolding.
    pub checkpoint: Option<String>,
}

/// Log lines of one step to append in a commit; numbers are assigned by the store.
pub struct LogAppend {
    pub step: String,
    pub stream: String,
    pub lines: Vec<String>,
}

/// A stored event as a row: its seq, idempotency key and JSON body.
pub struct EventRow {
    pub seq: Seq,
    pub id: Option<String>,
    pub body: String,
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
            events: events
                .iter()
                .map(|event| EventRow {
                    seq: event.seq,
                    id: event.id.clone(),
                    body: json(event),
                })
                .collect(),
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

/// The queue to the writer thread, and the thread.
pub struct GroupCommit {
    /// Unbounded because every job has a caller waiting for its answer: the requests in
    /// flight bound it. `None` once closed.
    queue: StdMutex<Option<mpsc::UnboundedSender<Job>>>,
    thread: StdMutex<Option<JoinHandle<()>>>,
}

impl GroupCommit {
    /// Opens the writer's own connection to the database at `path` (already migrated) and
    /// starts the thread. `write` is the store's writer lock, taken for each group.
    pub fn start(path: &Path, write: Arc<Mutex<()>>) -> Result<GroupCommit, StoreError> {
        let connection = Connection::open(path)?;
        // WAL is a property of the database file (set when the store opened it); fsync on
        // every commit is a property of each connection.
        connection.busy_timeout(Duration::from_secs(10))?;
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.pragma_update(None, "foreign_keys", true)?;
        let (queue, jobs) = mpsc::unbounded_channel();
        let thread = std::thread::Builder::new()
            .name("signalbox-writer".into())
            .spawn(move || write_groups(connection, &write, jobs))
            .map_err(StoreError::Thread)?;
        Ok(GroupCommit {
            queue: StdMutex::new(Some(queue)),
            thread: StdMutex::new(Some(thread)),
        })
    }

    /// Stores a commit (in a group with whatever else is waiting) and answers once it is
    /// durable. Returns the numbered log lines per step.
    pub async fn commit(&self, commit: Commit) -> Result<Numbered, StoreError> {
        let (done, answer) = oneshot::channel();
        let queue = self
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or(StoreError::Closed)?;
        queue
            .send(Job { commit, done })
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Stops taking commits, lets the thread store what is queued, and waits for it to end
    /// (closing its connection).
    pub async fn close(&self) {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).take();
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

fn write_groups(
    mut connection: Connection,
    write: &Mutex<()>,
    mut jobs: mpsc::UnboundedReceiver<Job>,
) {
    while let Some(first) = jobs.blocking_recv() {
        let mut group = vec![first];
        while group.len() < GROUP_LIMIT {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let _write = write.blocking_lock();
        let commits: Vec<&Commit> = group.iter().map(|job| &job.commit).collect();
        let outcomes = match write_group(&mut connection, &commits) {
            Ok(numbered) => numbered.into_iter().map(Ok).collect(),
            Err(e) if group.len() == 1 => vec![Err(StoreError::from(e))],
            Err(e) => {
                tracing::warn!(error = %e, commits = group.len(), "group commit failed; committing one by one");
                commits
                    .iter()
                    .map(|commit| {
                        write_group(&mut connection, std::slice::from_ref(commit))
                            .map(|mut numbered| numbered.remove(0))
                            .map_err(StoreError::from)
                    })
                    .collect()
            }
        };
        for (job, outcome) in group.into_iter().zip(outcomes) {
            let _ = job.done.send(outcome);
        }
    }
}

/// Stores `commits` in one transaction (one fsync).
fn write_group(
    connection: &mut Connection,
    commits: &[&Commit],
) -> Result<Vec<Numbered>, rusqlite::Error> {
    let tx = connection.transaction()?;
    let numbered = commits
        .iter()
        .map(|commit| write_commit(&tx, commit))
        .collect::<Result<Vec<_>, _>>()?;
    tx.commit()?;
    Ok(numbered)
}

fn write_commit(tx: &Transaction<'_>, commit: &Commit) -> Result<Numbered, rusqlite::Error> {
    let run = commit.run.as_str();
    let mut insert =
        tx.prepare_cached("INSERT INTO events (run_id, seq, event_id, body) VALUES (?, ?, ?, ?)")?;
    for row in &commit.events {
        insert.execute(params![run, bind_seq(row.seq), row.id, row.body])?;
    }
    if let Some((status, last, summary)) = &commit.summary {
        tx.prepare_cached("UPDATE runs SET status = ?, last_seq = ?, summary = ? WHERE id = ?")?
            .execute(params![status.as_str(), bind_seq(*last), summary, run])?;
    }
    if let Some(state) = &commit.checkpoint {
        tx.prepare_cached("UPDATE runs SET state = ? WHERE id = ?")?
            .execute(params![state, run])?;
    }
    let mut numbered = Vec::with_capacity(commit.logs.len());
    for batch in &commit.logs {
        let last: i64 = tx
            .prepare_cached("SELECT COALESCE(MAX(n), 0) FROM logs WHERE run_id = ? AND step = ?")?
            .query_row(params![run, batch.step], |row| row.get(0))?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO logs (run_id, step, n, stream, line) VALUES (?, ?, ?, ?, ?)",
        )?;
        let mut lines = Vec::with_capacity(batch.lines.len());
        for (k, line) in batch.lines.iter().enumerate() {
            let n = last as u64 + k as u64 + 1;
            insert.execute(params![run, batch.step, bind_seq(n), batch.stream, line])?;
            lines.push(LogLine {
                n,
                stream: batch.stream.clone(),
                line: line.clone(),
            });
        }
        numbered.push((batch.step.clone(), lines));
    }
    Ok(numbered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EventKind;
    use crate::server::store::Store;

    fn commit(run: &str, seqs: &[Seq]) -> Commit {
        let event = |seq| StoredEvent {
            seq,
            kind: EventKind::step_started("a"),
            id: None,
            ts: chrono::Utc::now(),
        };
        Commit {
            run: run.to_owned(),
            events: seqs
                .iter()
                .map(|&seq| EventRow {
                    seq,
                    id: None,
                    body: json(&event(seq)),
                })
                .collect(),
            summary: None,
            logs: Vec::new(),
            checkpoint: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_faulty_commit_fails_alone_within_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("db.sqlite")).await.unwrap());
        store.commit(commit("r", &[1])).await.unwrap();
        // Hold the writer lock: the writer takes `first` and waits; `faulty` and `fine` queue
        // meanwhile and are stored as one group once the lock is released.
        let held = store.write_lock().await;
        let submit = |c: Commit| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.commit(c).await })
        };
        let first = submit(commit("a", &[1]));
        tokio::time::sleep(Duration::from_millis(100)).await;
        let faulty = submit(commit("r", &[2, 1])); // seq 1 of `r` exists
        let fine = submit(commit("b", &[1, 2]));
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(held);
        assert!(first.await.unwrap().is_ok());
        assert!(faulty.await.unwrap().is_err(), "a duplicate seq is refused");
        assert!(fine.await.unwrap().is_ok(), "its group neighbour is stored");
        let seqs = |run: &'static str| {
            let store = Arc::clone(&store);
            async move {
                let events = store.events_since(run, 0, 10).await.unwrap();
                events.iter().map(|e| e.seq).collect::<Vec<_>>()
            }
        };
        assert_eq!(seqs("b").await, [1, 2]);
        assert_eq!(
            seqs("r").await,
            [1],
            "nothing of the faulty commit is stored"
        );
    }
}
