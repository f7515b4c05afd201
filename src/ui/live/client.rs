//! The page's live client: what it follows (one run, the logs of open panels), how frames
//! from any transport apply to that, and the loop that picks the transport and reconnects.
//!
//! Transport choice: the WebSocket first. Two attempts in a row that never got a frame make it
//! fall back to SSE, and two such SSE attempts to polling. While on a fallback it tries the
//! WebSocket again every [`PROBE_AFTER_MS`] and stays there if it works.

use super::backoff::Backoff;
use super::paint::Painter;
use super::transport::{self, http_get};
use crate::api::{ClientOp, OpKind, ServerFrame};
use crate::domain::{LogLine, RunState, Seq, StoredEvent};
use crate::ui::conn::{Conn, Transport};
use crate::ui::graph::StepSignals;
use crate::ui::hydration;
use futures::channel::{mpsc, oneshot};
use futures::FutureExt;
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

const FIRST_BACKOFF_MS: u32 = 500;
const MAX_BACKOFF_MS: u32 = 15_000;
/// Failed attempts in a row before the indicator says "offline" instead of "reconnecting".
const OFFLINE_AFTER: u32 = 3;
/// Attempts in a row without a single frame before falling back to the next transport.
const FALLBACK_AFTER: u32 = 2;
/// How long a fallback transport runs before the WebSocket is tried again.
pub const PROBE_AFTER_MS: u32 = 20_000;
/// Log lines per page when reading a log over HTTP.
const LOG_PAGE: u32 = 1_000;

/// What the page follows and what has been applied of it.
pub struct Client {
    run: String,
    state: RwSignal<RunState>,
    /// Repaints what changed, once per animation frame.
    painter: Rc<Painter>,
    epoch: RefCell<String>,
    conn: RwSignal<Conn>,
    /// Set when the local state cannot be trusted: the next subscription asks for a snapshot.
    want_snapshot: Cell<bool>,
    logs: RefCell<BTreeMap<String, RwSignal<Vec<LogLine>>>>,
    /// While a WebSocket session runs: operations to send on it (panels opening and closing).
    ops: RefCell<Option<mpsc::UnboundedSender<ClientOp>>>,
}

/// What a frame means for the session that received it.
pub enum Flow {
    Continue,
    /// Reconnect and subscribe afresh (a gap, or a state that did not apply).
    Resync,
    /// The run has finished: nothing more will come.
    Finished,
    /// The run does not exist (any more).
    Gone,
}

/// How a transport session ended.
pub enum End {
    /// The connection ended; `received` tells whether it carried anything first.
    Dropped {
        received: bool,
    },
    Resync,
    /// A fallback session ran its time: try the WebSocket again.
    Probe,
    Finished,
    Gone,
}

impl Client {
    /// Starts following `run` (unless it has already finished) until the page goes away.
    pub fn start(
        run: String,
        epoch: String,
        state: RwSignal<RunState>,
        steps: StepSignals,
        conn: RwSignal<Conn>,
    ) -> Rc<Client> {
        let client = Rc::new(Client {
            run,
            state,
            painter: Painter::new(state, steps, conn),
            epoch: RefCell::new(epoch),
            conn,
            want_snapshot: Cell::new(false),
            logs: RefCell::new(BTreeMap::new()),
            ops: RefCell::new(None),
        });
        if !client.finished() {
            let (stop_tx, stop_rx) = oneshot::channel::<()>();
            on_cleanup(move || {
                let _ = stop_tx.send(());
            });
            let looping = Rc::clone(&client);
            wasm_bindgen_futures::spawn_local(async move {
                futures::select! {
                    _ = looping.follow().fuse() => {},
                    _ = stop_rx.fuse() => {},
                }
            });
        }
        client
    }

    pub fn run(&self) -> &str {
        &self.run
    }

    pub fn finished(&self) -> bool {
        self.state
            .try_with_untracked(|s| s.status.is_terminal())
            .unwrap_or(true)
    }

    fn set_conn(&self, conn: Conn) {
        let _ = self.conn.try_set(conn);
    }

    pub fn seq(&self) -> Seq {
        self.state.try_with_untracked(|s| s.seq).unwrap_or(0)
    }

    pub fn epoch(&self) -> String {
        self.epoch.borrow().clone()
    }

    pub fn wants_snapshot(&self) -> bool {
        self.want_snapshot.get()
    }

    /// Steps whose logs are followed, with the last line number each has.
    pub fn followed_logs(&self) -> Vec<(String, u64)> {
        self.logs
            .borrow()
            .iter()
            .map(|(step, lines)| (step.clone(), last_line(*lines)))
            .collect()
    }

    pub fn follow_logs(self: &Rc<Self>, step: &str, lines: RwSignal<Vec<LogLine>>) {
        self.logs.borrow_mut().insert(step.to_owned(), lines);
        if let Some(ops) = self.ops.borrow().as_ref() {
            let _ = ops.unbounded_send(ClientOp::follow_logs(&self.run, step, last_line(lines)));
        }
        if self.finished() {
            // Nothing will stream: read what the first page of the log did not include.
            let client = Rc::clone(self);
            let step = step.to_owned();
            wasm_bindgen_futures::spawn_local(async move {
                let _ = client.read_logs(&step).await;
            });
        }
    }

    pub fn unfollow_logs(&self, step: &str) {
        self.logs.borrow_mut().remove(step);
        if let Some(ops) = self.ops.borrow().as_ref() {
            let op = ClientOp {
                op: OpKind::Unsubscribe,
                ..ClientOp::follow_logs(&self.run, step, 0)
            };
            let _ = ops.unbounded_send(op);
        }
    }

    /// The operations a new WebSocket session starts with, resuming everything exactly.
    pub fn subscriptions(&self) -> Vec<ClientOp> {
        let run = if self.want_snapshot.get() {
            ClientOp::follow_run(&self.run, None)
        } else {
            ClientOp::resume_run(&self.run, self.seq(), &self.epoch())
        };
        let logs = self
            .followed_logs()
            .into_iter()
            .map(|(step, after)| ClientOp::follow_logs(&self.run, &step, after));
        std::iter::once(run).chain(logs).collect()
    }

    /// Lets the WebSocket session receive operations for panels opened while it runs.
    pub fn attach(&self) -> mpsc::UnboundedReceiver<ClientOp> {
        let (tx, rx) = mpsc::unbounded();
        *self.ops.borrow_mut() = Some(tx);
        rx
    }

    pub fn detach(&self) {
        *self.ops.borrow_mut() = None;
    }

    /// Applies one frame from any transport.
    pub fn on_frame(&self, frame: ServerFrame, transport: Transport) -> Flow {
        match frame {
            ServerFrame::Snapshot {
                state: fresh,
                epoch,
                ..
            } => self.replace(*fresh, epoch),
            ServerFrame::Events { events, .. } => self.apply(&events),
            ServerFrame::Subscribed {
                run: Some(_),
                step: None,
                ..
            } => {
                self.mark_live(transport);
                self.after_update()
            }
            ServerFrame::Logs { step, lines, .. } => self.append_logs(&step, lines),
            ServerFrame::Error { code, message, .. } => {
                leptos::logging::warn!("live stream error {code}: {message}");
                match code.as_str() {
                    "unknown_run" => Flow::Gone,
                    // A panel of a step the run does not have: nothing to follow.
                    "unknown_step" | "too_many_subscriptions" => Flow::Continue,
                    _ => Flow::Resync,
                }
            }
            ServerFrame::Subscribed { .. }
            | ServerFrame::Run { .. }
            | ServerFrame::Runs { .. }
            | ServerFrame::System(_)
            | ServerFrame::Heartbeat => Flow::Continue,
        }
    }

    /// The run's subscription is caught up: what is on screen is live.
    pub fn mark_live(&self, transport: Transport) {
        self.set_conn(Conn::Live(transport));
    }

    /// A snapshot replaces the local state (and its history).
    pub fn replace(&self, fresh: RunState, epoch: String) -> Flow {
        let history_changed = self.epoch.replace(epoch) != *self.epoch.borrow();
        self.want_snapshot.set(false);
        if self.state.try_update_untracked(|s| *s = fresh).is_none() {
            return Flow::Gone;
        }
        self.painter.replaced();
        if history_changed && !self.logs.borrow().is_empty() {
            // Log positions belong to the old history too: read the open logs afresh.
            for lines in self.logs.borrow().values() {
                let _ = lines.try_set(Vec::new());
            }
            return Flow::Resync;
        }
        self.after_update()
    }

    /// Applies consecutive events; one that does not apply makes the state untrustworthy.
    /// They show on the next frame (see [`Painter`]).
    pub fn apply(&self, events: &[StoredEvent]) -> Flow {
        let applied = self.state.try_update_untracked(|s| {
            let before = s.seq;
            s.apply_newer(events).map(|()| before)
        });
        match applied {
            Some(Ok(before)) => {
                for event in events.iter().filter(|e| e.seq > before) {
                    match event.kind.step() {
                        Some(step) => self.painter.step_changed(step),
                        None => self.painter.run_changed(),
                    }
                }
                self.after_update()
            }
            Some(Err((seq, error))) => {
                leptos::logging::warn!("event {seq} did not apply ({error}); resyncing");
                self.want_snapshot.set(true);
                Flow::Resync
            }
            None => Flow::Gone,
        }
    }

    fn after_update(&self) -> Flow {
        if self.finished() {
            Flow::Finished
        } else {
            Flow::Continue
        }
    }

    fn append_logs(&self, step: &str, fresh: Vec<LogLine>) -> Flow {
        let Some(lines) = self.logs.borrow().get(step).copied() else {
            return Flow::Continue;
        };
        let gap = lines.try_update(|l| {
            let last = l.last().map_or(0, |l| l.n);
            let fresh: Vec<LogLine> = fresh.into_iter().filter(|x| x.n > last).collect();
            let gap = fresh.first().is_some_and(|x| x.n != last + 1);
            if !gap {
                l.extend(fresh);
            }
            gap
        });
        match gap {
            Some(true) => Flow::Resync,
            _ => Flow::Continue,
        }
    }

    /// Reads a followed step's log over HTTP from its last line to the end.
    pub async fn read_logs(&self, step: &str) -> Result<(), ()> {
        // Lines added to a panel that is not hydrated yet would not match the server's HTML.
        hydration::finished().await;
        loop {
            let Some(lines) = self.logs.borrow().get(step).copied() else {
                return Ok(());
            };
            let url = format!(
                "/api/v1/runs/{}/steps/{step}/logs?after={}&limit={LOG_PAGE}",
                self.run,
                last_line(lines)
            );
            let page: LogPage = http_get(&url).await.map_err(drop)?;
            let done = page.lines.len() < LOG_PAGE as usize;
            self.append_logs(step, page.lines);
            if done {
                return Ok(());
            }
        }
    }

    /// Reads every followed log to its end (after the run finished, or while polling).
    pub async fn read_all_logs(&self) -> Result<(), ()> {
        for (step, _) in self.followed_logs() {
            self.read_logs(&step).await?;
        }
        Ok(())
    }

    /// Replaces the state with the server's snapshot, read over HTTP.
    pub async fn fetch_snapshot(&self) -> Result<Flow, ()> {
        let snapshot: HttpSnapshot = http_get(&format!("/api/v1/runs/{}", self.run))
            .await
            .map_err(drop)?;
        Ok(self.replace(snapshot.state, snapshot.epoch))
    }

    /// The connection loop: sessions on the chosen transport, backoff between them.
    async fn follow(self: Rc<Self>) {
        let mut backoff = Backoff::new(FIRST_BACKOFF_MS, MAX_BACKOFF_MS);
        let mut fallback = Transport::WebSocket;
        let mut transport = Transport::WebSocket;
        let mut empty_attempts = 0;
        let mut failures = 0;
        loop {
            let end = match transport {
                Transport::WebSocket => transport::websocket(&self).await,
                Transport::Sse => transport::sse(&self).await,
                Transport::Polling => transport::poll(&self).await,
            };
            match end {
                End::Finished => {
                    // Log lines of the last moments may still be on their way: read them.
                    let _ = self.read_all_logs().await;
                    self.set_conn(Conn::Final);
                    return;
                }
                End::Gone => {
                    self.set_conn(Conn::Gone);
                    return;
                }
                End::Probe => {
                    fallback = transport;
                    transport = Transport::WebSocket;
                    continue;
                }
                End::Resync => {}
                End::Dropped { received: true } => {
                    backoff.reset();
                    empty_attempts = 0;
                    failures = 0;
                    if transport == Transport::WebSocket {
                        // The WebSocket works (again): no fallback to return to.
                        fallback = Transport::WebSocket;
                    }
                }
                End::Dropped { received: false } => {
                    empty_attempts += 1;
                    failures += 1;
                    if transport == Transport::WebSocket && fallback != Transport::WebSocket {
                        // A probe that failed: straight back to the fallback that worked.
                        transport = fallback;
                        empty_attempts = 0;
                        continue;
                    }
                    if empty_attempts >= FALLBACK_AFTER && transport != Transport::Polling {
                        transport = if transport == Transport::WebSocket {
                            Transport::Sse
                        } else {
                            Transport::Polling
                        };
                        fallback = transport;
                        empty_attempts = 0;
                        leptos::logging::log!("live stream falls back to {}", transport.as_str());
                    }
                }
            }
            self.set_conn(if failures > OFFLINE_AFTER {
                Conn::Offline
            } else {
                Conn::Reconnecting
            });
            TimeoutFuture::new(backoff.next_ms(js_sys::Math::random())).await;
        }
    }
}

fn last_line(lines: RwSignal<Vec<LogLine>>) -> u64 {
    lines
        .try_with_untracked(|l| l.last().map_or(0, |l| l.n))
        .unwrap_or(0)
}

/// `GET /api/v1/runs/{id}/steps/{step}/logs`.
#[derive(serde::Deserialize)]
struct LogPage {
    lines: Vec<LogLine>,
}

/// `GET /api/v1/runs/{id}`: the state's fields plus its epoch.
#[derive(serde::Deserialize)]
struct HttpSnapshot {
    #[serde(flatten)]
    state: RunState,
    epoch: String,
}
