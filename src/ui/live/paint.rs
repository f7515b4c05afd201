//! Coalesced painting. Events are applied to the run's state as they arrive (cheap), but the
//! page is repainted at most once per animation frame, with only the latest state of each step
//! that changed since the last frame. However fast events come, the page never falls behind
//! by more than a frame of work; and should frames still lag (a slow machine, a huge graph),
//! the indicator says "Catching up" instead of "Live" until they no longer do.

use crate::domain::RunState;
use crate::ui::conn::Conn;
use crate::ui::graph::StepSignals;
use leptos::prelude::*;
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

/// Changes waiting longer than this to be painted mean the page is not live.
const BEHIND_MS: f64 = 500.0;
/// How soon after a late frame the indicator is checked again.
const RECHECK_MS: i32 = 300;

pub struct Painter {
    state: RwSignal<RunState>,
    steps: StepSignals,
    conn: RwSignal<Conn>,
    /// Steps changed since the last frame.
    dirty: RefCell<HashSet<String>>,
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
            dirty: RefCell::new(HashSet::new()),
            everything: Cell::new(false),
            since: Cell::new(None),
        })
    }

    /// `step`'s state changed.
    pub fn step_changed(self: &Rc<Self>, step: &str) {
        if !self.everything.get() && !self.dirty.borrow().contains(step) {
            self.dirty.borrow_mut().insert(step.to_owned());
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
        let dirty = std::mem::take(&mut *self.dirty.borrow_mut());
        let everything = self.everything.replace(false);
        self.state.notify();
        self.state.with_untracked(|state| {
            if everything {
                self.steps.sync_all(state);
            } else {
                self.steps.sync(state, dirty.iter().map(String::as_str));
            }
        });
        self.judge(now_ms() - since);
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
