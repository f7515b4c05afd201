//! Starting and talking to a real server.

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use signalbox::api::ServerFrame;
use signalbox::domain::{RunState, StoredEvent};
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
        Self::start_with(data_dir, pipelines, |_| {}).await
    }

    /// Like [`TestServer::start`], with the configuration adjusted by `tweak` (limits, origins).
    pub async fn start_with(
        data_dir: &Path,
        pipelines: Option<PathBuf>,
        tweak: impl FnOnce(&mut ServeConfig),
    ) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_on(listener, data_dir, pipelines, tweak).await
    }

    /// Like [`TestServer::start_with`], on a listener the test chose (a known port).
    pub async fn start_on(
        listener: TcpListener,
        data_dir: &Path,
        pipelines: Option<PathBuf>,
        tweak: impl FnOnce(&mut ServeConfig),
    ) -> TestServer {
        let addr = listener.local_addr().unwrap();
        let mut config = ServeConfig {
            pipelines,
            ..ServeConfig::new(addr, data_dir.to_path_buf())
        };
        tweak(&mut config);
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

    /// Stops the server as SIGTERM would, without waiting for it to finish.
    pub fn begin_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
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

    /// A page as a browser asks for it: status and HTML.
    pub async fn html(&self, path: &str) -> (u16, String) {
        let response = self
            .http
            .get(self.url(path))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
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

    /// A request with a bearer token (and a JSON body): status and the JSON answer (`Null`
    /// when there is none).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get_as(&self, path: &str, token: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, token, None).await
    }

    pub async fn post_as(&self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    pub async fn delete_as(&self, path: &str, token: &str) -> (u16, Value) {
        self.call(reqwest::Method::DELETE, path, token, None).await
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
    /// Waits (bounded) until the run has `status`.
    pub async fn wait_until_status(&self, run: &str, status: &str) -> Value {
        let deadline = tokio::time::Instant::now() + RUN_DEADLINE;
        loop {
            let (_, state) = self.get(&format!("/api/v1/runs/{run}")).await;
            if state["status"] == status {
                return state;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "run {run} never was {status}: {state}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

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
        Socket::connect(self.addr).await
    }

    /// Creates an ad-hoc run of steps `a`, `b` and `c`, returning its id.
    pub async fn adhoc_run(&self, id: &str) -> String {
        let body = json!({ "id": id, "steps": [{ "id": "a" }, { "id": "b", "needs": ["a"] }, { "id": "c" }] });
        let (status, summary) = self.post("/api/v1/runs", &body).await;
        assert_eq!(status, 201, "{summary}");
        id.to_owned()
    }

    /// The run's stored events, all of them.
    pub async fn stored_events(&self, run: &str) -> Vec<StoredEvent> {
        let (status, body) = self
            .get(&format!("/api/v1/runs/{run}/events?since=0&limit=10000"))
            .await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_value(body["events"].clone()).unwrap()
    }

    /// The run's snapshot over HTTP and its epoch.
    pub async fn snapshot(&self, run: &str) -> (RunState, String) {
        let (status, body) = self.get(&format!("/api/v1/runs/{run}")).await;
        assert_eq!(status, 200, "{body}");
        let epoch = body["epoch"].as_str().unwrap().to_owned();
        (serde_json::from_value(body).unwrap(), epoch)
    }
}

/// `step.progress` events for ad-hoc runs made by [`TestServer::adhoc_run`]: cycling through
/// steps `a` and `c` (which need nothing), percent rising with `i`.
/// Waits (up to 30 s) until a server started as a separate process answers `/readyz`.
pub async fn wait_until_ready(addr: SocketAddr) {
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while http
        .get(format!("http://{addr}/readyz"))
        .send()
        .await
        .map_or(true, |r| !r.status().is_success())
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server did not start"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub fn progress_event(i: u64) -> Value {
    let step = if i.is_multiple_of(2) { "a" } else { "c" };
    json!({ "type": "step.progress", "step": step, "progress": (i % 100) as f64, "message": format!("m{i}"), "id": format!("e{i}") })
}

pub type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Socket {
    pub ws: WsStream,
}

impl Socket {
    pub async fn connect(addr: SocketAddr) -> Socket {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/api/v1/ws"))
            .await
            .unwrap();
        Socket { ws }
    }

    /// A socket whose handshake carries `header` (credentials), or the refusal's HTTP status.
    pub async fn connect_with(addr: SocketAddr, header: (&str, &str)) -> Result<Socket, u16> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://{addr}/api/v1/ws")
            .into_client_request()
            .unwrap();
        request.headers_mut().insert(
            header.0.parse::<http::HeaderName>().unwrap(),
            header.1.parse().unwrap(),
        );
        match tokio_tungstenite::connect_async(request).await {
            Ok((ws, _)) => Ok(Socket { ws }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                Err(response.status().as_u16())
            }
            Err(other) => panic!("handshake failed: {other}"),
        }
    }

    /// The close frame's code once the server closes, skipping anything before it.
    pub async fn close_code(&mut self, within: Duration) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(_)) | None) => return None,
                Err(_) => panic!("the server did not close the socket within {within:?}"),
            }
        }
    }

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

/// One Server-Sent Events message.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SseMessage {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

/// Reads an SSE response message by message (comments and `retry:` are skipped).
pub struct SseReader {
    response: reqwest::Response,
    buffer: String,
}

impl SseReader {
    /// Opens `GET /api/v1/runs/{run}/events` as an event stream through `addr`.
    pub async fn open(
        http: &reqwest::Client,
        addr: SocketAddr,
        run: &str,
        query: &str,
        last_event_id: Option<&str>,
    ) -> Result<SseReader, reqwest::Error> {
        let mut request = http
            .get(format!("http://{addr}/api/v1/runs/{run}/events{query}"))
            .header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await?;
        assert_eq!(response.status(), 200);
        Ok(SseReader {
            response,
            buffer: String::new(),
        })
    }

    /// The next message, or `None` when the stream ended or broke.
    pub async fn next(&mut self) -> Option<SseMessage> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut message = SseMessage::default();
                for line in block.lines() {
                    if let Some(id) = line.strip_prefix("id: ") {
                        message.id = Some(id.to_owned());
                    } else if let Some(event) = line.strip_prefix("event: ") {
                        message.event = Some(event.to_owned());
                    } else if let Some(data) = line.strip_prefix("data: ") {
                        message.data.push_str(data);
                    }
                }
                if message.data.is_empty() {
                    continue;
                }
                return Some(message);
            }
            match tokio::time::timeout(RUN_DEADLINE, self.response.chunk()).await {
                Ok(Ok(Some(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(_) => return None,
                Err(_) => panic!("no SSE data within {RUN_DEADLINE:?}"),
            }
        }
    }
}
