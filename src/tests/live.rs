//! The live stream: snapshot then gapless events to the end, and resume with `since`.

use crate::support::{pipelines, TestServer};
use serde_json::json;
use signalbox::api::ServerFrame;
use signalbox::domain::{RunState, Status, StoredEvent};
use signalbox::server::catalog::Catalog;

/// Follows a run from a snapshot to `run.finished`, checking every seq follows the last, and
/// returns the state folded by the client from the frames.
async fn follow_to_end(server: &TestServer, run: &str) -> RunState {
    let mut socket = server.socket().await;
    socket.send(json!({ "op": "subscribe", "run": run })).await;
    let ServerFrame::Snapshot { seq, state, .. } = socket.next().await else {
        panic!("snapshot first")
    };
    assert_eq!(state.seq, seq);
    let mut state = *state;
    let ServerFrame::Subscribed {
        seq: Some(caught_up),
        ..
    } = socket.next().await
    else {
        panic!("then subscribed")
    };
    assert_eq!(caught_up, seq);
    while !state.status.is_terminal() {
        match socket.next().await {
            ServerFrame::Events { events, .. } => {
                for event in &events {
                    assert_eq!(event.seq, state.seq + 1, "gapless and without duplicates");
                    state.apply(event).unwrap();
                }
            }
            other => panic!("unexpected frame {other:?}"),
        }
    }
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_run_streams_gaplessly_and_its_snapshot_is_the_fold_of_its_events() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), None).await;
    let run = server.start_run("etl-orders").await;
    let live = follow_to_end(&server, &run).await;

    // The stored history folds to the same state as the live frames and as the snapshot.
    let (_, body) = server
        .get(&format!("/api/v1/runs/{run}/events?since=0"))
        .await;
    let events: Vec<StoredEvent> = serde_json::from_value(body["events"].clone()).unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=events.len() as u64).collect::<Vec<_>>());
    let (catalog, _) = Catalog::load(None);
    let pipeline = &catalog.get("etl-orders").unwrap().pipeline;
    let fresh = RunState::new(
        &run,
        Some("etl-orders"),
        &pipeline.name,
        &pipeline.graph(),
        live.created_at,
    );
    let folded = fresh.fold(&events).unwrap();
    assert_eq!(folded, live);
    let (_, snapshot) = server.get(&format!("/api/v1/runs/{run}")).await;
    let snapshot: RunState = serde_json::from_value(snapshot).unwrap();
    assert_eq!(snapshot, folded);

    // What the demo promises: rows reported, validate warned, the run ends as warning.
    assert_eq!(folded.status, Status::Warning);
    assert_eq!(folded.steps["validate"].status, Status::Warning);
    assert!(folded.steps["extract-orders"].rows.unwrap_or(0) >= 100_000);
    assert!(folded
        .steps
        .values()
        .all(|s| s.started_at.is_some() && s.finished_at.is_some()));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_with_since_sends_exactly_the_missing_events_and_a_bad_since_gets_a_snapshot() {
    let dir = pipelines(&[(
        "quick.toml",
        "id = 'quick'\n[[steps]]\nid = 'a'\nrun = 'for i in 1 2 3 4 5; do echo \"::progress $((i*20))\"; done'\n[[steps]]\nid = 'b'\nneeds = ['a']\nrun = 'echo done'\n",
    )]);
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), Some(dir.path().to_path_buf())).await;
    let run = server.start_run("quick").await;
    let end = server.wait_finished(&run).await;
    let last = end["seq"].as_u64().unwrap();
    assert!(last >= 6, "{end}");

    let mut socket = server.socket().await;
    socket
        .send(json!({ "op": "subscribe", "run": run, "since": 2 }))
        .await;
    let mut seqs = Vec::new();
    loop {
        match socket.next().await {
            ServerFrame::Events { events, .. } => seqs.extend(events.iter().map(|e| e.seq)),
            ServerFrame::Subscribed { seq, .. } => {
                assert_eq!(seq, Some(last));
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seqs, (3..=last).collect::<Vec<_>>());

    // A seq the server never issued cannot be resumed from: a snapshot instead.
    socket
        .send(json!({ "op": "subscribe", "run": run, "since": last + 50 }))
        .await;
    let ServerFrame::Snapshot { seq, .. } = socket.next().await else {
        panic!("snapshot for an unknown seq")
    };
    assert_eq!(seq, last);

    // Unknown runs get an error frame that names the problem.
    socket
        .send(json!({ "op": "subscribe", "run": "no-such-run" }))
        .await;
    let frame = loop {
        match socket.next().await {
            ServerFrame::Subscribed { .. } => continue,
            frame => break frame,
        }
    };
    assert_eq!(
        frame,
        ServerFrame::Error {
            code: "unknown_run".into(),
            message: "no run `no-such-run`".into()
        }
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_logs_follow_a_step_after_a_given_line() {
    let dir = pipelines(&[(
        "chatty.toml",
        "id = 'chatty'\n[[steps]]\nid = 'talk'\nrun = 'for i in 1 2 3 4 5 6; do echo \"line $i\"; sleep 0.2; done; sleep 0.2; echo oops >&2'\n",
    )]);
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), Some(dir.path().to_path_buf())).await;
    let run = server.start_run("chatty").await;
    let mut socket = server.socket().await;
    socket
        .send(json!({ "op": "subscribe", "run": run, "step": "talk", "logs_after": 0 }))
        .await;
    let mut lines = Vec::new();
    while lines.len() < 7 {
        match socket.next().await {
            ServerFrame::Logs {
                lines: batch, step, ..
            } => {
                assert_eq!(step, "talk");
                lines.extend(batch);
            }
            ServerFrame::Subscribed { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let numbers: Vec<u64> = lines.iter().map(|l| l.n).collect();
    assert_eq!(numbers, (1..=7).collect::<Vec<_>>());
    assert_eq!(lines[0].line, "line 1");
    assert_eq!(
        (lines[6].stream.as_str(), lines[6].line.as_str()),
        ("stderr", "oops")
    );

    let (_, page) = server
        .get(&format!("/api/v1/runs/{run}/steps/talk/logs?after=5"))
        .await;
    let rest: Vec<&str> = page["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["line"].as_str().unwrap())
        .collect();
    assert_eq!(rest, ["line 6", "oops"]);
    server.stop().await;
}
