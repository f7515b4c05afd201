//! Starting and talking to a real server.

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use signalbox::api::ServerFrame;
use signalbox::server::config::ServeConfig;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;

/// Longest any test waits for a run to finish.
pub const RUN_DEADLINE: Duration = Duration::from_secs(90);

pub struct TestServer {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    /// A server on a free port over `data_dir`, with the pipelines of `pipelines` if given.
    pub async fn start(data_dir: &Path, pipelines: Option<PathBuf>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let config = ServeConfig {
            pipelines,
            ..ServeConfig::new(addr, data_dir.to_path_buf())
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            signalbox::server::serve::run(listener, config, async {
                let _ = stopped.await;
            })
            .await
            .expect("server runs");
        });
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let server = TestServer {
            addr,
            http,
            stop: Some(stop),
            task,
        };
        for _ in 0..100 {
            if server
                .http
                .get(server.url("/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("server did not become healthy");
    }

    /// Stops the server and waits for it to close.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), &mut self.task).await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.http.get(self.url(path)).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.post_raw(path, serde_json::to_vec(body).unwrap()).await
    }

    pub async fn post_raw(&self, path: &str, body: Vec<u8>) -> (u16, Value) {
        let response = self
            .http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Starts a pipeline run and returns its id.
    pub async fn start_run(&self, pipeline: &str) -> String {
        let (status, body) = self
            .post("/api/v1/runs", &json!({ "pipeline": pipeline }))
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// Polls the snapshot until the run's status is final, within the deadline.
    pub async fn wait_finished(&self, run: &str) -> Value {
        let deadline = tokio::time::Instant::now() + RUN_DEADLINE;
        loop {
            let (_, state) = self.get(&format!("/api/v1/runs/{run}")).await;
            let status = state["status"].as_str().unwrap_or_default().to_owned();
            if !matches!(status.as_str(), "pending" | "running") {
                return state;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "run {run} did not finish: {state}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn socket(&self) -> Socket {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/api/v1/ws", self.addr))
            .await
            .unwrap();
        Socket { ws }
    }
}

pub struct Socket {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl Socket {
    pub async fn send(&mut self, op: Value) {
        self.ws
            .send(Message::Text(op.to_string().into()))
            .await
            .unwrap();
    }

    /// The next frame that is not a heartbeat, within `RUN_DEADLINE`.
    pub async fn next(&mut self) -> ServerFrame {
        loop {
            let message = tokio::time::timeout(RUN_DEADLINE, self.ws.next())
                .await
                .expect("a frame in time");
            let text = match message {
                Some(Ok(Message::Text(text))) => text,
                // Protocol pings: tungstenite answers them while reading.
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("socket closed: {other:?}"),
            };
            let frame: ServerFrame =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad frame {text}: {e}"));
            if frame != ServerFrame::Heartbeat {
                return frame;
            }
        }
    }
}

/// A temporary directory of pipeline files.
pub fn pipelines(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}
