//! Ad-hoc runs whose producer went silent: a run reported from outside that receives no event
//! for `adhoc_idle_timeout` (default an hour) ends as `failed`, its open steps with it, with a
//! message saying why, instead of showing "running" for ever. Checked in the background, for
//! every tenant opened.

use super::runs::RunError;
use super::tenants::Tenants;
use crate::domain::Status;
use chrono::Utc;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The message a silent run ends with.
pub fn silence_message(timeout: Duration) -> String {
    format!(
        "no report for {}: the producer seems gone",
        crate::domain::duration::describe(timeout)
    )
}

/// Ends the runs of every opened tenant that have been silent for `timeout`. Returns how many.
pub async fn end_silent_runs(tenants: &Tenants, timeout: Duration) -> Result<usize, RunError> {
    let before =
        Utc::now() - chrono::Duration::from_std(timeout).unwrap_or(chrono::Duration::hours(1));
    let message = silence_message(timeout);
    let mut ended = 0;
    for tenant in tenants.opened() {
        for run in tenant.runs.store().silent_adhoc_runs(before).await? {
            tenant.runs.close(&run, Status::Failed, &message).await?;
            tracing::warn!(tenant = %tenant.name, run.id = %run, "ended a run whose producer went silent");
            ended += 1;
        }
    }
    Ok(ended)
}

/// Checks for silent runs every `timeout / 10` (at least every second, at most every minute)
/// until `stop`.
pub async fn watch(tenants: Arc<Tenants>, timeout: Duration, stop: CancellationToken) {
    let every = (timeout / 10).clamp(Duration::from_secs(1), Duration::from_secs(60));
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        if let Err(error) = end_silent_runs(&tenants, timeout).await {
            tracing::error!(%error, "cannot end silent runs");
        }
    }
}
