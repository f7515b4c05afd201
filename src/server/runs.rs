//! The run service: the one path by which anything (executor, HTTP producers, later the CLI and
//! NATS) changes a run. It validates events with the shared reducer, dedupes idempotency keys,
//! numbers events gaplessly, commits them, and only then publishes them to live subscribers.

use super::hub::{Hub, RunFeed};
use super::store::{LogAppend, RunFilter, RunRecord, Store, StoreError};
use crate::domain::log::clip_line;
use crate::domain::{EventKind, LogLine, NewEvent, RunState, RunSummary, Seq, Status, StoredEvent};
use chrono::Utc;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RunError {
    #[error("no run `{0}`")]
    UnknownRun(String),
    /// An event or log batch that cannot be accepted; `index` is its place in the request.
    #[error("event {index}: {problem}")]
    Rejected { index: usize, problem: String },
    #[error(transparent)]
    Store(#[from] StoreError),
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

/// The live state of one run, loaded from the store on first use.
type Slot = Arc<tokio::sync::Mutex<Option<RunState>>>;

pub struct Runs {
    store: Arc<Store>,
    hub: Arc<Hub>,
    /// Per-run locks with the run's current state: appends to one run are serialised (so seq
    /// order is commit order is publish order) while different runs proceed in parallel.
    states: Mutex<HashMap<String, Slot>>,
}

impl Runs {
    pub fn new(store: Arc<Store>, hub: Arc<Hub>) -> Self {
        Runs {
            store,
            hub,
            states: Mutex::new(HashMap::new()),
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
    pub async fn create(&self, record: RunRecord) -> Result<(RunSummary, bool), RunError> {
        let created = self.store.insert_run(&record).await?;
        if created {
            tracing::info!(run.id = %record.id, pipeline = ?record.pipeline, "run created");
            self.hub.publish_run(record.summary.clone());
            return Ok((record.summary, true));
        }
        let existing = self.state(&record.id).await?;
        Ok((existing.summary(), false))
    }

    /// The run's full state as of its latest stored event (what a snapshot carries).
    pub async fn state(&self, run: &str) -> Result<RunState, RunError> {
        let slot = self.slot(run);
        let mut guard = slot.lock().await;
        let state = self.loaded(run, &mut guard).await?.clone();
        if state.status.is_terminal() {
            // A finished run changes no more: keep it in the store only.
            self.forget(run);
        }
        Ok(state)
    }

    /// Ends every open step and then the run with `status`, deciding what is open under the
    /// run's lock so a concurrent report cannot make the closing events illegal.
    pub async fn close(&self, run: &str, status: Status, message: &str) -> Result<(), RunError> {
        let slot = self.slot(run);
        let mut guard = slot.lock().await;
        let current = self.loaded(run, &mut guard).await?;
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
                    message: Some(message.to_owned()),
                };
                IngestItem::Event(NewEvent::new(kind))
            })
            .collect();
        let finished = EventKind::RunFinished {
            status,
            message: Some(message.to_owned()),
        };
        items.push(IngestItem::Event(NewEvent::new(finished)));
        self.ingest_locked(run, &mut guard, items).await.map(drop)
    }

    /// Ingests events and log lines, all or nothing. Returns, per item, the event's seq (the
    /// original seq for a re-sent idempotency key) or `None` for a log batch.
    pub async fn ingest(
        &self,
        run: &str,
        items: Vec<IngestItem>,
    ) -> Result<Vec<Option<Seq>>, RunError> {
        let slot = self.slot(run);
        let mut guard = slot.lock().await;
        self.ingest_locked(run, &mut guard, items).await
    }

    async fn ingest_locked(
        &self,
        run: &str,
        guard: &mut Option<RunState>,
        items: Vec<IngestItem>,
    ) -> Result<Vec<Option<Seq>>, RunError> {
        let current = self.loaded(run, guard).await?;
        let mut next = current.clone();
        let ids: Vec<&str> = items
            .iter()
            .filter_map(|item| match item {
                IngestItem::Event(e) => e.id.as_deref(),
                IngestItem::Logs { .. } => None,
            })
            .collect();
        let mut known = if ids.is_empty() {
            HashMap::new()
        } else {
            self.store.seqs_for_ids(run, &ids).await?
        };
        let now = Utc::now();
        let mut fresh: Vec<StoredEvent> = Vec::new();
        let mut logs: Vec<LogAppend> = Vec::new();
        let mut seqs = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let reject = |problem: String| RunError::Rejected { index, problem };
            match item {
                IngestItem::Event(event) => {
                    if let Some(seq) = event.id.as_ref().and_then(|id| known.get(id)) {
                        seqs.push(Some(*seq));
                        continue;
                    }
                    event.validate().map_err(|e| reject(e.to_string()))?;
                    let stored = event.into_stored(next.seq + 1, now);
                    next.apply(&stored).map_err(|e| reject(e.to_string()))?;
                    if let Some(id) = &stored.id {
                        known.insert(id.clone(), stored.seq);
                    }
                    seqs.push(Some(stored.seq));
                    fresh.push(stored);
                }
                IngestItem::Logs {
                    step,
                    stream,
                    lines,
                } => {
                    if !next.steps.contains_key(&step) {
                        return Err(reject(format!("`step`: the run has no step `{step}`")));
                    }
                    if !matches!(stream.as_str(), "stdout" | "stderr" | "system") {
                        return Err(reject(format!(
                            "`stream` must be stdout or stderr, got `{stream}`"
                        )));
                    }
                    let lines = lines.iter().map(|l| clip_line(l)).collect();
                    logs.push(LogAppend {
                        step,
                        stream,
                        lines,
                    });
                    seqs.push(None);
                }
            }
        }
        if fresh.is_empty() && logs.iter().all(|l| l.lines.is_empty()) {
            return Ok(seqs);
        }
        let summary = next.summary();
        // Until the commit is known to have happened, the cached state is unknown: if this
        // future is dropped mid-commit (a producer hung up), the next call reloads the store.
        *guard = None;
        let numbered = self.store.commit(run, &fresh, &summary, &logs).await?;
        let finished = next.status.is_terminal();
        *guard = Some(next);
        if !fresh.is_empty() {
            self.hub.publish(run, RunFeed::Events(fresh));
            self.hub.publish_run(summary);
        }
        for (step, lines) in numbered.into_iter().filter(|(_, lines)| !lines.is_empty()) {
            self.hub.publish(run, RunFeed::Logs { step, lines });
        }
        if finished {
            // Finished runs accept nothing more; drop the cached state, the store has it.
            self.forget(run);
        }
        Ok(seqs)
    }

    /// Convenience for trusted producers (the executor): ingest events, ignoring their seqs.
    pub async fn append(&self, run: &str, events: Vec<NewEvent>) -> Result<(), RunError> {
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
        Ok(self
            .store
            .list_runs(filter)
            .await?
            .into_iter()
            .map(|r| r.summary)
            .collect())
    }

    fn forget(&self, run: &str) {
        self.states
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(run);
    }

    fn slot(&self, run: &str) -> Slot {
        let mut states = self.states.lock().unwrap_or_else(|e| e.into_inner());
        states.entry(run.to_owned()).or_default().clone()
    }

    /// The cached state, folded from the store on first use.
    async fn loaded<'a>(
        &self,
        run: &str,
        slot: &'a mut Option<RunState>,
    ) -> Result<&'a RunState, RunError> {
        if slot.is_none() {
            let Some(record) = self.store.run(run).await? else {
                self.states
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(run);
                return Err(RunError::UnknownRun(run.to_owned()));
            };
            let events = self.store.events_since(run, 0, u32::MAX).await?;
            let fresh = RunState::new(
                &record.id,
                record.pipeline.as_deref(),
                &record.name,
                &record.graph,
                record.created_at,
            );
            let state = fresh.fold(&events).map_err(|e| StoreError::Corrupt {
                run: run.to_owned(),
                detail: e.to_string(),
            })?;
            *slot = Some(state);
        }
        Ok(slot.as_ref().expect("state loaded above"))
    }
}
