//! One signal per step. A run's events change a few steps at a time; with a signal each, an
//! update re-renders only those steps' nodes, edges and markers, never the whole graph (which
//! a single run-state signal read by every node did: thousands of memos per event).

use crate::domain::fan_out::{summarize, FanOut};
use crate::domain::{RunState, StepState};
use leptos::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

/// Each step's signal, and the read-only handle to it that views take (made once: turning a
/// signal into a `Signal` allocates, and a big graph's minimap, drawing and timeline each asked
/// for thousands).
#[derive(Clone, Copy)]
pub struct StepSignals(StoredValue<HashMap<String, StepSignal>>);

/// A step's signal and its read-only handle.
type StepSignal = (RwSignal<StepState>, Signal<StepState>);

impl StepSignals {
    /// Signals for `ids`, set from `state` (a step it lacks starts as the default, pending).
    pub fn new<'a>(ids: impl IntoIterator<Item = &'a str>, state: &RunState) -> StepSignals {
        let signals = ids
            .into_iter()
            .map(|id| {
                let step = RwSignal::new(state.steps.get(id).cloned().unwrap_or_default());
                (id.to_owned(), (step, step.into()))
            })
            .collect();
        StepSignals(StoredValue::new(signals))
    }

    /// The step's signal (a constant default for an unknown id).
    pub fn get(&self, id: &str) -> Signal<StepState> {
        self.0
            .with_value(|map| map.get(id).map(|(_, read)| *read))
            .unwrap_or_else(|| Signal::stored(StepState::default()))
    }

    /// Copies the given steps' states from `state` into their signals, notifying only where
    /// something changed. (The browser's live client calls it.)
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    pub fn sync<'a>(&self, state: &RunState, ids: impl IntoIterator<Item = &'a str>) {
        let _ = self.0.try_with_value(|map| {
            for id in ids {
                let (Some((signal, _)), Some(step)) = (map.get(id), state.steps.get(id)) else {
                    continue;
                };
                let changed = signal
                    .try_with_untracked(|old| old != step)
                    .unwrap_or(false);
                if changed {
                    signal.set(step.clone());
                }
            }
        });
    }

    /// Copies every step (after a snapshot replaced the state).
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    pub fn sync_all(&self, state: &RunState) {
        self.sync(state, state.steps.keys().map(String::as_str));
    }
}

/// What each node of a drawing shows: its step's signal, or for a wide fan-out drawn as one
/// node, the summary of its members' signals (recomputed once per change of any of them).
#[derive(Clone)]
pub struct NodeStates {
    steps: StepSignals,
    fan_outs: Arc<HashMap<String, Signal<StepState>>>,
}

impl NodeStates {
    pub fn new(steps: StepSignals, fan_outs: &[FanOut]) -> NodeStates {
        let fan_outs = fan_outs
            .iter()
            .map(|fan_out| {
                let members: Vec<Signal<StepState>> =
                    fan_out.members.iter().map(|id| steps.get(id)).collect();
                let summary = Memo::new(move |_| {
                    let states: Vec<StepState> = members.iter().map(|s| s.get()).collect();
                    summarize(&states)
                });
                (fan_out.id.clone(), summary.into())
            })
            .collect();
        NodeStates {
            steps,
            fan_outs: Arc::new(fan_outs),
        }
    }

    /// The state of the node `id` (a step or a fan-out).
    pub fn of(&self, id: &str) -> Signal<StepState> {
        match self.fan_outs.get(id) {
            Some(summary) => *summary,
            None => self.steps.get(id),
        }
    }
}
