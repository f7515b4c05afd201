//! The WebSocket's limits and deadlines, each ending in its documented close code: oversized
//! and fragmented messages (1009), binary frames (1003), invalid UTF-8 (1007), silent clients
//! (4000), subscriptions past the cap (an error frame), protocol pings, and a server shutting
//! down (1012, also ending SSE streams).

use crate::support::{pipelines, Socket, SseReader, TestServer};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use signalbox::api::ServerFrame;
use signalbox::domain::Status;
use std::time::Duration;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

const CLOSE_WITHIN: Duration = Duration::from_secs(10);

fn raw(opcode: Data, payload: Vec<u8>, fin: bool) -> Message {
    Message::Frame(Frame::message(payload, OpCode::Data(opcode), fin))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_abuse_gets_the_documented_close_codes() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), None).await;

    let mut socket = server.socket().await;
    let big = format!(r#"{{"op":"subscribe","run":"{}"}}"#, "x".repeat(40 * 1024));
    socket.ws.send(Message::Text(big.into())).await.unwrap();
    assert_eq!(
        socket.close_code(CLOSE_WITHIN).await,
        Some(1009),
        "over 32 KiB"
    );

    // A 20 MB message in 16 KiB fragments is refused at the limit, not assembled.
    let mut socket = server.socket().await;
    let chunk = vec![b' '; 16 * 1024];
    socket
        .ws
        .send(raw(Data::Text, chunk.clone(), false))
        .await
        .unwrap();
    for _ in 0..(20 * 64 - 2) {
        let continuation = Message::Frame(Frame::message(
            chunk.clone(),
            OpCode::Data(Data::Continue),
            false,
        ));
        if socket.ws.send(continuation).await.is_err() {
            break;
        }
    }
    assert_eq!(
        socket.close_code(CLOSE_WITHIN).await,
        Some(1009),
        "fragmented"
    );

    let mut socket = server.socket().await;
    socket
        .ws
        .send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    assert_eq!(socket.close_code(CLOSE_WITHIN).await, Some(1003), "binary");

    let mut socket = server.socket().await;
    socket
        .ws
        .send(raw(Data::Text, vec![b'{', 0xff, 0xfe, b'}'], true))
        .await
        .unwrap();
    assert_eq!(
        socket.close_code(CLOSE_WITHIN).await,
        Some(1007),
        "invalid UTF-8"
    );

    // The server still serves others.
    let mut socket = server.socket().await;
    socket
        .send(json!({ "op": "subscribe", "topic": "runs" }))
        .await;
    assert!(matches!(
        socket.next().await,
        ServerFrame::Subscribed { .. }
    ));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_are_capped_per_connection() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(data.path(), None, |c| c.live.max_subscriptions = 5).await;
    let steps: Vec<_> = (0..8).map(|i| json!({ "id": format!("s{i}") })).collect();
    let (status, _) = server
        .post("/api/v1/runs", &json!({ "id": "many", "steps": steps }))
        .await;
    assert_eq!(status, 201);
    let mut socket = server.socket().await;
    for i in 0..5 {
        socket
            .send(json!({ "op": "subscribe", "run": "many", "step": format!("s{i}"), "logs_after": 0 }))
            .await;
        assert!(matches!(
            socket.next().await,
            ServerFrame::Subscribed { .. }
        ));
    }
    socket
        .send(json!({ "op": "subscribe", "run": "many", "step": "s5", "logs_after": 0 }))
        .await;
    let ServerFrame::Error { code, .. } = socket.next().await else {
        panic!("an error frame past the cap")
    };
    assert_eq!(code, "too_many_subscriptions");
    // Re-subscribing the same key replaces it; unsubscribing makes room.
    socket
        .send(json!({ "op": "unsubscribe", "run": "many", "step": "s0" }))
        .await;
    socket
        .send(json!({ "op": "subscribe", "run": "many", "step": "s5", "logs_after": 0 }))
        .await;
    assert!(
        matches!(socket.next().await, ServerFrame::Subscribed { step: Some(s), .. } if s == "s5")
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_pings_and_closes_clients_that_stay_silent() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(data.path(), None, |c| {
        c.live.ping_every = Duration::from_millis(200);
        c.live.heartbeat_every = Duration::from_millis(300);
        c.live.read_deadline = Duration::from_millis(1_500);
    })
    .await;
    // A client that reads answers pings (tungstenite does) and stays connected; pings and
    // heartbeats (one timer serves both) each keep their own period.
    let mut alive = server.socket().await;
    let (mut pings, mut heartbeats) = (0, 0);
    let until = tokio::time::Instant::now() + Duration::from_millis(2_500);
    while let Ok(Some(Ok(message))) = tokio::time::timeout_at(until, alive.ws.next()).await {
        match &message {
            Message::Ping(_) => pings += 1,
            Message::Text(text)
                if serde_json::from_str::<ServerFrame>(text.as_str()).ok()
                    == Some(ServerFrame::Heartbeat) =>
            {
                heartbeats += 1
            }
            _ => {}
        }
        assert!(
            !matches!(message, Message::Close(_)),
            "a responsive client is kept"
        );
    }
    assert!(
        (5..=13).contains(&pings),
        "{pings} pings in 2.5 s, one per 200 ms"
    );
    assert!(
        (4..=9).contains(&heartbeats),
        "{heartbeats} heartbeats in 2.5 s, one per 300 ms"
    );

    // A client that never reads never answers: closed with 4000 after the read deadline.
    let mut silent = server.socket().await;
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert_eq!(silent.close_code(CLOSE_WITHIN).await, Some(4000));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutting_down_delivers_the_interrupted_runs_end_then_closes_with_1012() {
    let dir = pipelines(&[(
        "long.toml",
        "id = 'long'\n[[steps]]\nid = 'wait'\nrun = \"echo '::progress 20 waiting'; sleep 60\"\n",
    )]);
    let data = tempfile::tempdir().unwrap();
    let mut server = TestServer::start(data.path(), Some(dir.path().to_path_buf())).await;
    let run = server.start_run("long").await;
    let mut socket = Socket::connect(server.addr).await;
    socket.send(json!({ "op": "subscribe", "run": run })).await;
    let ServerFrame::Snapshot { state, .. } = socket.next().await else {
        panic!("a snapshot first")
    };
    let mut state = *state;
    let mut sse = SseReader::open(&server.http, server.addr, &run, "", None)
        .await
        .unwrap();
    assert!(sse.next().await.is_some());
    // Wait for the step to run, then stop the server.
    while state.steps["wait"].progress < 20.0 {
        if let ServerFrame::Events { events, .. } = socket.next().await {
            for event in &events {
                state.apply(event).unwrap();
            }
        }
    }
    server.begin_stop();
    // The viewer sees the run end, interrupted, before the socket closes with 1012.
    let code = loop {
        match tokio::time::timeout(CLOSE_WITHIN, socket.ws.next())
            .await
            .unwrap()
        {
            Some(Ok(Message::Text(text))) => {
                if let Ok(ServerFrame::Events { events, .. }) = serde_json::from_str(&text) {
                    for event in &events {
                        state.apply(event).unwrap();
                    }
                }
            }
            Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            other => panic!("no close frame: {other:?}"),
        }
    };
    assert_eq!(code, Some(1012));
    assert_eq!(state.status, Status::Failed, "the run's end arrived first");
    assert!(state
        .message
        .as_deref()
        .is_some_and(|m| m.starts_with("interrupted")));
    assert_eq!(state.steps["wait"].status, Status::Failed);
    // The SSE stream delivers the end too, then ends.
    let mut last_status = None;
    let ended = tokio::time::timeout(CLOSE_WITHIN, async {
        while let Some(message) = sse.next().await {
            if let Ok(event) = serde_json::from_str::<Value>(&message.data) {
                if event["type"] == "run.finished" {
                    last_status = event["status"].as_str().map(str::to_owned);
                }
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the SSE stream ends on shutdown");
    assert_eq!(last_status.as_deref(), Some("failed"));
    server.stop().await;
}
