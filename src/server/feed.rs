//! What a live subscription sends, whatever carries it (WebSocket frames or Server-Sent
//! Events): a snapshot or the stored events after the client's position, then live events with
//! no gap and no duplicate. Gaps (a subscriber that lagged behind the hub) are filled from the
//! store; a position the server cannot honour exactly gets a snapshot flagged as a resync.

use super::outbox::Outgoing;
use super::runs::{RunError, Runs, Snapshot};
use super::store::RunFilter;
use crate::api::{Position, Resync, ServerFrame, SystemSample};
use crate::domain::{LogLine, Seq, StoredEvent};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

/// A resume further behind than this gets a snapshot instead of a replay.
pub const MAX_REPLAY: Seq = 20_000;
/// Events or log lines per frame when replaying from the store.
const PAGE: u32 = 500;
/// Runs a lagging `runs` topic subscriber is resent.
const RUNS_RESYNC: u32 = 100;

/// The subscription ends: its consumer is gone, too slow, or an error frame was sent.
#[derive(Debug)]
pub struct Stop;

/// Where a subscription's frames go.
pub trait FrameSink: Sync {
    /// Queues a frame; `Err(Stop)` when the consumer is gone or was closed for being too slow.
    fn send(&self, frame: Outgoing) -> impl Future<Output = Result<(), Stop>> + Send;
}

/// Where a client asks a run subscription to start.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resume {
    /// The last seq the client applied; `None` asks for a snapshot.
    pub since: Option<Position>,
    /// The history `since` belongs to; `None` trusts it to be the current one.
    pub epoch: Option<String>,
}

/// How a run subscription starts.
#[derive(Debug, PartialEq)]
enum Start {
    /// Send the stored events after this seq.
    Replay(Seq),
    /// Send a snapshot; `Some` when the client asked to resume and cannot.
    Snapshot(Option<Resync>),
}

/// How to start a subscription to a run whose history `epoch` is at `head`.
fn plan(resume: &Resume, head: Seq, epoch: &str) -> Start {
    let since = match &resume.since {
        None => return Start::Snapshot(None),
        Some(Position::Invalid(_)) => return Start::Snapshot(Some(Resync::Malformed)),
        Some(Position::At(since)) => *since,
    };
    if resume.epoch.as_ref().is_some_and(|e| e != epoch) {
        Start::Snapshot(Some(Resync::EpochChanged))
    } else if since > head {
        Start::Snapshot(Some(Resync::UnknownSeq))
    } else if head - since > MAX_REPLAY {
        Start::Snapshot(Some(Resync::TooFarBehind))
    } else {
        Start::Replay(since)
    }
}

fn error(code: &str, message: String) -> ServerFrame {
    ServerFrame::Error {
        code: code.to_owned(),
        message,
    }
}

/// Sends an error frame for a failed lookup and ends the subscription (unknown runs get their
/// own code): going on after a failed read could leave a gap.
async fn report(sink: &impl FrameSink, e: RunError) -> Result<(), Stop> {
    let code = if matches!(e, RunError::UnknownRun(_)) {
        "unknown_run"
    } else {
        tracing::error!(error = %e, "live subscription failed");
        "internal"
    };
    sink.send(error(code, e.to_string()).into()).await?;
    Err(Stop)
}

fn snapshot_frame(run: &str, snapshot: Snapshot, reason: Option<Resync>) -> ServerFrame {
    ServerFrame::Snapshot {
        run: run.to_owned(),
        seq: snapshot.state.seq,
        epoch: snapshot.epoch,
        state: Box::new(snapshot.state),
        recovered: reason.map(|_| false),
        reason,
    }
}

/// Receives the next published batch, or `None` once `stop` is cancelled and nothing
/// published before it is left: a shutting-down server first delivers what it published
/// (the runs it interrupted end on screen), then ends the feed.
async fn next_batch<T>(
    feed: &mut broadcast::Receiver<Arc<T>>,
    stopped: Pin<&mut WaitForCancellationFuture<'_>>,
) -> Option<Result<Arc<T>, RecvError>> {
    tokio::select! {
        biased;
        received = feed.recv() => Some(received),
        () = stopped => None,
    }
}

/// Follows one run until the consumer goes away, the feed ends, or `stop` is cancelled.
pub async fn follow_run(
    runs: &Runs,
    run: &str,
    resume: Resume,
    sink: &impl FrameSink,
    stop: &CancellationToken,
) -> Result<(), Stop> {
    // Subscribe before reading the store: anything committed in between arrives twice at worst.
    let mut subscription = runs.hub().subscribe_events(run);
    // The start and the gap filling are boxed: their state lives on the heap only while they
    // run, so the task of a subscription waiting for events stays small (thousands are idle).
    let mut last = Box::pin(start_run(runs, run, resume, sink)).await?;
    let feed = subscription.receiver();
    // Created once: a cancellation future registers with the token when made.
    let stopped = stop.cancelled();
    tokio::pin!(stopped);
    loop {
        let batch = match next_batch(feed, stopped.as_mut()).await {
            Some(Ok(batch)) => batch,
            // The next batch shows the gap, which is filled from the store below.
            Some(Err(RecvError::Lagged(_))) => continue,
            Some(Err(RecvError::Closed)) | None => return Ok(()),
        };
        if batch.first_seq() == Some(last + 1) {
            // Caught up: the bytes serialised once for every subscriber.
            last = batch.events.last().map_or(last, |e| e.seq);
            sink.send(Outgoing::Shared(batch)).await?;
        } else {
            last = Box::pin(fill_gap(runs, run, last, &batch.events, sink)).await?;
        }
    }
}

/// Sends the snapshot or the replay `resume` asks for, then `subscribed`; returns the seq the
/// live part continues after.
async fn start_run(
    runs: &Runs,
    run: &str,
    resume: Resume,
    sink: &impl FrameSink,
) -> Result<Seq, Stop> {
    // The frame a fresh subscriber gets; its seq and epoch decide the rest.
    let current = match runs.snapshot_frame(run).await {
        Ok(current) => current,
        Err(e) => return report(sink, e).await.map(|()| 0),
    };
    let (last, recovered, epoch) = match plan(&resume, current.seq, &current.epoch) {
        Start::Replay(since) => {
            let mut last = since;
            catch_up(runs, run, &mut last, current.seq, sink).await?;
            (last, Some(true), current.epoch.clone())
        }
        Start::Snapshot(None) => {
            let (seq, epoch) = (current.seq, current.epoch.clone());
            sink.send(Outgoing::Snapshot(current)).await?;
            (seq, None, epoch)
        }
        // A resume that cannot be honoured: the frame says why, so it is the client's own.
        Start::Snapshot(reason) => {
            let snapshot = match runs.snapshot(run).await {
                Ok(snapshot) => snapshot,
                Err(e) => return report(sink, e).await.map(|()| 0),
            };
            let (seq, epoch) = (snapshot.state.seq, snapshot.epoch.clone());
            sink.send(snapshot_frame(run, snapshot, reason).into())
                .await?;
            (seq, None, epoch)
        }
    };
    let subscribed = ServerFrame::Subscribed {
        run: Some(run.to_owned()),
        step: None,
        topic: None,
        seq: Some(last),
        n: None,
        epoch: Some(epoch),
        recovered,
    };
    sink.send(subscribed.into()).await?;
    Ok(last)
}

/// Sends the events of a batch that does not continue `last`: duplicates are skipped and gaps
/// filled from the store (or, too far behind, replaced by a snapshot). Returns the new `last`.
async fn fill_gap(
    runs: &Runs,
    run: &str,
    mut last: Seq,
    events: &[StoredEvent],
    sink: &impl FrameSink,
) -> Result<Seq, Stop> {
    let mut fresh: Vec<StoredEvent> = Vec::with_capacity(events.len());
    for event in events {
        if event.seq <= last {
            continue;
        }
        if event.seq > last + 1 {
            // Every event of a batch is checked, not only the first: flush what continues
            // `last`, then fill the gap before this one.
            send_events(run, std::mem::take(&mut fresh), sink).await?;
            if event.seq - 1 - last > MAX_REPLAY {
                let current = match runs.snapshot(run).await {
                    Ok(current) => current,
                    Err(e) => return report(sink, e).await.map(|()| last),
                };
                last = current.state.seq;
                sink.send(snapshot_frame(run, current, Some(Resync::Lagged)).into())
                    .await?;
                if event.seq <= last {
                    continue;
                }
            } else {
                catch_up(runs, run, &mut last, event.seq - 1, sink).await?;
            }
        }
        last = event.seq;
        fresh.push(event.clone());
    }
    send_events(run, fresh, sink).await?;
    Ok(last)
}

async fn send_events(
    run: &str,
    events: Vec<StoredEvent>,
    sink: &impl FrameSink,
) -> Result<(), Stop> {
    if events.is_empty() {
        return Ok(());
    }
    let frame = ServerFrame::Events {
        run: run.to_owned(),
        events,
    };
    sink.send(frame.into()).await
}

/// Sends the stored events after `last` up to `target`, in pages, advancing `last`.
async fn catch_up(
    runs: &Runs,
    run: &str,
    last: &mut Seq,
    target: Seq,
    sink: &impl FrameSink,
) -> Result<(), Stop> {
    while *last < target {
        let limit = PAGE.min(u32::try_from(target - *last).unwrap_or(PAGE));
        let events = match runs.events_since(run, *last, limit).await {
            Ok(events) => events,
            Err(e) => return report(sink, e).await,
        };
        let Some(newest) = events.last().map(|e| e.seq) else {
            break;
        };
        *last = newest;
        send_events(run, events, sink).await?;
    }
    Ok(())
}

/// Follows one step's log after line `after`. Lagging costs nothing here: the store has every
/// line, so a gap is read back from it.
pub async fn follow_logs(
    runs: &Runs,
    run: &str,
    step: &str,
    after: u64,
    sink: &impl FrameSink,
    stop: &CancellationToken,
) -> Result<(), Stop> {
    let mut subscription = runs.hub().subscribe_logs(run, step);
    match runs.snapshot(run).await {
        Ok(current) if current.state.steps.contains_key(step) => {}
        Ok(_) => {
            let message = format!("run `{run}` has no step `{step}`");
            sink.send(error("unknown_step", message).into()).await?;
            return Err(Stop);
        }
        Err(e) => return report(sink, e).await,
    }
    let mut last = after;
    log_catch_up(runs, run, step, &mut last, u64::MAX, sink).await?;
    let subscribed = ServerFrame::Subscribed {
        run: Some(run.to_owned()),
        step: Some(step.to_owned()),
        topic: None,
        seq: None,
        n: Some(last),
        epoch: None,
        recovered: None,
    };
    sink.send(subscribed.into()).await?;
    let feed = subscription.receiver();
    let stopped = stop.cancelled();
    tokio::pin!(stopped);
    loop {
        let lines: Vec<LogLine> = match next_batch(feed, stopped.as_mut()).await {
            Some(Ok(batch)) => batch.to_vec(),
            Some(Err(RecvError::Lagged(_))) => {
                log_catch_up(runs, run, step, &mut last, u64::MAX, sink).await?;
                continue;
            }
            Some(Err(RecvError::Closed)) | None => return Ok(()),
        };
        let Some(first) = lines.first() else { continue };
        // `after` comes from the client: never overflow on it.
        if first.n > last.saturating_add(1) {
            log_catch_up(runs, run, step, &mut last, first.n - 1, sink).await?;
        }
        let fresh: Vec<LogLine> = lines.into_iter().filter(|l| l.n > last).collect();
        if let Some(newest) = fresh.last() {
            last = newest.n;
            let frame = ServerFrame::Logs {
                run: run.to_owned(),
                step: step.to_owned(),
                lines: fresh,
            };
            sink.send(frame.into()).await?;
        }
    }
}

async fn log_catch_up(
    runs: &Runs,
    run: &str,
    step: &str,
    last: &mut u64,
    target: u64,
    sink: &impl FrameSink,
) -> Result<(), Stop> {
    while *last < target {
        let lines = match runs.logs_after(run, step, *last, PAGE).await {
            Ok(lines) => lines,
            Err(e) => return report(sink, e).await,
        };
        let Some(newest) = lines.last().map(|l| l.n) else {
            break;
        };
        *last = newest;
        let frame = ServerFrame::Logs {
            run: run.to_owned(),
            step: step.to_owned(),
            lines,
        };
        sink.send(frame.into()).await?;
    }
    Ok(())
}

/// Follows the server's system readings: the latest at once (when there is one), then each
/// new one. A slow subscriber skips readings, never falls behind: only the newest matters.
pub async fn follow_system_topic(
    mut readings: watch::Receiver<Option<SystemSample>>,
    sink: &impl FrameSink,
    stop: &CancellationToken,
) -> Result<(), Stop> {
    let subscribed = ServerFrame::Subscribed {
        run: None,
        step: None,
        topic: Some("system".into()),
        seq: None,
        n: None,
        epoch: None,
        recovered: None,
    };
    sink.send(subscribed.into()).await?;
    loop {
        let latest = readings.borrow_and_update().clone();
        if let Some(sample) = latest {
            sink.send(ServerFrame::System(sample).into()).await?;
        }
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            changed = readings.changed() => if changed.is_err() { return Ok(()) },
        }
    }
}

/// Follows run-list changes. A subscriber that fell behind gets the recent runs afresh
/// (a `runs` frame) instead of silently missing changes.
pub async fn follow_runs_topic(
    runs: &Runs,
    sink: &impl FrameSink,
    stop: &CancellationToken,
) -> Result<(), Stop> {
    let mut feed = runs.hub().subscribe_runs();
    let subscribed = ServerFrame::Subscribed {
        run: None,
        step: None,
        topic: Some("runs".into()),
        seq: None,
        n: None,
        epoch: None,
        recovered: None,
    };
    sink.send(subscribed.into()).await?;
    let stopped = stop.cancelled();
    tokio::pin!(stopped);
    loop {
        let Some(received) = next_batch(&mut feed, stopped.as_mut()).await else {
            return Ok(());
        };
        match received {
            Ok(summary) => {
                let frame = ServerFrame::Run {
                    run: (*summary).clone(),
                };
                sink.send(frame.into()).await?
            }
            Err(RecvError::Lagged(_)) => {
                // Everything queued is older than the list read now.
                feed = feed.resubscribe();
                let filter = RunFilter {
                    limit: RUNS_RESYNC,
                    ..RunFilter::default()
                };
                match runs.list(&filter).await {
                    Ok(list) => sink.send(ServerFrame::Runs { runs: list }.into()).await?,
                    Err(e) => return report(sink, e).await,
                }
            }
            Err(RecvError::Closed) => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run's history `epoch` at `seq`.
    struct At(Seq, &'static str);

    fn at(seq: Seq, epoch: &'static str) -> At {
        At(seq, epoch)
    }

    fn plan(resume: &Resume, current: &At) -> Start {
        super::plan(resume, current.0, current.1)
    }

    fn resume(since: Option<Position>, epoch: Option<&str>) -> Resume {
        Resume {
            since,
            epoch: epoch.map(str::to_owned),
        }
    }

    #[test]
    fn a_position_is_replayed_only_when_it_is_exact() {
        let current = at(100, "e1");
        let p = |n| Some(Position::At(n));
        assert_eq!(plan(&resume(None, None), &current), Start::Snapshot(None));
        assert_eq!(
            plan(&resume(p(40), Some("e1")), &current),
            Start::Replay(40)
        );
        assert_eq!(plan(&resume(p(100), None), &current), Start::Replay(100));
        assert_eq!(plan(&resume(p(0), None), &current), Start::Replay(0));
        assert_eq!(
            plan(&resume(p(40), Some("e0")), &current),
            Start::Snapshot(Some(Resync::EpochChanged))
        );
        assert_eq!(
            plan(&resume(p(101), Some("e1")), &current),
            Start::Snapshot(Some(Resync::UnknownSeq))
        );
        assert_eq!(
            plan(&resume(p(u64::MAX), None), &current),
            Start::Snapshot(Some(Resync::UnknownSeq))
        );
        assert_eq!(
            plan(
                &resume(Some(Position::Invalid("-1".into())), None),
                &current
            ),
            Start::Snapshot(Some(Resync::Malformed))
        );
        assert_eq!(
            plan(&resume(p(5), None), &at(5 + MAX_REPLAY + 1, "e1")),
            Start::Snapshot(Some(Resync::TooFarBehind))
        );
    }
}
