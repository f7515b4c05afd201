//! Resume, exact or honest: positions from another history (a restored backup), unknown,
//! future, negative or malformed positions all get one snapshot flagged `recovered: false`,
//! over the WebSocket and over SSE; numbers out of range are rejected or clamped, never wrapped.

use crate::support::{progress_event, Socket, SseReader, TestServer};
use serde_json::{json, Value};
use signalbox::api::{Resync, ServerFrame};
use signalbox::domain::StoredEvent;
use std::path::Path;

/// Posts `count` progress events with ids `e{from}`… and returns the last seq.
async fn post_events(server: &TestServer, run: &str, from: u64, count: u64) -> u64 {
    let batch: Vec<Value> = (from..from + count).map(progress_event).collect();
    let (status, body) = server
        .post(&format!("/api/v1/runs/{run}/events"), &json!(batch))
        .await;
    assert_eq!(status, 200, "{body}");
    body["seqs"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_u64()
        .unwrap()
}

/// Copies the database files (the server is stopped).
fn copy_db(from: &Path, to: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let name = format!("signalbox.db{suffix}");
        let _ = std::fs::remove_file(to.join(&name));
        if from.join(&name).exists() {
            std::fs::copy(from.join(&name), to.join(&name)).unwrap();
        }
    }
}

/// Subscribes with a position and returns the first frame that is not `subscribed`, or the
/// `subscribed` frame itself when the server replayed nothing.
async fn first_frame(socket: &mut Socket, op: Value) -> ServerFrame {
    socket.send(op).await;
    socket.next().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_position_from_a_restored_history_gets_a_snapshot_never_a_replay() {
    let data = tempfile::tempdir().unwrap();
    let backup = tempfile::tempdir().unwrap();
    let run = "restored";

    // History up to seq 10, backed up.
    let server = TestServer::start(data.path(), None).await;
    server.adhoc_run(run).await;
    assert_eq!(post_events(&server, run, 1, 10).await, 10);
    server.stop().await;
    copy_db(data.path(), backup.path());

    // The live history goes on to seq 30; a client follows it to the end.
    let server = TestServer::start(data.path(), None).await;
    assert_eq!(post_events(&server, run, 11, 20).await, 30);
    let (seen, seen_epoch) = server.snapshot(run).await;
    assert_eq!(seen.seq, 30);
    server.stop().await;

    // The backup is restored and a different history continues from seq 10 to seq 35.
    copy_db(backup.path(), data.path());
    let server = TestServer::start(data.path(), None).await;
    assert_eq!(post_events(&server, run, 1_000, 25).await, 35);
    let (truth, truth_epoch) = server.snapshot(run).await;
    assert_ne!(
        truth_epoch, seen_epoch,
        "a start renews the epoch of open runs"
    );

    // Resuming from seq 30 of the old history: one snapshot of the truth, flagged.
    let mut socket = server.socket().await;
    let frame = first_frame(
        &mut socket,
        json!({ "op": "subscribe", "run": run, "since": 30, "epoch": seen_epoch }),
    )
    .await;
    let ServerFrame::Snapshot {
        seq,
        epoch,
        state,
        recovered,
        reason,
        ..
    } = frame
    else {
        panic!("a snapshot, not a replay: {frame:?}")
    };
    assert_eq!(
        (seq, recovered, reason),
        (35, Some(false), Some(Resync::EpochChanged))
    );
    assert_eq!(epoch, truth_epoch);
    assert_eq!(*state, truth);
    assert!(matches!(
        socket.next().await,
        ServerFrame::Subscribed {
            seq: Some(35),
            recovered: None,
            ..
        }
    ));

    // The same over SSE: the URL carries the epoch, Last-Event-ID the seq.
    let query = format!("?epoch={seen_epoch}");
    let mut sse = SseReader::open(&server.http, server.addr, run, &query, Some("30"))
        .await
        .unwrap();
    let message = sse.next().await.unwrap();
    assert_eq!(message.event.as_deref(), Some("snapshot"));
    assert_eq!(message.id.as_deref(), Some("35"));
    let frame: Value = serde_json::from_str(&message.data).unwrap();
    assert_eq!(frame["recovered"], false);
    assert_eq!(frame["reason"], "epoch_changed");

    // In the current epoch the same position resumes exactly.
    let frame = first_frame(
        &mut socket,
        json!({ "op": "subscribe", "run": run, "since": 33, "epoch": truth_epoch }),
    )
    .await;
    let ServerFrame::Events { events, .. } = frame else {
        panic!("a replay: {frame:?}")
    };
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [34, 35]);
    assert!(matches!(
        socket.next().await,
        ServerFrame::Subscribed {
            seq: Some(35),
            recovered: Some(true),
            ..
        }
    ));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_negative_and_future_positions_get_a_flagged_snapshot() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), None).await;
    let run = server.adhoc_run("positions").await;
    post_events(&server, &run, 1, 5).await;
    let mut socket = server.socket().await;
    let cases = [
        (json!(-1), Resync::Malformed),
        (json!("3"), Resync::Malformed),
        (json!(1e30), Resync::Malformed),
        (json!(2.5), Resync::Malformed),
        (json!(6), Resync::UnknownSeq),
        (json!(u64::MAX), Resync::UnknownSeq),
    ];
    for (since, expected) in cases {
        let frame = first_frame(
            &mut socket,
            json!({ "op": "subscribe", "run": run, "since": since }),
        )
        .await;
        let ServerFrame::Snapshot {
            seq,
            recovered,
            reason,
            ..
        } = frame
        else {
            panic!("since {since}: a snapshot, not {frame:?}")
        };
        assert_eq!(
            (seq, recovered, reason),
            (5, Some(false), Some(expected)),
            "since {since}"
        );
        assert!(matches!(
            socket.next().await,
            ServerFrame::Subscribed { .. }
        ));
    }
    // A garbled Last-Event-ID is a malformed position too.
    let mut sse = SseReader::open(&server.http, server.addr, &run, "?since=0", None)
        .await
        .unwrap();
    let first = sse.next().await.unwrap();
    assert_eq!(
        (first.id.as_deref(), first.event),
        (Some("1"), None),
        "since 0 replays from 1"
    );
    let mut fresh = SseReader::open(&server.http, server.addr, &run, "", None)
        .await
        .unwrap();
    let first = fresh.next().await.unwrap();
    assert_eq!(
        first.event.as_deref(),
        Some("snapshot"),
        "no position: a snapshot first"
    );
    let frame: Value = serde_json::from_str(&first.data).unwrap();
    assert_eq!(frame.get("recovered"), None, "not a failed resume");
    let mut sse = SseReader::open(&server.http, server.addr, &run, "", Some("NaN"))
        .await
        .unwrap();
    let first = sse.next().await.unwrap();
    assert_eq!(first.event.as_deref(), Some("snapshot"));
    let frame: Value = serde_json::from_str(&first.data).unwrap();
    assert_eq!(
        (&frame["recovered"], &frame["reason"]),
        (&json!(false), &json!("malformed"))
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_positions_out_of_range_are_clamped_or_rejected_never_wrapped() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), None).await;
    let run = server.adhoc_run("ranges").await;
    post_events(&server, &run, 1, 3).await;
    let events = |body: &Value| body["events"].as_array().map(Vec::len);
    let (status, body) = server
        .get(&format!(
            "/api/v1/runs/{run}/events?since=9223372036854775808"
        ))
        .await;
    assert_eq!(
        (status, events(&body)),
        (200, Some(0)),
        "past i64::MAX is past the end"
    );
    let (status, body) = server
        .get(&format!(
            "/api/v1/runs/{run}/events?since=18446744073709551615"
        ))
        .await;
    assert_eq!((status, events(&body)), (200, Some(0)));
    for bad in ["18446744073709551616", "-1", "abc", "1e3"] {
        let (status, body) = server
            .get(&format!("/api/v1/runs/{run}/events?since={bad}"))
            .await;
        assert_eq!(status, 400, "since={bad}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("`since` must be a whole number"),
            "{message}"
        );
    }
    let (status, body) = server
        .get(&format!("/api/v1/runs/{run}/steps/a/logs?after=-5"))
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = server
        .get(&format!("/api/v1/runs/{run}/events?since=1"))
        .await;
    assert_eq!(status, 200);
    let seqs: Vec<u64> = serde_json::from_value::<Vec<StoredEvent>>(body["events"].clone())
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, [2, 3]);
    assert!(body["epoch"].as_str().is_some_and(|e| !e.is_empty()));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_replays_after_last_event_id_then_goes_live() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), None).await;
    let run = server.adhoc_run("sse").await;
    post_events(&server, &run, 1, 4).await;
    let mut sse = SseReader::open(&server.http, server.addr, &run, "?since=1", Some("2"))
        .await
        .unwrap();
    let mut seqs = Vec::new();
    let mut subscribed = false;
    while seqs.len() < 4 {
        let message = sse.next().await.expect("the stream stays open");
        match message.event.as_deref() {
            None => {
                let event: StoredEvent = serde_json::from_str(&message.data).unwrap();
                assert_eq!(message.id, Some(event.seq.to_string()), "id: <seq>");
                seqs.push(event.seq);
            }
            Some("subscribed") => {
                subscribed = true;
                post_events(&server, &run, 100, 2).await;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(subscribed);
    assert_eq!(
        seqs,
        [3, 4, 5, 6],
        "Last-Event-ID wins over ?since, then live"
    );
    let unknown = server
        .http
        .get(server.url("/api/v1/runs/nope/events"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(
        unknown.status(),
        404,
        "an unknown run is a 404, not an endless stream"
    );
    server.stop().await;
}
