//! Estimated time left, from how long earlier successful runs of the same pipeline took (their
//! median, per run and per step) and how far this one is: until a tenth of the work is done
//! the history alone says it; after that the pace so far counts as much.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Typical durations of a pipeline's successful runs: the median of the last few.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct Typical {
    /// How many runs the medians come from.
    pub runs: usize,
    pub run_ms: i64,
    /// Per step, from the runs in which it ran.
    pub steps: BTreeMap<String, i64>,
}

/// The median of `values` (`None` when empty).
pub fn median(mut values: Vec<i64>) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2
    } else {
        values[mid]
    })
}

/// Milliseconds left for work that typically takes `typical_ms`, has run `elapsed_ms` and is
/// `percent` done; never below zero (a run slower than usual is "about to end", not overdue).
pub fn remaining_ms(typical_ms: i64, elapsed_ms: i64, percent: f64) -> i64 {
    let by_history = (typical_ms - elapsed_ms).max(0) as f64;
    let done = percent.clamp(0.0, 100.0) / 100.0;
    let left = if done < 0.1 {
        by_history
    } else {
        let by_pace = elapsed_ms as f64 * (1.0 - done) / done;
        (by_history + by_pace) / 2.0
    };
    left.round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_ignore_outliers() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![5, 100_000, 7]), Some(7));
        assert_eq!(median(vec![4, 8, 6, 10]), Some(7));
    }

    #[test]
    fn history_first_then_the_pace_too() {
        // 10 % done after 10 s of a run that usually takes 60 s: history says 50 s, the pace
        // 90 s; half of each.
        assert_eq!(remaining_ms(60_000, 10_000, 10.0), 70_000);
        assert_eq!(
            remaining_ms(60_000, 5_000, 2.0),
            55_000,
            "too early for the pace"
        );
        assert_eq!(
            remaining_ms(60_000, 90_000, 99.0),
            455,
            "late runs end soon, not never"
        );
        assert_eq!(remaining_ms(60_000, 60_000, 100.0), 0);
    }
}
