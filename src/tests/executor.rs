//! The built-in executor: dependency order, bounded parallelism, failures, skips, warnings,
//! retries, timeouts, parameters and cancellation, observed through the public API.

use crate::support::{pipelines, TestServer};
use serde_json::{json, Value};
use signalbox::domain::{EventKind, Status, StoredEvent};

const PIPELINES: &[(&str, &str)] = &[
    (
        "branches.toml",
        r#"
id = "branches"
max_parallel = 2
[[steps]]
id = "root"
run = "echo '::rows 1_500'; echo '::message counted'"
[[steps]]
id = "breaks"
needs = ["root"]
run = "echo about to fail; exit 3"
[[steps]]
id = "after-break"
needs = ["breaks"]
run = "echo never"
[[steps]]
id = "later"
needs = ["after-break"]
run = "echo never"
[[steps]]
id = "sidecar"
needs = ["root"]
run = "echo '::warning disk almost full'; echo '::unknown thing'; echo '::progress 50 half'"
[[steps]]
id = "tolerated"
needs = ["root"]
continue_on_error = true
run = "exit 1"
"#,
    ),
    (
        "parallel.toml",
        r#"
id = "parallel"
max_parallel = 2
[[steps]]
id = "a"
run = "sleep 0.4"
[[steps]]
id = "b"
run = "sleep 0.4"
[[steps]]
id = "c"
run = "sleep 0.4"
[[steps]]
id = "d"
run = "sleep 0.4"
[[steps]]
id = "e"
run = "sleep 0.4"
"#,
    ),
    (
        "limits.toml",
        r#"
id = "limits"
[params.greeting]
default = "hello"
[[steps]]
id = "slow"
timeout = "300ms"
run = "echo start; sleep 5; echo unreachable"
[[steps]]
id = "flaky"
retries = 2
run = "n=$(cat tries 2>/dev/null || echo 0); n=$((n+1)); echo $n > tries; echo \"try $n $SIGNALBOX_PARAM_GREETING $SIGNALBOX_STEP\"; [ $n -ge 3 ]"
"#,
    ),
    (
        "long.toml",
        r#"
id = "long"
[[steps]]
id = "wait"
run = "echo '::progress 10 waiting'; sleep 30"
[[steps]]
id = "next"
needs = ["wait"]
run = "true"
"#,
    ),
];

async fn events(server: &TestServer, run: &str) -> Vec<StoredEvent> {
    let (_, body) = server.get(&format!("/api/v1/runs/{run}/events")).await;
    serde_json::from_value(body["events"].clone()).unwrap()
}

async fn log_text(server: &TestServer, run: &str, step: &str) -> Vec<String> {
    let (_, body) = server
        .get(&format!("/api/v1/runs/{run}/steps/{step}/logs"))
        .await;
    body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["line"].as_str().unwrap().to_owned())
        .collect()
}

fn status(state: &Value, step: &str) -> String {
    state["steps"][step]["status"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_skip_dependants_while_other_branches_finish() {
    let dir = pipelines(PIPELINES);
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), Some(dir.path().to_path_buf())).await;
    let run = server.start_run("branches").await;
    let end = server.wait_finished(&run).await;
    assert_eq!(end["status"], "failed", "{end}");
    assert_eq!(end["message"], "failed: breaks");
    assert_eq!(status(&end, "root"), "success");
    assert_eq!(end["steps"]["root"]["rows"], 1500);
    assert_eq!(end["steps"]["root"]["message"], "counted");
    assert_eq!(status(&end, "breaks"), "failed");
    assert_eq!(end["steps"]["breaks"]["message"], "exit code 3");
    assert_eq!(status(&end, "after-break"), "skipped");
    assert_eq!(status(&end, "later"), "skipped");
    assert_eq!(status(&end, "sidecar"), "warning");
    assert_eq!(
        end["steps"]["sidecar"]["warnings"],
        json!(["disk almost full"])
    );
    assert_eq!(status(&end, "tolerated"), "warning");
    // Unknown commands stay in the log; known ones do not.
    assert_eq!(
        log_text(&server, &run, "sidecar").await,
        ["::unknown thing"]
    );
    assert!(log_text(&server, &run, "breaks")
        .await
        .contains(&"about to fail".to_owned()));
    // Dependency order: nothing starts before what it needs has finished.
    let history = events(&server, &run).await;
    let position =
        |pred: &dyn Fn(&EventKind) -> bool| history.iter().position(|e| pred(&e.kind)).unwrap();
    let root_done =
        position(&|k| matches!(k, EventKind::StepFinished { step, .. } if step == "root"));
    let sidecar_start =
        position(&|k| matches!(k, EventKind::StepStarted { step, .. } if step == "sidecar"));
    assert!(root_done < sidecar_start);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_more_than_max_parallel_steps_run_at_once() {
    let dir = pipelines(PIPELINES);
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), Some(dir.path().to_path_buf())).await;
    let run = server.start_run("parallel").await;
    assert_eq!(server.wait_finished(&run).await["status"], "success");
    let mut running = 0i32;
    let mut peak = 0;
    for event in events(&server, &run).await {
        match event.kind {
            EventKind::StepStarted { .. } => running += 1,
            EventKind::StepFinished { .. } => running -= 1,
            _ => {}
        }
        peak = peak.max(running);
    }
    assert_eq!(peak, 2, "max_parallel = 2 is both used and respected");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_kill_the_step_and_retries_retry_with_parameters_in_the_environment() {
    let dir = pipelines(PIPELINES);
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), Some(dir.path().to_path_buf())).await;
    let (code, body) = server
        .post(
            "/api/v1/runs",
            &json!({ "pipeline": "limits", "params": { "greeting": "hi" } }),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let run = body["id"].as_str().unwrap().to_owned();
    let started = std::time::Instant::now();
    let end = server.wait_finished(&run).await;
    assert!(
        started.elapsed().as_secs() < 5,
        "the sleeping step was killed at its timeout"
    );
    assert_eq!(status(&end, "slow"), "failed");
    assert_eq!(end["steps"]["slow"]["message"], "timed out after 300ms");
    assert_eq!(status(&end, "flaky"), "success");
    let flaky = log_text(&server, &run, "flaky").await;
    assert!(flaky.contains(&"try 3 hi flaky".to_owned()), "{flaky:?}");
    assert!(
        flaky.iter().any(|l| l.contains("retrying (2/3)")),
        "{flaky:?}"
    );
    assert_eq!(end["steps"]["flaky"]["max_attempts"], 3);
    assert_eq!(
        end["steps"]["flaky"]["retried_at"].as_array().map(Vec::len),
        Some(2),
        "the node shows attempt 3 of 3: {end}"
    );
    assert_eq!(end["steps"]["slow"].get("retried_at"), None, "one attempt");
    assert!(!log_text(&server, &run, "slow")
        .await
        .contains(&"unreachable".to_owned()));

    let (code, body) = server
        .post(
            "/api/v1/runs",
            &json!({ "pipeline": "limits", "params": { "colour": "red" } }),
        )
        .await;
    assert_eq!(
        (code, body["error"]["message"].as_str()),
        (422, Some("`params`: unknown parameter `colour`"))
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_required_parameter_must_be_given_and_the_form_says_so() {
    let dir = pipelines(&[(
        "ticketed.toml",
        "id = 'ticketed'\n[params.ticket]\nrequired = true\ndescription = 'The change ticket'\n[[steps]]\nid = 'a'\nrun = 'true'\n",
    )]);
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), Some(dir.path().to_path_buf())).await;
    let (code, body) = server
        .post("/api/v1/runs", &json!({ "pipeline": "ticketed" }))
        .await;
    assert_eq!(
        (code, body["error"]["message"].as_str()),
        (422, Some("`params`: parameter `ticket` is required"))
    );
    let (code, _) = server
        .post(
            "/api/v1/runs",
            &json!({ "pipeline": "ticketed", "params": { "ticket": "OPS-1" } }),
        )
        .await;
    assert_eq!(code, 201);
    let (_, page) = server.html("/pipelines/ticketed").await;
    assert!(page.contains(r#"name="params[ticket]""#), "{page}");
    assert!(
        page.contains("required"),
        "the field is marked required: {page}"
    );
    assert!(page.contains("ticket *"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_stops_the_process_and_cancels_what_never_ran() {
    let dir = pipelines(PIPELINES);
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), Some(dir.path().to_path_buf())).await;
    let run = server.start_run("long").await;
    for _ in 0..100 {
        let (_, state) = server.get(&format!("/api/v1/runs/{run}")).await;
        if state["steps"]["wait"]["progress"] == 10.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (code, answer) = server
        .post(&format!("/api/v1/runs/{run}/cancel"), &json!({}))
        .await;
    assert_eq!(code, 200);
    assert_eq!(
        answer["status"], "cancelled",
        "the answer is the run as the cancel left it: {answer}"
    );
    let end = server.wait_finished(&run).await;
    assert_eq!(end["status"], Status::Cancelled.as_str());
    assert_eq!(status(&end, "wait"), "cancelled");
    assert_eq!(status(&end, "next"), "cancelled");
    let (code, body) = server
        .post(&format!("/api/v1/runs/{run}/cancel"), &json!({}))
        .await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (409, Some("conflict"))
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_that_are_not_utf8_and_endless_lines_do_not_break_a_step() {
    let dir = pipelines(&[(
        "bytes.toml",
        "id = 'bytes'\n[[steps]]\nid = 'odd'\nrun = \"printf 'caf\\\\377\\\\n'; head -c 200000 /dev/zero | tr '\\\\0' x; echo; sleep 0.2; echo ok\"\n",
    )]);
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), Some(dir.path().to_path_buf())).await;
    let run = server.start_run("bytes").await;
    let end = server.wait_finished(&run).await;
    assert_eq!(status(&end, "odd"), "success", "{end}");
    let log = log_text(&server, &run, "odd").await;
    assert_eq!(
        log.len(),
        3,
        "{:?}",
        log.iter().map(|l| l.len()).collect::<Vec<_>>()
    );
    assert_eq!(log[0], "caf\u{FFFD}");
    assert!(log[1].starts_with("xxxx") && log[1].ends_with("characters]") && log[1].len() < 10_000);
    assert_eq!(log[2], "ok");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_step_waits_for_its_producer_or_its_timeout() {
    let dir = pipelines(&[(
        "gate.toml",
        r#"
id = "gate"
[[steps]]
id = "build"
run = "true"
[[steps]]
id = "approve"
needs = ["build"]
[[steps]]
id = "ship"
needs = ["approve"]
run = "echo shipped"
[[steps]]
id = "sign-off"
needs = ["build"]
timeout = "300ms"
"#,
    )]);
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), Some(dir.path().to_path_buf())).await;
    let run = server.start_run("gate").await;
    // The producer finishes the external step once the executor waits for it.
    let mut waiting = false;
    for _ in 0..200 {
        let (_, state) = server.get(&format!("/api/v1/runs/{run}")).await;
        if status(&state, "build") == "success" && status(&state, "sign-off") == "failed" {
            waiting = status(&state, "approve") != "success";
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(waiting, "the executor waits for the producer");
    let (code, body) = server
        .post(
            &format!("/api/v1/runs/{run}/events"),
            &json!({"type": "step.finished", "step": "approve", "status": "done"}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let end = server.wait_finished(&run).await;
    assert_eq!(status(&end, "approve"), "success");
    assert_eq!(
        status(&end, "ship"),
        "success",
        "the graph goes on once it is finished"
    );
    assert_eq!(
        end["steps"]["sign-off"]["message"],
        "timed out after 300ms waiting for a producer"
    );
    assert_eq!(end["status"], "failed");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_steps_run_only_when_the_run_fails_and_show_on_its_graph() {
    let dir = pipelines(&[
        (
            "undo.toml",
            r#"
id = "undo"
[[steps]]
id = "migrate"
run = "true"
[[steps]]
id = "deploy"
needs = ["migrate"]
run = "echo broken; exit 1"
[[on_failure]]
id = "rollback"
run = "echo rolled back"
[[on_failure]]
id = "notify"
needs = ["rollback"]
run = "true"
"#,
        ),
        (
            "fine.toml",
            r#"
id = "fine"
[[steps]]
id = "work"
run = "true"
[[on_failure]]
id = "rollback"
run = "echo must not run; exit 1"
"#,
        ),
    ]);
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), Some(dir.path().to_path_buf())).await;
    let (_, pipeline) = server.get("/api/v1/pipelines/undo").await;
    let nodes: Vec<&str> = pipeline["layout"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert!(
        nodes.contains(&"rollback") && nodes.contains(&"notify"),
        "{nodes:?}"
    );

    let run = server.start_run("undo").await;
    let end = server.wait_finished(&run).await;
    assert_eq!(end["status"], "failed");
    assert_eq!(status(&end, "deploy"), "failed");
    assert_eq!(status(&end, "rollback"), "success", "{end}");
    assert_eq!(status(&end, "notify"), "success");
    assert_eq!(end["message"], "failed: deploy; rolled back");
    let (_, logs) = server
        .get(&format!("/api/v1/runs/{run}/steps/rollback/logs"))
        .await;
    assert_eq!(logs["lines"][0]["line"], "rolled back");

    let run = server.start_run("fine").await;
    let end = server.wait_finished(&run).await;
    assert_eq!(end["status"], "success", "{end}");
    assert_eq!(status(&end, "rollback"), "skipped");
    assert_eq!(
        end["steps"]["rollback"]["message"],
        "not needed: the run did not fail"
    );
    assert_eq!(end["percent"], 100.0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_run_is_retried_with_its_parameters() {
    let dir = pipelines(&[
        (
            "flaky.toml",
            "id = 'flaky'\n[params.target]\ndefault = 'a'\nchoices = ['a', 'b']\n[[steps]]\nid = 'x'\nrun = 'exit 1'\n",
        ),
        ("sleepy.toml", "id = 'sleepy'\n[[steps]]\nid = 'z'\nrun = 'sleep 5'\n"),
    ]);
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), Some(dir.path().to_path_buf())).await;
    let (code, started) = server
        .post(
            "/api/v1/runs",
            &json!({"pipeline": "flaky", "params": {"target": "b"}}),
        )
        .await;
    assert_eq!(code, 201);
    let first = started["id"].as_str().unwrap().to_owned();
    assert_eq!(server.wait_finished(&first).await["status"], "failed");
    let (code, retried) = server
        .post(&format!("/api/v1/runs/{first}/retry"), &json!({}))
        .await;
    assert_eq!(code, 201, "{retried}");
    let second = retried["id"].as_str().unwrap();
    assert_ne!(second, first);
    assert_eq!(retried["pipeline"], "flaky");
    let end = server.wait_finished(second).await;
    assert_eq!(end["params"]["target"], "b", "the same parameters");
    let (_, audit) = server.get("/api/v1/audit?action=run.retry").await;
    assert_eq!(audit["entries"][0]["target"], second);
    assert_eq!(audit["entries"][0]["detail"], format!("retry of {first}"));

    let going = server.start_run("sleepy").await;
    let (code, body) = server
        .post(&format!("/api/v1/runs/{going}/retry"), &json!({}))
        .await;
    assert_eq!(code, 409, "{body}");
    server
        .post(&format!("/api/v1/runs/{going}/cancel"), &json!({}))
        .await;
    let adhoc = server.adhoc_run("produced").await;
    let (code, body) = server
        .post(&format!("/api/v1/runs/{adhoc}/retry"), &json!({}))
        .await;
    assert_eq!(code, 422, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("producer"));
    server.stop().await;
}

const GATED: &str = r#"
id = "gated"
max_parallel = 2
[params.target]
default = "staging"
choices = ["staging", "production"]
[[steps]]
id = "build"
run = "echo built"
[[steps]]
id = "lint"
run = "true"
[[steps]]
id = "approve"
needs = ["build"]
when = { target = "production" }
run = "echo approved"
[[steps]]
id = "ship"
needs = ["approve", "lint"]
run = "echo shipped"
[[on_failure]]
id = "undo"
run = "true"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_shows_waves_and_skips_and_the_run_then_does_just_that() {
    let dir = pipelines(&[("gated.toml", GATED)]);
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), Some(dir.path().to_path_buf())).await;
    let (code, plan) = server
        .post(
            "/api/v1/pipelines/gated/plan",
            &json!({ "params": { "target": "production" } }),
        )
        .await;
    assert_eq!(code, 200, "{plan}");
    assert_eq!(
        plan["waves"],
        json!([["build", "lint"], ["approve"], ["ship"]])
    );
    assert_eq!(plan["max_parallel"], 2);
    let (code, plan) = server
        .post("/api/v1/pipelines/gated/plan", &json!({}))
        .await;
    assert_eq!(code, 200, "{plan}");
    assert_eq!(plan["params"], json!({ "target": "staging" }), "defaults");
    assert_eq!(plan["waves"], json!([["build", "lint"]]));
    let actions: Vec<(&str, &str, Option<&str>)> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap(),
                s["action"].as_str().unwrap(),
                s["reason"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("build", "run", None),
            ("lint", "run", None),
            (
                "approve",
                "skip",
                Some("skipped: `target` is \"staging\"; runs only for production")
            ),
            ("ship", "skip", Some("skipped: `approve` would be skipped")),
            ("undo", "on_failure", Some("runs only if the run fails")),
        ]
    );
    let refusals = [
        (
            "/api/v1/pipelines/gated/plan",
            json!({ "params": { "target": "prod" } }),
            422,
            "`params`: parameter `target` must be one of staging, production",
        ),
        (
            "/api/v1/pipelines/gated/plan",
            json!({ "parms": {} }),
            400,
            "invalid plan request: unknown field `parms`",
        ),
        (
            "/api/v1/pipelines/nope/plan",
            json!({}),
            404,
            "no pipeline `nope`",
        ),
    ];
    for (path, body, code, message) in refusals {
        let (got, answer) = server.post(path, &body).await;
        let text = answer["error"]["message"].as_str().unwrap_or_default();
        assert_eq!(got, code, "{answer}");
        assert!(text.starts_with(message), "{text}");
    }
    // Nothing ran: a dry run stores no run.
    let (_, runs) = server.get("/api/v1/runs?pipeline=gated").await;
    assert_eq!(runs.as_array().map(Vec::len), Some(0), "{runs}");

    // The page without JavaScript: the plan in words, and on the graph.
    let (code, page) = server
        .html("/pipelines/gated?plan=1&params%5Btarget%5D=staging")
        .await;
    assert_eq!(code, 200);
    assert!(page.contains("Dry run with target = staging"), "{page}");
    assert!(page.contains("would be skipped"), "{page}");
    assert!(page.contains("runs only for production"), "{page}");
    let (_, page) = server
        .html("/pipelines/gated?plan=1&params%5Btarget%5D=nowhere")
        .await;
    assert!(
        page.contains("Dry run: `params`: parameter `target` must be one of"),
        "{page}"
    );

    // The run does what the plan said.
    let (code, body) = server
        .post("/api/v1/runs", &json!({ "pipeline": "gated" }))
        .await;
    assert_eq!(code, 201, "{body}");
    let end = server.wait_finished(body["id"].as_str().unwrap()).await;
    assert_eq!(end["status"], "success", "{end}");
    assert_eq!(status(&end, "build"), "success");
    assert_eq!(status(&end, "approve"), "skipped");
    assert_eq!(
        end["steps"]["approve"]["message"],
        "skipped: `target` is \"staging\"; runs only for production"
    );
    assert_eq!(
        end["steps"]["ship"]["message"],
        "skipped: `approve` was skipped"
    );
    assert_eq!(status(&end, "undo"), "skipped");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_run_says_how_long_is_left_from_earlier_successful_runs() {
    let dir = pipelines(&[(
        "napping.toml",
        "id = 'napping'\n[params.nap]\ndefault = '0.1'\n[[steps]]\nid = 'nap'\nrun = 'sleep $SIGNALBOX_PARAM_NAP'\n",
    )]);
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), Some(dir.path().to_path_buf())).await;
    let start = |nap: &'static str| {
        let server = &server;
        async move {
            let (code, body) = server
                .post(
                    "/api/v1/runs",
                    &json!({ "pipeline": "napping", "params": { "nap": nap } }),
                )
                .await;
            assert_eq!(code, 201, "{body}");
            body["id"].as_str().unwrap().to_owned()
        }
    };
    // Without history there is no estimate.
    let first = start("5").await;
    server.wait_until_status(&first, "running").await;
    let (_, page) = server.html(&format!("/runs/{first}?step=nap")).await;
    assert!(
        !page.contains(" left</span>") && !page.contains("Usually"),
        "{page}"
    );
    server
        .post(&format!("/api/v1/runs/{first}/cancel"), &json!({}))
        .await;
    for _ in 0..2 {
        let run = start("0.1").await;
        assert_eq!(server.wait_finished(&run).await["status"], "success");
    }
    let long = start("5").await;
    server.wait_until_status(&long, "running").await;
    let (_, page) = server.html(&format!("/runs/{long}?step=nap")).await;
    assert!(page.contains("class=\"run-left\""), "{page}");
    assert!(page.contains(" left</span>"), "{page}");
    assert!(
        page.contains("Usually"),
        "the step's typical duration: {page}"
    );
    server
        .post(&format!("/api/v1/runs/{long}/cancel"), &json!({}))
        .await;
    server.stop().await;
}
