//! The live stream at `/api/v1/ws`: per socket, a writer task fed by a bounded queue and one
//! task per subscription. Run subscriptions send a snapshot (or the events after `since`), then
//! live events with no gap and no duplicate: gaps are filled from the store, duplicates dropped
//! by seq, and a subscriber that lagged behind the hub gets a fresh snapshot.

use super::hub::RunFeed;
use super::runs::{RunError, Runs};
use super::state::AppState;
use crate::api::{ClientOp, OpKind, ServerFrame};
use crate::domain::{LogLine, Seq, StoredEvent};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

/// Interval of `{"type":"heartbeat"}` frames; clients treat ~2.5 intervals of silence as dead.
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// Frames queued per connection before subscription tasks wait (and then lag and resync).
const OUT_QUEUE: usize = 256;
/// A resume further behind than this gets a snapshot instead of a replay.
const MAX_REPLAY: Seq = 20_000;
/// Events or log lines per frame when replaying from the store.
const PAGE: u32 = 1_000;
/// Consecutive hub batches merged into one frame when they are already waiting.
const MERGE: usize = 64;

pub async fn ws_handler(ws: WebSocketUpgrade, State(state): State<AppState>) -> Response {
    ws.on_upgrade(move |socket| serve_socket(socket, state.runs))
}

/// The subscription's task ends: the socket is gone, or an error frame was sent.
struct Stop;

type Out = mpsc::Sender<ServerFrame>;

async fn send(out: &Out, frame: ServerFrame) -> Result<(), Stop> {
    out.send(frame).await.map_err(|_| Stop)
}

async fn serve_socket(socket: WebSocket, runs: Arc<Runs>) {
    let (mut sink, mut stream) = socket.split();
    let (out, mut queue) = mpsc::channel::<ServerFrame>(OUT_QUEUE);
    let writer = tokio::spawn(async move {
        let mut heartbeat =
            tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
        loop {
            let frame = tokio::select! {
                frame = queue.recv() => match frame { Some(frame) => frame, None => break },
                _ = heartbeat.tick() => ServerFrame::Heartbeat,
            };
            let Ok(text) = serde_json::to_string(&frame) else {
                continue;
            };
            if sink.send(Message::Text(text.into())).await.is_err() {
                break;
            }
        }
    });
    let mut subscriptions: HashMap<String, AbortHandle> = HashMap::new();
    while let Some(Ok(message)) = stream.next().await {
        let text = match message {
            Message::Text(text) => text,
            Message::Close(_) => break,
            _ => continue,
        };
        match serde_json::from_str::<ClientOp>(&text) {
            Ok(op) => handle_op(op, &runs, &out, &mut subscriptions).await,
            Err(e) => {
                let _ = send(
                    &out,
                    error("bad_request", format!("invalid operation: {e}")),
                )
                .await;
            }
        }
    }
    for task in subscriptions.values() {
        task.abort();
    }
    writer.abort();
}

fn error(code: &str, message: String) -> ServerFrame {
    ServerFrame::Error {
        code: code.to_owned(),
        message,
    }
}

async fn handle_op(
    op: ClientOp,
    runs: &Arc<Runs>,
    out: &Out,
    subscriptions: &mut HashMap<String, AbortHandle>,
) {
    let key = match (&op.run, &op.step, &op.topic) {
        (Some(run), Some(step), _) => format!("logs:{run}:{step}"),
        (Some(run), None, _) => format!("run:{run}"),
        (None, _, Some(topic)) if topic == "runs" => "topic:runs".to_owned(),
        (None, _, Some(topic)) => {
            let _ = send(
                out,
                error("bad_request", format!("`topic`: unknown topic `{topic}`")),
            )
            .await;
            return;
        }
        (None, _, None) => {
            let _ = send(
                out,
                error("bad_request", "missing field `run` (or `topic`)".to_owned()),
            )
            .await;
            return;
        }
    };
    if let Some(previous) = subscriptions.remove(&key) {
        previous.abort();
    }
    if op.op == OpKind::Unsubscribe {
        return;
    }
    let (runs, out) = (Arc::clone(runs), out.clone());
    let task = match (op.run, op.step) {
        (Some(run), Some(step)) => tokio::spawn(async move {
            let _ = follow_logs(&runs, &run, &step, op.logs_after.unwrap_or(0), &out).await;
        }),
        (Some(run), None) => tokio::spawn(async move {
            let _ = follow_run(&runs, &run, op.since, &out).await;
        }),
        (None, _) => tokio::spawn(async move {
            let _ = follow_runs_topic(&runs, &out).await;
        }),
    };
    subscriptions.insert(key, task.abort_handle());
}

/// Sends an error frame for a failed lookup and ends the subscription (unknown runs get their
/// own code): going on after a failed read could leave a gap.
async fn report(out: &Out, e: RunError) -> Result<(), Stop> {
    let code = if matches!(e, RunError::UnknownRun(_)) {
        "unknown_run"
    } else {
        "internal"
    };
    send(out, error(code, e.to_string())).await?;
    Err(Stop)
}

/// How a run subscription's live phase ended.
enum Live {
    /// It fell behind the hub: start over with a fresh snapshot.
    Lagged,
    Closed,
}

async fn follow_run(runs: &Runs, run: &str, since: Option<Seq>, out: &Out) -> Result<(), Stop> {
    let mut since = since;
    loop {
        match follow_run_once(runs, run, since, out).await? {
            Live::Lagged => {
                tracing::debug!(run.id = %run, "live subscriber lagged; resending snapshot");
                since = None;
            }
            Live::Closed => return Ok(()),
        }
    }
}

async fn follow_run_once(
    runs: &Runs,
    run: &str,
    since: Option<Seq>,
    out: &Out,
) -> Result<Live, Stop> {
    // Subscribe before reading the store: anything committed in between arrives twice at worst.
    let mut subscription = runs.hub().subscribe(run);
    let feed = subscription.receiver();
    let current = match runs.state(run).await {
        Ok(state) => state,
        Err(e) => return report(out, e).await.map(|()| Live::Closed),
    };
    let mut last = match since {
        Some(since) if since <= current.seq && current.seq - since <= MAX_REPLAY => {
            let mut last = since;
            catch_up(runs, run, &mut last, current.seq, out).await?;
            last
        }
        _ => {
            let seq = current.seq;
            let snapshot = ServerFrame::Snapshot {
                run: run.to_owned(),
                seq,
                state: Box::new(current),
            };
            send(out, snapshot).await?;
            seq
        }
    };
    let subscribed = ServerFrame::Subscribed {
        run: Some(run.to_owned()),
        step: None,
        topic: None,
        seq: Some(last),
        n: None,
    };
    send(out, subscribed).await?;
    loop {
        let batch = match feed.recv().await {
            Ok(first) => {
                let mut events = Vec::new();
                collect_events(&first, &mut events);
                for _ in 0..MERGE {
                    match feed.try_recv() {
                        Ok(more) => collect_events(&more, &mut events),
                        Err(TryRecvError::Lagged(_)) => return Ok(Live::Lagged),
                        Err(_) => break,
                    }
                }
                events
            }
            Err(RecvError::Lagged(_)) => return Ok(Live::Lagged),
            Err(RecvError::Closed) => return Ok(Live::Closed),
        };
        let Some(first) = batch.first() else { continue };
        if first.seq > last + 1 {
            catch_up(runs, run, &mut last, first.seq - 1, out).await?;
        }
        let fresh: Vec<StoredEvent> = batch.into_iter().filter(|e| e.seq > last).collect();
        if let Some(newest) = fresh.last() {
            last = newest.seq;
            send(
                out,
                ServerFrame::Events {
                    run: run.to_owned(),
                    events: fresh,
                },
            )
            .await?;
        }
    }
}

fn collect_events(feed: &RunFeed, into: &mut Vec<StoredEvent>) {
    if let RunFeed::Events(events) = feed {
        into.extend(events.iter().cloned());
    }
}

/// Sends the stored events after `last` up to `target`, in pages, advancing `last`.
async fn catch_up(
    runs: &Runs,
    run: &str,
    last: &mut Seq,
    target: Seq,
    out: &Out,
) -> Result<(), Stop> {
    while *last < target {
        let events = match runs.events_since(run, *last, PAGE).await {
            Ok(events) => events,
            Err(e) => return report(out, e).await,
        };
        let Some(newest) = events.last().map(|e| e.seq) else {
            break;
        };
        *last = newest;
        send(
            out,
            ServerFrame::Events {
                run: run.to_owned(),
                events,
            },
        )
        .await?;
    }
    Ok(())
}

async fn follow_logs(
    runs: &Runs,
    run: &str,
    step: &str,
    after: u64,
    out: &Out,
) -> Result<(), Stop> {
    let mut subscription = runs.hub().subscribe(run);
    let feed = subscription.receiver();
    match runs.state(run).await {
        Ok(state) if state.steps.contains_key(step) => {}
        Ok(_) => {
            return send(
                out,
                error("unknown_step", format!("run `{run}` has no step `{step}`")),
            )
            .await
        }
        Err(e) => return report(out, e).await,
    }
    let mut last = after;
    log_catch_up(runs, run, step, &mut last, u64::MAX, out).await?;
    send(
        out,
        ServerFrame::Subscribed {
            run: Some(run.to_owned()),
            step: Some(step.to_owned()),
            topic: None,
            seq: None,
            n: Some(last),
        },
    )
    .await?;
    loop {
        let lines: Vec<LogLine> = match feed.recv().await {
            Ok(feed) => match &*feed {
                RunFeed::Logs { step: s, lines } if s == step => lines.clone(),
                _ => continue,
            },
            // Lagging costs nothing here: the store has every line; read what was missed.
            Err(RecvError::Lagged(_)) => {
                log_catch_up(runs, run, step, &mut last, u64::MAX, out).await?;
                continue;
            }
            Err(RecvError::Closed) => return Ok(()),
        };
        let Some(first) = lines.first() else { continue };
        if first.n > last + 1 {
            log_catch_up(runs, run, step, &mut last, first.n - 1, out).await?;
        }
        let fresh: Vec<LogLine> = lines.into_iter().filter(|l| l.n > last).collect();
        if let Some(newest) = fresh.last() {
            last = newest.n;
            send(
                out,
                ServerFrame::Logs {
                    run: run.to_owned(),
                    step: step.to_owned(),
                    lines: fresh,
                },
            )
            .await?;
        }
    }
}

async fn log_catch_up(
    runs: &Runs,
    run: &str,
    step: &str,
    last: &mut u64,
    target: u64,
    out: &Out,
) -> Result<(), Stop> {
    while *last < target {
        let lines = match runs.logs_after(run, step, *last, PAGE).await {
            Ok(lines) => lines,
            Err(e) => return report(out, e).await,
        };
        let Some(newest) = lines.last().map(|l| l.n) else {
            break;
        };
        *last = newest;
        send(
            out,
            ServerFrame::Logs {
                run: run.to_owned(),
                step: step.to_owned(),
                lines,
            },
        )
        .await?;
    }
    Ok(())
}

async fn follow_runs_topic(runs: &Runs, out: &Out) -> Result<(), Stop> {
    let mut feed = runs.hub().subscribe_runs();
    send(
        out,
        ServerFrame::Subscribed {
            run: None,
            step: None,
            topic: Some("runs".into()),
            seq: None,
            n: None,
        },
    )
    .await?;
    loop {
        match feed.recv().await {
            Ok(summary) => {
                send(
                    out,
                    ServerFrame::Run {
                        run: (*summary).clone(),
                    },
                )
                .await?
            }
            Err(RecvError::Lagged(missed)) => {
                let message = format!("{missed} run-list changes were skipped; reload the list");
                send(out, error("lagged", message)).await?;
            }
            Err(RecvError::Closed) => return Ok(()),
        }
    }
}
