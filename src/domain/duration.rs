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
