//! The in-process bus: fans stored events, log lines and run-list changes out to live
//! subscribers (WebSocket and SSE connections). Only stored facts are published, after their
//! commit, so a subscriber never sees something the store would not give back on resume.
//!
//! Events and logs travel on separate channels (one per run, one per step of a run), so a
//! chatty step's log can never make the run's event subscribers lag.

use crate::domain::{LogLine, RunState, RunSummary, Seq, StoredEvent};
use axum::extract::ws::Utf8Bytes;
use serde::Serialize;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// Buffered batches per channel before a slow subscriber lags (and then catches up from the
/// store, or resyncs with a snapshot when too far behind).
const RUN_CAPACITY: usize = 1024;
const TOPIC_CAPACITY: usize = 256;

/// Broadcast channels created on first subscription and released with their last subscriber,
/// so channels of runs nobody watches do not pile up.
pub struct Channels<K, T> {
    senders: Mutex<HashMap<K, broadcast::Sender<Arc<T>>>>,
}

impl<K, T> Default for Channels<K, T> {
    fn default() -> Self {
        Channels {
            senders: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Clone + Eq + Hash, T> Channels<K, T> {
    pub fn subscribe(self: &Arc<Self>, key: K) -> Subscription<K, T> {
        let mut senders = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        let receiver = senders
            .entry(key.clone())
            .or_insert_with(|| broadcast::channel(RUN_CAPACITY).0)
            .subscribe();
        Subscription {
            receiver: Some(receiver),
            channels: Arc::clone(self),
            key,
        }
    }

    /// Publishes to the key's subscribers, if any.
    pub fn publish(&self, key: &K, value: T) {
        self.publish_with(key, || value)
    }

    /// Publishes what `make` builds, building it only when someone listens.
    pub fn publish_with(&self, key: &K, make: impl FnOnce() -> T) {
        let sender = {
            let senders = self.senders.lock().unwrap_or_else(|e| e.into_inner());
            senders.get(key).cloned()
        };
        if let Some(sender) = sender {
            // No receiver left is fine: the last one's drop removes the channel.
            let _ = sender.send(Arc::new(make()));
        }
    }

    fn release(&self, key: &K) {
        let mut senders = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        if senders
            .get(key)
            .is_some_and(|sender| sender.receiver_count() == 0)
        {
            senders.remove(key);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.senders.lock().unwrap().len()
    }
}

/// A live subscription; dropping it (also when its task is aborted) releases the channel if it
/// was the last one.
pub struct Subscription<K: Clone + Eq + Hash, T> {
    receiver: Option<broadcast::Receiver<Arc<T>>>,
    channels: Arc<Channels<K, T>>,
    key: K,
}

impl<K: Clone + Eq + Hash, T> Subscription<K, T> {
    pub fn receiver(&mut self) -> &mut broadcast::Receiver<Arc<T>> {
        self.receiver.as_mut().expect("present until dropped")
    }
}

impl<K: Clone + Eq + Hash, T> Drop for Subscription<K, T> {
    fn drop(&mut self) {
        self.receiver = None;
        self.channels.release(&self.key);
    }
}

/// Consecutive stored events of one run, in seq order, with their `events` frame serialised
/// once for every subscriber: a connection that is caught up sends these very bytes.
#[derive(Debug, PartialEq)]
pub struct EventBatch {
    pub events: Vec<StoredEvent>,
    pub frame: Utf8Bytes,
}

/// The `events` frame of PROTOCOL.md, serialised from borrowed events (the same bytes as
/// `ServerFrame::Events`).
#[derive(Serialize)]
#[serde(tag = "type", rename = "events")]
struct EventsFrame<'a> {
    run: &'a str,
    events: &'a [StoredEvent],
}

impl EventBatch {
    pub fn new(run: &str, events: Vec<StoredEvent>) -> EventBatch {
        let frame = serde_json::to_string(&EventsFrame {
            run,
            events: &events,
        })
        .expect("events serialise");
        EventBatch {
            events,
            frame: frame.into(),
        }
    }

    pub fn first_seq(&self) -> Option<Seq> {
        self.events.first().map(|e| e.seq)
    }
}
/// A run's `snapshot` frame as of `seq`, for subscribers that asked for no position (no
/// resync reason to give): serialised once and sent as these very bytes to each of them until
/// the run moves on. A page of viewers connects at once, and serialising a big run's state
/// (270 KB for 2,000 steps) for each was the largest part of a connect after the TCP work.
#[derive(Debug, PartialEq)]
pub struct SnapshotFrame {
    pub seq: Seq,
    pub epoch: String,
    pub frame: Utf8Bytes,
}

/// The `snapshot` frame of PROTOCOL.md without a resync reason, serialised from a borrowed
/// state (the same bytes as `ServerFrame::Snapshot`).
#[derive(Serialize)]
#[serde(tag = "type", rename = "snapshot")]
struct FreshSnapshot<'a> {
    run: &'a str,
    seq: Seq,
    epoch: &'a str,
    state: &'a RunState,
}

impl SnapshotFrame {
    pub fn new(run: &str, state: &RunState, epoch: &str) -> SnapshotFrame {
        let frame = serde_json::to_string(&FreshSnapshot {
            run,
            seq: state.seq,
            epoch,
            state,
        })
        .expect("snapshots serialise");
        SnapshotFrame {
            seq: state.seq,
            epoch: epoch.to_owned(),
            frame: frame.into(),
        }
    }
}

/// Consecutive log lines of one step.
pub type LogBatch = Vec<LogLine>;
/// A step's log channel: (run, step).
pub type StepKey = (String, String);

pub struct Hub {
    pub events: Arc<Channels<String, EventBatch>>,
    pub logs: Arc<Channels<StepKey, LogBatch>>,
    topic: broadcast::Sender<Arc<RunSummary>>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            events: Arc::default(),
            logs: Arc::default(),
            topic: broadcast::channel(TOPIC_CAPACITY).0,
        }
    }
}

impl Hub {
    /// Subscribes to one run's events. Subscribe before reading the store, then skip what the
    /// store already gave: that order can only duplicate (filtered by seq), never lose.
    pub fn subscribe_events(&self, run: &str) -> Subscription<String, EventBatch> {
        self.events.subscribe(run.to_owned())
    }

    pub fn subscribe_logs(&self, run: &str, step: &str) -> Subscription<StepKey, LogBatch> {
        self.logs.subscribe((run.to_owned(), step.to_owned()))
    }

    /// Subscribes to run-list changes (topic `runs`).
    pub fn subscribe_runs(&self) -> broadcast::Receiver<Arc<RunSummary>> {
        self.topic.subscribe()
    }

    /// Publishes a run's newly stored events (serialised once, if anyone listens).
    pub fn publish_events(&self, run: &str, events: Vec<StoredEvent>) {
        self.events
            .publish_with(&run.to_owned(), || EventBatch::new(run, events));
    }

    pub fn publish_run(&self, summary: RunSummary) {
        // No subscribers is fine: nobody is watching the run list.
        let _ = self.topic.send(Arc::new(summary));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_lives_only_while_someone_listens() {
        let hub = Hub::default();
        let first = hub.subscribe_events("r1");
        let second = hub.subscribe_events("r1");
        let logs = hub.subscribe_logs("r1", "build");
        drop(first);
        assert_eq!(hub.events.len(), 1, "one listener left");
        drop(second);
        assert_eq!(hub.events.len(), 0, "released with the last listener");
        assert_eq!(hub.logs.len(), 1, "log channels are separate");
        drop(logs);
        assert_eq!(hub.logs.len(), 0);
    }

    #[test]
    fn a_shared_events_frame_is_the_protocol_frame() {
        use crate::api::ServerFrame;
        use crate::domain::EventKind;
        let events = vec![StoredEvent {
            seq: 3,
            kind: EventKind::step_started("a"),
            id: Some("k".into()),
            ts: chrono::Utc::now(),
        }];
        let batch = EventBatch::new("r1", events.clone());
        let owned = ServerFrame::Events {
            run: "r1".into(),
            events,
        };
        assert_eq!(batch.frame.as_str(), serde_json::to_string(&owned).unwrap());
        assert_eq!(batch.first_seq(), Some(3));
    }

    #[test]
    fn a_shared_snapshot_frame_is_the_protocol_frame() {
        use crate::api::ServerFrame;
        use crate::domain::{Graph, GraphStep};
        let graph = Graph {
            steps: vec![GraphStep::bare("a", &[])],
        };
        let mut state = RunState::new("r1", None, "nightly", &graph, chrono::Utc::now());
        state.seq = 7;
        let shared = SnapshotFrame::new("r1", &state, "e1");
        let owned = ServerFrame::Snapshot {
            run: "r1".into(),
            seq: 7,
            epoch: "e1".into(),
            state: Box::new(state),
            recovered: None,
            reason: None,
        };
        assert_eq!(
            shared.frame.as_str(),
            serde_json::to_string(&owned).unwrap()
        );
        assert_eq!((shared.seq, shared.epoch.as_str()), (7, "e1"));
    }

    #[test]
    fn logs_do_not_reach_event_subscribers() {
        let hub = Hub::default();
        let mut events = hub.subscribe_events("r1");
        let mut logs = hub.subscribe_logs("r1", "build");
        let mut other_step = hub.subscribe_logs("r1", "test");
        let line = LogLine {
            n: 1,
            stream: "stdout".into(),
            line: "hi".into(),
        };
        hub.logs
            .publish(&("r1".into(), "build".into()), vec![line.clone()]);
        assert!(events.receiver().try_recv().is_err());
        assert!(other_step.receiver().try_recv().is_err());
        assert_eq!(*logs.receiver().try_recv().unwrap(), vec![line]);
    }
}
