//! The board's live connection: it follows the `runs` topic (to learn of new deployments) and
//! each unfinished run on the board (a snapshot, then its events folded with the run page's
//! reducer), so every change arrives by push. After any (re)connection it re-reads the board,
//! so runs that started, or even ended, while it was away appear too.

use super::Row;
use crate::api::functions::load_board;
use crate::api::{BoardPipeline, ClientOp, ServerFrame, BOARD_ROWS};
use crate::domain::{RunState, StoredEvent};
use crate::ui::live::{follow_stream, Outbox};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;

struct Follower {
    rows: RwSignal<Vec<Row>>,
    /// The connection follows the run list (so what the board shows is current).
    live: RwSignal<bool>,
    pipelines: Arc<HashMap<String, BoardPipeline>>,
    /// Runs subscribed to whose snapshot has not arrived yet.
    asked: RefCell<HashSet<String>>,
    /// A connection began since the last catch-up: runs may have come and gone meanwhile
    /// (before the first one: between the page's render and its subscription).
    unsure: Cell<bool>,
    /// The board's owner: rows added later belong to it and go with it.
    owner: Owner,
}

pub(super) fn follow(
    rows: RwSignal<Vec<Row>>,
    live: RwSignal<bool>,
    pipelines: Arc<HashMap<String, BoardPipeline>>,
) {
    let follower = Rc::new(Follower {
        rows,
        live,
        pipelines,
        asked: RefCell::default(),
        unsure: Cell::new(true),
        owner: Owner::current().unwrap_or_default(),
    });
    let (opening, on_drop) = (Rc::clone(&follower), Rc::clone(&follower));
    follow_stream(
        move || opening.opening(),
        move |frame, outbox| follower.on_frame(frame, outbox),
        move || {
            on_drop.unsure.set(true);
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
        if self.rows.is_disposed() {
            return false;
        }
        match frame {
            ServerFrame::Run { run } => {
                self.consider(&run.id, run.pipeline.as_deref(), run.created_at, outbox)
            }
            ServerFrame::Runs { runs } => {
                for run in runs {
                    self.consider(&run.id, run.pipeline.as_deref(), run.created_at, outbox);
                }
            }
            ServerFrame::Snapshot { state, .. } => self.place(*state, outbox),
            ServerFrame::Events { run, events } => self.apply(&run, &events, outbox),
            ServerFrame::Subscribed {
                topic: Some(topic), ..
            } if topic == "runs" => {
                self.live.set(true);
                if self.unsure.replace(false) {
                    self.catch_up(outbox);
                }
            }
            _ => {}
        }
        true
    }

    /// A run-list change: a run of a board pipeline that belongs on the board (newer than its
    /// last row, when it is full) and is not on it yet is subscribed to; its snapshot adds the
    /// row.
    fn consider(
        &self,
        run: &str,
        pipeline: Option<&str>,
        created_at: DateTime<Utc>,
        outbox: &Outbox,
    ) {
        if self.rows.is_disposed() || !pipeline.is_some_and(|p| self.pipelines.contains_key(p)) {
            return;
        }
        let (known, room) = self.rows.with_untracked(|rows| {
            let known = rows.iter().any(|r| r.id == run);
            let room =
                rows.len() < BOARD_ROWS || rows.last().is_some_and(|r| r.created_at < created_at);
            (known, room)
        });
        if known || !room || self.asked.borrow().contains(run) {
            return;
        }
        // Only asked once the ask is on its way (a connection that has ended takes nothing).
        if outbox
            .unbounded_send(ClientOp::follow_run(run, None))
            .is_ok()
        {
            self.asked.borrow_mut().insert(run.to_owned());
        }
    }

    /// A snapshot replaces a row's state or adds the row in its place (newest first); a row
    /// pushed off the board is no longer followed, and its state is let go.
    fn place(&self, state: RunState, outbox: &Outbox) {
        self.asked.borrow_mut().remove(&state.id);
        let existing = self
            .rows
            .with_untracked(|rows| rows.iter().find(|r| r.id == state.id).map(|r| r.state));
        if let Some(signal) = existing {
            signal.set(state);
            return;
        }
        let mut dropped = None;
        self.rows.update(|rows| {
            let row = self.owner.with(|| Row::new(state));
            let at = rows
                .iter()
                .position(|r| r.created_at < row.created_at)
                .unwrap_or(rows.len());
            rows.insert(at, row);
            if rows.len() > BOARD_ROWS {
                dropped = rows.pop();
            }
        });
        if let Some(row) = dropped {
            let _ = outbox.unbounded_send(ClientOp::unfollow_run(&row.id));
            row.state.dispose();
        }
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
        signal.update(|state| gap = state.apply_newer(events).is_err());
        if gap {
            let _ = outbox.unbounded_send(ClientOp::follow_run(run, None));
        }
    }

    /// The runs that started (or even ended) while the board was not following the list.
    fn catch_up(self: &Rc<Self>, outbox: &Outbox) {
        let (this, outbox) = (Rc::clone(self), outbox.clone());
        leptos::task::spawn_local(async move {
            if let Ok(board) = load_board().await {
                for run in board.runs {
                    this.consider(&run.id, run.pipeline.as_deref(), run.created_at, &outbox);
                }
            }
        });
    }
}
