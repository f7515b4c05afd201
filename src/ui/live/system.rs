//! The `system` topic on a WebSocket of its own, for the system panel: the latest reading into
//! a signal, reconnecting with backoff until the page goes away.

use super::backoff::Backoff;
use crate::api::{ServerFrame, SystemSample};
use futures::channel::oneshot;
use futures::{FutureExt, SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message};
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;

const SUBSCRIBE: &str = r#"{"op":"subscribe","topic":"system"}"#;

/// Follows the readings into `sample` (`None` while there is no connection).
pub fn follow(sample: RwSignal<Option<SystemSample>>) {
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    on_cleanup(move || {
        let _ = stop_tx.send(());
    });
    wasm_bindgen_futures::spawn_local(async move {
        futures::select! {
            () = sessions(sample).fuse() => {},
            _ = stop_rx.fuse() => {},
        }
    });
}

async fn sessions(sample: RwSignal<Option<SystemSample>>) {
    let mut backoff = Backoff::new(1_000, 30_000);
    loop {
        if session(sample).await {
            backoff.reset();
        }
        // `try_set` hands the value back once the panel is gone.
        if sample.try_set(None).is_some() {
            return;
        }
        TimeoutFuture::new(backoff.next_ms(js_sys::Math::random())).await;
    }
}

/// One connection; true when it delivered a reading.
async fn session(sample: RwSignal<Option<SystemSample>>) -> bool {
    let Some(location) = web_sys::window().map(|w| w.location()) else {
        return false;
    };
    let (Ok(protocol), Ok(host)) = (location.protocol(), location.host()) else {
        return false;
    };
    let scheme = if protocol == "https:" { "wss" } else { "ws" };
    let Ok(socket) = WebSocket::open(&format!("{scheme}://{host}/api/v1/ws")) else {
        return false;
    };
    let (mut write, mut read) = socket.split();
    if write.send(Message::Text(SUBSCRIBE.into())).await.is_err() {
        return false;
    }
    let mut delivered = false;
    while let Some(Ok(Message::Text(text))) = read.next().await {
        if let Ok(ServerFrame::System(reading)) = serde_json::from_str(&text) {
            delivered = true;
            if sample.try_set(Some(reading)).is_some() {
                break;
            }
        }
    }
    delivered
}
