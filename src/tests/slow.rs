//! One client stops reading while fifty keep up with 1,000 events a second: the fifty stay
//! fast, the stalled one is closed with 4008 once its queue stays full past the write deadline,
//! and it then resumes exactly where it stopped; memory stays bounded meanwhile. (The stalled
//! client also follows a chatty step's log, 4 MB a second, so that it fills the kernel's
//! socket buffers within a second instead of after minutes.)

use crate::support::{TestServer, RUN_DEADLINE};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use signalbox::api::ServerFrame;
use signalbox::domain::RunState;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

const FAST_CLIENTS: usize = 50;
const EVENTS_PER_SECOND: u64 = 1_000;
const SECONDS: u64 = 4;
const BATCH: u64 = 10;

type Ws = WebSocketStream<tokio::net::TcpStream>;

/// A WebSocket over a socket with a tiny receive buffer, so a client that stops reading is
/// felt by the server at once rather than after megabytes of kernel buffering.
async fn connect(addr: SocketAddr, receive_buffer: Option<u32>) -> Ws {
    let socket = TcpSocket::new_v4().unwrap();
    if let Some(size) = receive_buffer {
        socket.set_recv_buffer_size(size).unwrap();
    }
    let stream = socket.connect(addr).await.unwrap();
    let (ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/api/v1/ws"), stream)
        .await
        .unwrap();
    ws
}

async fn subscribe(ws: &mut Ws, op: Value) {
    ws.send(Message::Text(op.to_string().into())).await.unwrap();
}

/// Applies frames until the run ends or the socket closes; returns the close code if any.
/// `latencies` collects, per event, the time from its `ts` (set by the producer when it sent
/// the event) to its arrival.
async fn read_until_end(
    ws: &mut Ws,
    state: &mut Option<RunState>,
    epoch: &mut String,
    latencies: &mut Vec<f64>,
) -> Option<u16> {
    while let Ok(Some(message)) = tokio::time::timeout(RUN_DEADLINE, ws.next()).await {
        let text = match message {
            Ok(Message::Text(text)) => text,
            Ok(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
            Ok(_) => continue,
            Err(_) => return None,
        };
        match serde_json::from_str::<ServerFrame>(&text).unwrap() {
            ServerFrame::Snapshot {
                state: fresh,
                epoch: e,
                ..
            } => {
                *state = Some(*fresh);
                *epoch = e;
            }
            ServerFrame::Events { events, .. } => {
                let now = chrono::Utc::now();
                let current = state.as_mut().expect("a snapshot first");
                for event in &events {
                    assert_eq!(event.seq, current.seq + 1, "gapless");
                    current.apply(event).unwrap();
                    latencies
                        .push((now - event.ts).num_microseconds().unwrap_or(0) as f64 / 1000.0);
                }
                if current.status.is_terminal() {
                    return None;
                }
            }
            _ => {}
        }
    }
    None
}

fn p99(latencies: &mut [f64]) -> f64 {
    latencies.sort_by(f64::total_cmp);
    latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)]
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_client_is_closed_and_resumes_while_the_others_keep_up() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(data.path(), None, |c| {
        c.live.write_deadline = Duration::from_secs(1);
        c.live.queue_frames = 16;
    })
    .await;
    let run = server.adhoc_run("firehose").await;
    let subscribe_op = json!({ "op": "subscribe", "run": run });

    let mut fast = Vec::new();
    for _ in 0..FAST_CLIENTS {
        let mut ws = connect(server.addr, None).await;
        subscribe(&mut ws, subscribe_op.clone()).await;
        fast.push(ws);
    }
    let mut slow = connect(server.addr, Some(4096)).await;
    subscribe(&mut slow, subscribe_op.clone()).await;
    subscribe(
        &mut slow,
        json!({ "op": "subscribe", "run": run, "step": "a", "logs_after": 0 }),
    )
    .await;
    let (mut slow_state, mut slow_epoch) = (None, String::new());
    while slow_state.is_none() {
        let Some(Ok(Message::Text(text))) = slow.next().await else {
            panic!("snapshot")
        };
        if let ServerFrame::Snapshot { state, epoch, .. } = serde_json::from_str(&text).unwrap() {
            slow_state = Some(*state);
            slow_epoch = epoch;
        }
    }
    let rss_before = rss_kib();

    let fast_readers: Vec<_> = fast
        .into_iter()
        .map(|mut ws| {
            tokio::spawn(async move {
                let (mut state, mut epoch, mut latencies) = (None, String::new(), Vec::new());
                let code = read_until_end(&mut ws, &mut state, &mut epoch, &mut latencies).await;
                (code, state, latencies)
            })
        })
        .collect();

    // The producer: 1,000 events a second, stamped with their send time.
    let path = format!("/api/v1/runs/{run}/events");
    let chatty = "x".repeat(8_000);
    let batches = EVENTS_PER_SECOND * SECONDS / BATCH;
    let start = tokio::time::Instant::now();
    for b in 0..batches {
        tokio::time::sleep_until(
            start + Duration::from_millis(b * 1_000 * BATCH / EVENTS_PER_SECOND),
        )
        .await;
        let ts = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let mut batch: Vec<Value> = (0..BATCH)
            .map(|k| {
                let step = if k.is_multiple_of(2) { "a" } else { "c" };
                json!({ "type": "step.progress", "step": step, "progress": (b % 100), "rows": b * BATCH + k, "ts": ts })
            })
            .collect();
        batch.push(json!({ "type": "step.log", "step": "a", "lines": vec![chatty.as_str(); 5] }));
        let (status, body) = server.post(&path, &json!(batch)).await;
        assert_eq!(status, 200, "{body}");
    }
    let rss_during = rss_kib();
    let (status, _) = server
        .post(
            &path,
            &json!({ "type": "run.finished", "status": "success" }),
        )
        .await;
    assert_eq!(status, 200);

    let (truth, _) = server.snapshot(&run).await;
    let mut all = Vec::new();
    for reader in fast_readers {
        let (code, state, latencies) = reader.await.unwrap();
        assert_eq!(code, None, "fast clients are never closed");
        assert_eq!(state.as_ref(), Some(&truth));
        all.extend(latencies);
    }
    let p99 = p99(&mut all);
    println!(
        "{} deliveries, p99 {p99:.1} ms, RSS {rss_before} -> {rss_during} KiB",
        all.len()
    );
    assert_eq!(
        all.len() as u64,
        FAST_CLIENTS as u64 * EVENTS_PER_SECOND * SECONDS + FAST_CLIENTS as u64
    );
    assert!(
        p99 < 500.0,
        "the stalled client slowed the others: p99 {p99:.1} ms"
    );
    assert!(
        rss_during < rss_before + 200 * 1024,
        "memory bounded: {rss_before} -> {rss_during} KiB"
    );

    // The stalled client reads what reached it, finds itself closed as too slow...
    let code = read_until_end(&mut slow, &mut slow_state, &mut slow_epoch, &mut Vec::new()).await;
    assert_eq!(code, Some(4008));
    // ...and resumes exactly where it stopped.
    let last = slow_state.as_ref().unwrap().seq;
    assert!(
        last < truth.seq,
        "it had fallen behind ({last} of {})",
        truth.seq
    );
    let mut again = connect(server.addr, None).await;
    subscribe(
        &mut again,
        json!({ "op": "subscribe", "run": run, "since": last, "epoch": slow_epoch }),
    )
    .await;
    read_until_end(
        &mut again,
        &mut slow_state,
        &mut slow_epoch,
        &mut Vec::new(),
    )
    .await;
    assert_eq!(slow_state.as_ref(), Some(&truth));
    server.stop().await;
}
