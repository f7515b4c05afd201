//! An ad-hoc run whose producer goes silent ends as failed after `adhoc_idle_timeout`, with a
//! message saying so; a run that keeps reporting, and a run of the built-in executor, do not.

use crate::support::{pipelines, progress_event, TestServer};
use serde_json::Value;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_producers_run_ends_as_failed_and_a_chatty_one_does_not() {
    let dir = pipelines(&[(
        "slow.toml",
        "id = 'slow'\n[[steps]]\nid = 'wait'\nrun = 'sleep 3'\n",
    )]);
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(data.path(), Some(dir.path().to_path_buf()), |c| {
        c.adhoc_idle_timeout = Duration::from_secs(1);
    })
    .await;
    server.adhoc_run("silent").await;
    server.adhoc_run("chatty").await;
    let executed = server.start_run("slow").await;
    let post = |run: &'static str, i: u64| {
        let server = &server;
        async move {
            let (code, body) = server
                .post(&format!("/api/v1/runs/{run}/events"), &progress_event(i))
                .await;
            assert_eq!(code, 200, "{body}");
        }
    };
    post("silent", 1).await;
    // The chatty producer reports every 300 ms for 2.4 s: never a second of silence.
    for i in 1..=8 {
        post("chatty", i).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // While it goes on, its page says when silence would end it; a pipeline run's does not.
    let (_, page) = server.html("/runs/chatty").await;
    assert!(page.contains("fails if silent past"), "{page}");
    let (_, page) = server.html(&format!("/runs/{executed}")).await;
    assert!(!page.contains("fails if silent past"));
    let (_, chatty): (u16, Value) = server.get("/api/v1/runs/chatty").await;
    assert!(chatty["updated_at"].is_string(), "{chatty}");
    let (_, silent): (u16, Value) = server.get("/api/v1/runs/silent").await;
    assert_eq!(silent["status"], "failed", "{silent}");
    assert_eq!(
        silent["message"],
        "no report for 1s: the producer seems gone"
    );
    assert_eq!(
        silent["steps"]["c"]["status"], "failed",
        "its running step ends with it"
    );
    let (_, page) = server.html("/runs/silent").await;
    assert!(
        page.contains("no report for 1s: the producer seems gone"),
        "the page says why it failed"
    );
    let (_, chatty): (u16, Value) = server.get("/api/v1/runs/chatty").await;
    assert_eq!(chatty["status"], "running", "{chatty}");
    let (_, run): (u16, Value) = server.get(&format!("/api/v1/runs/{executed}")).await;
    assert_eq!(
        run["status"], "running",
        "the executor's runs are its own business"
    );
    server.stop().await;
}
