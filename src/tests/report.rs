//! Reporting from outside: the reporter module from a plain thread (every report stored once,
//! in order; nothing blocks while the server is away; reports wait and arrive once it is
//! back), and `signalbox report` as a shell would run it (delivered, unreachable, refused,
//! strict, with a token, bad flags).

use crate::auth_matrix::{token, SECRET};
use crate::support::TestServer;
use serde_json::json;
use signalbox::domain::{EventKind, Status};
use signalbox::reporter::{Reporter, ReporterConfig};
use signalbox::server::auth::Role;
use std::process::Command;
use std::time::Duration;
use tokio::net::TcpListener;

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reporter_delivers_every_report_once_in_order_from_any_thread() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), None).await;
    server.adhoc_run("rep").await;
    let url = server.url("");
    let stats = tokio::task::spawn_blocking(move || {
        let reporter = Reporter::start(ReporterConfig::new(&url, "rep"));
        reporter.started("a");
        for i in 1..=200 {
            reporter.progress("a", f64::from(i) / 2.0, Some(&format!("item {i}")));
        }
        reporter.rows("a", 15_000);
        reporter.log("a", "loaded");
        reporter.finished("a", Status::Success, Some("done"));
        reporter.close(Duration::from_secs(20))
    })
    .await
    .unwrap();
    assert_eq!(
        (stats.sent, stats.dropped, stats.failed),
        (204, 0, 0),
        "{stats:?}"
    );
    let events = server.stored_events("rep").await;
    let progress: Vec<f64> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::StepProgress { progress, .. } => *progress,
            _ => None,
        })
        .collect();
    let expected: Vec<f64> = (1..=200).map(|i| f64::from(i) / 2.0).collect();
    assert_eq!(progress, expected, "every progress report once, in order");
    let (state, _) = server.snapshot("rep").await;
    let step = &state.steps["a"];
    assert_eq!((step.status, step.rows), (Status::Success, Some(15_000)));
    let (_, logs) = server.get("/api/v1/runs/rep/steps/a/logs").await;
    assert_eq!(logs["lines"][0]["line"], "loaded");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_wait_while_the_server_is_away_and_arrive_once_it_is_back() {
    // The run exists in the data directory before the server the reporter talks to starts.
    let data = tempfile::tempdir().unwrap();
    let first = TestServer::start(data.path(), None).await;
    first.adhoc_run("late").await;
    first.stop().await;
    let port = closed_port();
    let url = format!("http://127.0.0.1:{port}");
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        let reporter = Reporter::start(ReporterConfig::new(&url, "late"));
        for i in 1..=20 {
            reporter.progress("a", f64::from(i), None);
        }
        tx.send(reporter.stats()).unwrap();
        // Until the server has come back and taken everything.
        reporter.close(Duration::from_secs(30))
    });
    let before = tokio::task::spawn_blocking(move || rx.recv().unwrap())
        .await
        .unwrap();
    assert_eq!((before.sent, before.dropped), (0, 0), "queued, not lost");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let server = TestServer::start_on(listener, data.path(), None, |_| {}).await;
    let stats = tokio::task::spawn_blocking(move || worker.join().unwrap())
        .await
        .unwrap();
    assert_eq!(stats.sent, 20, "{stats:?}");
    assert!(stats.retries >= 1, "it had to retry: {stats:?}");
    let progress = server
        .stored_events("late")
        .await
        .iter()
        .filter(|e| matches!(e.kind, EventKind::StepProgress { .. }))
        .count();
    assert_eq!(progress, 20, "each retried report stored once");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_leaves_the_job_alone() {
    let url = format!("http://127.0.0.1:{}", closed_port());
    let stats = tokio::task::spawn_blocking(move || {
        let reporter = Reporter::start(ReporterConfig {
            capacity: 10,
            ..ReporterConfig::new(&url, "gone")
        });
        for i in 0..50 {
            reporter.progress("a", f64::from(i), None);
        }
        reporter.close(Duration::from_millis(500))
    })
    .await
    .unwrap();
    assert_eq!(stats.sent, 0);
    assert_eq!(stats.dropped + stats.failed, 50, "{stats:?}");
    assert!(stats.dropped >= 40, "at most `capacity` wait: {stats:?}");
    assert!(stats
        .last_error
        .unwrap()
        .contains("cannot reach the server"));
}

/// `signalbox report` with `SIGNALBOX_*` set for `url` and run `run`, step `a`.
fn report(url: &str, run: &str, args: &[&str], token: Option<&str>) -> (i32, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_signalbox"));
    command
        .arg("report")
        .args(args)
        .env("SIGNALBOX_URL", url)
        .env("SIGNALBOX_RUN", run)
        .env("SIGNALBOX_STEP", "a")
        .env_remove("SIGNALBOX_TOKEN");
    if let Some(token) = token {
        command.env("SIGNALBOX_TOKEN", token);
    }
    let output = command.output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_command_delivers_warns_once_and_is_strict_only_when_asked() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), None).await;
    server.adhoc_run("sh").await;
    let url = server.url("");
    let run_report = |args: &'static [&'static str]| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || report(&url, "sh", args, None))
    };
    let (code, stderr) = run_report(&[
        "--progress",
        "40",
        "--message",
        "Compiling",
        "--rows",
        "15000",
        "--log",
        "line 1",
    ])
    .await
    .unwrap();
    assert_eq!((code, stderr.as_str()), (0, ""));
    let (state, _) = server.snapshot("sh").await;
    let step = &state.steps["a"];
    assert_eq!(
        (step.progress, step.message.as_deref(), step.rows),
        (40.0, Some("Compiling"), Some(15_000))
    );
    let (_, logs) = server.get("/api/v1/runs/sh/steps/a/logs").await;
    assert_eq!(logs["lines"][0]["line"], "line 1");
    let (code, _) = run_report(&["--status", "done", "--message", "built"])
        .await
        .unwrap();
    assert_eq!(code, 0);
    let (state, _) = server.snapshot("sh").await;
    assert_eq!(state.steps["a"].status, Status::Success);

    // Refused by the server (the step already finished): one warning with its reason.
    let (code, stderr) = run_report(&["--progress", "50"]).await.unwrap();
    assert_eq!(code, 0);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("already finished"), "{stderr}");
    let (code, _) = run_report(&["--progress", "50", "--strict"]).await.unwrap();
    assert_eq!(code, 1);

    // Nobody listening: warn once, exit 0; strict: 1.
    let nowhere = format!("http://127.0.0.1:{}", closed_port());
    let (code, stderr) = {
        let nowhere = nowhere.clone();
        tokio::task::spawn_blocking(move || {
            report(
                &nowhere,
                "sh",
                &["--progress", "1", "--timeout", "1s"],
                None,
            )
        })
        .await
        .unwrap()
    };
    assert_eq!(code, 0);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("not delivered"), "{stderr}");
    let (code, _) = tokio::task::spawn_blocking(move || {
        report(
            &nowhere,
            "sh",
            &["--progress", "1", "--timeout", "1s", "--strict"],
            None,
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 1);

    let (code, stderr) = run_report(&[]).await.unwrap();
    assert_eq!(code, 2, "nothing to report is a usage error");
    assert!(stderr.contains("nothing to report"), "{stderr}");
    let (code, stderr) = run_report(&["--progress", "140"]).await.unwrap();
    assert_eq!(code, 2);
    assert!(stderr.contains("between 0 and 100"), "{stderr}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_command_sends_its_token() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(data.path(), None, |c| {
        c.security.secret = Some(SECRET.to_owned());
    })
    .await;
    let (status, _) = server
        .post_as(
            "/api/v1/runs",
            &token(Role::Admin, |_| {}),
            &json!({"id": "secured", "steps": [{"id": "a"}]}),
        )
        .await;
    assert_eq!(status, 201);
    let url = server.url("");
    let reporter = token(Role::Reporter, |c| c.scope.runs = vec!["secured".into()]);
    let (code, stderr) = tokio::task::spawn_blocking(move || {
        let without = report(&url, "secured", &["--progress", "5", "--strict"], None);
        let with = report(
            &url,
            "secured",
            &["--progress", "6", "--strict"],
            Some(&reporter),
        );
        (without, with)
    })
    .await
    .map(|(without, with)| {
        assert_eq!(without.0, 1);
        assert!(without.1.contains("401"), "{}", without.1);
        with
    })
    .unwrap();
    assert_eq!((code, stderr.as_str()), (0, ""));
    server.stop().await;
}
