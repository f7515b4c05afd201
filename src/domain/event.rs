//! Events: append-only facts about a run, in the wire shape of PROTOCOL.md.

use super::graph::GraphStep;
use super::status::Status;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

/// Per-run sequence number: 1, 2, 3, … without gaps, assigned when an event is stored.
pub type Seq = u64;

/// Longest producer-chosen idempotency key we accept.
pub const MAX_EVENT_ID_LEN: usize = 128;

/// What happened, without the envelope (`id`, `ts`, `seq`).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum EventKind {
    #[serde(rename = "run.started")]
    RunStarted {
        #[serde(default)]
        params: BTreeMap<String, String>,
    },
    /// A producer adds steps to its ad-hoc run as it discovers them (a job's nodes seen over
    /// NATS, say); their `needs` may name only steps the run already has or that come earlier
    /// in the list.
    #[serde(rename = "run.steps_added")]
    StepsAdded { steps: Vec<GraphStep> },
    #[serde(rename = "run.finished")]
    RunFinished {
        status: Status,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// A step starts, or (with the next `attempt` number while it runs) starts again: a retry.
    #[serde(rename = "step.started")]
    StepStarted {
        step: String,
        /// Which attempt starts: 1, 2, 3… in order; absent means the next one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attempt: Option<u32>,
        /// How many attempts the step may make in all, when the producer knows.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_attempts: Option<u32>,
    },
    #[serde(rename = "step.progress")]
    StepProgress {
        step: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        progress: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rows: Option<u64>,
    },
    #[serde(rename = "step.warning")]
    StepWarning { step: String, message: String },
    #[serde(rename = "step.finished")]
    StepFinished {
        step: String,
        status: Status,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
}

impl EventKind {
    /// A step's first (or next) attempt starts, with no attempt numbers given.
    pub fn step_started(step: impl Into<String>) -> Self {
        EventKind::StepStarted {
            step: step.into(),
            attempt: None,
            max_attempts: None,
        }
    }

    /// The step this event is about, if any.
    pub fn step(&self) -> Option<&str> {
        match self {
            EventKind::StepStarted { step, .. }
            | EventKind::StepProgress { step, .. }
            | EventKind::StepWarning { step, .. }
            | EventKind::StepFinished { step, .. } => Some(step),
            EventKind::RunStarted { .. }
            | EventKind::StepsAdded { .. }
            | EventKind::RunFinished { .. } => None,
        }
    }
}

/// An event as a producer sends it: no `seq` yet, `ts` optional (the server's clock fills it).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    #[serde(flatten)]
    pub kind: EventKind,
    /// Producer-chosen idempotency key: re-sending it stores nothing new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<DateTime<Utc>>,
}

/// An event as stored: it has its place in the run (`seq`) and a definite time.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    pub seq: Seq,
    #[serde(flatten)]
    pub kind: EventKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub ts: DateTime<Utc>,
}

/// Why a well-formed JSON event is still not acceptable. Each message names the field.
#[derive(Debug, Error, PartialEq)]
pub enum EventError {
    #[error("`progress` must be between 0 and 100, got {0}")]
    ProgressOutOfRange(f64),
    #[error("`id` must be 1 to {MAX_EVENT_ID_LEN} characters")]
    BadId,
    #[error("`step` must not be empty")]
    EmptyStep,
    #[error("`attempt` must be at least 1 and at most `max_attempts`")]
    BadAttempt,
    #[error("`status` of a finished event must be final (success, warning, failed, skipped or cancelled), got `{0}`")]
    NotFinal(Status),
}

impl NewEvent {
    /// An event stamped now by the caller's clock.
    pub fn new(kind: EventKind) -> Self {
        NewEvent {
            kind,
            id: None,
            ts: None,
        }
    }

    /// Checks what serde cannot: ranges, lengths and final statuses.
    pub fn validate(&self) -> Result<(), EventError> {
        if let Some(id) = &self.id {
            if id.is_empty() || id.chars().count() > MAX_EVENT_ID_LEN {
                return Err(EventError::BadId);
            }
        }
        if self.kind.step().is_some_and(str::is_empty) {
            return Err(EventError::EmptyStep);
        }
        match &self.kind {
            EventKind::StepProgress {
                progress: Some(p), ..
            } if !(0.0..=100.0).contains(p) => Err(EventError::ProgressOutOfRange(*p)),
            EventKind::StepStarted {
                attempt,
                max_attempts,
                ..
            } if attempt == &Some(0)
                || max_attempts == &Some(0)
                || attempt.zip(*max_attempts).is_some_and(|(a, m)| a > m) =>
            {
                Err(EventError::BadAttempt)
            }
            EventKind::RunFinished { status, .. } | EventKind::StepFinished { status, .. }
                if !status.is_terminal() =>
            {
                Err(EventError::NotFinal(*status))
            }
            _ => Ok(()),
        }
    }

    /// Gives the event its place in the run.
    pub fn into_stored(self, seq: Seq, now: DateTime<Utc>) -> StoredEvent {
        StoredEvent {
            seq,
            kind: self.kind,
            id: self.id,
            ts: self.ts.unwrap_or(now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_shape_round_trips() {
        let json = r#"{"type":"step.progress","step":"build","progress":45,"message":"Compiling","id":"e1","ts":"2026-11-22T10:00:00Z"}"#;
        let event: NewEvent = serde_json::from_str(json).unwrap();
        assert_eq!(event.id.as_deref(), Some("e1"));
        let stored = event.into_stored(7, Utc::now());
        let out = serde_json::to_value(&stored).unwrap();
        assert_eq!(out["type"], "step.progress");
        assert_eq!(out["seq"], 7);
        assert_eq!(out["progress"], 45.0);
        assert_eq!(out["ts"], "2026-11-22T10:00:00Z");
        let back: StoredEvent = serde_json::from_value(out).unwrap();
        assert_eq!(back, stored);
    }

    #[test]
    fn aliases_in_status_fields() {
        let event: NewEvent =
            serde_json::from_str(r#"{"type":"step.finished","step":"a","status":"done"}"#).unwrap();
        assert_eq!(
            event.kind,
            EventKind::StepFinished {
                step: "a".into(),
                status: Status::Success,
                message: None
            }
        );
    }

    #[test]
    fn errors_name_the_field() {
        let missing = serde_json::from_str::<NewEvent>(r#"{"type":"step.started"}"#).unwrap_err();
        assert!(missing.to_string().contains("step"), "{missing}");
        let unknown = serde_json::from_str::<NewEvent>(r#"{"type":"step.exploded"}"#).unwrap_err();
        assert!(unknown.to_string().contains("step.exploded"), "{unknown}");
        let out_of_range = NewEvent::new(EventKind::StepProgress {
            step: "a".into(),
            progress: Some(140.0),
            message: None,
            rows: None,
        });
        assert!(out_of_range
            .validate()
            .unwrap_err()
            .to_string()
            .contains("progress"));
        let not_final = NewEvent::new(EventKind::RunFinished {
            status: Status::Running,
            message: None,
        });
        assert!(not_final
            .validate()
            .unwrap_err()
            .to_string()
            .contains("status"));
        let long_id = NewEvent {
            id: Some("x".repeat(129)),
            ..NewEvent::new(EventKind::step_started("a"))
        };
        assert_eq!(long_id.validate(), Err(EventError::BadId));
    }
}
