//! The deployments board: one row per recent run of a deployment pipeline, newest first, each
//! with its stage timeline and how long it has run, changing live ([`follower`]).

mod follower;

use crate::api::{BoardPipeline, BoardView};
use crate::domain::{RunState, Status};
use crate::ui::format;
use crate::ui::live::use_clock;
use crate::ui::stage_timeline::StageTimeline;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

/// One row: a run and its live state.
#[derive(Clone)]
pub(super) struct Row {
    id: String,
    created_at: DateTime<Utc>,
    state: RwSignal<RunState>,
}

impl Row {
    fn new(state: RunState) -> Row {
        Row {
            id: state.id.clone(),
            created_at: state.created_at,
            state: RwSignal::new(state),
        }
    }
}

#[component]
pub fn Board(view: BoardView) -> impl IntoView {
    let BoardView {
        pipelines,
        runs,
        now,
    } = view;
    let pipelines: Arc<HashMap<String, BoardPipeline>> =
        Arc::new(pipelines.into_iter().map(|p| (p.id.clone(), p)).collect());
    let rows = RwSignal::new(runs.into_iter().map(Row::new).collect::<Vec<_>>());
    let clock = use_clock(now);
    let live = RwSignal::new(false);
    follower::follow(rows, live, Arc::clone(&pipelines));
    let none_on_board = pipelines.is_empty();
    let empty = move || rows.with(Vec::is_empty);
    let state = move || if live.get() { "live" } else { "reconnecting" };
    let running = move || {
        rows.with(|rows| {
            rows.iter()
                .filter(|r| !r.state.with(|s| s.status.is_terminal()))
                .count()
        })
    };
    view! {
        <div class="board-bar">
            <span class="board-count">{move || format!("{} shown · {} in progress", rows.with(Vec::len), running())}</span>
            <span class="conn js-only" data-state=state role="status" title="The board's live connection: what you see is current while it says Live">
                <span class="conn-dot" aria-hidden="true"></span>
                {move || if live.get() { "Live" } else { "Connecting…" }}
            </span>
        </div>
        {none_on_board.then(|| view! {
            <p class="muted board-hint">
                "No pipeline is a deployment yet: add " <code>"kind = \"deployment\""</code>
                " to a pipeline file to show its runs here."
            </p>
        })}
        {move || (empty() && !none_on_board).then(|| view! {
            <p class="muted">"No deployments yet. Runs of these pipelines appear here as they start."</p>
        })}
        <ol class="board" aria-label="Deployments" data-live=move || live.get().to_string()>
            <For
                each=move || rows.get()
                key=|row| row.id.clone()
                children=move |row: Row| {
                    let pipeline = row.state.with_untracked(|s| s.pipeline.clone()).and_then(|p| pipelines.get(&p).cloned());
                    pipeline.map(|pipeline| view! { <BoardRow pipeline state=row.state clock/> })
                }
            />
        </ol>
    }
}

#[component]
fn BoardRow(
    pipeline: BoardPipeline,
    state: RwSignal<RunState>,
    clock: Signal<DateTime<Utc>>,
) -> impl IntoView {
    let id = state.with_untracked(|s| s.id.clone());
    let status = Memo::new(move |_| state.with(|s| s.status));
    // A run's parameters arrive with its start: a row added while it queues shows them then.
    let params = Memo::new(move |_| state.with(|s| s.params.clone()));
    let params = move || {
        params
            .get()
            .into_iter()
            .map(|(k, v)| view! { <span class="board-param">{k}": "<b>{v}</b></span> })
            .collect_view()
    };
    let time = move || state.with(|s| time_text(s, clock.get()));
    view! {
        <li class="board-row" data-run=id.clone() data-status=move || status.get().as_str()>
            <div class="board-head">
                <span class="badge" data-status=move || status.get().as_str()>{move || status.get().as_str()}</span>
                <a class="board-name" href=format!("/runs/{id}")>{pipeline.name.clone()}</a>
                <span class="board-id">{id.clone()}</span>
                {params}
                <span class="board-time">{time}</span>
            </div>
            <StageTimeline stages=pipeline.stages state/>
        </li>
    }
}

/// "Running for 2m 34s", "Succeeded in 3m 02s", "Failed after 41.0s", "Waiting to start".
fn time_text(run: &RunState, now: DateTime<Utc>) -> String {
    let Some(start) = run.started_at else {
        return "Waiting to start".to_owned();
    };
    let took = |end: DateTime<Utc>| format::duration((end - start).num_milliseconds());
    match (run.status, run.finished_at) {
        (Status::Success, Some(end)) => format!("Succeeded in {}", took(end)),
        (Status::Warning, Some(end)) => format!("Succeeded with warnings in {}", took(end)),
        (status, Some(end)) => format!("{} after {}", capitalised(status.as_str()), took(end)),
        (_, None) => format!("Running for {}", took(now)),
    }
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_time_says_how_long_in_words() {
        let at = |s| Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, s).unwrap();
        let mut run = RunState::new("r", Some("d"), "d", &Default::default(), at(0));
        assert_eq!(time_text(&run, at(5)), "Waiting to start");
        run.started_at = Some(at(1));
        run.status = Status::Running;
        assert_eq!(time_text(&run, at(31)), "Running for 30.0s");
        run.finished_at = Some(at(11));
        run.status = Status::Failed;
        assert_eq!(time_text(&run, at(59)), "Failed after 10.0s");
        run.status = Status::Success;
        assert_eq!(time_text(&run, at(59)), "Succeeded in 10.0s");
    }
}
