//! The deployments board: one row per recent run of a deployment pipeline, newest first, each
//! with its stage timeline and how long it has run. One connection follows the `runs` topic
//! (to learn of new runs) and each unfinished run on the board (snapshot, then events folded
//! with the run page's reducer), so every change arrives by push.

use crate::api::functions::load_board;
use crate::api::{BoardPipeline, BoardView, ClientOp, ServerFrame, BOARD_ROWS};
use crate::domain::{RunState, Status, StoredEvent};
use crate::ui::format;
use crate::ui::live::{follow_stream, use_clock, Outbox};
use crate::ui::stage_timeline::StageTimeline;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;

/// One row: a run and its live state.
#[derive(Clone)]
struct Row {
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
    follow(rows, live, Arc::clone(&pipelines));
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
    let (id, params) = state.with_untracked(|s| (s.id.clone(), s.params.clone()));
    let status = Memo::new(move |_| state.with(|s| s.status));
    let params = params
        .into_iter()
        .map(|(k, v)| view! { <span class="board-param">{k}": "<b>{v}</b></span> })
        .collect_view();
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

/// What the board's connection does with each frame.
struct Follower {
    rows: RwSignal<Vec<Row>>,
    /// The connection follows the run list (so what the board shows is current).
    live: RwSignal<bool>,
    pipelines: Arc<HashMap<String, BoardPipeline>>,
    /// Runs subscribed to whose snapshot has not arrived yet.
    asked: RefCell<HashSet<String>>,
    /// A connection ended since the last `runs` subscription: runs may have come and gone.
    reconnected: Cell<bool>,
    /// The board's owner: rows added later belong to it and go with it.
    owner: Owner,
}

fn follow(
    rows: RwSignal<Vec<Row>>,
    live: RwSignal<bool>,
    pipelines: Arc<HashMap<String, BoardPipeline>>,
) {
    let follower = Rc::new(Follower {
        rows,
        live,
        pipelines,
        asked: RefCell::default(),
        reconnected: Cell::new(false),
        owner: Owner::current().unwrap_or_default(),
    });
    let (opening, on_drop) = (Rc::clone(&follower), Rc::clone(&follower));
    follow_stream(
        move || opening.opening(),
        move |frame, outbox| follower.on_frame(frame, outbox),
        move || {
            on_drop.reconnected.set(true);
            on_drop.asked.borrow_mut().clear();
            on_drop.live.try_set(false).is_none()
        },
    );
}

impl Follower {
    /// The run list, and every unfinished run on the board afresh (a snapshot each).
    fn opening(&self) -> Vec<ClientOp> {
        let mut ops = vec![ClientOp::follow_topic("runs")];
        self.rows.with_untracked(|rows| {
            for row in rows {
                if !row.state.with_untracked(|s| s.status.is_terminal()) {
                    ops.push(ClientOp::follow_run(&row.id, None));
                }
            }
        });
        ops
    }

    /// False once the board is gone.
    fn on_frame(self: &Rc<Self>, frame: ServerFrame, outbox: &Outbox) -> bool {
        match frame {
            ServerFrame::Run { run } => self.consider(&run.id, run.pipeline.as_deref(), outbox),
            ServerFrame::Runs { runs } => {
                for run in runs {
                    self.consider(&run.id, run.pipeline.as_deref(), outbox);
                }
            }
            ServerFrame::Snapshot { state, .. } => return self.place(*state, outbox),
            ServerFrame::Events { run, events } => self.apply(&run, &events, outbox),
            ServerFrame::Subscribed {
                topic: Some(topic), ..
            } if topic == "runs" => {
                self.live.set(true);
                if self.reconnected.replace(false) {
                    self.catch_up(outbox);
                }
            }
            _ => {}
        }
        !self.rows.is_disposed()
    }

    /// A run-list change: a run of a board pipeline not on the board yet is subscribed to (its
    /// snapshot adds the row).
    fn consider(&self, run: &str, pipeline: Option<&str>, outbox: &Outbox) {
        let on_board = pipeline.is_some_and(|p| self.pipelines.contains_key(p));
        let known = self
            .rows
            .with_untracked(|rows| rows.iter().any(|r| r.id == run));
        if on_board && !known && self.asked.borrow_mut().insert(run.to_owned()) {
            let _ = outbox.unbounded_send(ClientOp::follow_run(run, None));
        }
    }

    /// A snapshot replaces a row's state or adds the row in its place (newest first); a row
    /// pushed off the board is no longer followed.
    fn place(&self, state: RunState, outbox: &Outbox) -> bool {
        self.asked.borrow_mut().remove(&state.id);
        let existing = self
            .rows
            .with_untracked(|rows| rows.iter().find(|r| r.id == state.id).map(|r| r.state));
        if let Some(signal) = existing {
            return signal.try_set(state).is_none();
        }
        let mut dropped = None;
        let alive = self
            .rows
            .try_update(|rows| {
                let row = self.owner.with(|| Row::new(state));
                let at = rows
                    .iter()
                    .position(|r| r.created_at < row.created_at)
                    .unwrap_or(rows.len());
                rows.insert(at, row);
                if rows.len() > BOARD_ROWS {
                    dropped = rows.pop().map(|r| r.id);
                }
            })
            .is_some();
        if let Some(run) = dropped {
            let _ = outbox.unbounded_send(ClientOp::unfollow_run(&run));
        }
        alive
    }

    /// Live events of a row's run; a gap asks for a fresh snapshot rather than show a guess.
    fn apply(&self, run: &str, events: &[StoredEvent], outbox: &Outbox) {
        let Some(signal) = self
            .rows
            .with_untracked(|rows| rows.iter().find(|r| r.id == run).map(|r| r.state))
        else {
            return;
        };
        let mut gap = false;
        signal.update(|state| {
            let applied = state.seq;
            for event in events.iter().filter(|e| e.seq > applied) {
                if state.apply(event).is_err() {
                    gap = true;
                    break;
                }
            }
        });
        if gap {
            let _ = outbox.unbounded_send(ClientOp::follow_run(run, None));
        }
    }

    /// After a reconnection: the runs that started (or even ended) meanwhile.
    fn catch_up(self: &Rc<Self>, outbox: &Outbox) {
        let (this, outbox) = (Rc::clone(self), outbox.clone());
        leptos::task::spawn_local(async move {
            if let Ok(board) = load_board().await {
                for run in board.runs {
                    this.consider(&run.id, run.pipeline.as_deref(), &outbox);
                }
            }
        });
    }
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
