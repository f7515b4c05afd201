//! NATS ingest against a real `nats-server` (Debian's, on a free loopback port): job-progress
//! messages create their run and its steps on first sight, our own events land as over HTTP
//! with the same answers, and NATS going away (at start or mid-run) costs one warning per
//! outage while everything else goes on, ingest resuming when NATS is back.

use crate::support::{wait_until_ready, TestServer};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::time::Instant;

/// A `nats-server` on `port`, stopped when dropped.
struct NatsServer {
    child: Child,
    port: u16,
}

impl NatsServer {
    async fn start(port: u16) -> NatsServer {
        let binary = ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("nats-server");
        let child = Command::new(binary)
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server is installed (.ci/setup installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "nats-server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        NatsServer { child, port }
    }

    fn url(&self) -> String {
        url(self.port)
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn url(port: u16) -> String {
    format!("nats://127.0.0.1:{port}")
}

fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    probe.local_addr().unwrap().port()
}

/// Publishes `body` on `subject` and returns the server's answer.
async fn ask(client: &async_nats::Client, subject: &str, body: Value) -> Value {
    let reply = tokio::time::timeout(
        Duration::from_secs(10),
        client.request(subject.to_owned(), body.to_string().into()),
    )
    .await
    .expect("answered in time")
    .expect("answered");
    serde_json::from_slice(&reply.payload).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_progress_and_our_events_arrive_over_nats() {
    let nats = NatsServer::start(free_port()).await;
    let data = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let nats_url = nats.url();
    let server = TestServer::start_on(listener, data.path(), None, |config| {
        config.nats = Some(nats_url);
    })
    .await;
    let client = async_nats::connect(nats.url()).await.unwrap();
    let job = "tenant.default.job.etl-7.progress";
    // The server subscribes just after it starts: ask until it answers.
    let deadline = Instant::now() + Duration::from_secs(10);
    let first = json!({"nodeId": 1, "nodeName": "DB Input", "status": "running", "rowCount": 5000, "message": "reading orders"});
    let answer = loop {
        let attempt = tokio::time::timeout(
            Duration::from_millis(500),
            client.request(job.to_owned(), first.to_string().into()),
        )
        .await;
        if let Ok(Ok(reply)) = attempt {
            break serde_json::from_slice::<Value>(&reply.payload).unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "the server never answered on NATS"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(answer["run"], "etl-7", "{answer}");
    let answer = ask(
        &client,
        job,
        json!({"nodeId": 2, "nodeName": "Sort rows", "status": "in_progress", "progress": 30}),
    )
    .await;
    assert_eq!(
        answer["seqs"].as_array().map(Vec::len),
        Some(2),
        "step added, then its progress: {answer}"
    );
    let (_, run) = server.get("/api/v1/runs/etl-7").await;
    assert_eq!(run["status"], "running", "{run}");
    assert_eq!(run["steps"]["node-1"]["rows"], 5000);
    assert_eq!(run["steps"]["node-1"]["message"], "reading orders");
    assert_eq!(run["steps"]["node-2"]["progress"], 30.0);
    ask(
        &client,
        job,
        json!({"nodeId": 1, "status": "completed", "rowCount": 12000}),
    )
    .await;
    let answer = ask(&client, job, json!({"nodeId": 2, "status": "done"})).await;
    assert_eq!(
        answer["seqs"].as_array().map(Vec::len),
        Some(2),
        "the step's end, then the run's: {answer}"
    );
    let (_, run) = server.get("/api/v1/runs/etl-7").await;
    assert_eq!(run["status"], "success", "{run}");
    assert_eq!(run["steps"]["node-1"]["rows"], 12000);
    assert_eq!(run["added_steps"][0]["name"], "Sort rows");
    let (_, page) = server.html("/runs/etl-7").await;
    assert!(
        page.contains("Sort rows") && page.contains("DB Input"),
        "{page}"
    );

    let refusals = [
        (
            job,
            json!({"status": "running"}),
            "a job progress message needs `nodeId` or `nodeName`",
        ),
        (
            job,
            json!({"nodeId": 3, "nodeName": "Late"}),
            "`type`: the run already finished as success",
        ),
        (
            "tenant.Bad_Tenant!.job.x.progress",
            json!({"nodeId": 1}),
            "tenant",
        ),
        (
            "signalbox.default.events.nope",
            json!({"type": "run.started"}),
            "no run `nope`",
        ),
    ];
    for (subject, body, expected) in refusals {
        let answer = ask(&client, subject, body).await;
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{subject}: {answer}");
    }

    // Our own events: the same checks and answers as over HTTP, idempotency included.
    server.adhoc_run("ci-9").await;
    let events = "signalbox.default.events.ci-9";
    let progress = json!([{"type": "step.progress", "step": "a", "progress": 40, "id": "p-40"}]);
    let answer = ask(&client, events, progress.clone()).await;
    assert_eq!(answer, json!({"run": "ci-9", "seqs": [1]}));
    assert_eq!(
        ask(&client, events, progress).await["seqs"],
        json!([1]),
        "a repeat stores nothing"
    );
    let answer = ask(
        &client,
        events,
        json!({"type": "step.progress", "step": "a", "progress": 140}),
    )
    .await;
    assert_eq!(
        answer["error"]["message"],
        "event 0: `progress` must be between 0 and 100, got 140"
    );
    // Another tenant cannot reach this run, even by its exact id.
    let answer = ask(
        &client,
        "signalbox.acme.events.ci-9",
        json!({"type": "run.started"}),
    )
    .await;
    assert_eq!(answer["error"]["message"], "no run `ci-9`");
    // Without a reply subject the message is ingested all the same.
    client
        .publish(
            events,
            json!({"type": "step.progress", "step": "a", "progress": 60})
                .to_string()
                .into(),
        )
        .await
        .unwrap();
    client.flush().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, run) = server.get("/api/v1/runs/ci-9").await;
        if run["steps"]["a"]["progress"] == 60.0 {
            assert_eq!(run["seq"], 2, "{run}");
            break;
        }
        assert!(Instant::now() < deadline, "{run}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
}

/// The real binary (its log is what an operator sees), with NATS down at start, then up,
/// then killed mid-run and restarted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_down_at_start_or_mid_run_costs_one_warning_and_ingest_resumes() {
    let port = free_port();
    let data = tempfile::tempdir().unwrap();
    let addr: SocketAddr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let log = data.path().join("server.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_signalbox"))
        .args([
            "serve",
            "--addr",
            &addr.to_string(),
            "--nats",
            &url(port),
            "--data-dir",
        ])
        .arg(data.path().join("data"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RUST_LOG", "warn")
        // A test build has no hashed bundle (and so no warning about its missing hash file).
        .env("LEPTOS_HASH_FILES", "false")
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until_ready(addr).await;
    let http = reqwest::Client::new();
    let base = format!("http://{addr}");
    let post = |path: &str, body: Value| http.post(format!("{base}{path}")).json(&body).send();
    let created = post(
        "/api/v1/runs",
        json!({"id": "ci-1", "steps": [{"id": "a"}]}),
    )
    .await
    .unwrap();
    assert_eq!(created.status(), 201, "the server works without NATS");
    // Several reconnection attempts fail meanwhile.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ingested = |progress: u64| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let run: Value = http
                    .get(format!("{base}/api/v1/runs/ci-1"))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                if run["steps"]["a"]["progress"] == progress as f64 {
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "progress {progress} never arrived: {run}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    // Publishes until the server has it (a publish to a server not yet subscribed is lost,
    // which NATS allows): bounded by `ingested`'s deadline through the answer's arrival.
    let send = |nats_url: String, progress: u64| async move {
        let client = async_nats::connect(nats_url).await.unwrap();
        let body = json!({"type": "step.progress", "step": "a", "progress": progress, "id": format!("p{progress}")});
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let asked = tokio::time::timeout(
                Duration::from_millis(500),
                client.request("signalbox.default.events.ci-1", body.to_string().into()),
            )
            .await;
            if let Ok(Ok(reply)) = asked {
                let answer: Value = serde_json::from_slice(&reply.payload).unwrap();
                assert!(answer["seqs"].is_array(), "{answer}");
                return;
            }
            assert!(Instant::now() < deadline, "no answer on NATS");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };

    let nats = NatsServer::start(port).await;
    send(nats.url(), 20).await;
    ingested(20).await;
    drop(nats);
    // HTTP ingest goes on while NATS is gone.
    let answer = post(
        "/api/v1/runs/ci-1/events",
        json!({"type": "step.progress", "step": "a", "progress": 30}),
    )
    .await
    .unwrap();
    assert_eq!(answer.status(), 200);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let nats = NatsServer::start(port).await;
    send(nats.url(), 50).await;
    ingested(50).await;

    child.kill().unwrap();
    child.wait().unwrap();
    let log = std::fs::read_to_string(&log).unwrap();
    // Besides the one that says sign-in is off (a loopback server without a secret).
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") && !l.contains("authentication off"))
        .collect();
    let nats_warnings = warnings
        .iter()
        .filter(|l| l.contains("NATS unreachable"))
        .count();
    assert_eq!(
        nats_warnings, 2,
        "one per outage (at start, mid-run):\n{log}"
    );
    assert_eq!(warnings.len(), 2, "and nothing else:\n{log}");
}
