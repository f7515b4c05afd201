//! The in-process bus: fans stored events, log lines and run-list changes out to live
//! subscribers (WebSocket connections). Only stored facts are published, after their commit, so
//! a subscriber never sees something the store would not give back on resume.

use crate::domain::{LogLine, RunSummary, StoredEvent};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// Buffered messages per run before a slow subscriber lags (and is resynced with a snapshot).
const RUN_CAPACITY: usize = 1024;
const TOPIC_CAPACITY: usize = 256;

/// One published batch for one run.
#[derive(Clone, Debug)]
pub enum RunFeed {
    /// Consecutive stored events, in seq order.
    Events(Vec<StoredEvent>),
    /// Consecutive log lines of one step.
    Logs { step: String, lines: Vec<LogLine> },
}

/// A live subscription to one run; dropping it (also when its task is aborted) releases the
/// run's channel if it was the last one.
pub struct RunSubscription {
    receiver: Option<broadcast::Receiver<Arc<RunFeed>>>,
    hub: Arc<Hub>,
    run: String,
}

impl RunSubscription {
    pub fn receiver(&mut self) -> &mut broadcast::Receiver<Arc<RunFeed>> {
        self.receiver.as_mut().expect("present until dropped")
    }
}

impl Drop for RunSubscription {
    fn drop(&mut self) {
        self.receiver = None;
        self.hub.prune(&self.run);
    }
}

pub struct Hub {
    runs: Mutex<HashMap<String, broadcast::Sender<Arc<RunFeed>>>>,
    topic: broadcast::Sender<Arc<RunSummary>>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            runs: Mutex::new(HashMap::new()),
            topic: broadcast::channel(TOPIC_CAPACITY).0,
        }
    }
}

impl Hub {
    /// Subscribes to one run's feed. Subscribe before reading the store, then skip what the
    /// store already gave: that order can only duplicate (filtered by seq), never lose.
    pub fn subscribe(self: &Arc<Self>, run: &str) -> RunSubscription {
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        let receiver = runs
            .entry(run.to_owned())
            .or_insert_with(|| broadcast::channel(RUN_CAPACITY).0)
            .subscribe();
        RunSubscription {
            receiver: Some(receiver),
            hub: Arc::clone(self),
            run: run.to_owned(),
        }
    }

    /// Forgets a run's channel once nobody listens, so viewed runs do not pile up.
    fn prune(&self, run: &str) {
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        if runs
            .get(run)
            .is_some_and(|sender| sender.receiver_count() == 0)
        {
            runs.remove(run);
        }
    }

    /// Publishes to the run's subscribers, if any; forgets runs nobody listens to any more.
    pub fn publish(&self, run: &str, feed: RunFeed) {
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = runs.get(run) {
            if sender.send(Arc::new(feed)).is_err() {
                runs.remove(run);
            }
        }
    }

    /// Subscribes to run-list changes (topic `runs`).
    pub fn subscribe_runs(&self) -> broadcast::Receiver<Arc<RunSummary>> {
        self.topic.subscribe()
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
    fn a_run_channel_lives_only_while_someone_listens() {
        let hub = Arc::new(Hub::default());
        let first = hub.subscribe("r1");
        let second = hub.subscribe("r1");
        drop(first);
        assert!(
            hub.runs.lock().unwrap().contains_key("r1"),
            "one listener left"
        );
        drop(second);
        assert!(
            hub.runs.lock().unwrap().is_empty(),
            "released with the last listener"
        );
    }
}
