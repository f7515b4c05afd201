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
    pub fn subscribe(&self, run: &str) -> broadcast::Receiver<Arc<RunFeed>> {
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        runs.entry(run.to_owned())
            .or_insert_with(|| broadcast::channel(RUN_CAPACITY).0)
            .subscribe()
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
