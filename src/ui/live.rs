//! The browser side of the live stream: one reconnecting WebSocket per subscription that
//! resumes from the last applied seq (or log line) after a drop, applies events with the same
//! reducer the server uses, and reports its state for the connection indicator.
//! On the server these functions only set up what the first render needs.

use crate::domain::{LogLine, RunState};
use crate::ui::conn::Conn;
use chrono::{DateTime, Utc};
use leptos::prelude::*;

/// A clock for elapsed times: starts at the server's time of the render (so server and browser
/// render the same text) and ticks every second in the browser, corrected for clock skew.
pub fn use_clock(server_now: DateTime<Utc>) -> Signal<DateTime<Utc>> {
    let now = RwSignal::new(server_now);
    #[cfg(feature = "hydrate")]
    {
        let skew = server_now - Utc::now();
        if let Ok(handle) = set_interval_with_handle(
            move || now.set(Utc::now() + skew),
            std::time::Duration::from_secs(1),
        ) {
            on_cleanup(move || handle.clear());
        }
    }
    now.into()
}

/// Follows a run: applies snapshots and events to `state`, keeps `conn` truthful.
pub fn follow_run(run: String, state: RwSignal<RunState>, conn: RwSignal<Conn>) {
    #[cfg(feature = "hydrate")]
    socket::follow_run(run, state, conn);
    #[cfg(not(feature = "hydrate"))]
    let _ = (run, state, conn);
}

/// Follows one step's log, appending lines after the last one in `lines`.
pub fn follow_logs(run: String, step: String, lines: RwSignal<Vec<LogLine>>) {
    #[cfg(feature = "hydrate")]
    socket::follow_logs(run, step, lines);
    #[cfg(not(feature = "hydrate"))]
    let _ = (run, step, lines);
}

#[cfg(feature = "hydrate")]
mod socket {
    use super::*;
    use crate::api::{ClientOp, ServerFrame};
    use futures::channel::oneshot;
    use futures::{FutureExt, SinkExt, StreamExt};
    use gloo_net::websocket::{futures::WebSocket, Message};
    use gloo_timers::future::TimeoutFuture;

    /// Silence longer than this (the server beats every 10 s) means the connection is dead.
    const SILENCE_MS: u32 = 25_000;
    const FIRST_BACKOFF_MS: u32 = 500;
    const MAX_BACKOFF_MS: u32 = 10_000;
    /// Failed attempts in a row before the indicator says "offline" instead of "reconnecting".
    const OFFLINE_AFTER: u32 = 3;

    /// What the frame handler wants next.
    enum Flow {
        Continue,
        /// Reconnect and subscribe afresh (a gap or a state we cannot trust).
        Resync,
        /// Give up: the server says this subscription can never work.
        Stop,
    }

    /// How one connection ended.
    enum End {
        /// The socket closed or went silent after frames arrived (reset the backoff).
        Dropped {
            received: bool,
        },
        Resync,
        Stop,
    }

    fn stream_url() -> Option<String> {
        let location = web_sys::window()?.location();
        let scheme = if location.protocol().ok()? == "https:" {
            "wss"
        } else {
            "ws"
        };
        Some(format!("{scheme}://{}/api/v1/ws", location.host().ok()?))
    }

    /// One connection: subscribe with `op`, hand frames to `on_frame` until something ends it.
    async fn session(op: ClientOp, on_frame: &mut impl FnMut(ServerFrame) -> Flow) -> End {
        let Some(url) = stream_url() else {
            return End::Stop;
        };
        let Ok(socket) = WebSocket::open(&url) else {
            return End::Dropped { received: false };
        };
        let (mut write, mut read) = socket.split();
        let Ok(text) = serde_json::to_string(&op) else {
            return End::Stop;
        };
        if write.send(Message::Text(text)).await.is_err() {
            return End::Dropped { received: false };
        }
        let mut received = false;
        loop {
            let next = futures::select! {
                message = read.next().fuse() => message,
                _ = TimeoutFuture::new(SILENCE_MS).fuse() => return End::Dropped { received },
            };
            let Some(Ok(Message::Text(text))) = next else {
                return End::Dropped { received };
            };
            let Ok(frame) = serde_json::from_str::<ServerFrame>(&text) else {
                continue;
            };
            received = true;
            match on_frame(frame) {
                Flow::Continue => {}
                Flow::Resync => return End::Resync,
                Flow::Stop => return End::Stop,
            }
        }
    }

    /// Runs sessions until the owner is cleaned up: `next_op` builds each subscription from
    /// the state applied so far, so a reconnect resumes exactly where the last one stopped.
    fn keep_following(
        mut next_op: impl FnMut() -> Option<ClientOp> + 'static,
        mut on_frame: impl FnMut(ServerFrame) -> Flow + 'static,
        mut on_state: impl FnMut(Conn) + 'static,
    ) {
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        on_cleanup(move || {
            let _ = stop_tx.send(());
        });
        wasm_bindgen_futures::spawn_local(async move {
            let mut stop = stop_rx.fuse();
            let mut backoff = FIRST_BACKOFF_MS;
            let mut failures = 0;
            loop {
                let Some(op) = next_op() else { return };
                let end = futures::select! {
                    end = session(op, &mut on_frame).fuse() => end,
                    _ = stop => return,
                };
                match end {
                    End::Stop => return,
                    // Resubscribing at once could spin if the same problem repeats: back off
                    // like a drop, without resetting the delay.
                    End::Resync => on_state(Conn::Reconnecting),
                    End::Dropped { received } => {
                        if received {
                            backoff = FIRST_BACKOFF_MS;
                            failures = 0;
                        }
                        failures += 1;
                        on_state(if failures > OFFLINE_AFTER {
                            Conn::Offline
                        } else {
                            Conn::Reconnecting
                        });
                    }
                }
                futures::select! {
                    _ = TimeoutFuture::new(backoff).fuse() => {},
                    _ = stop => return,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF_MS);
            }
        });
    }

    pub fn follow_run(run: String, state: RwSignal<RunState>, conn: RwSignal<Conn>) {
        // After a failed apply the local state cannot be trusted: ask for a snapshot.
        let want_snapshot = std::rc::Rc::new(std::cell::Cell::new(false));
        let next_op = {
            let (run, want_snapshot) = (run.clone(), want_snapshot.clone());
            move || {
                let seq = state.try_with_untracked(|s| s.seq)?;
                let since = (!want_snapshot.replace(false)).then_some(seq);
                Some(ClientOp::follow_run(&run, since))
            }
        };
        let on_frame = move |frame: ServerFrame| match frame {
            ServerFrame::Snapshot { state: fresh, .. } => {
                state.set(*fresh);
                Flow::Continue
            }
            ServerFrame::Events { events, .. } => {
                let applied: Option<Result<(), u64>> = state.try_update(|s| {
                    for event in &events {
                        if event.seq > s.seq {
                            s.apply(event).map_err(|_| event.seq)?;
                        }
                    }
                    Ok(())
                });
                match applied {
                    Some(Ok(())) => Flow::Continue,
                    Some(Err(seq)) => {
                        leptos::logging::warn!("event {seq} did not apply; resyncing");
                        if state.with_untracked(|s| seq == s.seq + 1) {
                            want_snapshot.set(true);
                        }
                        Flow::Resync
                    }
                    None => Flow::Stop,
                }
            }
            ServerFrame::Subscribed { .. } => {
                conn.set(Conn::Live);
                Flow::Continue
            }
            ServerFrame::Error { code, message } => {
                leptos::logging::warn!("live stream error {code}: {message}");
                if code == "unknown_run" {
                    conn.set(Conn::Offline);
                    Flow::Stop
                } else {
                    Flow::Resync
                }
            }
            ServerFrame::Logs { .. } | ServerFrame::Run { .. } | ServerFrame::Heartbeat => {
                Flow::Continue
            }
        };
        let on_state = move |c| {
            let _ = conn.try_set(c);
        };
        keep_following(next_op, on_frame, on_state);
    }

    pub fn follow_logs(run: String, step: String, lines: RwSignal<Vec<LogLine>>) {
        let next_op = {
            let (run, step) = (run.clone(), step.clone());
            move || {
                let after = lines.try_with_untracked(|l| l.last().map_or(0, |l| l.n))?;
                Some(ClientOp::follow_logs(&run, &step, after))
            }
        };
        let on_frame = move |frame: ServerFrame| match frame {
            ServerFrame::Logs { lines: fresh, .. } => {
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
                    Some(false) => Flow::Continue,
                    Some(true) => Flow::Resync,
                    None => Flow::Stop,
                }
            }
            ServerFrame::Error { code, .. } if code == "unknown_run" || code == "unknown_step" => {
                Flow::Stop
            }
            _ => Flow::Continue,
        };
        keep_following(next_op, on_frame, |_| {});
    }
}
