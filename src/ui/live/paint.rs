//! Coalesced painting. Events are applied to the run's state as they arrive (cheap), but the
//! page is repainted at most once per animation frame, with only the latest state of each step
//! that changed since the last frame. A frame paints as many changed steps as fit its budget
//! (measured as it goes: the browser's own work after ours grows with it), oldest change
//! first; the rest follow in the next frames, so a burst spreads over a few smooth frames
//! instead of one long one. Should the page still lag (a slow machine, a huge graph), the
//! indicator says "Catching up" instead of "Live" until it no longer does.

use crate::domain::RunState;
use crate::ui::conn::Conn;
use crate::ui::graph::StepSignals;
use leptos::prelude::*;
use std::cell::{Cell, RefCell};
use std::collections::{HashSet, VecDeque};
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

/// Changes waiting longer than this to be painted mean the page is not live.
const BEHIND_MS: f64 = 500.0;
/// How soon after a late frame the indicator is checked again.
const RECHECK_MS: i32 = 300;
/// The frame time painting aims for (60 frames a second leave 16.7 ms).
const TARGET_FRAME_MS: f64 = 12.0;
/// Steps painted per frame at least, however slow each one is.
const MIN_STEPS_PER_FRAME: usize = 16;

pub struct Painter {
    state: RwSignal<RunState>,
    steps: StepSignals,
    conn: RwSignal<Conn>,
    /// Steps changed and not painted yet with the time of their oldest unpainted change,
    /// oldest first (`queued` mirrors the steps).
    dirty: RefCell<VecDeque<(String, f64)>>,
    queued: RefCell<HashSet<String>>,
    /// Steps the next frame paints at most.
    budget: Cell<usize>,
    /// When the last frame that painted steps began, and how many it painted.
    painted: Cell<Option<(f64, usize)>>,
    /// The whole state was replaced (a snapshot) since the last frame.
    everything: Cell<bool>,
    /// When the oldest unpainted change arrived (ms, page clock); `Some` while a frame is due.
    since: Cell<Option<f64>>,
}

fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

impl Painter {
    pub fn new(state: RwSignal<RunState>, steps: StepSignals, conn: RwSignal<Conn>) -> Rc<Self> {
        Rc::new(Painter {
            state,
            steps,
            conn,
            dirty: RefCell::new(VecDeque::new()),
            queued: RefCell::new(HashSet::new()),
            budget: Cell::new(usize::MAX),
            painted: Cell::new(None),
            everything: Cell::new(false),
            since: Cell::new(None),
        })
    }

    /// `step`'s state changed.
    pub fn step_changed(self: &Rc<Self>, step: &str) {
        if !self.everything.get() && self.queued.borrow_mut().insert(step.to_owned()) {
            self.dirty
                .borrow_mut()
                .push_back((step.to_owned(), now_ms()));
        }
        self.schedule();
    }

    /// The run's own fields (status, times) changed.
    pub fn run_changed(self: &Rc<Self>) {
        self.schedule();
    }

    /// The whole state was replaced.
    pub fn replaced(self: &Rc<Self>) {
        self.everything.set(true);
        self.dirty.borrow_mut().clear();
        self.queued.borrow_mut().clear();
        self.schedule();
    }

    fn schedule(self: &Rc<Self>) {
        if self.since.get().is_some() {
            return;
        }
        self.since.set(Some(now_ms()));
        let painter = Rc::clone(self);
        let frame = Closure::once_into_js(move || painter.paint());
        let requested = web_sys::window()
            .map(|w| w.request_animation_frame(frame.unchecked_ref()))
            .is_some_and(|r| r.is_ok());
        if !requested {
            // No animation frames (no window): paint now.
            self.paint();
        }
    }

    fn paint(self: &Rc<Self>) {
        let Some(since) = self.since.take() else {
            return;
        };
        if self.state.is_disposed() {
            return;
        }
        let started = now_ms();
        let everything = self.everything.replace(false);
        let batch: Vec<String> = {
            let mut dirty = self.dirty.borrow_mut();
            let take = dirty.len().min(self.budget.get());
            dirty.drain(..take).map(|(step, _)| step).collect()
        };
        {
            let mut queued = self.queued.borrow_mut();
            batch.iter().for_each(|step| {
                queued.remove(step);
            });
        }
        self.state.notify();
        self.state.with_untracked(|state| {
            if everything {
                self.steps.sync_all(state);
            } else {
                self.steps.sync(state, batch.iter().map(String::as_str));
            }
        });
        if !everything && !batch.is_empty() {
            // The frame's length is known when the next one begins.
            self.painted.set(Some((started, batch.len())));
            let painter = Rc::clone(self);
            let next = Closure::once_into_js(move || painter.fit_budget());
            if let Some(window) = web_sys::window() {
                let _ = window.request_animation_frame(next.unchecked_ref());
            }
        }
        self.judge(now_ms() - since);
        let oldest_left = self.dirty.borrow().front().map(|(_, at)| *at);
        if let Some(at) = oldest_left {
            // The rest next frame, judged by the oldest change still waiting.
            self.schedule();
            self.since.set(Some(at));
        }
    }

    /// Sizes the next frames' work by how long the last painting frame took: as many steps as
    /// fit [`TARGET_FRAME_MS`] at the rate it showed.
    fn fit_budget(&self) {
        let Some((began, steps)) = self.painted.take() else {
            return;
        };
        let frame_ms = (now_ms() - began).max(1.0);
        let fits = (steps as f64 * TARGET_FRAME_MS / frame_ms) as usize;
        self.budget.set(fits.max(MIN_STEPS_PER_FRAME));
    }

    /// Keeps the indicator honest about how late the last frame was.
    fn judge(self: &Rc<Self>, lag_ms: f64) {
        if let Some(Conn::Live(transport)) = self.conn.try_get_untracked() {
            if lag_ms > BEHIND_MS {
                self.conn.set(Conn::Behind(transport));
                self.recheck_later();
            }
        }
    }

    /// Live again once nothing is waiting longer than [`BEHIND_MS`] to be painted.
    fn recheck(self: &Rc<Self>) {
        let waiting = self.since.get().map_or(0.0, |since| now_ms() - since);
        if let Some(Conn::Behind(transport)) = self.conn.try_get_untracked() {
            if waiting <= BEHIND_MS {
                self.conn.set(Conn::Live(transport));
            } else {
                self.recheck_later();
            }
        }
    }

    fn recheck_later(self: &Rc<Self>) {
        let painter = Rc::clone(self);
        let check = Closure::once_into_js(move || painter.recheck());
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
                check.unchecked_ref(),
                RECHECK_MS,
            );
        }
    }
}
