//! kill -9 at random moments, with a producer that retries every batch (with event ids) until
//! it is acknowledged and a pipeline whose steps run long: afterwards every acknowledged event
//! is stored exactly once, seqs are gapless, the database passes `PRAGMA integrity_check`, and
//! no step process is left, not even one that escaped its process group.

use crate::support::{pipelines, progress_event, wait_until_ready};
use serde_json::{json, Value};
use sqlx::Row;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::time::Instant;

const ROUNDS: u64 = 4;

/// The real binary, as a separate process that can be killed.
struct Process {
    child: Child,
    addr: SocketAddr,
}

impl Process {
    async fn start(data: &Path, pipelines: &Path) -> Process {
        let addr: SocketAddr = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap()
        };
        let child = Command::new(env!("CARGO_BIN_EXE_signalbox"))
            .args(["serve", "--addr", &addr.to_string(), "--data-dir"])
            .arg(data)
            .arg("--pipelines")
            .arg(pipelines)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        wait_until_ready(addr).await;
        Process { child, addr }
    }

    fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// Processes whose environment marks them as steps of the server owning `data`.
fn step_processes(data: &Path) -> Vec<u32> {
    let marker = format!("SIGNALBOX_OWNER={}", data.canonicalize().unwrap().display());
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                env.split(|b| *b == 0)
                    .any(|entry| entry == marker.as_bytes())
            })
        })
        .filter(|pid| {
            // Zombies already died; they only wait for their parent to reap them.
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                stat.rsplit(')')
                    .next()
                    .is_some_and(|s| !s.trim_start().starts_with('Z'))
            })
        })
        .collect()
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_event_and_leaves_no_step_process() {
    let dir = pipelines(&[(
        "long.toml",
        // `setsid` moves a grandchild out of the step's process group: only the start-up sweep
        // can find it.
        "id = 'long'\n[[steps]]\nid = 'work'\nrun = \"setsid sleep 300 & echo '::progress 10 working'; sleep 300\"\n",
    )]);
    let data = tempfile::tempdir().unwrap();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    println!("crash seed {seed}");

    let mut server = Process::start(data.path(), dir.path()).await;
    let (status, _) = post(
        &http,
        server.addr,
        "/api/v1/runs",
        &json!({ "id": "crashy", "steps": [{ "id": "a" }, { "id": "b" }, { "id": "c" }] }),
    )
    .await
    .unwrap();
    assert_eq!(status, 201);
    let mut acknowledged: BTreeSet<String> = BTreeSet::new();
    let mut next = 1u64;
    for round in 0..ROUNDS {
        let (status, body) = post(
            &http,
            server.addr,
            "/api/v1/runs",
            &json!({ "pipeline": "long" }),
        )
        .await
        .unwrap();
        assert_eq!(status, 201, "{body}");
        let run = body["id"].as_str().unwrap().to_owned();
        wait_until("the step started", || {
            !step_processes(data.path()).is_empty()
        })
        .await;

        // Produce until the kill, at a moment that differs per round.
        let kill_after = Duration::from_millis(150 + (seed.wrapping_mul(round + 7)) % 400);
        let kill_at = Instant::now() + kill_after;
        while Instant::now() < kill_at {
            let batch: Vec<Value> = (next..next + 5).map(progress_event).collect();
            if let Ok((200, _)) = post(
                &http,
                server.addr,
                "/api/v1/runs/crashy/events",
                &json!(batch),
            )
            .await
            {
                acknowledged.extend((next..next + 5).map(|i| format!("e{i}")));
                next += 5;
            }
        }
        // A batch in flight when the server dies may or may not be stored; the producer
        // retries it after the restart, and its ids make the retry harmless.
        let in_flight: Vec<Value> = (next..next + 5).map(progress_event).collect();
        let request = tokio::spawn({
            let (http, addr, batch) = (http.clone(), server.addr, in_flight.clone());
            async move { post(&http, addr, "/api/v1/runs/crashy/events", &json!(batch)).await }
        });
        tokio::time::sleep(Duration::from_micros(seed % 3_000)).await;
        server.kill_9();
        let _ = request.await;

        // The step's process group dies with the server; the escaped grandchild does not...
        wait_until("the supervisor killed the step's group", || {
            step_processes(data.path()).len() <= 1
        })
        .await;
        // ...until the next server starts and sweeps it away.
        server = Process::start(data.path(), dir.path()).await;
        assert!(
            step_processes(data.path()).is_empty(),
            "no step process outlives the start"
        );
        let (status, body) = post(
            &http,
            server.addr,
            "/api/v1/runs/crashy/events",
            &json!(in_flight),
        )
        .await
        .unwrap();
        assert_eq!(status, 200, "{body}");
        acknowledged.extend((next..next + 5).map(|i| format!("e{i}")));
        next += 5;
        let state = get(&http, server.addr, &format!("/api/v1/runs/{run}")).await;
        assert_eq!(
            state["status"], "failed",
            "the interrupted run ends truthfully: {state}"
        );
        assert!(state["message"]
            .as_str()
            .unwrap()
            .starts_with("interrupted"));
    }

    let events = get(&http, server.addr, "/api/v1/runs/crashy/events?limit=10000").await;
    let events = events["events"].as_array().unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "gapless");
    let ids: Vec<&str> = events.iter().filter_map(|e| e["id"].as_str()).collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "every event stored once");
    for id in &acknowledged {
        assert!(
            unique.contains(id.as_str()),
            "acknowledged event {id} is stored"
        );
    }
    println!(
        "{} acknowledged events over {ROUNDS} kills",
        acknowledged.len()
    );
    server.kill_9();

    let db = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        data.path().join("signalbox.db").display()
    ))
    .await
    .unwrap();
    let check: String = sqlx::query("PRAGMA integrity_check")
        .fetch_one(&db)
        .await
        .unwrap()
        .get(0);
    assert_eq!(check, "ok");
    db.close().await;
    assert!(step_processes(data.path()).is_empty());
}

async fn get(http: &reqwest::Client, addr: SocketAddr, path: &str) -> Value {
    let response = http
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .unwrap();
    response.json().await.unwrap()
}

async fn post(
    http: &reqwest::Client,
    addr: SocketAddr,
    path: &str,
    body: &Value,
) -> Result<(u16, Value), reqwest::Error> {
    let response = http
        .post(format!("http://{addr}{path}"))
        .json(body)
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}
