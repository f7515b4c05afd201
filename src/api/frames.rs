//! Live stream frames (`/api/v1/ws`), exactly as PROTOCOL.md describes them.

use crate::domain::{LogLine, RunState, RunSummary, Seq, StoredEvent};
use serde::{Deserialize, Serialize};

/// Server to client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ServerFrame {
    /// The full run state as of `seq`.
    Snapshot {
        run: String,
        seq: Seq,
        state: Box<RunState>,
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
    },
    Heartbeat,
    Error {
        code: String,
        message: String,
    },
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
    pub since: Option<Seq>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs_after: Option<u64>,
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
            since,
            logs_after: None,
        }
    }

    /// `{"op":"subscribe","run":…,"step":…,"logs_after":…}`
    pub fn follow_logs(run: &str, step: &str, after: u64) -> Self {
        ClientOp {
            step: Some(step.to_owned()),
            logs_after: Some(after),
            ..ClientOp::follow_run(run, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let logs = serde_json::to_value(ClientOp::follow_logs("r1", "build", 10)).unwrap();
        assert_eq!(
            logs,
            serde_json::json!({"op": "subscribe", "run": "r1", "step": "build", "logs_after": 10})
        );
    }
}
