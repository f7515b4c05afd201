//! The live stream at `/api/v1/ws`. Per socket: a reader (this task) that parses operations
//! and watches the read deadline, a writer task that drains a bounded queue and sends protocol
//! pings and heartbeats, and one task per subscription running the shared feed
//! ([`super::feed`]). Every way a connection ends goes through its [`Closer`], which picks the
//! close code (README: "Live stream guarantees").

use super::auth::connections::Admission;
use super::auth::{Action, Caller};
use super::config::LiveLimits;
use super::error::AppError;
use super::feed::{follow_logs, follow_run, follow_runs_topic, follow_system_topic, Resume};
use super::outbox::{CloseReason, Closer, Outbox, Outgoing};
use super::runs::Runs;
use super::state::{AppState, Live};
use crate::api::{ClientOp, OpKind, Position, ServerFrame};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How long a closing connection waits for the client's close reply.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// How long the server keeps trying to hand a client that stopped reading its close frame
/// (so that, if it reads again, it learns why it was closed). Nothing else is queued for it
/// meanwhile: its subscriptions are gone.
const CLOSE_HOLD: Duration = Duration::from_secs(10);
/// On shutdown, how long subscriptions get to deliver what was published before it.
const FLUSH_ON_SHUTDOWN: Duration = Duration::from_secs(1);
/// The socket's read buffer: client operations are a few hundred bytes at most (and capped by
/// the message limit, which the buffer grows to when a message needs it). The library's
/// default, 128 KiB, allocated for every connection, was most of an idle connection's memory.
const READ_BUFFER: usize = 256;
/// Bytes gathered before the socket is written to; queued frames are written together and
/// flushed once, so a busy connection makes few system calls.
const WRITE_BUFFER: usize = 16 * 1024;
/// Queued frames written before one flush.
const FLUSH_EVERY: usize = 64;

/// The handshake: the caller must be allowed to view runs, and its user under the limit of
/// live connections (signing out or revoking closes it with 4401).
pub async fn ws_handler(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Response, AppError> {
    caller.require(Action::View)?;
    let runs = Arc::clone(&state.tenants.get(&caller.tenant).await?.runs);
    let closer = Closer::default();
    let admission = state.auth.connections.admit(&caller, &closer)?;
    state.auth.still_valid(&caller).await?;
    let max = state.live.limits.max_message_bytes;
    // One box instead of four captures: axum's upgrade task keeps its callback's captures for
    // the connection's whole life, beside the future the callback returns (which holds them
    // again). The admission is boxed too: it is large and, with authentication off, absent.
    let parts = Box::new((runs, state.live.clone(), closer, admission.map(Box::new)));
    Ok(ws
        .max_message_size(max)
        .max_frame_size(max)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .on_upgrade(move |socket| {
            let (runs, live, closer, admission) = *parts;
            let tracker = live.tracker.clone();
            // Split here, not inside the task: an async fn keeps its arguments for its whole
            // life, and the unsplit socket is hundreds of bytes per idle connection.
            let (sink, stream) = socket.split();
            // Not wrapped in another async block: its captures would be kept beside the
            // future's own copies of them, hundreds of bytes per idle connection.
            tracker.track_future(serve_socket(sink, stream, runs, live, closer, admission))
        }))
}

async fn serve_socket(
    sink: SplitSink<WebSocket, Message>,
    stream: SplitStream<WebSocket>,
    runs: Arc<Runs>,
    live: Live,
    closer: Closer,
    // Held while the connection lives: it counts against the user's limit.
    _admission: Option<Box<Admission>>,
) {
    let limits = Arc::clone(&live.limits);
    let (outbox, queue) = Outbox::new(limits.queue_frames, limits.write_deadline, closer.clone());
    let writer = tokio::spawn(write_loop(sink, queue, closer.clone(), Arc::clone(&limits)));
    let mut connection = Connection {
        runs,
        outbox,
        limits,
        stop: live.shutdown.clone(),
        system: live.system.clone(),
        subscriptions: Vec::new(),
    };
    let stream = read_loop(stream, &mut connection, &closer, &live.shutdown).await;
    // Boxed: ending (the flush on shutdown, the wait for the close reply) needs timers and
    // join state that would otherwise be part of every idle connection's task.
    Box::pin(finish(connection.subscriptions, writer, stream, closer)).await;
}

/// Ends a connection whose read loop returned: its subscriptions stop (on shutdown, after
/// delivering what was published), the writer sends the close frame, and the peer gets a
/// moment to answer it.
async fn finish(
    subscriptions: Vec<(String, JoinHandle<()>)>,
    writer: JoinHandle<()>,
    stream: Option<SplitStream<WebSocket>>,
    closer: Closer,
) {
    let tasks: Vec<JoinHandle<()>> = subscriptions.into_iter().map(|(_, task)| task).collect();
    if closer.is_closed() {
        for task in &tasks {
            task.abort();
        }
    } else {
        // Shutting down: the subscriptions deliver what was published (the runs the shutdown
        // interrupted end on screen) and end; then the connection closes with 1012.
        let aborts: Vec<_> = tasks.iter().map(JoinHandle::abort_handle).collect();
        if tokio::time::timeout(FLUSH_ON_SHUTDOWN, futures::future::join_all(tasks))
            .await
            .is_err()
        {
            aborts.iter().for_each(tokio::task::AbortHandle::abort);
        }
        closer.close(CloseReason::RESTART);
    }
    // Closing cleanly: let the writer send the close frame, then wait briefly for the reply.
    let _ = writer.await;
    if let Some(mut stream) = stream {
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            while let Some(Ok(message)) = stream.next().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
}

/// Reads operations until the connection must end (its closer closed it, or the server shuts
/// down, which leaves the closing to the caller). Returns the stream when the peer may still be
/// there to answer our close frame.
async fn read_loop(
    mut stream: SplitStream<WebSocket>,
    connection: &mut Connection,
    closer: &Closer,
    shutdown: &CancellationToken,
) -> Option<SplitStream<WebSocket>> {
    let read_deadline = connection.limits.read_deadline;
    let mut heard = Instant::now();
    loop {
        let message = tokio::select! {
            _ = closer.closed() => return Some(stream),
            _ = shutdown.cancelled() => return Some(stream),
            _ = tokio::time::sleep_until(heard + read_deadline) => {
                tracing::debug!("closing a silent live client");
                closer.close(CloseReason::SILENT);
                return Some(stream);
            }
            message = stream.next() => message,
        };
        heard = Instant::now();
        match message {
            Some(Ok(Message::Text(text))) => connection.handle(text.as_str()),
            Some(Ok(Message::Binary(_))) => {
                closer.close(CloseReason::BINARY);
                return Some(stream);
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(Message::Close(_))) => {
                closer.close(CloseReason::NORMAL);
                return None;
            }
            Some(Err(error)) => {
                match close_reason(error) {
                    Some(reason) => closer.close(reason),
                    None => closer.close(CloseReason::GONE),
                }
                return Some(stream);
            }
            None => {
                closer.close(CloseReason::GONE);
                return None;
            }
        }
    }
}

/// The close code for a protocol error of the client, or `None` when the transport failed.
fn close_reason(error: axum::Error) -> Option<CloseReason> {
    match error.into_inner().downcast_ref::<tungstenite::Error>()? {
        tungstenite::Error::Capacity(_) => Some(CloseReason::TOO_BIG),
        tungstenite::Error::Utf8(_) => Some(CloseReason::BAD_UTF8),
        tungstenite::Error::Protocol(_) => Some(CloseReason::PROTOCOL),
        _ => None,
    }
}

/// Sends queued frames, heartbeats and pings, each within the write deadline; then the close
/// frame the [`Closer`] chose (unless the peer is gone or not reading).
async fn write_loop(
    mut sink: SplitSink<WebSocket, Message>,
    queue: flume::Receiver<Outgoing>,
    closer: Closer,
    limits: Arc<LiveLimits>,
) {
    let start = Instant::now();
    // One timer for heartbeats and pings: each timer is memory every idle connection holds.
    let mut next_heartbeat = start + limits.heartbeat_every;
    let mut next_ping = start + limits.ping_every;
    let timer = tokio::time::sleep_until(next_heartbeat.min(next_ping));
    tokio::pin!(timer);
    let mut closing = false;
    // Made once, not per frame: each one registers with the token.
    let closed = closer.closed();
    tokio::pin!(closed);
    loop {
        let message = if closing {
            // Closing: what is already queued still goes out (unless the client is the problem).
            match queue.try_recv() {
                Ok(frame) if closer.reason() != Some(CloseReason::SLOW) => to_message(frame),
                _ => break,
            }
        } else {
            tokio::select! {
                biased;
                () = &mut closed => {
                    closing = true;
                    continue;
                }
                frame = queue.recv_async() => match frame {
                    Ok(frame) => to_message(frame),
                    Err(flume::RecvError::Disconnected) => break,
                },
                () = &mut timer => {
                    let now = Instant::now();
                    let message = if next_heartbeat <= next_ping {
                        next_heartbeat = next_tick(next_heartbeat, limits.heartbeat_every, now);
                        to_message(ServerFrame::Heartbeat.into())
                    } else {
                        next_ping = next_tick(next_ping, limits.ping_every, now);
                        Message::Ping(Default::default())
                    };
                    timer.as_mut().reset(next_heartbeat.min(next_ping));
                    message
                }
            }
        };
        // Boxed: the write's state (its deadline timer among it) lives on the heap only while
        // it runs, so an idle connection's task stays small.
        let written = Box::pin(tokio::time::timeout(limits.write_deadline, async {
            sink.feed(message).await?;
            // Whatever else is queued already goes out with it, in one flush.
            for _ in 1..FLUSH_EVERY {
                match queue.try_recv() {
                    Ok(frame) if !closer.is_closed() => sink.feed(to_message(frame)).await?,
                    _ => break,
                }
            }
            sink.flush().await
        }));
        match written.await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => {
                closer.close(CloseReason::GONE);
                return;
            }
            Err(_) => {
                // The socket itself stopped taking bytes within the deadline.
                closer.close(CloseReason::SLOW);
                break;
            }
        }
    }
    let Some(reason) = closer.reason().filter(|r| *r != CloseReason::GONE) else {
        return;
    };
    let frame = CloseFrame {
        code: reason.code,
        reason: reason.reason.into(),
    };
    let _ = tokio::time::timeout(CLOSE_HOLD, sink.send(Message::Close(Some(frame)))).await;
}

/// The tick after `due`, every `every`; a tick missed (the writer was busy) is skipped, not
/// made up in a burst.
fn next_tick(due: Instant, every: Duration, now: Instant) -> Instant {
    let next = due + every;
    if next <= now {
        now + every
    } else {
        next
    }
}

fn to_message(outgoing: Outgoing) -> Message {
    match outgoing {
        Outgoing::Shared(batch) => Message::Text(batch.frame.clone()),
        Outgoing::Snapshot(snapshot) => Message::Text(snapshot.frame.clone()),
        // Frames are plain data (string-keyed maps, finite numbers): they always serialise.
        Outgoing::Frame(frame) => Message::Text(
            serde_json::to_string(&frame)
                .expect("frames serialise")
                .into(),
        ),
    }
}

/// A client's operation and the key of what it follows (its subscription's name on the
/// connection), or why it cannot be followed. The whole path from untrusted text to a decision.
pub(super) fn parse_operation(text: &str) -> Result<(ClientOp, String), String> {
    let op: ClientOp = serde_json::from_str(text).map_err(|e| format!("invalid operation: {e}"))?;
    let key = match (&op.run, &op.step, &op.topic) {
        (Some(run), Some(step), _) => format!("logs:{run}:{step}"),
        (Some(run), None, _) => format!("run:{run}"),
        (None, _, Some(topic)) if topic == "runs" || topic == "system" => format!("topic:{topic}"),
        (None, _, Some(topic)) => return Err(format!("`topic`: unknown topic `{topic}`")),
        (None, _, None) => return Err("missing field `run` (or `topic`)".to_owned()),
    };
    Ok((op, key))
}

/// One socket's subscriptions, keyed by what they follow (a handful at most: a list is
/// smaller than a map for every idle connection).
struct Connection {
    runs: Arc<Runs>,
    outbox: Outbox,
    limits: Arc<LiveLimits>,
    /// The server's shutdown: subscriptions deliver what was published and end.
    stop: CancellationToken,
    /// The latest system reading, for the `system` topic.
    system: tokio::sync::watch::Receiver<Option<crate::api::SystemSample>>,
    subscriptions: Vec<(String, JoinHandle<()>)>,
}

impl Connection {
    fn reply_error(&self, code: &str, message: String) {
        let _ = self.outbox.try_send(ServerFrame::Error {
            code: code.to_owned(),
            message,
        });
    }

    fn handle(&mut self, text: &str) {
        match parse_operation(text) {
            Ok((op, key)) => self.apply(op, key),
            Err(message) => self.reply_error("bad_request", message),
        }
    }

    fn apply(&mut self, op: ClientOp, key: String) {
        if let Some(at) = self.subscriptions.iter().position(|(k, _)| *k == key) {
            self.subscriptions.swap_remove(at).1.abort();
        }
        if op.op == OpKind::Unsubscribe {
            return;
        }
        self.subscriptions.retain(|(_, task)| !task.is_finished());
        if self.subscriptions.len() >= self.limits.max_subscriptions {
            return self.reply_error(
                "too_many_subscriptions",
                format!(
                    "at most {} subscriptions per connection; unsubscribe first",
                    self.limits.max_subscriptions
                ),
            );
        }
        let (runs, out, stop) = (
            Arc::clone(&self.runs),
            self.outbox.clone(),
            self.stop.clone(),
        );
        let task = match (op.run, op.step) {
            (Some(run), Some(step)) => {
                // A malformed `logs_after` starts the log from its first line.
                let after = match op.logs_after {
                    Some(Position::At(n)) => n,
                    _ => 0,
                };
                tokio::spawn(async move {
                    let _ = follow_logs(&runs, &run, &step, after, &out, &stop).await;
                })
            }
            (Some(run), None) => {
                let resume = Resume {
                    since: op.since,
                    epoch: op.epoch,
                };
                tokio::spawn(async move {
                    let _ = follow_run(&runs, &run, resume, &out, &stop).await;
                })
            }
            (None, _) if key == "topic:system" => {
                let system = self.system.clone();
                tokio::spawn(async move {
                    let _ = follow_system_topic(system, &out, &stop).await;
                })
            }
            (None, _) => tokio::spawn(async move {
                let _ = follow_runs_topic(&runs, &out, &stop).await;
            }),
        };
        // Room for exactly one more: most connections follow one thing, and a first push
        // would reserve four entries.
        self.subscriptions.reserve_exact(1);
        self.subscriptions.push((key, task));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tick_comes_every_period_and_a_missed_one_is_skipped() {
        let start = Instant::now();
        let every = Duration::from_secs(10);
        // On time: the next tick is one period after the one due.
        assert_eq!(
            next_tick(start, every, start + Duration::from_secs(1)),
            start + every
        );
        // The writer was busy past the next tick: it comes one period from now, not at once.
        let late = start + Duration::from_secs(25);
        assert_eq!(next_tick(start, every, late), late + every);
    }
}
