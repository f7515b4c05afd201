//! The run service: the one path by which anything (executor, HTTP producers, later the CLI and
//! NATS) changes a run. It validates events with the shared reducer, dedupes idempotency keys,
//! numbers events gaplessly, commits them, and only then publishes them to live subscribers.
//!
//! Each run has exactly one lock and one cached state while anyone uses it (see [`Lease`]).
//! A commit and its publish run in a task of their own, so a producer hanging up cannot leave
//! a committed event unpublished.

use super::hub::{Hub, SnapshotFrame};
use super::store::{Commit, LogAppend, RunFilter, RunRecord, Store, StoreError};
use crate::domain::log::clip_line;
use crate::domain::{EventKind, LogLine, NewEvent, RunState, RunSummary, Seq, Status, StoredEvent};
use chrono::Utc;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use thiserror::Error;
use tokio::sync::OwnedMutexGuard;

/// Events between two checkpoints of an active run's state, so loading it after a restart
/// folds at most this many events.
const CHECKPOINT_EVERY: Seq = 1_000;
/// Cached states kept before idle ones are dropped (runs nobody finishes, such as ad-hoc runs
/// a producer abandoned, must not accumulate; a dropped one reloads from its checkpoint).
const CACHE_LIMIT: usize = 2_048;

#[derive(Debug, Error)]
pub enum RunError {
    #[error("no run `{0}`")]
    UnknownRun(String),
    /// An event or log batch that cannot be accepted; `index` is its place in the request.
    #[error("event {index}: {problem}")]
    Rejected { index: usize, problem: String },
    /// An item that contradicts another item of the same request.
    #[error("event {index}: {problem}")]
    Malformed { index: usize, problem: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("run task failed: {0}")]
    Task(String),
}

/// One item of an ingest request.
#[derive(Clone, Debug)]
pub enum IngestItem {
    Event(NewEvent),
    Logs {
        step: String,
        stream: String,
        lines: Vec<String>,
    },
}

/// A run's state with the history it belongs to: what a snapshot carries.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub state: RunState,
    pub epoch: String,
}

/// The cached live state of one run.
struct Cached {
    snapshot: Snapshot,
    /// Seq of the last stored checkpoint.
    checkpoint_seq: Seq,
    /// The snapshot frame last serialised, current while its seq and epoch are the state's
    /// (every change of the state is an event, which moves the seq).
    frame: Option<Arc<SnapshotFrame>>,
}

impl Cached {
    /// The state's snapshot frame, serialised only if the state moved since the last one.
    fn frame(&mut self, run: &str) -> Arc<SnapshotFrame> {
        let Snapshot { state, epoch } = &self.snapshot;
        match &self.frame {
            Some(frame) if frame.seq == state.seq && frame.epoch == *epoch => Arc::clone(frame),
            _ => Arc::clone(
                self.frame
                    .insert(Arc::new(SnapshotFrame::new(run, state, epoch))),
            ),
        }
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<Cached>>>;

pub struct Runs {
    store: Arc<Store>,
    hub: Arc<Hub>,
    /// Per-run locks with the run's cached state: appends to one run are serialised (so seq
    /// order is commit order is publish order) while different runs proceed in parallel.
    slots: Mutex<HashMap<String, Slot>>,
}

/// The run's lock, held for one operation. Dropping it releases the slot: the map entry goes
/// once nobody else holds it and the run needs no cache (finished or unknown), or when the
/// cache is over its limit. Slots are only cloned under the map's lock, so a held slot is never
/// replaced by a second one.
struct Lease<'a> {
    runs: &'a Runs,
    run: String,
    guard: Option<OwnedMutexGuard<Option<Cached>>>,
    slot: Option<Slot>,
}

impl Lease<'_> {
    fn cached(&mut self) -> &mut Option<Cached> {
        self.guard.as_mut().expect("held until dropped")
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        self.guard = None;
        let Some(slot) = self.slot.take() else { return };
        let mut slots = self.runs.slots.lock().unwrap_or_else(|e| e.into_inner());
        // Ours and the map's: nobody else holds or waits for it.
        if Arc::strong_count(&slot) == 2 {
            let evict = slot.try_lock().is_ok_and(|cached| {
                cached
                    .as_ref()
                    .is_none_or(|c| c.snapshot.state.status.is_terminal())
            });
            if evict {
                slots.remove(&self.run);
            }
        }
        if slots.len() > CACHE_LIMIT {
            // Idle: only the map holds it (ours was released above).
            drop(slot);
            slots.retain(|_, slot| Arc::strong_count(slot) > 1);
        }
    }
}

impl Runs {
    pub fn new(store: Arc<Store>, hub: Arc<Hub>) -> Self {
        Runs {
            store,
            hub,
            slots: Mutex::new(HashMap::new()),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// Stores a new run. Returns its summary and whether it was created (false: the id existed,
    /// and the existing run's summary is returned, which makes producer-chosen ids idempotent).
    pub async fn create(
        self: &Arc<Self>,
        record: RunRecord,
    ) -> Result<(RunSummary, bool), RunError> {
        let this = Arc::clone(self);
        detached(async move {
            let created = this.store.insert_run(&record).await?;
            if created {
                tracing::info!(run.id = %record.id, pipeline = ?record.pipeline, "run created");
                this.hub.publish_run(record.summary.clone());
                return Ok((record.summary, true));
            }
            let existing = this.snapshot(&record.id).await?;
            Ok((existing.state.summary(), false))
        })
        .await
    }

    /// The run's full state as of its latest stored event, with its epoch.
    pub async fn snapshot(&self, run: &str) -> Result<Snapshot, RunError> {
        let mut lease = self.lease(run).await;
        self.loaded(&mut lease).await.map(|c| c.snapshot.clone())
    }

    /// The run's `snapshot` frame as of its latest stored event, for a subscriber that asked
    /// for no position: the same bytes for every such subscriber until the run moves on.
    pub async fn snapshot_frame(&self, run: &str) -> Result<Arc<SnapshotFrame>, RunError> {
        let mut lease = self.lease(run).await;
        self.loaded(&mut lease).await.map(|c| c.frame(run))
    }

    /// Ends every open step and then the run with `status`, deciding what is open under the
    /// run's lock so a concurrent report cannot make the closing events illegal.
    pub async fn close(
        self: &Arc<Self>,
        run: &str,
        status: Status,
        message: &str,
    ) -> Result<(), RunError> {
        let (this, run, message) = (Arc::clone(self), run.to_owned(), message.to_owned());
        detached(async move {
            let mut lease = this.lease(&run).await;
            let current = &this.loaded(&mut lease).await?.snapshot.state;
            if current.status.is_terminal() {
                return Ok(());
            }
            let mut items: Vec<IngestItem> = current
                .steps
                .iter()
                .filter(|(_, s)| !s.status.is_terminal())
                .map(|(step, s)| {
                    // A step that never started did not fail: it was cancelled with the run.
                    let step_status = if s.status == Status::Running {
                        status
                    } else {
                        Status::Cancelled
                    };
                    let kind = EventKind::StepFinished {
                        step: step.clone(),
                        status: step_status,
                        message: Some(message.clone()),
                    };
                    IngestItem::Event(NewEvent::new(kind))
                })
                .collect();
            let finished = EventKind::RunFinished {
                status,
                message: Some(message.clone()),
            };
            items.push(IngestItem::Event(NewEvent::new(finished)));
            this.ingest_leased(&mut lease, items).await.map(drop)
        })
        .await
    }

    /// Ingests events and log lines, all or nothing. Returns, per item, the event's seq (the
    /// original seq for a re-sent idempotency key) or `None` for a log batch.
    pub async fn ingest(
        self: &Arc<Self>,
        run: &str,
        items: Vec<IngestItem>,
    ) -> Result<Vec<Option<Seq>>, RunError> {
        let (this, run) = (Arc::clone(self), run.to_owned());
        detached(async move {
            let mut lease = this.lease(&run).await;
            this.ingest_leased(&mut lease, items).await
        })
        .await
    }

    async fn ingest_leased(
        &self,
        lease: &mut Lease<'_>,
        items: Vec<IngestItem>,
    ) -> Result<Vec<Option<Seq>>, RunError> {
        let run = lease.run.clone();
        self.loaded(lease).await?;
        let first_of_id = same_id_items(&items)?;
        let ids: Vec<&str> = first_of_id.keys().copied().collect();
        let known = if ids.is_empty() {
            HashMap::new()
        } else {
            self.store.seqs_for_ids(&run, &ids).await?
        };
        // The state is taken out of the cache and changed in place (no copy of a big run per
        // request); it goes back only once it matches the store. A rejected request or a
        // failed commit leaves the cache empty, and the next operation reloads the store.
        let mut cached = lease.cached().take().expect("loaded above");
        let before = cached.snapshot.state.seq;
        let applied = apply_items(&mut cached.snapshot.state, &items, &known);
        let Applied { fresh, logs, seqs } = match applied {
            Ok(applied) => applied,
            Err(e) => {
                if cached.snapshot.state.seq == before {
                    *lease.cached() = Some(cached);
                }
                return Err(e);
            }
        };
        if fresh.is_empty() && logs.iter().all(|l| l.lines.is_empty()) {
            *lease.cached() = Some(cached);
            return Ok(seqs);
        }
        let state = &cached.snapshot.state;
        let checkpoint =
            state.status.is_terminal() || state.seq >= cached.checkpoint_seq + CHECKPOINT_EVERY;
        let numbered = self
            .store
            .commit(Commit::new(&run, &fresh, logs, state, checkpoint))
            .await?;
        if checkpoint {
            cached.checkpoint_seq = state.seq;
        }
        super::system::EVENTS_STORED
            .fetch_add(fresh.len() as u64, std::sync::atomic::Ordering::Relaxed);
        let summary = (!fresh.is_empty()).then(|| state.summary());
        *lease.cached() = Some(cached);
        if let Some(summary) = summary {
            self.hub.publish_events(&run, fresh);
            self.hub.publish_run(summary);
        }
        for (step, lines) in numbered.into_iter().filter(|(_, lines)| !lines.is_empty()) {
            self.hub.logs.publish(&(run.clone(), step), lines);
        }
        Ok(seqs)
    }

    /// Convenience for trusted producers (the executor): ingest events, ignoring their seqs.
    pub async fn append(
        self: &Arc<Self>,
        run: &str,
        events: Vec<NewEvent>,
    ) -> Result<(), RunError> {
        self.ingest(run, events.into_iter().map(IngestItem::Event).collect())
            .await
            .map(drop)
    }

    pub async fn events_since(
        &self,
        run: &str,
        since: Seq,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, RunError> {
        Ok(self.store.events_since(run, since, limit).await?)
    }

    pub async fn logs_after(
        &self,
        run: &str,
        step: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<LogLine>, RunError> {
        Ok(self.store.logs_after(run, step, after, limit).await?)
    }

    pub async fn list(&self, filter: &RunFilter) -> Result<Vec<RunSummary>, RunError> {
        Ok(self.store.list_runs(filter).await?)
    }

    /// Takes the run's lock (creating its slot on first use).
    async fn lease(&self, run: &str) -> Lease<'_> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(slots.entry(run.to_owned()).or_default())
        };
        let guard = Arc::clone(&slot).lock_owned().await;
        Lease {
            runs: self,
            run: run.to_owned(),
            guard: Some(guard),
            slot: Some(slot),
        }
    }

    /// The cached state, loaded on first use from the latest checkpoint plus the events after
    /// it, so the work is bounded however long the run's history is.
    async fn loaded<'l>(&self, lease: &'l mut Lease<'_>) -> Result<&'l mut Cached, RunError> {
        if lease.cached().is_none() {
            let run = lease.run.clone();
            let Some(record) = self.store.run(&run).await? else {
                return Err(RunError::UnknownRun(run));
            };
            let base = match self.store.checkpoint(&run).await? {
                Some(state) => state,
                None => RunState::new(
                    &record.id,
                    record.pipeline.as_deref(),
                    &record.name,
                    &record.graph,
                    record.created_at,
                ),
            };
            let checkpoint_seq = base.seq;
            let events = self.store.events_since(&run, base.seq, u32::MAX).await?;
            let state = base.fold(&events).map_err(|e| StoreError::Corrupt {
                run: run.clone(),
                detail: e.to_string(),
            })?;
            *lease.cached() = Some(Cached {
                snapshot: Snapshot {
                    state,
                    epoch: record.epoch,
                },
                checkpoint_seq,
                frame: None,
            });
        }
        Ok(lease.cached().as_mut().expect("loaded above"))
    }
}

/// What a request changes: the new events, log lines to store, and each item's seq.
struct Applied {
    fresh: Vec<StoredEvent>,
    logs: Vec<LogAppend>,
    seqs: Vec<Option<Seq>>,
}

/// Validates and applies a request's items to `state`, numbering its new events. Events whose
/// idempotency key is `known` (stored before) or repeated in the request get their first seq
/// and change nothing. On error `state` may hold some of the request's events.
fn apply_items(
    state: &mut RunState,
    items: &[IngestItem],
    known: &HashMap<String, Seq>,
) -> Result<Applied, RunError> {
    let now = Utc::now();
    let mut assigned: HashMap<&str, Seq> = HashMap::new();
    let mut applied = Applied {
        fresh: Vec::new(),
        logs: Vec::new(),
        seqs: Vec::with_capacity(items.len()),
    };
    for (index, item) in items.iter().enumerate() {
        let reject = |problem: String| RunError::Rejected { index, problem };
        match item {
            IngestItem::Event(event) => {
                if let Some(id) = event.id.as_deref() {
                    if let Some(seq) = known.get(id).or_else(|| assigned.get(id)) {
                        applied.seqs.push(Some(*seq));
                        continue;
                    }
                }
                event.validate().map_err(|e| reject(e.to_string()))?;
                let stored = event.clone().into_stored(state.seq + 1, now);
                state.apply(&stored).map_err(|e| reject(e.to_string()))?;
                if let Some(id) = event.id.as_deref() {
                    assigned.insert(id, stored.seq);
                }
                applied.seqs.push(Some(stored.seq));
                applied.fresh.push(stored);
            }
            IngestItem::Logs {
                step,
                stream,
                lines,
            } => {
                if !state.steps.contains_key(step) {
                    return Err(reject(format!("`step`: the run has no step `{step}`")));
                }
                if !matches!(stream.as_str(), "stdout" | "stderr" | "system") {
                    return Err(reject(format!(
                        "`stream` must be stdout, stderr or system, got `{stream}`"
                    )));
                }
                applied.logs.push(LogAppend {
                    step: step.clone(),
                    stream: stream.clone(),
                    lines: lines.iter().map(|l| clip_line(l)).collect(),
                });
                applied.seqs.push(None);
            }
        }
    }
    Ok(applied)
}

/// Runs a unit of work to its end in a task of its own, so that the caller going away (an HTTP
/// client hanging up drops the handler's future) cannot cut a commit from its publish.
async fn detached<T: Send + 'static>(
    work: impl std::future::Future<Output = Result<T, RunError>> + Send + 'static,
) -> Result<T, RunError> {
    tokio::spawn(work)
        .await
        .map_err(|e| RunError::Task(e.to_string()))?
}

/// The first item of each idempotency key in a request. Two different events under one key
/// are a producer's mistake, not a retry: storing either would silently drop the other.
fn same_id_items(items: &[IngestItem]) -> Result<HashMap<&str, usize>, RunError> {
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (index, item) in items.iter().enumerate() {
        let IngestItem::Event(event) = item else {
            continue;
        };
        let Some(id) = event.id.as_deref() else {
            continue;
        };
        match first.get(id) {
            None => {
                first.insert(id, index);
            }
            Some(&earlier) => {
                let IngestItem::Event(original) = &items[earlier] else {
                    unreachable!("only events are recorded")
                };
                if original != event {
                    return Err(RunError::Malformed {
                        index,
                        problem: format!(
                            "`id`: `{id}` is also the id of event {earlier}, which differs"
                        ),
                    });
                }
            }
        }
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, progress: f64) -> IngestItem {
        IngestItem::Event(NewEvent {
            id: Some(id.into()),
            ..NewEvent::new(EventKind::StepProgress {
                step: "a".into(),
                progress: Some(progress),
                message: None,
                rows: None,
            })
        })
    }

    /// A service over a fresh store with one run, `r1`, of one step `a`.
    async fn one_run(dir: &std::path::Path) -> Arc<Runs> {
        let store = Store::open(&dir.join("db.sqlite")).await.unwrap();
        let runs = Arc::new(Runs::new(Arc::new(store), Arc::new(Hub::default())));
        let graph = crate::domain::Graph {
            steps: vec![crate::domain::GraphStep::bare("a", &[])],
        };
        let now = Utc::now();
        let initial = RunState::new("r1", None, "r1", &graph, now);
        let record = RunRecord {
            id: "r1".into(),
            pipeline: None,
            name: "r1".into(),
            graph,
            executor: false,
            created_at: now,
            epoch: "e1".into(),
            summary: initial.summary(),
        };
        assert!(runs.create(record).await.unwrap().1);
        runs
    }

    #[tokio::test]
    async fn a_snapshot_frame_is_serialised_once_per_state() {
        let dir = tempfile::tempdir().unwrap();
        let runs = one_run(dir.path()).await;
        let first = runs.snapshot_frame("r1").await.unwrap();
        let again = runs.snapshot_frame("r1").await.unwrap();
        assert!(
            Arc::ptr_eq(&first, &again),
            "the same bytes while nothing happened"
        );
        runs.append(
            "r1",
            vec![NewEvent::new(EventKind::RunStarted {
                params: Default::default(),
            })],
        )
        .await
        .unwrap();
        let moved = runs.snapshot_frame("r1").await.unwrap();
        assert_eq!((first.seq, moved.seq), (0, 1));
        let state = runs.snapshot("r1").await.unwrap().state;
        let expected = SnapshotFrame::new("r1", &state, "e1");
        assert_eq!(*moved, expected, "the new state's frame, not the old one");
    }

    #[test]
    fn one_id_for_two_different_events_is_refused_naming_both() {
        let same = [event("x", 10.0), event("x", 10.0), event("y", 20.0)];
        assert_eq!(same_id_items(&same).unwrap().len(), 2);
        let different = [event("x", 10.0), event("y", 1.0), event("x", 50.0)];
        let error = same_id_items(&different).unwrap_err().to_string();
        assert_eq!(
            error,
            "event 2: `id`: `x` is also the id of event 0, which differs"
        );
    }
}
