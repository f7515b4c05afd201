//! Idle subscribers: how many subscribed connections one server holds, what each costs it in
//! memory, and how fast they connect. Every connection is then proven live: one event per run
//! must reach all of them.

use super::client::{self, create_run, post_events, progress_event, scan_events};
use super::procfs;
use super::target::Target;
use futures::StreamExt;
use serde::Serialize;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

#[derive(Clone, Debug, Serialize)]
pub struct IdleConfig {
    pub connections: usize,
    pub runs: usize,
    /// Connection attempts in flight at once.
    pub concurrency: usize,
    /// How long the connections stay idle before the memory reading.
    pub settle: Duration,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct IdleReport {
    pub connected: u64,
    pub failed: u64,
    pub connects_per_s: f64,
    /// Server RSS growth per subscribed connection.
    pub rss_kb_per_connection: Option<f64>,
    pub server_rss_mb: Option<f64>,
    /// Connections that received the liveness event.
    pub live: u64,
}

pub async fn run(target: &Target, config: &IdleConfig) -> Result<IdleReport, client::ClientError> {
    let http = client::http_client();
    let stamp = chrono::Utc::now().timestamp_micros();
    let runs: Vec<String> = (0..config.runs)
        .map(|i| format!("idle-{stamp}-{i}"))
        .collect();
    let step = vec![("s".to_owned(), Vec::new())];
    for id in &runs {
        create_run(&http, target, id, &step).await?;
    }
    // Let the allocator settle after the setup before the baseline.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = target.pid.and_then(procfs::usage);
    let began = Instant::now();
    let opened = client::open_subscribers(
        target,
        &runs,
        config.connections,
        config.concurrency,
        Duration::from_secs(60),
    )
    .await;
    let connect_time = began.elapsed().as_secs_f64();
    let mut report = IdleReport::default();
    let mut sockets = Vec::with_capacity(opened.len());
    for outcome in opened {
        match outcome {
            Ok((socket, _, _)) => sockets.push(socket),
            Err(e) => {
                if report.failed == 0 {
                    eprintln!("bench: a connection failed: {e}");
                }
                report.failed += 1;
            }
        }
    }
    report.connected = sockets.len() as u64;
    report.connects_per_s = report.connected as f64 / connect_time;
    tokio::time::sleep(config.settle).await;
    let after = target.pid.and_then(procfs::usage);
    if let (Some(before), Some(after)) = (before, after) {
        report.server_rss_mb = Some(after.rss_bytes as f64 / 1e6);
        if report.connected > 0 {
            let grown = after.rss_bytes.saturating_sub(before.rss_bytes) as f64;
            report.rss_kb_per_connection = Some(grown / 1024.0 / report.connected as f64);
        }
    }
    for id in &runs {
        post_events(&http, target, id, progress_event("s", 0, 0)).await?;
    }
    report.live = futures::stream::iter(sockets)
        .map(|mut socket| async move {
            let heard = tokio::time::timeout(Duration::from_secs(60), async {
                while let Some(Ok(message)) = socket.next().await {
                    if let Message::Text(text) = message {
                        if scan_events(text.as_str()).is_some_and(|e| !e.is_empty()) {
                            return true;
                        }
                    }
                }
                false
            })
            .await
            .unwrap_or(false);
            drop(socket);
            u64::from(heard)
        })
        .buffer_unordered(4096)
        .fold(0, |sum, live| async move { sum + live })
        .await;
    Ok(report)
}
