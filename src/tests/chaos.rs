//! Cut, stalled and throttled connections (a chaos proxy between client and server) while a
//! producer reports a run: a client resuming with its position and epoch after every cut ends
//! with exactly the events 1..N, each once and in order, and its fold equals the stored truth;
//! over the WebSocket and over SSE with `Last-Event-ID`.

use crate::proxy::{ChaosProxy, Mode};
use crate::support::{progress_event, SseReader, TestServer};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use signalbox::api::ServerFrame;
use signalbox::domain::{RunState, StoredEvent};
use std::time::Duration;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// Events the producer sends (plus the final `run.finished`).
const EVENTS: u64 = 600;
const FOLLOW_DEADLINE: Duration = Duration::from_secs(90);

/// A small deterministic generator, so a failing run can be replayed from its seed.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Reports the run: batches of three events every few milliseconds, then `run.finished`.
async fn produce(server: &TestServer, run: &str) {
    let path = format!("/api/v1/runs/{run}/events");
    for start in (1..=EVENTS).step_by(3) {
        let batch: Vec<Value> = (start..(start + 3).min(EVENTS + 1))
            .map(progress_event)
            .collect();
        let (status, body) = server.post(&path, &json!(batch)).await;
        assert_eq!(status, 200, "{body}");
        tokio::time::sleep(Duration::from_millis(4)).await;
    }
    let (status, body) = server
        .post(
            &path,
            &json!({ "type": "run.finished", "status": "success", "id": "end" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// Breaks the proxy's connections at random moments until `stop` resolves.
async fn wreak_havoc(
    proxy: &ChaosProxy,
    seed: u64,
    stop: tokio::sync::oneshot::Receiver<()>,
) -> u32 {
    let mut random = Lcg(seed);
    let mut cuts = 0;
    let havoc = async {
        loop {
            tokio::time::sleep(Duration::from_millis(20 + random.below(150))).await;
            match random.below(4) {
                0 => {
                    proxy.set(Mode::Stall);
                    tokio::time::sleep(Duration::from_millis(random.below(120))).await;
                    proxy.cut();
                    proxy.set(Mode::Pass);
                }
                1 => {
                    proxy.set(Mode::Throttle(64 + random.below(512) as usize));
                    tokio::time::sleep(Duration::from_millis(random.below(150))).await;
                    proxy.set(Mode::Pass);
                    continue;
                }
                _ => proxy.cut(),
            }
            cuts += 1;
        }
    };
    tokio::select! {
        () = havoc => unreachable!(),
        _ = stop => {}
    }
    proxy.set(Mode::Pass);
    cuts
}

/// What a client folded from the frames it got.
struct Follower {
    state: RunState,
    epoch: Option<String>,
    seqs: Vec<u64>,
    snapshots: usize,
    connections: usize,
}

impl Follower {
    fn new(state: RunState) -> Self {
        Follower {
            state,
            epoch: None,
            seqs: Vec::new(),
            snapshots: 0,
            connections: 0,
        }
    }

    fn apply(&mut self, events: &[StoredEvent]) {
        for event in events {
            assert_eq!(event.seq, self.state.seq + 1, "no gap, no duplicate");
            self.state.apply(event).unwrap();
            self.seqs.push(event.seq);
        }
    }
}

/// Follows the run over the WebSocket through the proxy, resuming after every break.
async fn follow_ws(proxy: &ChaosProxy, run: &str, base: RunState) -> Follower {
    let mut follower = Follower::new(base);
    let deadline = Instant::now() + FOLLOW_DEADLINE;
    while !follower.state.status.is_terminal() {
        assert!(
            Instant::now() < deadline,
            "did not reach the end: {} events",
            follower.seqs.len()
        );
        let url = format!("ws://{}/api/v1/ws", proxy.addr);
        let Ok(Ok((mut ws, _))) = tokio::time::timeout(
            Duration::from_secs(2),
            tokio_tungstenite::connect_async(url),
        )
        .await
        else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        follower.connections += 1;
        let op = match &follower.epoch {
            None => json!({ "op": "subscribe", "run": run, "since": follower.state.seq }),
            Some(epoch) => {
                json!({ "op": "subscribe", "run": run, "since": follower.state.seq, "epoch": epoch })
            }
        };
        if ws.send(Message::Text(op.to_string().into())).await.is_err() {
            continue;
        }
        // A stalled connection is given up after a while, like the browser does.
        while let Ok(Some(Ok(message))) =
            tokio::time::timeout(Duration::from_secs(2), ws.next()).await
        {
            let Message::Text(text) = message else {
                continue;
            };
            match serde_json::from_str::<ServerFrame>(&text).unwrap() {
                ServerFrame::Snapshot { state, epoch, .. } => {
                    follower.snapshots += 1;
                    follower.state = *state;
                    follower.epoch = Some(epoch);
                }
                ServerFrame::Events { events, .. } => follower.apply(&events),
                ServerFrame::Subscribed {
                    epoch, recovered, ..
                } => {
                    assert_eq!(recovered, Some(true), "every resume is exact");
                    follower.epoch = epoch;
                }
                ServerFrame::Heartbeat => {}
                other => panic!("unexpected {other:?}"),
            }
            if follower.state.status.is_terminal() {
                break;
            }
        }
    }
    follower
}

/// Follows the run over SSE through the proxy, resuming with `Last-Event-ID`.
async fn follow_sse(proxy: &ChaosProxy, run: &str, base: RunState, epoch: &str) -> Follower {
    let mut follower = Follower::new(base);
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let deadline = Instant::now() + FOLLOW_DEADLINE;
    let query = format!("?epoch={epoch}");
    while !follower.state.status.is_terminal() {
        assert!(
            Instant::now() < deadline,
            "did not reach the end: {} events",
            follower.seqs.len()
        );
        let last = follower.state.seq.to_string();
        let opened = tokio::time::timeout(
            Duration::from_secs(2),
            SseReader::open(&http, proxy.addr, run, &query, Some(&last)),
        )
        .await;
        let Ok(Ok(mut stream)) = opened else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        follower.connections += 1;
        while let Ok(Some(message)) =
            tokio::time::timeout(Duration::from_secs(2), stream.next()).await
        {
            match message.event.as_deref() {
                None => {
                    let event: StoredEvent = serde_json::from_str(&message.data).unwrap();
                    assert_eq!(message.id, Some(event.seq.to_string()));
                    follower.apply(&[event]);
                }
                Some("subscribed") => {}
                Some(other) => panic!("unexpected `{other}`: {}", message.data),
            }
            if follower.state.status.is_terminal() {
                break;
            }
        }
    }
    follower
}

/// The stored truth: every event once, gapless, folding to the HTTP snapshot.
async fn assert_matches_truth(server: &TestServer, run: &str, follower: &Follower) {
    let stored = server.stored_events(run).await;
    let expected: Vec<u64> = (1..=EVENTS + 1).collect();
    assert_eq!(stored.iter().map(|e| e.seq).collect::<Vec<_>>(), expected);
    assert_eq!(follower.seqs, expected, "the client got exactly 1..N");
    let (truth, _) = server.snapshot(run).await;
    assert_eq!(
        follower.state, truth,
        "the client's fold is the stored truth"
    );
}

fn seed() -> u64 {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    println!("chaos seed {seed}");
    seed
}

/// Runs `follow` against a producer while the proxy wreaks havoc; returns what the client
/// folded once the checks against the stored truth passed.
async fn under_chaos(
    run: &str,
    follow: impl AsyncFnOnce(&ChaosProxy, RunState, String) -> Follower,
) -> Follower {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), None).await;
    let run = server.adhoc_run(run).await;
    let (base, epoch) = server.snapshot(&run).await;
    let proxy = ChaosProxy::start(server.addr).await;
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let (follower, cuts, ()) = tokio::join!(
        async {
            let follower = follow(&proxy, base, epoch).await;
            let _ = stop.send(());
            follower
        },
        wreak_havoc(&proxy, seed(), stopped),
        produce(&server, &run),
    );
    assert!(
        cuts >= 3 && follower.connections >= 3,
        "{cuts} cuts, {} connections",
        follower.connections
    );
    assert_matches_truth(&server, &run, &follower).await;
    server.stop().await;
    follower
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_client_cut_at_random_points_resumes_exactly() {
    let follower = under_chaos("chaos-ws", async |proxy, base, _| {
        follow_ws(proxy, "chaos-ws", base).await
    })
    .await;
    assert_eq!(
        follower.snapshots, 0,
        "resumed from seq 0 by replay, never resynced"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sse_client_cut_at_random_points_resumes_with_last_event_id() {
    under_chaos("chaos-sse", async |proxy, base, epoch| {
        follow_sse(proxy, "chaos-sse", base, &epoch).await
    })
    .await;
}
