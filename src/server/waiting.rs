//! Waiting for a run to reach a state, pushed by its own event stream (never polling): the
//! executor waits so for a producer to finish an external step, and a cancel waits so for the
//! run to end before answering.

use super::runs::{RunError, Runs};
use crate::domain::RunState;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How a wait ended.
#[derive(Debug)]
pub enum Waited {
    /// The condition holds, in this state (boxed: a run's state is big, the others nothing).
    Reached(Box<RunState>),
    TimedOut,
    Stopped,
}

/// Waits until `reached` holds for the run's state, `until` passes, or `stop` is cancelled.
/// The state is kept current by applying the run's published events to a snapshot; a gap
/// (this waiter lagged behind) takes a fresh snapshot.
pub async fn wait_for(
    runs: &Runs,
    run: &str,
    reached: impl Fn(&RunState) -> bool,
    until: Option<Instant>,
    stop: &CancellationToken,
) -> Result<Waited, RunError> {
    // Subscribed before the snapshot, so nothing published in between is missed.
    let mut events = runs.hub().subscribe_events(run);
    let mut state = runs.snapshot(run).await?.state;
    loop {
        if reached(&state) {
            return Ok(Waited::Reached(Box::new(state)));
        }
        let deadline = async {
            match until {
                Some(until) => tokio::time::sleep_until(until).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = stop.cancelled() => return Ok(Waited::Stopped),
            () = deadline => return Ok(Waited::TimedOut),
            received = events.receiver().recv() => match received {
                Ok(batch) => {
                    let after = state.seq;
                    let fresh = batch.events.iter().filter(move |e| e.seq > after);
                    state = match state.fold(fresh) {
                        Ok(state) => state,
                        Err(_) => runs.snapshot(run).await?.state,
                    };
                }
                Err(RecvError::Lagged(_)) => state = runs.snapshot(run).await?.state,
                // The hub keeps a channel while anyone listens, as we do; should it go anyway,
                // listen again.
                Err(RecvError::Closed) => {
                    events = runs.hub().subscribe_events(run);
                    state = runs.snapshot(run).await?.state;
                }
            },
        }
    }
}
