//! The status vocabulary shared by steps and runs, with the ingest aliases of PROTOCOL.md.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Status of a step or a run. Deserialisation accepts the producer aliases
/// (`completed`/`done`, `in_progress`/`started`, `error`) so ingest normalises them once.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Pending,
    #[serde(alias = "in_progress", alias = "started")]
    Running,
    #[serde(alias = "completed", alias = "done")]
    Success,
    Warning,
    #[serde(alias = "error")]
    Failed,
    Skipped,
    Cancelled,
}

impl Status {
    /// Every status, in the order the UI lists them.
    pub const ALL: [Status; 7] = [
        Status::Pending,
        Status::Running,
        Status::Success,
        Status::Warning,
        Status::Failed,
        Status::Skipped,
        Status::Cancelled,
    ];

    /// A terminal status never changes again.
    pub fn is_terminal(self) -> bool {
        !matches!(self, Status::Pending | Status::Running)
    }

    /// The wire name, also used as CSS class and `data-status` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Success => "success",
            Status::Warning => "warning",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::Cancelled => "cancelled",
        }
    }

    /// Parses a wire name or one of its aliases.
    pub fn parse(text: &str) -> Option<Status> {
        serde_json::from_value(serde_json::Value::String(text.to_owned())).ok()
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_normalise() {
        assert_eq!(Status::parse("completed"), Some(Status::Success));
        assert_eq!(Status::parse("done"), Some(Status::Success));
        assert_eq!(Status::parse("in_progress"), Some(Status::Running));
        assert_eq!(Status::parse("started"), Some(Status::Running));
        assert_eq!(Status::parse("error"), Some(Status::Failed));
        assert_eq!(Status::parse("bogus"), None);
        assert_eq!(
            serde_json::to_string(&Status::Success).unwrap(),
            "\"success\""
        );
    }

    #[test]
    fn terminal_statuses() {
        let terminal: Vec<_> = Status::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(terminal.len(), 5);
        assert!(!Status::Running.is_terminal());
    }
}
