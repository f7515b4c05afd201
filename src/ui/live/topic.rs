//! A topic of the live stream (`runs`, `system`) on a WebSocket of its own, for the views that
//! follow one: every frame to the view, reconnecting with backoff until the view goes away.

use super::backoff::Backoff;
use crate::api::ServerFrame;
use futures::channel::oneshot;
use futures::{FutureExt, SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message};
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;

/// Follows `topic` while the calling component lives. `on_frame` gets each frame and
/// `on_drop` runs when a connection ends; either returns false once its view is gone.
/// (Boxed: one copy of the session code serves every view, which keeps the bundle small.)
pub fn follow(
    topic: &'static str,
    on_frame: Box<dyn Fn(ServerFrame) -> bool>,
    on_drop: Box<dyn Fn() -> bool>,
) {
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    on_cleanup(move || {
        let _ = stop_tx.send(());
    });
    let subscribe = format!(r#"{{"op":"subscribe","topic":"{topic}"}}"#);
    wasm_bindgen_futures::spawn_local(async move {
        let sessions = async {
            let mut backoff = Backoff::new(1_000, 30_000);
            loop {
                match session(&subscribe, &on_frame).await {
                    Session::Gone => return,
                    Session::Delivered => backoff.reset(),
                    Session::Failed => {}
                }
                if !on_drop() {
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

async fn session(subscribe: &str, on_frame: &dyn Fn(ServerFrame) -> bool) -> Session {
    let Some(url) = super::transport::stream_url() else {
        return Session::Gone;
    };
    let Ok(socket) = WebSocket::open(&url) else {
        return Session::Failed;
    };
    let (mut write, mut read) = socket.split();
    if write
        .send(Message::Text(subscribe.to_owned()))
        .await
        .is_err()
    {
        return Session::Failed;
    }
    let mut delivered = false;
    while let Some(Ok(Message::Text(text))) = read.next().await {
        let Ok(frame) = serde_json::from_str::<ServerFrame>(&text) else {
            continue;
        };
        delivered = true;
        if !on_frame(frame) {
            return Session::Gone;
        }
    }
    if delivered {
        Session::Delivered
    } else {
        Session::Failed
    }
}
