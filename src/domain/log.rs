//! Step log lines: kept apart from events so a chatty step cannot flood the run stream.

use serde::{Deserialize, Serialize};

/// Longest log line kept; longer lines are cut (with a marker) rather than rejected, because a
/// log is evidence and losing a whole line is worse than losing its tail.
pub const MAX_LINE_CHARS: usize = 8 * 1024;

/// One numbered line of one step's log (`n` counts from 1 per step).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub n: u64,
    /// `stdout` or `stderr`.
    pub stream: String,
    pub line: String,
}

/// Cuts an over-long line at a character boundary and says so.
pub fn clip_line(line: &str) -> String {
    match line.char_indices().nth(MAX_LINE_CHARS) {
        Some((cut, _)) => format!(
            "{}… [line cut at {MAX_LINE_CHARS} characters]",
            &line[..cut]
        ),
        None => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_only_long_lines() {
        assert_eq!(clip_line("short"), "short");
        let long = "é".repeat(MAX_LINE_CHARS + 5);
        let clipped = clip_line(&long);
        assert!(clipped.starts_with(&"é".repeat(MAX_LINE_CHARS)));
        assert!(clipped.ends_with("characters]"));
    }
}
