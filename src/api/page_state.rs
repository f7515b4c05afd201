//! A run's state as its page carries it to the browser: as the protocol writes it, except that
//! each step is written with only what differs from a step that has not started. Most steps of
//! a big run have not: a 2,000-step run's state was 270 KB of the page, nine tenths of it
//! `"status":"pending","progress":0.0,"message":null,…`, all read by the browser before it
//! could draw. The API and the live stream keep the protocol's full form.

use crate::domain::{RunState, Status, StepState};
use chrono::{DateTime, Utc};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

/// A run's state, its steps written sparse.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PageState {
    /// Everything but the steps (its `steps` is empty).
    run: RunState,
    steps: BTreeMap<String, Sparse>,
}

impl From<RunState> for PageState {
    fn from(mut run: RunState) -> Self {
        let steps = std::mem::take(&mut run.steps);
        PageState {
            run,
            steps: steps.into_iter().map(|(id, s)| (id, Sparse(s))).collect(),
        }
    }
}

impl From<PageState> for RunState {
    fn from(page: PageState) -> Self {
        RunState {
            steps: page.steps.into_iter().map(|(id, s)| (id, s.0)).collect(),
            ..page.run
        }
    }
}

/// A step written as what differs from [`Blank`].
#[derive(Clone, Debug, PartialEq)]
struct Sparse(StepState);

/// A step that has not started, as the page reads an absent field: pending, at 0 %, nothing
/// reported, weighing 1 (a graph step's default weight).
#[derive(Deserialize)]
#[serde(default)]
struct Blank {
    status: Status,
    progress: f64,
    message: Option<String>,
    rows: Option<u64>,
    warnings: Vec<String>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    weight: f64,
    retried_at: Vec<DateTime<Utc>>,
    max_attempts: Option<u32>,
}

impl Default for Blank {
    fn default() -> Self {
        Blank {
            status: Status::Pending,
            progress: 0.0,
            message: None,
            rows: None,
            warnings: Vec::new(),
            started_at: None,
            finished_at: None,
            weight: 1.0,
            retried_at: Vec::new(),
            max_attempts: None,
        }
    }
}

impl Serialize for Sparse {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Every field by name: a field added to `StepState` does not compile until it is
        // written here (and read in `Blank`).
        let StepState {
            status,
            progress,
            message,
            rows,
            warnings,
            started_at,
            finished_at,
            weight,
            retried_at,
            max_attempts,
        } = &self.0;
        let mut map = serializer.serialize_map(None)?;
        if *status != Status::Pending {
            map.serialize_entry("status", status)?;
        }
        if *progress != 0.0 {
            map.serialize_entry("progress", progress)?;
        }
        if message.is_some() {
            map.serialize_entry("message", message)?;
        }
        if rows.is_some() {
            map.serialize_entry("rows", rows)?;
        }
        if !warnings.is_empty() {
            map.serialize_entry("warnings", warnings)?;
        }
        if started_at.is_some() {
            map.serialize_entry("started_at", started_at)?;
        }
        if finished_at.is_some() {
            map.serialize_entry("finished_at", finished_at)?;
        }
        if *weight != 1.0 {
            map.serialize_entry("weight", weight)?;
        }
        if !retried_at.is_empty() {
            map.serialize_entry("retried_at", retried_at)?;
        }
        if max_attempts.is_some() {
            map.serialize_entry("max_attempts", max_attempts)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Sparse {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let b = Blank::deserialize(deserializer)?;
        Ok(Sparse(StepState {
            status: b.status,
            progress: b.progress,
            message: b.message,
            rows: b.rows,
            warnings: b.warnings,
            started_at: b.started_at,
            finished_at: b.finished_at,
            weight: b.weight,
            retried_at: b.retried_at,
            max_attempts: b.max_attempts,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Graph;
    use crate::domain::GraphStep;

    fn run(steps: &[(&str, StepState)]) -> RunState {
        let graph = Graph {
            steps: steps
                .iter()
                .map(|(id, _)| GraphStep {
                    id: (*id).into(),
                    name: String::new(),
                    kind: String::new(),
                    needs: Vec::new(),
                    weight: 1.0,
                })
                .collect(),
        };
        let mut state = RunState::new("r1", None, "nightly", &graph, Utc::now());
        for (id, step) in steps {
            state.steps.insert((*id).into(), step.clone());
        }
        state
    }

    fn round_trip(state: &RunState) -> (String, RunState) {
        let json = serde_json::to_string(&PageState::from(state.clone())).unwrap();
        let back: PageState = serde_json::from_str(&json).unwrap();
        (json, back.into())
    }

    #[test]
    fn a_step_that_has_not_started_is_written_empty_and_read_back_the_same() {
        let blank = StepState {
            weight: 1.0,
            ..StepState::default()
        };
        let state = run(&[("extract", blank)]);
        let (json, back) = round_trip(&state);
        assert!(json.contains(r#""steps":{"extract":{}}"#), "{json}");
        assert_eq!(back, state);
    }

    #[test]
    fn every_field_that_differs_survives_the_round_trip() {
        let at = |s: i64| DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap();
        let full = StepState {
            status: Status::Warning,
            progress: 42.5,
            message: Some("half way".into()),
            rows: Some(1_200),
            warnings: vec!["slow disk".into()],
            started_at: Some(at(0)),
            finished_at: Some(at(90)),
            weight: 2.5,
            retried_at: vec![at(30)],
            max_attempts: Some(3),
        };
        let light = StepState {
            weight: 0.0,
            ..StepState::default()
        };
        let state = run(&[("load", full), ("zero", light)]);
        let (json, back) = round_trip(&state);
        assert_eq!(back, state);
        assert!(json.contains(r#""zero":{"weight":0.0}"#), "{json}");
    }

    #[test]
    fn the_page_form_is_much_smaller_for_a_run_that_has_just_started() {
        let blank = StepState {
            weight: 1.0,
            ..StepState::default()
        };
        let ids: Vec<String> = (0..500).map(|i| format!("step-{i}")).collect();
        let steps: Vec<(&str, StepState)> =
            ids.iter().map(|id| (id.as_str(), blank.clone())).collect();
        let state = run(&steps);
        let full = serde_json::to_string(&state).unwrap().len();
        let (sparse, _) = round_trip(&state);
        assert!(sparse.len() * 4 < full, "{} vs {full}", sparse.len());
    }
}
