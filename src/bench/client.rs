//! What every scenario does as a client: create ad-hoc runs, post events, open WebSocket
//! subscriptions from several loopback source addresses, and read event frames cheaply.

use super::target::Target;
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use thiserror::Error;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// Loopback source addresses connections are spread over (127.0.0.2 …), so that no single
/// (source, destination) pair runs out of ephemeral ports.
pub const SOURCE_ADDRESSES: u8 = 8;

#[derive(Debug, Error)]
pub enum ClientError {
    #[error("HTTP {what}: {source}")]
    Http {
        what: &'static str,
        source: reqwest::Error,
    },
    #[error("{what} answered {status}: {body}")]
    Status {
        what: &'static str,
        status: u16,
        body: String,
    },
    #[error("connecting from {from}: {source}")]
    Connect {
        from: Ipv4Addr,
        source: std::io::Error,
    },
    #[error("WebSocket: {0}")]
    Ws(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("the live stream said: {0}")]
    Protocol(String),
    #[error("the live stream ended before `subscribed`")]
    Ended,
    #[error("no `subscribed` within {0:?}")]
    Timeout(Duration),
}

pub type Socket = WebSocketStream<TcpStream>;

/// An HTTP client sized for many concurrent producers.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("a default HTTP client builds")
}

/// The response, or the error naming `what` and the server's answer.
pub(super) async fn check(
    what: &'static str,
    response: Result<reqwest::Response, reqwest::Error>,
) -> Result<reqwest::Response, ClientError> {
    let response = response.map_err(|source| ClientError::Http { what, source })?;
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    Err(ClientError::Status { what, status, body })
}

/// Creates an ad-hoc run with `steps` (each `(id, needs)`) and starts it.
pub async fn create_run(
    http: &reqwest::Client,
    target: &Target,
    id: &str,
    steps: &[(String, Vec<String>)],
) -> Result<(), ClientError> {
    let steps: Vec<Value> = steps
        .iter()
        .map(|(id, needs)| json!({ "id": id, "needs": needs }))
        .collect();
    let body = json!({ "id": id, "name": id, "steps": steps });
    let sent = http.post(target.http("/api/v1/runs")).json(&body).send();
    check("creating a run", sent.await).await?;
    post_events(
        http,
        target,
        id,
        json!({ "type": "run.started" }).to_string(),
    )
    .await?;
    Ok(())
}

#[derive(Deserialize)]
struct Acked {
    seqs: Vec<Option<u64>>,
}

/// Posts an ingest body; returns the highest seq the server assigned.
pub async fn post_events(
    http: &reqwest::Client,
    target: &Target,
    run: &str,
    body: String,
) -> Result<u64, ClientError> {
    let url = target.http(&format!("/api/v1/runs/{run}/events"));
    let sent = http
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send();
    let response = check("posting events", sent.await).await?;
    let acked: Acked = response.json().await.map_err(|source| ClientError::Http {
        what: "reading the ingest answer",
        source,
    })?;
    Ok(acked.seqs.into_iter().flatten().max().unwrap_or(0))
}

/// One progress event whose message carries the producer's counter and the scheduled send
/// time (µs since the bench's start), which subscribers read back to measure latency.
pub fn progress_event(step: &str, counter: u64, scheduled_us: u64) -> String {
    format!(r#"{{"type":"step.progress","step":"{step}","message":"b:{counter}:{scheduled_us}"}}"#)
}

/// Opens a WebSocket from source address 127.0.0.(2 + `n` mod [`SOURCE_ADDRESSES`]).
pub async fn connect(target: &Target, n: usize) -> Result<Socket, ClientError> {
    let from = Ipv4Addr::new(127, 0, 0, 2 + (n % usize::from(SOURCE_ADDRESSES)) as u8);
    let socket = TcpSocket::new_v4().map_err(|source| ClientError::Connect { from, source })?;
    defer_port_choice(&socket);
    socket
        .bind(SocketAddr::from((from, 0)))
        .map_err(|source| ClientError::Connect { from, source })?;
    let stream = socket
        .connect(target.addr)
        .await
        .map_err(|source| ClientError::Connect { from, source })?;
    stream.set_nodelay(true).ok();
    // Small buffers: the bench holds thousands of these in one process, and tungstenite zeroes
    // the whole free part of its read buffer before every read (at 16 KiB, that zeroing and
    // the pages it touched were a good part of the generator's CPU while connecting). A frame
    // larger than the buffer grows it.
    let config = WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0);
    let (socket, _) =
        tokio_tungstenite::client_async_with_config(target.ws(), stream, Some(config)).await?;
    Ok(socket)
}

/// Lets the kernel pick the source port at connect time rather than at bind time: binding to
/// port 0 searches the whole port range for a free port, slower with every socket already
/// bound (Linux's IP_BIND_ADDRESS_NO_PORT).
fn defer_port_choice(socket: &TcpSocket) {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: a valid socket descriptor and a pointer to an int of the size given.
    let _ = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            std::ptr::addr_of!(on).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
}

/// Subscribes to `run` and waits for `subscribed`; returns the seq the subscription starts
/// after (the snapshot's).
pub async fn subscribe(
    socket: &mut Socket,
    run: &str,
    within: Duration,
) -> Result<u64, ClientError> {
    let op = json!({ "op": "subscribe", "run": run }).to_string();
    socket.send(Message::Text(op.into())).await?;
    let waiting = async {
        let mut start = 0;
        while let Some(message) = socket.next().await {
            let Message::Text(text) = message? else {
                continue;
            };
            let frame: Value = serde_json::from_str(text.as_str())
                .map_err(|e| ClientError::Protocol(format!("unparsable frame: {e}")))?;
            match frame["type"].as_str() {
                Some("snapshot") => start = frame["seq"].as_u64().unwrap_or(0),
                Some("subscribed") => return Ok(start),
                Some("error") => return Err(ClientError::Protocol(frame["message"].to_string())),
                _ => {}
            }
        }
        Err(ClientError::Ended)
    };
    tokio::time::timeout(within, waiting)
        .await
        .map_err(|_| ClientError::Timeout(within))?
}

/// A subscriber that is ready: its socket, the index of its run and the seq its subscription
/// starts after.
pub type Subscriber = (Socket, usize, u64);

/// Opens `count` subscribers round-robin over `runs`, `concurrency` attempts at a time, each
/// attempt a task of its own: the runtime's threads share the connecting (from one task, one
/// thread did all the client's work, the kernel's share of each loopback connect included, and
/// the server waited on it with cores idle). Outcomes in the order they finish.
pub async fn open_subscribers(
    target: &Target,
    runs: &[String],
    count: usize,
    concurrency: usize,
    within: Duration,
) -> Vec<Result<Subscriber, ClientError>> {
    futures::stream::iter(0..count)
        .map(|n| {
            let run = n % runs.len();
            let (id, target) = (runs[run].clone(), target.clone());
            tokio::spawn(async move {
                let mut socket = connect(&target, n).await?;
                let start = subscribe(&mut socket, &id, within).await?;
                Ok((socket, run, start))
            })
        })
        .buffer_unordered(concurrency)
        .map(|joined| joined.expect("a connection attempt does not panic"))
        .collect()
        .await
}

/// One event as the bench sees it: its seq and, for events the bench produced, the producer's
/// counter and scheduled send time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Seen {
    pub seq: u64,
    pub mark: Option<(u64, u64)>,
}

/// Reads the events of an `events` frame without building a JSON tree: the bench parses
/// millions of them per second beside the server, and only needs seqs and its own marks.
/// Returns `None` for other frames.
pub fn scan_events(text: &str) -> Option<Vec<Seen>> {
    let body = text.strip_prefix(r#"{"type":"events""#)?;
    let mut seen = Vec::new();
    for chunk in body.split(r#""seq":"#).skip(1) {
        let digits = chunk.split(|c: char| !c.is_ascii_digit()).next()?;
        let seq = digits.parse().ok()?;
        let mark = chunk.split_once(r#""message":"b:"#).and_then(|(_, rest)| {
            let (counter, rest) = rest.split_once(':')?;
            let (at, _) = rest.split_once('"')?;
            Some((counter.parse().ok()?, at.parse().ok()?))
        });
        seen.push(Seen { seq, mark });
    }
    Some(seen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ServerFrame;
    use crate::domain::{EventKind, StoredEvent};
    use chrono::Utc;

    #[test]
    fn scans_what_the_server_serialises() {
        let event = |seq, message: &str| StoredEvent {
            seq,
            kind: EventKind::StepProgress {
                step: "s".into(),
                progress: Some(5.0),
                message: Some(message.into()),
                rows: None,
            },
            id: None,
            ts: Utc::now(),
        };
        let frame = ServerFrame::Events {
            run: "r".into(),
            events: vec![event(7, "b:3:12345"), event(8, "done")],
        };
        let text = serde_json::to_string(&frame).unwrap();
        assert_eq!(
            scan_events(&text).unwrap(),
            vec![
                Seen {
                    seq: 7,
                    mark: Some((3, 12345))
                },
                Seen { seq: 8, mark: None }
            ]
        );
        assert_eq!(scan_events(r#"{"type":"heartbeat"}"#), None);
    }
}
