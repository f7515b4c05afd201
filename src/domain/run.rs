//! The run reducer: `RunState::apply(event)` folds stored events into the state of a run.
//! The server folds with it to build snapshots (and to reject illegal events before storing
//! them); the browser folds live events with the very same code.

use super::event::{EventKind, Seq, StoredEvent};
use super::graph::{is_slug, Graph, GraphStep, MAX_STEPS};
use super::status::Status;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

/// Live state of one step.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct StepState {
    pub status: Status,
    /// 0–100; set to 100 when the step succeeds.
    pub progress: f64,
    pub message: Option<String>,
    pub rows: Option<u64>,
    pub warnings: Vec<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Share of the run's overall percentage (copied from the graph).
    pub weight: f64,
    /// When each retry began (attempt 2, 3, …): the attempt number and per-attempt durations
    /// follow from it. Empty for a step that ran once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retried_at: Vec<DateTime<Utc>>,
    /// How many attempts the step may make in all, when its producer said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
}

impl StepState {
    /// Milliseconds the step has run, up to `now` while it is still running.
    pub fn duration_ms(&self, now: DateTime<Utc>) -> Option<i64> {
        let start = self.started_at?;
        Some(
            (self.finished_at.unwrap_or(now) - start)
                .num_milliseconds()
                .max(0),
        )
    }

    /// The attempt the step is on (or ended with): 1 for its first run, 0 before it started.
    pub fn attempt(&self) -> u32 {
        match self.started_at {
            Some(_) => 1 + self.retried_at.len() as u32,
            None => 0,
        }
    }
}

/// Full state of a run as of `seq`: what a snapshot carries.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    pub id: String,
    /// The pipeline it runs, or `None` for an ad-hoc run created by a producer.
    pub pipeline: Option<String>,
    pub name: String,
    pub seq: Seq,
    pub status: Status,
    pub params: BTreeMap<String, String>,
    pub message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub steps: BTreeMap<String, StepState>,
    /// When the last event happened (`None` before the first): how long the run's producer has
    /// been silent.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
    /// Steps its producer added after creating the run (`run.steps_added`), with their edges:
    /// the run's graph is the one it was created with plus these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added_steps: Vec<GraphStep>,
}

/// The short form of a run for lists and the `runs` topic.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub id: String,
    pub pipeline: Option<String>,
    pub name: String,
    pub status: Status,
    pub seq: Seq,
    pub percent: f64,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// Why an event cannot be applied. Stored events always apply; these errors reject an event
/// at ingest, before it is stored.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ApplyError {
    #[error("event seq {got} does not follow seq {expected_after}")]
    OutOfOrder { expected_after: Seq, got: Seq },
    #[error("`step`: the run has no step `{0}`")]
    UnknownStep(String),
    #[error("`step`: step `{step}` already finished as {status}")]
    StepFinished { step: String, status: Status },
    #[error("`type`: step `{0}` already started (send the next `attempt` to retry it)")]
    StepAlreadyStarted(String),
    #[error("`attempt`: step `{step}` is on attempt {current}; the next is {}", current + 1)]
    AttemptOutOfOrder { step: String, current: u32 },
    #[error("`type`: the run already finished as {0}")]
    RunFinished(Status),
    #[error("`type`: the run already started")]
    RunAlreadyStarted,
    #[error("`steps`: steps can be added only to ad-hoc runs; `{0}` runs a pipeline")]
    PipelineRun(String),
    #[error("`steps`: {0}")]
    BadNewStep(String),
}

impl RunState {
    /// A fresh run with every step of `graph` pending.
    pub fn new(
        id: &str,
        pipeline: Option<&str>,
        name: &str,
        graph: &Graph,
        created_at: DateTime<Utc>,
    ) -> Self {
        RunState {
            id: id.to_owned(),
            pipeline: pipeline.map(str::to_owned),
            name: name.to_owned(),
            seq: 0,
            status: Status::Pending,
            params: BTreeMap::new(),
            message: None,
            created_at,
            started_at: None,
            finished_at: None,
            steps: graph
                .steps
                .iter()
                .map(|s| {
                    (
                        s.id.clone(),
                        StepState {
                            weight: s.weight,
                            ..StepState::default()
                        },
                    )
                })
                .collect(),
            updated_at: None,
            added_steps: Vec::new(),
        }
    }

    /// The run's whole graph: `created` (the graph it was created with) plus the added steps.
    pub fn graph(&self, created: &Graph) -> Graph {
        let mut graph = created.clone();
        graph.steps.extend(self.added_steps.iter().cloned());
        graph
    }

    /// Checks steps a producer adds: new slugs, known needs, sane weights, within the limit.
    fn check_new_steps(&self, steps: &[GraphStep]) -> Result<(), ApplyError> {
        if let Some(pipeline) = &self.pipeline {
            return Err(ApplyError::PipelineRun(pipeline.clone()));
        }
        let bad = |problem: String| Err(ApplyError::BadNewStep(problem));
        if steps.is_empty() {
            return bad("must list at least one step".into());
        }
        if self.steps.len() + steps.len() > MAX_STEPS {
            return bad(format!("a run has at most {MAX_STEPS} steps"));
        }
        for (i, step) in steps.iter().enumerate() {
            let earlier = |id: &str| steps[..i].iter().any(|s| s.id == id);
            if !is_slug(&step.id) {
                return bad(format!(
                    "step `{}`: id must be non-empty and use only a-z, 0-9, `-` and `_`",
                    step.id
                ));
            }
            if self.steps.contains_key(&step.id) || earlier(&step.id) {
                return bad(format!("step `{}`: the run already has it", step.id));
            }
            if let Some(need) = step
                .needs
                .iter()
                .find(|n| !self.steps.contains_key(*n) && !earlier(n))
            {
                return bad(format!("step `{}`: needs unknown step `{need}`", step.id));
            }
            if !step.weight.is_finite() || step.weight < 0.0 {
                return bad(format!(
                    "step `{}`: weight must be a finite number >= 0",
                    step.id
                ));
            }
        }
        Ok(())
    }

    /// Applies the events of a live batch that are newer than the state (a batch may overlap
    /// what a snapshot already holds); the first that does not apply (a gap) stops it, with
    /// its seq.
    pub fn apply_newer(&mut self, events: &[StoredEvent]) -> Result<(), (Seq, ApplyError)> {
        for event in events {
            if event.seq > self.seq {
                self.apply(event).map_err(|e| (event.seq, e))?;
            }
        }
        Ok(())
    }

    /// Applies one stored event. On error the state is unchanged.
    pub fn apply(&mut self, event: &StoredEvent) -> Result<(), ApplyError> {
        if event.seq != self.seq + 1 {
            return Err(ApplyError::OutOfOrder {
                expected_after: self.seq,
                got: event.seq,
            });
        }
        if self.status.is_terminal() {
            return Err(ApplyError::RunFinished(self.status));
        }
        let ts = event.ts;
        match &event.kind {
            EventKind::RunStarted { params } => {
                if self.status != Status::Pending {
                    return Err(ApplyError::RunAlreadyStarted);
                }
                self.status = Status::Running;
                self.started_at = Some(ts);
                self.params = params.clone();
            }
            EventKind::StepsAdded { steps } => {
                self.check_new_steps(steps)?;
                for step in steps {
                    let state = StepState {
                        weight: step.weight,
                        ..StepState::default()
                    };
                    self.steps.insert(step.id.clone(), state);
                }
                self.added_steps.extend(steps.iter().map(|step| GraphStep {
                    name: match step.name.trim() {
                        "" => step.id.clone(),
                        name => name.to_owned(),
                    },
                    ..step.clone()
                }));
            }
            EventKind::RunFinished { status, message } => {
                self.status = *status;
                self.message = message.clone();
                self.finished_at = Some(ts);
                self.started_at.get_or_insert(ts);
            }
            EventKind::StepStarted {
                step,
                attempt,
                max_attempts,
            } => {
                let state = self.open_step(step)?;
                let current = state.attempt();
                let retry = state.status == Status::Running;
                if retry && attempt.is_none() {
                    return Err(ApplyError::StepAlreadyStarted(step.clone()));
                }
                if attempt.is_some_and(|n| n != current + 1) {
                    return Err(ApplyError::AttemptOutOfOrder {
                        step: step.clone(),
                        current,
                    });
                }
                if retry {
                    // A new attempt starts from nothing; its warnings so far still happened.
                    state.retried_at.push(ts);
                    state.progress = 0.0;
                    state.rows = None;
                    state.message = None;
                } else {
                    state.status = Status::Running;
                    state.started_at = Some(ts);
                }
                if max_attempts.is_some() {
                    state.max_attempts = *max_attempts;
                }
                self.mark_running(ts);
            }
            EventKind::StepProgress {
                step,
                progress,
                message,
                rows,
            } => {
                let state = self.open_step(step)?;
                if state.status == Status::Pending {
                    state.status = Status::Running;
                    state.started_at = Some(ts);
                }
                if let Some(p) = progress {
                    state.progress = p.clamp(0.0, 100.0);
                }
                if message.is_some() {
                    state.message = message.clone();
                }
                if rows.is_some() {
                    state.rows = *rows;
                }
                self.mark_running(ts);
            }
            EventKind::StepWarning { step, message } => {
                let state = self.open_step(step)?;
                state.warnings.push(message.clone());
            }
            EventKind::StepFinished {
                step,
                status,
                message,
            } => {
                let state = self.open_step(step)?;
                // A step that succeeded after warnings ends as `warning` (PROTOCOL.md).
                state.status = if *status == Status::Success && !state.warnings.is_empty() {
                    Status::Warning
                } else {
                    *status
                };
                if matches!(state.status, Status::Success | Status::Warning) {
                    state.progress = 100.0;
                }
                if message.is_some() {
                    state.message = message.clone();
                }
                state.finished_at = Some(ts);
                if *status != Status::Skipped && *status != Status::Cancelled {
                    state.started_at.get_or_insert(ts);
                }
                self.mark_running(ts);
            }
        }
        self.seq = event.seq;
        self.updated_at = Some(ts);
        Ok(())
    }

    /// Folds a whole history; stops at the first event that does not apply.
    pub fn fold<'a>(
        mut self,
        events: impl IntoIterator<Item = &'a StoredEvent>,
    ) -> Result<Self, ApplyError> {
        for event in events {
            self.apply(event)?;
        }
        Ok(self)
    }

    /// A step that exists and has not finished.
    fn open_step(&mut self, step: &str) -> Result<&mut StepState, ApplyError> {
        let state = self
            .steps
            .get_mut(step)
            .ok_or_else(|| ApplyError::UnknownStep(step.to_owned()))?;
        if state.status.is_terminal() {
            return Err(ApplyError::StepFinished {
                step: step.to_owned(),
                status: state.status,
            });
        }
        Ok(state)
    }

    /// Step activity implies the run is running, even when a producer never sent `run.started`.
    fn mark_running(&mut self, ts: DateTime<Utc>) {
        if self.status == Status::Pending {
            self.status = Status::Running;
            self.started_at = Some(ts);
        }
    }

    /// Overall completion in percent, weighted by step weight: finished steps count whole,
    /// running ones by their progress.
    pub fn percent(&self) -> f64 {
        let total: f64 = self.steps.values().map(|s| s.weight).sum();
        if total <= 0.0 {
            return if self.status.is_terminal() {
                100.0
            } else {
                0.0
            };
        }
        let done: f64 = self
            .steps
            .values()
            .map(|s| {
                let fraction = if s.status.is_terminal() {
                    1.0
                } else {
                    s.progress / 100.0
                };
                s.weight * fraction
            })
            .sum();
        (done / total * 100.0).clamp(0.0, 100.0)
    }

    /// Milliseconds since the run started, up to `now` while it runs.
    pub fn elapsed_ms(&self, now: DateTime<Utc>) -> Option<i64> {
        let start = self.started_at?;
        Some(
            (self.finished_at.unwrap_or(now) - start)
                .num_milliseconds()
                .max(0),
        )
    }

    pub fn summary(&self) -> RunSummary {
        RunSummary {
            id: self.id.clone(),
            pipeline: self.pipeline.clone(),
            name: self.name.clone(),
            status: self.status,
            seq: self.seq,
            percent: self.percent(),
            created_at: self.created_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::graph::tests::graph;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn run() -> RunState {
        RunState::new(
            "r1",
            Some("p"),
            "P",
            &graph(&[("a", &[]), ("b", &["a"])]),
            at(0),
        )
    }

    fn ev(seq: Seq, secs: i64, kind: EventKind) -> StoredEvent {
        StoredEvent {
            seq,
            kind,
            id: None,
            ts: at(secs),
        }
    }

    fn progress(step: &str, p: f64) -> EventKind {
        EventKind::StepProgress {
            step: step.into(),
            progress: Some(p),
            message: Some(format!("{p}%")),
            rows: Some(10),
        }
    }

    fn finished(step: &str, status: Status) -> EventKind {
        EventKind::StepFinished {
            step: step.into(),
            status,
            message: None,
        }
    }

    #[test]
    fn a_live_batch_skips_what_the_state_has_and_stops_at_a_gap() {
        let mut state = run();
        let batch = [ev(1, 1, progress("a", 10.0)), ev(2, 2, progress("a", 20.0))];
        state.apply_newer(&batch[..1]).unwrap();
        state.apply_newer(&batch).unwrap();
        assert_eq!((state.seq, state.steps["a"].progress), (2, 20.0));
        let gap = [ev(3, 3, progress("a", 30.0)), ev(5, 5, progress("a", 50.0))];
        let (seq, error) = state.apply_newer(&gap).unwrap_err();
        assert_eq!(seq, 5);
        assert!(matches!(error, ApplyError::OutOfOrder { .. }));
        assert_eq!(state.seq, 3, "what came before the gap is applied");
    }

    #[test]
    fn folds_a_successful_run() {
        let events = [
            ev(
                1,
                1,
                EventKind::RunStarted {
                    params: BTreeMap::from([("env".into(), "prod".into())]),
                },
            ),
            ev(2, 2, EventKind::step_started("a")),
            ev(3, 3, progress("a", 50.0)),
            ev(4, 4, finished("a", Status::Success)),
            ev(5, 5, progress("b", 20.0)),
        ];
        let state = run().fold(&events).unwrap();
        assert_eq!(state.seq, 5);
        assert_eq!(state.status, Status::Running);
        assert_eq!(state.params["env"], "prod");
        assert_eq!(state.steps["a"].status, Status::Success);
        assert_eq!(state.steps["a"].progress, 100.0);
        assert_eq!(state.steps["a"].duration_ms(at(99)), Some(2_000));
        assert_eq!(
            state.steps["b"].status,
            Status::Running,
            "progress implies started"
        );
        assert_eq!(state.steps["b"].rows, Some(10));
        assert!((state.percent() - 60.0).abs() < 1e-9);
        assert_eq!(state.elapsed_ms(at(11)), Some(10_000));
    }

    #[test]
    fn warnings_turn_success_into_warning() {
        let events = [
            ev(
                1,
                1,
                EventKind::StepWarning {
                    step: "a".into(),
                    message: "disk".into(),
                },
            ),
            ev(2, 2, finished("a", Status::Success)),
        ];
        let state = run().fold(&events).unwrap();
        assert_eq!(state.steps["a"].status, Status::Warning);
        assert_eq!(state.steps["a"].warnings, ["disk"]);
    }

    fn attempt(step: &str, n: u32) -> EventKind {
        EventKind::StepStarted {
            step: step.into(),
            attempt: Some(n),
            max_attempts: Some(3),
        }
    }

    #[test]
    fn a_retry_restarts_the_step_and_counts_attempts() {
        let mut state = run()
            .fold(&[
                ev(1, 1, attempt("a", 1)),
                ev(2, 2, progress("a", 70.0)),
                ev(3, 5, attempt("a", 2)),
            ])
            .unwrap();
        let a = &state.steps["a"];
        assert_eq!((a.attempt(), a.max_attempts), (2, Some(3)));
        assert_eq!(
            (a.progress, a.rows, a.message.as_deref()),
            (0.0, None, None)
        );
        assert_eq!(
            a.started_at,
            Some(at(1)),
            "the step's start stays its first"
        );
        assert_eq!(a.retried_at, [at(5)]);
        assert_eq!(state.steps["b"].attempt(), 0);
        let before = state.clone();
        assert_eq!(
            state.apply(&ev(4, 6, EventKind::step_started("a"))),
            Err(ApplyError::StepAlreadyStarted("a".into()))
        );
        assert_eq!(
            state.apply(&ev(4, 6, attempt("a", 4))),
            Err(ApplyError::AttemptOutOfOrder {
                step: "a".into(),
                current: 2
            })
        );
        assert_eq!(
            state.apply(&ev(4, 6, attempt("b", 2))),
            Err(ApplyError::AttemptOutOfOrder {
                step: "b".into(),
                current: 0
            })
        );
        assert_eq!(state, before);
        state
            .apply(&ev(4, 7, finished("a", Status::Success)))
            .unwrap();
        assert_eq!(
            state.steps["a"].attempt(),
            2,
            "a finished step keeps its attempt"
        );
    }

    fn added(id: &str, needs: &[&str]) -> GraphStep {
        GraphStep {
            id: id.into(),
            name: String::new(),
            kind: String::new(),
            needs: needs.iter().map(|n| (*n).to_owned()).collect(),
            weight: 1.0,
        }
    }

    #[test]
    fn producers_add_steps_to_ad_hoc_runs_only_with_known_needs() {
        let steps = |list: Vec<GraphStep>| EventKind::StepsAdded { steps: list };
        let mut state = RunState {
            pipeline: None,
            ..run()
        };
        state
            .apply(&ev(
                1,
                1,
                steps(vec![added("c", &["a"]), added("d", &["c", "b"])]),
            ))
            .unwrap();
        assert_eq!(state.steps["d"].status, Status::Pending);
        assert_eq!(
            state.added_steps[1].name, "d",
            "a nameless step is named by its id"
        );
        let graph = state.graph(&Graph {
            steps: vec![added("a", &[]), added("b", &["a"])],
        });
        let ids: Vec<&str> = graph.steps.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c", "d"]);
        let before = state.clone();
        for (bad, problem) in [
            (
                vec![added("a", &[])],
                "`steps`: step `a`: the run already has it",
            ),
            (
                vec![added("e", &["zz"])],
                "`steps`: step `e`: needs unknown step `zz`",
            ),
            (
                vec![added("E!", &[])],
                "`steps`: step `E!`: id must be non-empty",
            ),
            (vec![], "`steps`: must list at least one step"),
        ] {
            let error = state.apply(&ev(2, 2, steps(bad))).unwrap_err().to_string();
            assert!(error.starts_with(problem), "{error}");
        }
        assert_eq!(state, before);
        assert_eq!(
            run().apply(&ev(1, 1, steps(vec![added("x", &[])]))),
            Err(ApplyError::PipelineRun("p".into()))
        );
    }

    #[test]
    fn illegal_transitions_are_errors_and_change_nothing() {
        let mut state = run()
            .fold(&[ev(1, 1, finished("a", Status::Failed))])
            .unwrap();
        let before = state.clone();
        assert_eq!(
            state.apply(&ev(2, 2, progress("a", 10.0))),
            Err(ApplyError::StepFinished {
                step: "a".into(),
                status: Status::Failed
            })
        );
        assert_eq!(
            state.apply(&ev(2, 2, progress("zzz", 10.0))),
            Err(ApplyError::UnknownStep("zzz".into()))
        );
        assert_eq!(
            state.apply(&ev(5, 2, progress("b", 10.0))),
            Err(ApplyError::OutOfOrder {
                expected_after: 1,
                got: 5
            })
        );
        assert_eq!(state, before);
        state
            .apply(&ev(2, 2, EventKind::step_started("b")))
            .unwrap();
        assert_eq!(
            state.apply(&ev(3, 3, EventKind::step_started("b"))),
            Err(ApplyError::StepAlreadyStarted("b".into()))
        );
        state
            .apply(&ev(
                3,
                3,
                EventKind::RunFinished {
                    status: Status::Failed,
                    message: None,
                },
            ))
            .unwrap();
        assert_eq!(
            state.apply(&ev(4, 4, progress("b", 1.0))),
            Err(ApplyError::RunFinished(Status::Failed))
        );
        assert_eq!(
            state.apply(&ev(
                4,
                4,
                EventKind::RunStarted {
                    params: BTreeMap::new()
                }
            )),
            Err(ApplyError::RunFinished(Status::Failed))
        );
    }

    #[test]
    fn folding_is_the_same_in_one_go_or_event_by_event() {
        let events: Vec<StoredEvent> = (1..=40)
            .map(|seq| {
                let step = if seq <= 20 { "a" } else { "b" };
                match seq {
                    20 => ev(seq, seq as i64, finished("a", Status::Success)),
                    40 => ev(seq, seq as i64, finished("b", Status::Success)),
                    _ => ev(seq, seq as i64, progress(step, (seq % 20) as f64 * 5.0)),
                }
            })
            .collect();
        let whole = run().fold(&events).unwrap();
        let mut incremental = run();
        for chunk in events.chunks(7) {
            incremental = incremental.fold(chunk).unwrap();
            // A snapshot taken mid-way and serialised (as sent to a browser) resumes identically.
            incremental =
                serde_json::from_str(&serde_json::to_string(&incremental).unwrap()).unwrap();
        }
        assert_eq!(whole, incremental);
        assert_eq!(whole.percent(), 100.0);
    }

    mod pieces {
        use super::*;
        use proptest::prelude::*;

        /// A random step event for the steps of [`run`].
        fn kind() -> impl Strategy<Value = EventKind> {
            let step = prop::sample::select(vec!["a", "b"]).prop_map(str::to_owned);
            let status = prop::sample::select(Status::ALL.to_vec());
            prop_oneof![
                step.clone().prop_map(EventKind::step_started),
                (step.clone(), 0.0..=100.0f64, any::<Option<u16>>()).prop_map(|(step, p, rows)| {
                    EventKind::StepProgress {
                        step,
                        progress: Some(p),
                        message: Some(format!("{p:.0}")),
                        rows: rows.map(u64::from),
                    }
                }),
                step.clone().prop_map(|step| EventKind::StepWarning {
                    step,
                    message: "w".into()
                }),
                (step, status).prop_map(|(step, status)| EventKind::StepFinished {
                    step,
                    status,
                    message: None
                }),
                Just(EventKind::RunStarted {
                    params: BTreeMap::new()
                }),
            ]
        }

        /// The stored history such kinds make: those the reducer accepts, numbered gaplessly.
        fn history(kinds: Vec<EventKind>) -> Vec<StoredEvent> {
            let mut state = run();
            let mut events = Vec::new();
            for (i, kind) in kinds.into_iter().enumerate() {
                let event = ev(state.seq + 1, i as i64, kind);
                if state.apply(&event).is_ok() {
                    events.push(event);
                }
            }
            events
        }

        proptest! {
            /// What a client assembles from a snapshot, a catch-up replay and live batches that
            /// overlap (duplicates are skipped by seq) is what the server folds in one go.
            #[test]
            fn snapshot_catch_up_and_live_pieces_fold_to_the_same_state(
                kinds in prop::collection::vec(kind(), 0..60),
                cut_a in 0.0..=1.0f64,
                cut_b in 0.0..=1.0f64,
                overlap in 0usize..5,
                batch in 1usize..7,
            ) {
                let events = history(kinds);
                let whole = run().fold(&events).unwrap();
                let n = events.len();
                let (a, b) = {
                    let (x, y) = ((cut_a * n as f64) as usize, (cut_b * n as f64) as usize);
                    (x.min(y), x.max(y))
                };
                // The snapshot, as the wire carries it.
                let snapshot = run().fold(&events[..a]).unwrap();
                let mut client: RunState =
                    serde_json::from_str(&serde_json::to_string(&snapshot).unwrap()).unwrap();
                client = client.fold(&events[a..b]).unwrap();
                // Live batches start a little before the catch-up ended.
                for chunk in events[b.saturating_sub(overlap)..].chunks(batch) {
                    for event in chunk {
                        if event.seq > client.seq {
                            client.apply(event).unwrap();
                        }
                    }
                }
                prop_assert_eq!(client, whole);
            }
        }
    }
}
