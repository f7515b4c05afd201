//! A dry run on the pipeline page: the plan drawn on the graph (each node says its wave, or that
//! it would be skipped) and spelled out beside it, wave by wave, with the reasons.

use crate::domain::{Plan, PlannedAction, RunState, Status};
use leptos::prelude::*;
use std::collections::BTreeMap;

/// The query key that asks the pipeline page for a dry run, and the prefix of its parameters
/// (`?plan=1&params[environment]=production`, what the start form submits by GET).
pub const PLAN_KEY: &str = "plan";

/// The run parameters in a dry run's query.
pub fn query_params<'a>(
    query: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> BTreeMap<String, String> {
    query
        .into_iter()
        .filter_map(|(key, value)| {
            let name = key.strip_prefix("params[")?.strip_suffix(']')?;
            Some((name.to_owned(), value.to_owned()))
        })
        .collect()
}

/// The graph's states as the plan sees them: every step pending with its wave as its message,
/// skipped ones `skipped`.
pub fn preview(plan: &Plan, idle: &RunState) -> RunState {
    let mut state = idle.clone();
    for planned in &plan.steps {
        let Some(step) = state.steps.get_mut(&planned.id) else {
            continue;
        };
        let (status, message) = match (planned.action, planned.wave) {
            (PlannedAction::Skip, _) => (Status::Skipped, "would be skipped".to_owned()),
            (PlannedAction::OnFailure, _) => (Status::Pending, "only on failure".to_owned()),
            (PlannedAction::Wait, Some(wave)) => {
                (Status::Pending, format!("wave {wave} · external"))
            }
            (_, wave) => (
                Status::Pending,
                format!("wave {}", wave.unwrap_or_default()),
            ),
        };
        step.status = status;
        step.message = Some(message);
    }
    state
}

/// The plan in words: parameters, waves in order, skipped steps with their reasons, rollback.
#[component]
pub fn PlanSummary(plan: Plan, names: BTreeMap<String, String>, close: String) -> impl IntoView {
    let name = move |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_owned());
    let params = plan
        .params
        .iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let waves = plan
        .waves
        .iter()
        .enumerate()
        .map(|(i, ids)| {
            let steps = ids.iter().map(|id| name(id)).collect::<Vec<_>>().join(", ");
            view! { <li><strong>{format!("Wave {}", i + 1)}</strong>" "{steps}</li> }
        })
        .collect_view();
    let others = plan
        .steps
        .iter()
        .filter(|s| matches!(s.action, PlannedAction::Skip | PlannedAction::OnFailure))
        .map(|s| {
            let label = if s.action == PlannedAction::Skip { "Skipped" } else { "On failure" };
            let reason = s.reason.as_deref().unwrap_or_default();
            let reason = reason.strip_prefix("skipped: ").unwrap_or(reason).to_owned();
            view! { <li data-step=s.id.clone()><strong>{label}</strong>" "{name(&s.id)}" — "{reason}</li> }
        })
        .collect_view();
    let heading = if params.is_empty() {
        "Dry run: nothing was executed".to_owned()
    } else {
        format!("Dry run with {params}: nothing was executed")
    };
    view! {
        <section class="plan" aria-label="Execution plan">
            <div class="plan-head">
                <h2>{heading}</h2>
                <a class="button" href=close>"Close dry run"</a>
            </div>
            <p class="muted">{format!(
                "{} waves; a wave's steps may run side by side, at most {} at once.",
                plan.waves.len(),
                plan.max_parallel
            )}</p>
            <ol class="plan-waves">{waves}</ol>
            <ul class="plan-others">{others}</ul>
        </section>
    }
}
