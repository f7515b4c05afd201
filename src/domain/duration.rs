//! Human durations in pipeline files and token lifetimes: `500ms`, `30s`, `10m`, `1h30m`, `90d`.

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
#[error("bad duration `{0}`: use a number with ms, s, m, h or d, like `90s` or `1h30m`")]
pub struct DurationError(pub String);

/// Parses a duration into milliseconds. Units may be chained (`1h30m`); zero is rejected
/// because a zero timeout would kill every step at once.
pub fn parse_millis(text: &str) -> Result<u64, DurationError> {
    let bad = || DurationError(text.to_owned());
    let mut total: u64 = 0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let number: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "d" => 86_400_000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => return Err(bad()),
        };
        total = number
            .checked_mul(factor)
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(bad)?;
        rest = &rest[unit_len..];
    }
    if total == 0 {
        return Err(bad());
    }
    Ok(total)
}

/// A duration as people write it, in the units of [`parse_millis`]: `300ms`, `45s`, `2m30s`,
/// `1h`, `1h30m`, `2d`.
pub fn describe(duration: std::time::Duration) -> String {
    let secs = duration.as_secs();
    let (days, hours, minutes, seconds) =
        (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60, secs % 60);
    let parts = match secs {
        0 => return format!("{}ms", duration.as_millis()),
        1..=119 => return format!("{secs}s"),
        120..=3_599 => [(secs / 60, "m"), (seconds, "s")],
        3_600..=172_799 => [(secs / 3_600, "h"), (minutes, "m")],
        _ => [(days, "d"), (hours, "h")],
    };
    parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_chains() {
        assert_eq!(parse_millis("500ms"), Ok(500));
        assert_eq!(parse_millis("30s"), Ok(30_000));
        assert_eq!(parse_millis("10m"), Ok(600_000));
        assert_eq!(parse_millis("1h30m"), Ok(5_400_000));
        assert_eq!(parse_millis("90d"), Ok(90 * 86_400_000));
    }

    #[test]
    fn describes_durations_as_they_are_written() {
        use std::time::Duration;
        for (secs, text) in [
            (0.3, "300ms"),
            (45.0, "45s"),
            (150.0, "2m30s"),
            (3600.0, "1h"),
            (7200.0, "2h"),
            (5400.0, "1h30m"),
            (9000.0, "2h30m"),
            (172_800.0, "2d"),
        ] {
            let duration = Duration::from_secs_f64(secs);
            assert_eq!(describe(duration), text);
            let parsed = parse_millis(text).unwrap();
            assert_eq!(
                u128::from(parsed),
                duration.as_millis(),
                "{text} parses back"
            );
        }
    }

    #[test]
    fn rejects_nonsense() {
        for bad in [
            "",
            "10",
            "m",
            "10x",
            "0s",
            "1.5m",
            "-3s",
            "99999999999999999999h",
        ] {
            assert!(parse_millis(bad).is_err(), "{bad} should be rejected");
        }
    }
}
