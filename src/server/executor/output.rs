//! The step output protocol: lines starting with `::` are commands, everything else is log.

/// What one output line of a step means.
#[derive(Clone, Debug, PartialEq)]
pub enum OutputLine {
    /// `::progress 45 Compiling crates`
    Progress {
        percent: f64,
        message: Option<String>,
    },
    /// `::rows 15000`
    Rows(u64),
    /// `::warning disk almost full`
    Warning(String),
    /// `::message Uploading layer 3/7`
    Message(String),
    /// Any other line, including unknown or malformed `::` commands.
    Log(String),
}

/// Interprets one line. Malformed commands (`::progress abc`) stay visible as log lines
/// instead of vanishing, so an author can see what went wrong.
pub fn parse(line: &str) -> OutputLine {
    let log = || OutputLine::Log(line.to_owned());
    let Some(command) = line.strip_prefix("::") else {
        return log();
    };
    let (name, rest) = command
        .split_once(char::is_whitespace)
        .unwrap_or((command, ""));
    let rest = rest.trim();
    let text = |t: &str| (!t.is_empty()).then(|| t.to_owned());
    match name {
        "progress" => {
            let (number, message) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let number = number.trim_end_matches('%');
            match number.parse::<f64>() {
                Ok(p) if p.is_finite() => OutputLine::Progress {
                    percent: p.clamp(0.0, 100.0),
                    message: text(message.trim()),
                },
                _ => log(),
            }
        }
        "rows" => rest
            .replace(['_', ','], "")
            .parse()
            .map_or_else(|_| log(), OutputLine::Rows),
        "warning" if !rest.is_empty() => OutputLine::Warning(rest.to_owned()),
        "message" if !rest.is_empty() => OutputLine::Message(rest.to_owned()),
        _ => log(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands() {
        assert_eq!(
            parse("::progress 45 Compiling crates"),
            OutputLine::Progress {
                percent: 45.0,
                message: Some("Compiling crates".into())
            }
        );
        assert_eq!(
            parse("::progress 12.5%"),
            OutputLine::Progress {
                percent: 12.5,
                message: None
            }
        );
        assert_eq!(
            parse("::progress 140 over"),
            OutputLine::Progress {
                percent: 100.0,
                message: Some("over".into())
            }
        );
        assert_eq!(parse("::rows 15000"), OutputLine::Rows(15_000));
        assert_eq!(parse("::rows 1_200"), OutputLine::Rows(1_200));
        assert_eq!(
            parse("::warning disk almost full"),
            OutputLine::Warning("disk almost full".into())
        );
        assert_eq!(
            parse("::message Uploading layer 3/7"),
            OutputLine::Message("Uploading layer 3/7".into())
        );
    }

    #[test]
    fn everything_else_is_log() {
        for line in [
            "plain text",
            "::unknown 1",
            "::progress abc",
            "::rows many",
            "::warning",
            ": single",
            "::",
        ] {
            assert_eq!(parse(line), OutputLine::Log(line.into()), "{line}");
        }
    }
}
