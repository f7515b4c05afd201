//! A connection of the live stream for views that follow topics (`runs`, `system`: one per
//! tab, see `shared`) or several runs at once (the deployments board): the opening
//! operations on each connection, further operations as the view asks (the outbox its frame
//! handler gets), every frame to the view, reconnecting with backoff until the view goes
//! away. Like the run page's WebSocket it gives up on a socket that does not open or goes
//! silent past the server's heartbeats, and a session that signed out sends the page to the
//! sign-in page.

use super::backoff::Backoff;
use super::transport::{now_ms, open_with, signed_out, stream_url, FIRST_FRAME_MS, SILENCE_MS};
use super::Outbox;
use crate::api::{ClientOp, ServerFrame};
use futures::channel::{mpsc, oneshot};
use futures::{FutureExt, SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message};
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;

/// The operations a new connection starts with, given its outbox.
type Opening = Box<dyn Fn(&Outbox) -> Vec<ClientOp>>;

/// A view's frame handler: each frame with the connection's outbox; false once the view is gone.
type OnFrame = Box<dyn Fn(ServerFrame, &Outbox) -> bool>;

/// The view's side of a connection. (Boxed: one copy of the session code serves every view,
/// which keeps the bundle small.)
pub struct Handlers {
    /// What each new connection sends first; it gets the connection's outbox, for views that
    /// send more later.
    pub opening: Opening,
    pub on_frame: OnFrame,
    /// Runs when a connection ends; false once the view is gone.
    pub on_drop: Box<dyn Fn() -> bool>,
}

/// Follows the stream while the calling component lives.
pub fn follow(handlers: Handlers) {
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    on_cleanup(move || {
        let _ = stop_tx.send(());
    });
    wasm_bindgen_futures::spawn_local(async move {
        let sessions = async {
            // Frames for views still waiting to be hydrated would not match the server's HTML.
            crate::ui::hydration::finished().await;
            let mut backoff = Backoff::new(1_000, 30_000);
            loop {
                match session(&handlers).await {
                    Session::Gone => return,
                    Session::Delivered => backoff.reset(),
                    Session::Failed => {}
                }
                if !(handlers.on_drop)() {
                    return;
                }
                TimeoutFuture::new(backoff.next_ms(js_sys::Math::random())).await;
            }
        };
        futures::select! {
            () = sessions.fuse() => {},
            _ = stop_rx.fuse() => {},
        }
    });
}

enum Session {
    /// It carried frames before it ended.
    Delivered,
    Failed,
    /// The view is gone.
    Gone,
}

fn text(op: &ClientOp) -> Message {
    Message::Text(serde_json::to_string(op).unwrap_or_default())
}

/// One connection: the opening operations, then frames in and operations out until it
/// closes, goes silent past the server's heartbeats, or the view goes away.
async fn session(handlers: &Handlers) -> Session {
    let Some(url) = stream_url() else {
        return Session::Gone;
    };
    let Ok(socket) = WebSocket::open(&url) else {
        return Session::Failed;
    };
    let (mut write, mut read) = socket.split();
    let (outbox, mut queued) = mpsc::unbounded::<ClientOp>();
    if !open_with(&mut write, &mut read, (handlers.opening)(&outbox)).await {
        return Session::Failed;
    }
    let mut delivered = false;
    let mut heard = now_ms();
    loop {
        let limit = if delivered {
            SILENCE_MS
        } else {
            FIRST_FRAME_MS
        };
        let wait = (heard + limit - now_ms()).max(0.0) as u32;
        futures::select! {
            message = read.next().fuse() => {
                if signed_out(&message) {
                    return Session::Gone;
                }
                let Some(Ok(Message::Text(text))) = message else { break };
                heard = now_ms();
                let Ok(frame) = serde_json::from_str::<ServerFrame>(&text) else {
                    continue;
                };
                delivered = true;
                if !(handlers.on_frame)(frame, &outbox) {
                    return Session::Gone;
                }
            }
            op = queued.next() => {
                let Some(op) = op else { break };
                if write.send(text(&op)).await.is_err() {
                    break;
                }
            }
            _ = TimeoutFuture::new(wait).fuse() => break,
        }
    }
    if delivered {
        Session::Delivered
    } else {
        Session::Failed
    }
}
