//! The three transports of the live client. Each runs one session and says how it ended;
//! frames go to [`Client::on_frame`] whatever carried them.

use super::client::{Client, End, Flow, PROBE_AFTER_MS};
use crate::api::{ClientOp, ServerFrame};
use crate::domain::{Seq, StoredEvent};
use crate::ui::conn::Transport;
use crate::ui::hydration;
use futures::channel::mpsc;
use futures::stream::{SplitSink, SplitStream};
use futures::{FutureExt, SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message, WebSocketError};
use gloo_timers::future::TimeoutFuture;
use serde::de::DeserializeOwned;
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

/// A session that got no frame this soon after connecting is treated as not working.
pub(super) const FIRST_FRAME_MS: f64 = 5_000.0;
/// Silence longer than this (the server beats every 10 s) means the connection is dead.
pub(super) const SILENCE_MS: f64 = 25_000.0;
/// The close code of a connection whose session signed out or whose token was revoked.
const SIGNED_OUT: u16 = 4401;
/// Polling interval while the run is active.
const POLL_MS: u32 = 1_000;
/// Events per poll.
const POLL_LIMIT: u32 = 1_000;

/// The live stream's address on this page's origin (`wss:` under https).
pub(super) fn stream_url() -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = match location.protocol().ok()?.as_str() {
        "https:" => "wss",
        _ => "ws",
    };
    Some(format!("{scheme}://{}/api/v1/ws", location.host().ok()?))
}

/// Maps a frame's meaning to how the session goes on (`None`: keep going).
fn end_for(flow: Flow) -> Option<End> {
    match flow {
        Flow::Continue => None,
        Flow::Resync => Some(End::Resync),
        Flow::Finished => Some(End::Finished),
        Flow::Gone => Some(End::Gone),
    }
}

/// Whether a WebSocket closed because its session signed out in another tab or its token
/// was revoked: then the page reloads and lands on the sign-in page (unless this page is
/// signing out itself).
pub(super) fn signed_out(message: &Option<Result<Message, WebSocketError>>) -> bool {
    let Some(Err(WebSocketError::ConnectionClose(close))) = message else {
        return false;
    };
    if close.code != SIGNED_OUT {
        return false;
    }
    if !crate::ui::user_menu::signing_out() {
        if let Some(window) = web_sys::window() {
            let _ = window.location().reload();
        }
    }
    true
}

/// Milliseconds since the page started (monotonic).
pub(super) fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

/// Sends a new socket's first operations: false when it closes (or is refused) before it
/// opens, or does not open within [`FIRST_FRAME_MS`]. Sending waits for the socket to open,
/// which a blocked WebSocket never does; the server sends nothing before a subscribe.
pub(super) async fn open_with(
    write: &mut SplitSink<WebSocket, Message>,
    read: &mut SplitStream<WebSocket>,
    ops: Vec<ClientOp>,
) -> bool {
    let subscribe = async {
        for op in ops {
            let text = serde_json::to_string(&op).map_err(drop)?;
            write.send(Message::Text(text)).await.map_err(drop)?;
        }
        Ok::<(), ()>(())
    };
    futures::select! {
        sent = subscribe.fuse() => sent.is_ok(),
        _ = read.next().fuse() => false,
        _ = TimeoutFuture::new(FIRST_FRAME_MS as u32).fuse() => false,
    }
}

/// One WebSocket session carrying the run and every followed log.
pub async fn websocket(client: &Rc<Client>) -> End {
    let Some(url) = stream_url() else {
        return End::Gone;
    };
    let Ok(socket) = WebSocket::open(&url) else {
        return End::Dropped { received: false };
    };
    let (mut write, mut read) = socket.split();
    // Attached first, so that a panel opening from now on reaches this session.
    let mut ops = client.attach();
    if !open_with(&mut write, &mut read, client.subscriptions()).await {
        client.detach();
        return End::Dropped { received: false };
    }
    // The socket opens and subscribes while the page hydrates; its frames wait for the end of
    // hydration (a change before it would not match the server's HTML).
    hydration::finished().await;
    let end = async {
        let mut received = false;
        let mut heard = now_ms();
        loop {
            let limit = if received { SILENCE_MS } else { FIRST_FRAME_MS };
            let wait = (heard + limit - now_ms()).max(0.0) as u32;
            futures::select! {
                message = read.next().fuse() => {
                    if signed_out(&message) {
                        return End::Gone;
                    }
                    let Some(Ok(Message::Text(text))) = message else {
                        return End::Dropped { received };
                    };
                    heard = now_ms();
                    let Ok(frame) = serde_json::from_str::<ServerFrame>(&text) else {
                        continue;
                    };
                    received = true;
                    if let Some(end) = end_for(client.on_frame(frame, Transport::WebSocket)) {
                        return end;
                    }
                }
                op = ops.next() => {
                    let Some(Ok(text)) = op.map(|op| serde_json::to_string(&op)) else { continue };
                    if write.send(Message::Text(text)).await.is_err() {
                        return End::Dropped { received };
                    }
                }
                _ = TimeoutFuture::new(wait).fuse() => return End::Dropped { received },
            }
        }
    }
    .await;
    client.detach();
    end
}

/// What the SSE listener hands the session, in the order the browser dispatched it.
enum SseMessage {
    /// (event name, data)
    Event(String, String),
    Error,
}

/// An `EventSource` whose messages of every name arrive on one channel, in order (so a
/// snapshot can never be overtaken by the events after it). Closed when dropped.
struct EventStream {
    source: web_sys::EventSource,
    _listeners: Vec<Closure<dyn FnMut(web_sys::Event)>>,
    receiver: mpsc::UnboundedReceiver<SseMessage>,
}

impl EventStream {
    fn open(url: &str) -> Option<EventStream> {
        let source = web_sys::EventSource::new(url).ok()?;
        let (sender, receiver) = mpsc::unbounded();
        let mut listeners = Vec::new();
        for name in ["message", "snapshot", "subscribed", "stream_error", "error"] {
            let sender = sender.clone();
            let listener =
                Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
                    let message = match event.dyn_ref::<web_sys::MessageEvent>() {
                        Some(message) if name != "error" => SseMessage::Event(
                            name.to_owned(),
                            message.data().as_string().unwrap_or_default(),
                        ),
                        _ => SseMessage::Error,
                    };
                    let _ = sender.unbounded_send(message);
                });
            source
                .add_event_listener_with_callback(name, listener.as_ref().unchecked_ref())
                .ok()?;
            listeners.push(listener);
        }
        Some(EventStream {
            source,
            _listeners: listeners,
            receiver,
        })
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.source.close();
    }
}

/// One SSE session: the run over an `EventSource`, logs polled over HTTP.
pub async fn sse(client: &Rc<Client>) -> End {
    hydration::finished().await;
    if client.wants_snapshot() {
        match client.fetch_snapshot().await {
            Ok(flow) => {
                if let Some(end) = end_for(flow) {
                    return end;
                }
            }
            Err(()) => return End::Dropped { received: false },
        }
    }
    let url = format!(
        "/api/v1/runs/{}/events?since={}&epoch={}",
        client.run(),
        client.seq(),
        client.epoch()
    );
    let Some(mut stream) = EventStream::open(&url) else {
        return End::Dropped { received: false };
    };
    let started = now_ms();
    let probe_at = started + f64::from(PROBE_AFTER_MS);
    let mut next_log_poll = started + f64::from(POLL_MS);
    let mut received = false;
    loop {
        // Fixed deadlines: a busy stream must not keep postponing them.
        let due = if received {
            next_log_poll
        } else {
            next_log_poll.min(started + FIRST_FRAME_MS)
        };
        let wait = (due - now_ms()).max(0.0) as u32;
        futures::select! {
            message = stream.receiver.next() => {
                let Some(SseMessage::Event(name, data)) = message else {
                    // The browser would retry on its own; we reconnect with our backoff and
                    // an up-to-date position instead.
                    return End::Dropped { received };
                };
                received = true;
                let flow = match name.as_str() {
                    "message" => match serde_json::from_str::<StoredEvent>(&data) {
                        Ok(event) => client.apply(std::slice::from_ref(&event)),
                        Err(_) => continue,
                    },
                    _ => match serde_json::from_str::<ServerFrame>(&data) {
                        Ok(frame) => client.on_frame(frame, Transport::Sse),
                        Err(_) => continue,
                    },
                };
                if let Some(end) = end_for(flow) {
                    return end;
                }
            }
            _ = TimeoutFuture::new(wait).fuse() => {
                let now = now_ms();
                if !received && now >= started + FIRST_FRAME_MS {
                    return End::Dropped { received };
                }
                if now >= next_log_poll {
                    next_log_poll = now + f64::from(POLL_MS);
                    // Logs are not on the event stream: poll the followed ones.
                    if client.read_all_logs().await.is_err() {
                        return End::Dropped { received };
                    }
                }
                if received && now >= probe_at {
                    return End::Probe;
                }
            }
        }
    }
}

/// `GET /api/v1/runs/{id}/events?since=`.
#[derive(serde::Deserialize)]
struct EventPage {
    seq: Seq,
    epoch: String,
    events: Vec<StoredEvent>,
}

/// Polling: the events after the last applied seq every second, and the followed logs.
pub async fn poll(client: &Rc<Client>) -> End {
    hydration::finished().await;
    let started = now_ms();
    let mut received = false;
    loop {
        if client.wants_snapshot() {
            match client.fetch_snapshot().await {
                Ok(flow) => {
                    if let Some(end) = end_for(flow) {
                        return end;
                    }
                }
                Err(()) => return End::Dropped { received },
            }
        }
        let since = client.seq();
        let url = format!(
            "/api/v1/runs/{}/events?since={since}&limit={POLL_LIMIT}",
            client.run()
        );
        let page: EventPage = match http_get(&url).await {
            Ok(page) => page,
            Err(HttpError::NotFound) => return End::Gone,
            Err(HttpError::Failed) => return End::Dropped { received },
        };
        received = true;
        let flow = if page.epoch != client.epoch() || page.seq < since {
            // Another history: the local state is not a prefix of it.
            match client.fetch_snapshot().await {
                Ok(flow) => flow,
                Err(()) => return End::Dropped { received },
            }
        } else {
            client.apply(&page.events)
        };
        if let Some(end) = end_for(flow) {
            return end;
        }
        client.mark_live(Transport::Polling);
        if client.read_all_logs().await.is_err() {
            return End::Dropped { received };
        }
        // A full page means more is waiting: read it at once.
        if page.events.len() < POLL_LIMIT as usize {
            TimeoutFuture::new(POLL_MS).await;
        }
        if now_ms() - started > f64::from(PROBE_AFTER_MS) {
            return End::Probe;
        }
    }
}

/// Why an HTTP read failed: the run is gone, or anything else (retry later).
pub enum HttpError {
    NotFound,
    Failed,
}

/// GETs JSON from the server.
pub async fn http_get<T: DeserializeOwned>(url: &str) -> Result<T, HttpError> {
    let response = gloo_net::http::Request::get(url)
        .send()
        .await
        .map_err(|_| HttpError::Failed)?;
    match response.status() {
        200 => response.json().await.map_err(|_| HttpError::Failed),
        404 => Err(HttpError::NotFound),
        _ => Err(HttpError::Failed),
    }
}
