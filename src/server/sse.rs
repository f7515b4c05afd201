//! Server-Sent Events at `GET /api/v1/runs/{id}/events` (`Accept: text/event-stream`): the
//! same feed as the WebSocket ([`super::feed`]), one SSE message per stored event with
//! `id: <seq>`, so a reconnecting `EventSource` resumes with `Last-Event-ID`.
//!
//! Messages: unnamed (`message`) events carry one stored event as JSON; `snapshot` carries a
//! snapshot frame (`id:` its seq); `subscribed` marks the end of the catch-up; `stream_error`
//! an error frame, after which the stream ends. A comment line keeps idle streams open.

use super::auth::Principal;
use super::error::AppError;
use super::feed::{follow_run, Resume};
use super::outbox::{Closer, Outbox, Outgoing};
use super::state::AppState;
use crate::api::{Position, ServerFrame};
use crate::domain::StoredEvent;
use axum::http::{header, HeaderMap};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, StreamExt};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

/// How long a browser's `EventSource` waits before reconnecting after the stream ends.
const RETRY: Duration = Duration::from_secs(2);

/// True when the client asks for an event stream.
pub fn wants_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"))
}

/// The position of a reconnecting `EventSource`, if it sent one.
pub fn last_event_id(headers: &HeaderMap) -> Option<Position> {
    let value = headers.get("last-event-id")?;
    let text = value.to_str().unwrap_or("").trim();
    Some(match text.parse::<u64>() {
        Ok(seq) => Position::At(seq),
        Err(_) => Position::Invalid(text.to_owned()),
    })
}

/// Streams one run from `resume`.
pub async fn stream_run(
    state: AppState,
    caller: &Principal,
    run: String,
    resume: Resume,
) -> Result<Response, AppError> {
    // An unknown run is a 404 before the stream starts, so an EventSource does not retry it.
    let tenant = state.tenants.get(&caller.tenant).await?;
    tenant.runs.snapshot(&run).await?;
    let limits = &state.live.limits;
    let closer = Closer::default();
    // Counted against the user's connections; signing out or revoking ends the stream.
    let admission = state.auth.connections.admit(caller, &closer)?;
    state.auth.still_valid(caller).await?;
    let (outbox, queue) = Outbox::new(limits.queue_frames, limits.write_deadline, closer.clone());
    let (runs, shutdown) = (Arc::clone(&tenant.runs), state.live.shutdown.clone());
    // The feed ends when the client leaves (the response body, which holds `gone`, drops), is
    // too slow, or the server shuts down (after delivering what was published before); the
    // stream then ends and the client resumes.
    let gone = closer.clone().close_on_drop();
    state.live.tracker.spawn(async move {
        tokio::select! {
            _ = follow_run(&runs, &run, resume, &outbox, &shutdown) => {}
            _ = closer.closed() => {}
        }
    });
    let frames = queue.into_stream().map(move |frame| {
        let _held = (&gone, &admission);
        frame
    });
    let events = stream::once(async { Ok(Event::default().retry(RETRY)) })
        .chain(frames.flat_map(|frame| stream::iter(messages(frame))));
    let keep_alive = KeepAlive::new()
        .interval(limits.sse_keep_alive)
        .text("keep-alive");
    Ok(Sse::new(events).keep_alive(keep_alive).into_response())
}

fn event_messages(events: &[StoredEvent]) -> Vec<Result<Event, Infallible>> {
    events
        .iter()
        .map(|event| Ok(Event::default().id(event.seq.to_string()).data(json(event))))
        .collect()
}

/// The SSE messages of one frame.
fn messages(outgoing: Outgoing) -> Vec<Result<Event, Infallible>> {
    let frame = match outgoing {
        Outgoing::Shared(batch) => return event_messages(&batch.events),
        Outgoing::Snapshot(snapshot) => {
            return vec![Ok(Event::default()
                .event("snapshot")
                .id(snapshot.seq.to_string())
                .data(snapshot.frame.as_str()))]
        }
        Outgoing::Frame(frame) => *frame,
    };
    match frame {
        ServerFrame::Events { events, .. } => event_messages(&events),
        ServerFrame::Snapshot { seq, .. } => vec![Ok(Event::default()
            .event("snapshot")
            .id(seq.to_string())
            .data(json(&frame)))],
        ServerFrame::Subscribed { .. } => {
            vec![Ok(Event::default().event("subscribed").data(json(&frame)))]
        }
        ServerFrame::Error { .. } => {
            vec![Ok(Event::default()
                .event("stream_error")
                .data(json(&frame)))]
        }
        // Run feeds send nothing else; heartbeats are the keep-alive comments here.
        _ => Vec::new(),
    }
}

/// Feed frames and events are plain data: they always serialise.
fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("feed frames serialise")
}
