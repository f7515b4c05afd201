//! Buffers what a running step says and reports it in batches: log lines and the latest
//! progress are flushed together every tick, so a step printing thousands of lines a second
//! costs a few commits a second, while warnings and the final status are never delayed.

use super::output::OutputLine;
use crate::domain::{EventKind, NewEvent};
use crate::server::runs::{IngestItem, Runs};
use std::sync::Arc;

/// Pending log lines that force a flush before the next tick, bounding memory and batch size.
const MAX_PENDING_LINES: usize = 1_000;

pub struct Reporter {
    runs: Arc<Runs>,
    run: String,
    step: String,
    /// Pending log lines as (stream, line), in output order.
    lines: Vec<(&'static str, String)>,
    progress: Option<f64>,
    message: Option<String>,
    rows: Option<u64>,
    /// Whether the step reported a warning (it then ends as `warning` even on success).
    warned: bool,
}

impl Reporter {
    pub fn new(runs: Arc<Runs>, run: &str, step: &str) -> Self {
        Reporter {
            runs,
            run: run.to_owned(),
            step: step.to_owned(),
            lines: Vec::new(),
            progress: None,
            message: None,
            rows: None,
            warned: false,
        }
    }

    pub fn warned(&self) -> bool {
        self.warned
    }

    /// Takes one output line of the step.
    pub async fn line(&mut self, stream: &'static str, parsed: OutputLine) {
        match parsed {
            OutputLine::Progress { percent, message } => {
                self.progress = Some(percent);
                if message.is_some() {
                    self.message = message;
                }
            }
            OutputLine::Rows(rows) => self.rows = Some(rows),
            OutputLine::Message(message) => self.message = Some(message),
            OutputLine::Warning(message) => {
                self.warned = true;
                self.flush().await;
                self.send(vec![IngestItem::Event(NewEvent::new(
                    EventKind::StepWarning {
                        step: self.step.clone(),
                        message,
                    },
                ))])
                .await;
            }
            OutputLine::Log(line) => {
                self.lines.push((stream, line));
                if self.lines.len() >= MAX_PENDING_LINES {
                    self.flush().await;
                }
            }
        }
    }

    /// A note from the executor itself (retries, timeouts), kept in the step's log.
    pub fn note(&mut self, line: String) {
        self.lines.push(("system", line));
    }

    /// Sends what is pending as one ingest request.
    pub async fn flush(&mut self) {
        let mut items = Vec::new();
        if self.progress.is_some() || self.message.is_some() || self.rows.is_some() {
            items.push(IngestItem::Event(NewEvent::new(EventKind::StepProgress {
                step: self.step.clone(),
                progress: self.progress.take(),
                message: self.message.take(),
                rows: self.rows.take(),
            })));
        }
        // Consecutive lines of one stream form one batch.
        for (stream, line) in self.lines.drain(..) {
            match items.last_mut() {
                Some(IngestItem::Logs {
                    stream: s, lines, ..
                }) if s == stream => lines.push(line),
                _ => items.push(IngestItem::Logs {
                    step: self.step.clone(),
                    stream: stream.to_owned(),
                    lines: vec![line],
                }),
            }
        }
        if !items.is_empty() {
            self.send(items).await;
        }
    }

    /// Reports an event right away (after what is pending).
    pub async fn event(&mut self, kind: EventKind) {
        self.flush().await;
        self.send(vec![IngestItem::Event(NewEvent::new(kind))])
            .await;
    }

    async fn send(&self, items: Vec<IngestItem>) {
        if let Err(error) = self.runs.ingest(&self.run, items).await {
            // The step goes on; losing a progress report must not fail the job.
            tracing::warn!(run.id = %self.run, step.id = %self.step, %error, "could not record step output");
        }
    }
}
