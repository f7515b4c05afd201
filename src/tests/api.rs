//! The HTTP API: pipelines, ad-hoc runs, idempotent ingest, and clear errors for bad input
//! that leave stored data untouched.

use crate::support::TestServer;
use serde_json::json;

async fn adhoc(server: &TestServer) -> String {
    let body = json!({
        "id": "ci-4711",
        "name": "CI build 4711",
        "steps": [{ "id": "compile" }, { "id": "test", "needs": ["compile"], "weight": 3 }]
    });
    let (code, summary) = server.post("/api/v1/runs", &body).await;
    assert_eq!(code, 201, "{summary}");
    assert_eq!(summary["id"], "ci-4711");
    // The producer-chosen id makes creation idempotent.
    let (again, summary) = server.post("/api/v1/runs", &body).await;
    assert_eq!((again, summary["id"].as_str()), (200, Some("ci-4711")));
    "ci-4711".to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelines_are_listed_with_their_layout() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), None).await;
    let (code, list) = server.get("/api/v1/pipelines").await;
    assert_eq!(code, 200);
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["build-matrix", "deploy-web", "etl-orders"]);
    let (_, one) = server.get("/api/v1/pipelines/deploy-web").await;
    assert_eq!(
        one["pipeline"]["params"]["environment"]["default"],
        "staging"
    );
    let edges = one["layout"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 5);
    assert!(edges[0]["d"].as_str().unwrap().starts_with('M'));
    let (missing, body) = server.get("/api/v1/pipelines/nope").await;
    assert_eq!(
        (missing, body["error"]["message"].as_str()),
        (404, Some("no pipeline `nope`"))
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producers_report_adhoc_runs_idempotently() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), None).await;
    let run = adhoc(&server).await;
    let path = format!("/api/v1/runs/{run}/events");
    let batch = json!([
        { "type": "step.started", "step": "compile", "id": "e1" },
        { "type": "step.progress", "step": "compile", "progress": 40, "rows": 12, "message": "Compiling", "id": "e2" },
        { "type": "step.log", "step": "compile", "lines": ["cc main.c", "cc util.c"] }
    ]);
    let (code, body) = server.post(&path, &batch).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["seqs"], json!([1, 2, null]));
    // Re-sending known ids stores nothing new and answers with the original seqs.
    let (code, body) = server
        .post(
            &path,
            &json!([{ "type": "step.started", "step": "compile", "id": "e1" }]),
        )
        .await;
    assert_eq!((code, &body["seqs"]), (200, &json!([1])));
    let (_, state) = server.get(&format!("/api/v1/runs/{run}")).await;
    assert_eq!(state["seq"], 2);
    assert_eq!(state["status"], "running");
    assert_eq!(state["steps"]["compile"]["progress"], 40.0);
    // Weighted percentage: compile is 40 % of weight 1 out of a total weight of 4.
    assert_eq!(state["percent"], 10.0);
    // Aliases normalise.
    let (_, body) = server
        .post(
            &path,
            &json!({ "type": "step.finished", "step": "compile", "status": "done" }),
        )
        .await;
    assert_eq!(body["seqs"], json!([3]));
    let (_, state) = server.get(&format!("/api/v1/runs/{run}")).await;
    assert_eq!(state["steps"]["compile"]["status"], "success");
    let (_, logs) = server
        .get(&format!("/api/v1/runs/{run}/steps/compile/logs"))
        .await;
    assert_eq!(
        logs["lines"],
        json!([{ "n": 1, "stream": "stdout", "line": "cc main.c" }, { "n": 2, "stream": "stdout", "line": "cc util.c" }])
    );
    // The whole log as a file.
    let download = reqwest::get(server.url(&format!(
        "/api/v1/runs/{run}/steps/compile/logs?format=text"
    )))
    .await
    .unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(
        download.headers()["content-disposition"],
        "attachment; filename=\"ci-4711-compile.log\""
    );
    assert_eq!(download.text().await.unwrap(), "cc main.c\ncc util.c\n");
    let (code, answer) = server
        .get(&format!("/api/v1/runs/{run}/steps/compile/logs?format=xml"))
        .await;
    assert_eq!(
        (code, answer["error"]["message"].as_str()),
        (400, Some("`format`: expected `json` or `text`, got `xml`"))
    );
    let (_, list) = server.get("/api/v1/runs?status=running").await;
    assert_eq!(list[0]["id"], "ci-4711");
    let (_, list) = server.get("/api/v1/runs?status=success").await;
    assert_eq!(list, json!([]));
    server.stop().await;
}

/// A producer that retries from several threads at once: every copy of a creation and of a
/// batch gets the same answer, and each event is stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_duplicate_sends_store_each_event_once() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), None).await;
    let create = json!({ "id": "twice", "steps": [{ "id": "a" }, { "id": "b" }] });
    let creations =
        futures::future::join_all((0..16).map(|_| server.post("/api/v1/runs", &create))).await;
    let codes: Vec<u16> = creations.iter().map(|(code, _)| *code).collect();
    assert_eq!(codes.iter().filter(|c| **c == 201).count(), 1, "{codes:?}");
    assert!(codes.iter().all(|c| *c == 201 || *c == 200), "{codes:?}");
    assert!(creations.iter().all(|(_, run)| run["id"] == "twice"));
    let batch = json!([
        { "type": "step.started", "step": "a", "id": "a-start" },
        { "type": "step.progress", "step": "a", "progress": 50, "id": "a-50" },
        { "type": "step.progress", "step": "b", "progress": 10, "id": "b-10" }
    ]);
    let path = "/api/v1/runs/twice/events";
    let answers = futures::future::join_all((0..24).map(|_| server.post(path, &batch))).await;
    for (code, answer) in &answers {
        assert_eq!(
            (*code, &answer["seqs"]),
            (200, &json!([1, 2, 3])),
            "{answer}"
        );
    }
    let events = server.stored_events("twice").await;
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3], "each event stored once");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_rejected_by_name_and_stores_nothing() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), None).await;
    let run = adhoc(&server).await;
    let path = format!("/api/v1/runs/{run}/events");
    let (code, _) = server
        .post(&path, &json!({ "type": "step.started", "step": "compile" }))
        .await;
    assert_eq!(code, 200);

    let cases = [
        (
            json!({ "type": "step.progress" }),
            400,
            "event 0: `step` is required for step.progress",
        ),
        (
            json!({ "type": "step.progress", "step": "compile", "progress": 150 }),
            400,
            "event 0: `progress` must be between 0 and 100, got 150",
        ),
        (
            json!({ "type": "step.blew_up", "step": "compile" }),
            400,
            "event 0: `type`: unknown type `step.blew_up`",
        ),
        // The first event is fine, the second names a step the run does not have: neither is stored.
        (
            json!([{ "type": "step.progress", "step": "compile", "progress": 5 }, { "type": "step.started", "step": "deploy" }]),
            422,
            "event 1: `step`: the run has no step `deploy`",
        ),
        (
            json!({ "type": "step.started", "step": "compile" }),
            422,
            "event 0: `type`: step `compile` already started",
        ),
        (
            json!({ "type": "step.started", "step": "compile", "attempt": 3 }),
            422,
            "event 0: `attempt`: step `compile` is on attempt 1; the next is 2",
        ),
        (
            json!({ "type": "step.started", "step": "test", "attempt": 2, "max_attempts": 1 }),
            400,
            "event 0: `attempt` must be at least 1 and at most `max_attempts`",
        ),
        (
            json!({ "type": "run.steps_added" }),
            400,
            "event 0: `steps` is required for run.steps_added",
        ),
        (
            json!({ "type": "run.steps_added", "steps": [{ "id": "lint", "needs": ["nope"] }] }),
            422,
            "event 0: `steps`: step `lint`: needs unknown step `nope`",
        ),
        (
            json!({ "type": "run.finished", "status": "running" }),
            400,
            "event 0: `status` of a finished event must be final",
        ),
    ];
    for (body, expected, message) in cases {
        let (code, answer) = server.post(&path, &body).await;
        let text = answer["error"]["message"].as_str().unwrap_or_default();
        assert_eq!(code, expected, "{body} -> {answer}");
        assert!(text.starts_with(message), "{body}: {text}");
    }
    let (code, answer) = server.post_raw(&path, b"{\"type\": ".to_vec()).await;
    assert_eq!(code, 400);
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("invalid JSON"));
    // On a connection of its own: the server answers 413 before reading the whole body and
    // then closes that connection, which a pooled client would try to reuse next.
    let oversized = reqwest::Client::new()
        .post(server.url(&path))
        .header("content-type", "application/json")
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(oversized.status(), 413);
    let answer: serde_json::Value = oversized.json().await.unwrap();
    assert_eq!(
        answer["error"]["code"].as_str(),
        Some("payload_too_large"),
        "{answer}"
    );
    let (code, answer) = server
        .post(
            "/api/v1/runs/missing/events",
            &json!({ "type": "step.started", "step": "a" }),
        )
        .await;
    assert_eq!(
        (code, answer["error"]["message"].as_str()),
        (404, Some("no run `missing`"))
    );
    let (code, answer) = server
        .post(
            "/api/v1/runs",
            &json!({ "steps": [{ "id": "a", "needs": ["b"] }] }),
        )
        .await;
    assert_eq!(
        (code, answer["error"]["message"].as_str()),
        (422, Some("`steps`: step `a`: needs unknown step `b`"))
    );
    let (code, _) = server.get("/api/v1/runs/missing").await;
    assert_eq!(code, 404);

    // Nothing of the rejected requests was stored.
    let (_, state) = server.get(&format!("/api/v1/runs/{run}")).await;
    assert_eq!(state["seq"], 1);
    assert_eq!(state["steps"]["compile"]["progress"], 0.0);
    let (_, events) = server.get(&format!("/api/v1/runs/{run}/events")).await;
    assert_eq!(events["events"].as_array().unwrap().len(), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_history_filters_by_day_and_pages_newest_first() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), None).await;
    for id in ["h-1", "h-2", "h-3"] {
        server.adhoc_run(id).await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let ids = |list: &serde_json::Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, first) = server.get("/api/v1/runs?limit=2").await;
    assert_eq!(ids(&first), ["h-3", "h-2"]);
    let (_, next) = server.get("/api/v1/runs?limit=2&before=h-2").await;
    assert_eq!(ids(&next), ["h-1"]);
    let today = chrono::Utc::now().format("%Y-%m-%d");
    let (_, on_day) = server.get(&format!("/api/v1/runs?day={today}")).await;
    assert_eq!(ids(&on_day).len(), 3);
    let (_, long_ago) = server.get("/api/v1/runs?day=2000-01-01").await;
    assert_eq!(long_ago, json!([]));
    for (query, message) in [
        (
            "day=yesterday",
            "`day`: expected a date as YYYY-MM-DD, got `yesterday`",
        ),
        ("status=bogus", "`status`: unknown status `bogus`"),
    ] {
        let (code, answer) = server.get(&format!("/api/v1/runs?{query}")).await;
        assert_eq!(
            (code, answer["error"]["message"].as_str()),
            (400, Some(message))
        );
    }
    server.stop().await;
}
