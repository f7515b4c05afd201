//! Reporting progress to a Signalbox server from any Rust program (feature `reporter`).
//!
//! ```no_run
//! use signalbox::reporter::{Reporter, ReporterConfig};
//! let reporter = Reporter::start(ReporterConfig::new("http://127.0.0.1:3000", "etl-2024-06-01"));
//! reporter.progress("load", 40.0, Some("loading orders"));
//! reporter.rows("load", 15_000);
//! reporter.finished("load", signalbox::domain::Status::Success, None);
//! reporter.close(std::time::Duration::from_secs(5));
//! ```
//!
//! Calls never block and never fail: they put the report in a bounded queue that a background
//! thread sends in batches. The thread retries with exponential backoff while the server is
//! unreachable or busy, and each report carries an idempotency key, so a retried batch is
//! stored once. While the server cannot be reached at most `capacity` reports wait, the oldest
//! making room for new ones, and every report dropped is counted in [`Stats`]: a job must
//! never slow down or fail because its progress could not be shown. [`Reporter::close`]
//! flushes what is queued, within a deadline.

#[cfg(feature = "ssr")]
pub mod command;
mod worker;

use crate::domain::{EventKind, NewEvent, Status};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where and how to report.
#[derive(Clone, Debug)]
pub struct ReporterConfig {
    /// The server's base URL (`SIGNALBOX_URL`).
    pub url: String,
    /// The run reported on (`SIGNALBOX_RUN`).
    pub run: String,
    /// A bearer token (`SIGNALBOX_TOKEN`), if the server requires one.
    pub token: Option<String>,
    /// Reports waiting at most; beyond it the oldest are dropped (and counted).
    pub capacity: usize,
    /// How long reports wait to be sent together.
    pub flush_interval: Duration,
    /// Reports sent in one request at most.
    pub max_batch: usize,
    /// Longest wait between two attempts while the server cannot be reached.
    pub max_backoff: Duration,
}

impl ReporterConfig {
    pub fn new(url: &str, run: &str) -> ReporterConfig {
        ReporterConfig {
            url: url.trim_end_matches('/').to_owned(),
            run: run.to_owned(),
            token: None,
            capacity: 10_000,
            flush_interval: Duration::from_millis(100),
            max_batch: 1_000,
            max_backoff: Duration::from_secs(30),
        }
    }

    /// The configuration a step of the built-in executor receives in its environment
    /// (`SIGNALBOX_URL`, `SIGNALBOX_RUN`, `SIGNALBOX_TOKEN`), if it has one.
    pub fn from_env() -> Option<ReporterConfig> {
        let url = std::env::var("SIGNALBOX_URL").ok()?;
        let run = std::env::var("SIGNALBOX_RUN").ok()?;
        let token = std::env::var("SIGNALBOX_TOKEN")
            .ok()
            .filter(|t| !t.is_empty());
        Some(ReporterConfig {
            token,
            ..ReporterConfig::new(&url, &run)
        })
    }
}

/// What happened to the reports so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Stored by the server.
    pub sent: u64,
    /// Dropped unsent: more than `capacity` were waiting.
    pub dropped: u64,
    /// Refused by the server (a 4xx other than 429: retrying cannot help) or still unsent
    /// when the reporter closed.
    pub failed: u64,
    /// Failed attempts to reach the server (each retried).
    pub retries: u64,
    /// Why the last attempt that did not store its batch failed (the server's message for a
    /// refusal).
    pub last_error: Option<String>,
}

/// Counters shared with the worker thread.
#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Counters {
    fn snapshot(&self) -> Stats {
        Stats {
            sent: self.sent.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }

    fn failed_because(&self, why: String) {
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
    }
}

/// What the worker receives.
enum Message {
    Report(Value),
    /// Flush within the deadline, then stop and answer.
    Close(Duration, flume::Sender<()>),
}

pub struct Reporter {
    queue: flume::Sender<Message>,
    counters: Arc<Counters>,
    worker: Option<std::thread::JoinHandle<()>>,
}

impl Reporter {
    /// Starts the background thread that sends the reports.
    pub fn start(config: ReporterConfig) -> Reporter {
        let (queue, inbox) = flume::bounded(config.capacity.max(1));
        let counters = Arc::new(Counters::default());
        let worker = {
            let counters = Arc::clone(&counters);
            std::thread::Builder::new()
                .name("signalbox-reporter".into())
                .spawn(move || worker::run(config, inbox, counters))
                .expect("the reporter thread starts")
        };
        Reporter {
            queue,
            counters,
            worker: Some(worker),
        }
    }

    fn send(&self, report: Value) {
        if self.queue.try_send(Message::Report(report)).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn event(&self, kind: EventKind) {
        let mut event = NewEvent::new(kind);
        event.id = Some(uuid::Uuid::new_v4().simple().to_string());
        event.ts = Some(chrono::Utc::now());
        match serde_json::to_value(event) {
            Ok(value) => self.send(value),
            Err(_) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub fn started(&self, step: &str) {
        self.event(EventKind::step_started(step));
    }

    /// Progress in percent (0–100), with an optional message.
    pub fn progress(&self, step: &str, percent: f64, message: Option<&str>) {
        self.event(EventKind::StepProgress {
            step: step.to_owned(),
            progress: Some(percent.clamp(0.0, 100.0)),
            message: message.map(str::to_owned),
            rows: None,
        });
    }

    /// Any of progress (percent), message and row counter in one report.
    pub fn update(
        &self,
        step: &str,
        percent: Option<f64>,
        message: Option<&str>,
        rows: Option<u64>,
    ) {
        self.event(EventKind::StepProgress {
            step: step.to_owned(),
            progress: percent.map(|p| p.clamp(0.0, 100.0)),
            message: message.map(str::to_owned),
            rows,
        });
    }

    /// The step's processed-row counter.
    pub fn rows(&self, step: &str, rows: u64) {
        self.event(EventKind::StepProgress {
            step: step.to_owned(),
            progress: None,
            message: None,
            rows: Some(rows),
        });
    }

    /// The step's message, without changing its progress.
    pub fn message(&self, step: &str, message: &str) {
        self.event(EventKind::StepProgress {
            step: step.to_owned(),
            progress: None,
            message: Some(message.to_owned()),
            rows: None,
        });
    }

    pub fn warning(&self, step: &str, message: &str) {
        self.event(EventKind::StepWarning {
            step: step.to_owned(),
            message: message.to_owned(),
        });
    }

    pub fn finished(&self, step: &str, status: Status, message: Option<&str>) {
        self.event(EventKind::StepFinished {
            step: step.to_owned(),
            status,
            message: message.map(str::to_owned),
        });
    }

    /// A line of the step's log.
    pub fn log(&self, step: &str, line: &str) {
        self.send(json!({ "type": "step.log", "step": step, "lines": [line] }));
    }

    pub fn stats(&self) -> Stats {
        self.counters.snapshot()
    }

    /// Sends what is queued (retrying until `within` has passed), stops the thread, and says
    /// what became of every report.
    pub fn close(mut self, within: Duration) -> Stats {
        self.stop(within);
        self.counters.snapshot()
    }

    fn stop(&mut self, within: Duration) {
        let Some(worker) = self.worker.take() else {
            return;
        };
        let (done, finished) = flume::bounded(1);
        // Blocks only while the queue is full, which the worker is draining.
        let acknowledged = self.queue.send(Message::Close(within, done)).is_ok()
            && finished
                .recv_timeout(within + Duration::from_secs(1))
                .is_ok();
        if acknowledged {
            let _ = worker.join();
        }
    }
}

impl Drop for Reporter {
    /// Dropped without `close`: the queue is flushed for a short while, in the background.
    fn drop(&mut self) {
        if self.worker.is_some() {
            let _ = self
                .queue
                .try_send(Message::Close(Duration::from_secs(2), flume::bounded(1).0));
        }
    }
}
