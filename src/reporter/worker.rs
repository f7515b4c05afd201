//! The reporter's thread: gathers reports into batches, posts them, and retries with
//! exponential backoff while the server cannot take them.

use super::{Counters, Message, ReporterConfig};
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The first wait after a failed attempt; it doubles up to `max_backoff`.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// How one attempt to send a batch went.
enum Sent {
    Stored,
    /// The server refused the batch for what it is: sending it again cannot help.
    Refused(String),
    /// Unreachable, overloaded (429) or failing (5xx): try again later.
    Retry(String),
}

pub(super) fn run(
    config: ReporterConfig,
    inbox: flume::Receiver<Message>,
    counters: Arc<Counters>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(_) => return,
    };
    runtime.block_on(Worker::new(config, counters).serve(inbox));
}

struct Worker {
    config: ReporterConfig,
    counters: Arc<Counters>,
    http: reqwest::Client,
    pending: VecDeque<Value>,
    backoff: Duration,
    /// No attempt before this instant (after a failure).
    next_attempt: Instant,
}

impl Worker {
    fn new(config: ReporterConfig, counters: Arc<Counters>) -> Worker {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Worker {
            config,
            counters,
            http,
            pending: VecDeque::new(),
            backoff: FIRST_BACKOFF,
            next_attempt: Instant::now(),
        }
    }

    /// Receives reports until closed. A batch goes out when it is full or when its oldest
    /// report has waited `flush_interval` (later while a backoff applies).
    async fn serve(mut self, inbox: flume::Receiver<Message>) {
        // When what is pending must be sent.
        let mut due: Option<Instant> = None;
        loop {
            let wake = due.map_or_else(
                || Instant::now() + Duration::from_secs(3600),
                |due| due.max(self.next_attempt),
            );
            match tokio::time::timeout_at(wake, inbox.recv_async()).await {
                Ok(Ok(Message::Report(report))) => {
                    self.keep(report);
                    due.get_or_insert_with(|| Instant::now() + self.config.flush_interval);
                    if self.pending.len() < self.config.max_batch {
                        continue;
                    }
                }
                Ok(Ok(Message::Close(within, done))) => {
                    self.drain(within).await;
                    let _ = done.send(());
                    return;
                }
                // Every sender is gone without closing: flush briefly and stop.
                Ok(Err(_)) => {
                    self.drain(Duration::from_secs(2)).await;
                    return;
                }
                Err(_) => {}
            }
            self.flush_ready().await;
            due = (!self.pending.is_empty()).then(|| Instant::now() + self.config.flush_interval);
        }
    }

    /// Keeps a report to send; while the server cannot be reached, at most `capacity` wait
    /// and the oldest make room (the newest state is what a viewer needs).
    fn keep(&mut self, report: Value) {
        self.pending.push_back(report);
        while self.pending.len() > self.config.capacity.max(1) {
            self.pending.pop_front();
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Sends what is pending if no backoff forbids it.
    async fn flush_ready(&mut self) {
        while !self.pending.is_empty() && Instant::now() >= self.next_attempt {
            if !self.attempt().await {
                return;
            }
        }
    }

    /// Sends everything pending, retrying until `within` has passed; what is left counts as
    /// failed.
    async fn drain(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.pending.is_empty() && Instant::now() < deadline {
            if self.next_attempt > Instant::now() {
                tokio::time::sleep_until(self.next_attempt.min(deadline)).await;
                continue;
            }
            self.attempt().await;
        }
        let left = self.pending.len() as u64;
        self.counters.failed.fetch_add(left, Ordering::Relaxed);
        self.pending.clear();
    }

    /// One attempt with the oldest batch. False when the server could not take it (a backoff
    /// now applies).
    async fn attempt(&mut self) -> bool {
        let size = self.pending.len().min(self.config.max_batch.max(1));
        let batch: Vec<&Value> = self.pending.iter().take(size).collect();
        match self.post(&batch).await {
            Sent::Stored => {
                self.counters.sent.fetch_add(size as u64, Ordering::Relaxed);
                self.pending.drain(..size);
                self.backoff = FIRST_BACKOFF;
                true
            }
            Sent::Refused(why) => {
                self.counters
                    .failed
                    .fetch_add(size as u64, Ordering::Relaxed);
                self.counters.failed_because(why);
                self.pending.drain(..size);
                true
            }
            Sent::Retry(why) => {
                self.counters.failed_because(why);
                self.counters.retries.fetch_add(1, Ordering::Relaxed);
                self.next_attempt = Instant::now() + self.backoff;
                self.backoff = (self.backoff * 2).min(self.config.max_backoff);
                false
            }
        }
    }

    async fn post(&self, batch: &[&Value]) -> Sent {
        let url = format!("{}/api/v1/runs/{}/events", self.config.url, self.config.run);
        let mut request = self.http.post(url).json(batch);
        if let Some(token) = &self.config.token {
            request = request.bearer_auth(token);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return Sent::Retry(format!("cannot reach the server: {error}")),
        };
        let status = response.status();
        if status.is_success() {
            return Sent::Stored;
        }
        // The API's errors say what is wrong: `{"error": {"message": ...}}`.
        let message = response
            .json::<Value>()
            .await
            .ok()
            .and_then(|body| body["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| status.to_string());
        let why = format!("{}: {message}", status.as_u16());
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            Sent::Retry(why)
        } else {
            Sent::Refused(why)
        }
    }
}
