//! Live stream frames (`/api/v1/ws`, and SSE at `/api/v1/runs/{id}/events`), as PROTOCOL.md
//! describes them, with the extensions the README lists.

use crate::domain::{LogLine, RunState, RunSummary, Seq, StoredEvent};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Server to client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ServerFrame {
    /// The full run state as of `seq`, in history `epoch`.
    Snapshot {
        run: String,
        seq: Seq,
        epoch: String,
        state: Box<RunState>,
        /// `false` when the client asked to resume and could not be: it must replace its
        /// state with this one (`reason` says why).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        recovered: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Resync>,
    },
    /// Consecutive events in seq order, continuing the last snapshot or events frame.
    Events {
        run: String,
        events: Vec<StoredEvent>,
    },
    /// Consecutive log lines of one step.
    Logs {
        run: String,
        step: String,
        lines: Vec<LogLine>,
    },
    /// A run-list change (topic `runs`).
    Run {
        run: RunSummary,
    },
    /// Extension: the most recent runs, sent when a `runs` topic subscriber fell behind, so it
    /// replaces its list instead of silently missing changes.
    Runs {
        runs: Vec<RunSummary>,
    },
    /// Extension: the subscription is caught up; what follows is live. `seq` is the last event
    /// seq sent (run subscriptions) and `n` the last log line number sent (log subscriptions).
    Subscribed {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        topic: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<Seq>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        n: Option<u64>,
        /// Run subscriptions: the history the seqs belong to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        epoch: Option<String>,
        /// `true` when the subscription resumed exactly from the client's `since`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        recovered: Option<bool>,
    },
    /// Extension: the server's vital signs (topic `system`), at the configured interval.
    System(SystemSample),
    Heartbeat,
    Error {
        code: String,
        message: String,
    },
}

/// One reading of the server's vital signs: what the system panel shows and `/metrics` exports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SystemSample {
    pub at: chrono::DateTime<chrono::Utc>,
    /// Of all CPUs, 0–100.
    pub cpu_percent: f32,
    pub memory_used_bytes: u64,
    pub memory_total_bytes: u64,
    /// The disk that holds the data directory.
    pub disk_free_bytes: u64,
    pub disk_total_bytes: u64,
    /// Open live connections (WebSocket and SSE).
    pub clients: u64,
    /// Events stored per second over the last interval.
    pub events_per_second: f64,
}

/// Client to server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientOp {
    pub op: OpKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// With `step`: live logs of that step instead of run events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// The last seq the client has applied; absent asks for a snapshot first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Position>,
    /// The history `since` belongs to (from the last snapshot or `subscribed` frame).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs_after: Option<Position>,
}

/// A resume position as a client sent it. Anything that is not a whole number from 0 to
/// 2^64-1 (a negative number, a fraction, 1e30, a string) is kept as `Invalid` rather than
/// failing the whole operation: the server answers it with a fresh start, never an error loop.
#[derive(Clone, Debug, PartialEq)]
pub enum Position {
    At(u64),
    Invalid(String),
}

impl Serialize for Position {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Position::At(n) => serializer.serialize_u64(*n),
            Position::Invalid(text) => serializer.serialize_str(text),
        }
    }
}

impl<'de> Deserialize<'de> for Position {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Ok(match value.as_u64() {
            Some(n) => Position::At(n),
            None => Position::Invalid(value.to_string()),
        })
    }
}

/// Why a run subscription starts from a snapshot instead of the client's position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resync {
    /// The position belongs to another history (restored or rebuilt since).
    EpochChanged,
    /// The server never issued that seq for this run.
    UnknownSeq,
    /// Further behind than the server replays; a snapshot is cheaper.
    TooFarBehind,
    /// `since` was not a whole number.
    Malformed,
    /// The subscription fell behind the live feed by more than it can replay.
    Lagged,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    Subscribe,
    Unsubscribe,
}

impl ClientOp {
    /// `{"op":"subscribe","run":…,"since":…}`
    pub fn follow_run(run: &str, since: Option<Seq>) -> Self {
        ClientOp {
            op: OpKind::Subscribe,
            run: Some(run.to_owned()),
            step: None,
            topic: None,
            since: since.map(Position::At),
            epoch: None,
            logs_after: None,
        }
    }

    /// `{"op":"subscribe","run":…,"since":…,"epoch":…}`: resume within a known history.
    pub fn resume_run(run: &str, since: Seq, epoch: &str) -> Self {
        ClientOp {
            epoch: Some(epoch.to_owned()),
            ..ClientOp::follow_run(run, Some(since))
        }
    }

    /// `{"op":"subscribe","topic":…}`
    pub fn follow_topic(topic: &str) -> Self {
        ClientOp {
            run: None,
            topic: Some(topic.to_owned()),
            ..ClientOp::follow_run("", None)
        }
    }

    /// `{"op":"unsubscribe","topic":…}`
    pub fn unfollow_topic(topic: &str) -> Self {
        ClientOp {
            op: OpKind::Unsubscribe,
            ..ClientOp::follow_topic(topic)
        }
    }

    /// `{"op":"unsubscribe","run":…}`
    pub fn unfollow_run(run: &str) -> Self {
        ClientOp {
            op: OpKind::Unsubscribe,
            ..ClientOp::follow_run(run, None)
        }
    }

    /// `{"op":"subscribe","run":…,"step":…,"logs_after":…}`
    pub fn follow_logs(run: &str, step: &str, after: u64) -> Self {
        ClientOp {
            step: Some(step.to_owned()),
            logs_after: Some(Position::At(after)),
            ..ClientOp::follow_run(run, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_since_parses_and_only_whole_numbers_are_positions() {
        let op = |since: &str| {
            serde_json::from_str::<ClientOp>(&format!(
                r#"{{"op":"subscribe","run":"r","since":{since}}}"#
            ))
            .unwrap()
            .since
        };
        assert_eq!(op("7"), Some(Position::At(7)));
        assert_eq!(op("18446744073709551615"), Some(Position::At(u64::MAX)));
        for bad in ["-1", "\"7\"", "1e30", "1.5", "[1]"] {
            assert!(
                matches!(op(bad), Some(Position::Invalid(_))),
                "{bad} is not a position"
            );
        }
    }

    #[test]
    fn frames_have_the_documented_shape() {
        let heartbeat = serde_json::to_value(ServerFrame::Heartbeat).unwrap();
        assert_eq!(heartbeat, serde_json::json!({"type": "heartbeat"}));
        let error = ServerFrame::Error {
            code: "unknown_run".into(),
            message: "no run `x`".into(),
        };
        assert_eq!(serde_json::to_value(error).unwrap()["type"], "error");
        let op: ClientOp =
            serde_json::from_str(r#"{"op":"subscribe","run":"r1","since":4}"#).unwrap();
        assert_eq!(op, ClientOp::follow_run("r1", Some(4)));
        assert_eq!(
            serde_json::to_value(ClientOp::follow_topic("runs")).unwrap(),
            serde_json::json!({"op": "subscribe", "topic": "runs"})
        );
        assert_eq!(
            serde_json::to_value(ClientOp::unfollow_topic("system")).unwrap(),
            serde_json::json!({"op": "unsubscribe", "topic": "system"})
        );
        assert_eq!(
            serde_json::to_value(ClientOp::unfollow_run("r1")).unwrap(),
            serde_json::json!({"op": "unsubscribe", "run": "r1"})
        );
        let logs = serde_json::to_value(ClientOp::follow_logs("r1", "build", 10)).unwrap();
        assert_eq!(
            logs,
            serde_json::json!({"op": "subscribe", "run": "r1", "step": "build", "logs_after": 10})
        );
    }
}
