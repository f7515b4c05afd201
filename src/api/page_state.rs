//! A run's state as its page carries it to the browser: the steps that have not started (most
//! of a big run's) as just their weights, the others in the protocol's form. A 2,000-step
//! run's state was 270 KB of the page, nine tenths of it
//! `"status":"pending","progress":0.0,"message":null,…`, all read by the browser before it
//! could draw. The API and the live stream keep the protocol's full form.

use crate::domain::{RunState, StepState};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A run's state, its waiting steps written short.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PageState {
    /// Everything but the steps (its `steps` is empty).
    run: RunState,
    /// Steps that have not started (pending, nothing reported): their weights.
    waiting: BTreeMap<String, f64>,
    /// The other steps.
    steps: BTreeMap<String, StepState>,
}

/// Whether `step` is as every step starts: pending, nothing reported.
fn waiting(step: &StepState) -> bool {
    *step
        == StepState {
            weight: step.weight,
            ..StepState::default()
        }
}

impl From<RunState> for PageState {
    fn from(mut run: RunState) -> Self {
        let (waiting, steps): (BTreeMap<_, _>, BTreeMap<_, _>) = std::mem::take(&mut run.steps)
            .into_iter()
            .partition(|(_, step)| waiting(step));
        PageState {
            run,
            waiting: waiting.into_iter().map(|(id, s)| (id, s.weight)).collect(),
            steps,
        }
    }
}

impl From<PageState> for RunState {
    fn from(page: PageState) -> Self {
        let mut steps = page.steps;
        steps.extend(page.waiting.into_iter().map(|(id, weight)| {
            let step = StepState {
                weight,
                ..StepState::default()
            };
            (id, step)
        }));
        RunState { steps, ..page.run }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Graph, GraphStep, Status};
    use chrono::{DateTime, Utc};

    fn run(steps: &[(&str, StepState)]) -> RunState {
        let graph = Graph {
            steps: steps
                .iter()
                .map(|(id, _)| GraphStep::bare(id, &[]))
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
    fn a_step_that_has_not_started_is_written_as_its_weight_and_read_back_the_same() {
        let blank = StepState {
            weight: 2.5,
            ..StepState::default()
        };
        let state = run(&[("extract", blank)]);
        let (json, back) = round_trip(&state);
        assert!(json.contains(r#""waiting":{"extract":2.5}"#), "{json}");
        assert!(json.contains(r#""steps":{}"#), "{json}");
        assert_eq!(back, state);
    }

    #[test]
    fn a_step_that_moved_at_all_keeps_every_field() {
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
        // Still pending, but with a message: not as it started.
        let told = StepState {
            message: Some("queued".into()),
            weight: 1.0,
            ..StepState::default()
        };
        let state = run(&[("load", full), ("wait", told)]);
        let (json, back) = round_trip(&state);
        assert_eq!(back, state);
        assert!(json.contains(r#""waiting":{}"#), "{json}");
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
        let (short, _) = round_trip(&state);
        assert!(short.len() * 4 < full, "{} vs {full}", short.len());
    }
}
