//! A live connection's bounded outgoing queue with a write deadline, and the one place that
//! decides why the connection closes. A consumer that leaves the queue full for longer than the
//! deadline is closed as too slow, never waited for: one stalled client cannot hold up anyone
//! else, and its memory stays bounded by the queue.

use super::feed::{FrameSink, Stop};
use super::hub::{EventBatch, SnapshotFrame};
use crate::api::ServerFrame;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Why a live connection closes: a WebSocket close code and reason (SSE streams just end).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseReason {
    pub code: u16,
    pub reason: &'static str,
}

impl CloseReason {
    /// The client closed; we answer in kind.
    pub const NORMAL: CloseReason = CloseReason {
        code: 1000,
        reason: "closed",
    };
    /// The transport failed: no close frame can be sent (never on the wire).
    pub const GONE: CloseReason = CloseReason {
        code: 1006,
        reason: "connection lost",
    };
    /// The server is shutting down or restarting: reconnect with backoff.
    pub const RESTART: CloseReason = CloseReason {
        code: 1012,
        reason: "server restarting",
    };
    /// A client message over the size limit.
    pub const TOO_BIG: CloseReason = CloseReason {
        code: 1009,
        reason: "message too big",
    };
    pub const BINARY: CloseReason = CloseReason {
        code: 1003,
        reason: "binary frames are not supported",
    };
    pub const BAD_UTF8: CloseReason = CloseReason {
        code: 1007,
        reason: "text frame is not valid UTF-8",
    };
    pub const PROTOCOL: CloseReason = CloseReason {
        code: 1002,
        reason: "protocol error",
    };
    /// Nothing (not even a pong) arrived within the read deadline.
    pub const SILENT: CloseReason = CloseReason {
        code: 4000,
        reason: "no response within the read deadline",
    };
    /// The session signed out, or the token it was opened with was revoked: sign in again.
    pub const SIGNED_OUT: CloseReason = CloseReason {
        code: 4401,
        reason: "signed out or access revoked",
    };
    /// The client did not take its frames within the write deadline; resume with `since`.
    pub const SLOW: CloseReason = CloseReason {
        code: 4008,
        reason: "too slow: frames not read within the write deadline",
    };
}

/// What a live connection sends: a frame of its own, or one serialised once for all
/// subscribers (a published batch of events, a run's snapshot).
#[derive(Clone, Debug, PartialEq)]
pub enum Outgoing {
    /// Boxed: queue slots are allocated in blocks, for every connection, and stay small.
    Frame(Box<ServerFrame>),
    Shared(Arc<EventBatch>),
    Snapshot(Arc<SnapshotFrame>),
}

impl From<ServerFrame> for Outgoing {
    fn from(frame: ServerFrame) -> Self {
        Outgoing::Frame(Box::new(frame))
    }
}

/// Closes a connection once, with the first reason given.
#[derive(Clone, Default)]
pub struct Closer {
    reason: Arc<Mutex<Option<CloseReason>>>,
    token: CancellationToken,
}

impl Closer {
    pub fn close(&self, reason: CloseReason) {
        let mut slot = self.reason.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(reason);
        }
        self.token.cancel();
    }

    pub fn reason(&self) -> Option<CloseReason> {
        *self.reason.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub async fn closed(&self) {
        self.token.cancelled().await
    }

    /// Closes with [`CloseReason::GONE`] when dropped: held by whatever the client's leaving
    /// drops (an SSE response body), so the feed behind it stops.
    pub fn close_on_drop(self) -> CloseOnDrop {
        CloseOnDrop(self)
    }

    pub fn is_closed(&self) -> bool {
        self.token.is_cancelled()
    }
}

/// See [`Closer::close_on_drop`].
pub struct CloseOnDrop(Closer);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close(CloseReason::GONE);
    }
}

/// The sending side of a connection's queue: subscriptions push frames here.
#[derive(Clone)]
pub struct Outbox {
    queue: flume::Sender<Outgoing>,
    write_deadline: Duration,
    closer: Closer,
}

impl Outbox {
    /// A queue of `capacity` frames; returns the outbox and the receiving end for the writer.
    pub fn new(
        capacity: usize,
        write_deadline: Duration,
        closer: Closer,
    ) -> (Outbox, flume::Receiver<Outgoing>) {
        let (queue, receiver) = flume::bounded(capacity);
        let outbox = Outbox {
            queue,
            write_deadline,
            closer,
        };
        (outbox, receiver)
    }

    /// Queues a frame now if there is room; a full queue closes the connection as too slow.
    /// For frames whose sender must not wait (the connection's own replies).
    pub fn try_send(&self, frame: ServerFrame) -> Result<(), Stop> {
        match self.queue.try_send(frame.into()) {
            Ok(()) => Ok(()),
            Err(flume::TrySendError::Full(_)) => {
                self.closer.close(CloseReason::SLOW);
                Err(Stop)
            }
            Err(flume::TrySendError::Disconnected(_)) => Err(Stop),
        }
    }
}

impl FrameSink for Outbox {
    async fn send(&self, frame: Outgoing) -> Result<(), Stop> {
        if self.closer.is_closed() {
            return Err(Stop);
        }
        // Room in the queue (the usual case): no deadline to set up.
        let frame = match self.queue.try_send(frame) {
            Ok(()) => return Ok(()),
            Err(flume::TrySendError::Disconnected(_)) => return Err(Stop),
            Err(flume::TrySendError::Full(frame)) => frame,
        };
        // Boxed: this rare wait's state (a timer and a queue slot claim) would otherwise be part
        // of every subscription's task, idle or not.
        let wait = tokio::time::timeout(self.write_deadline, self.queue.send_async(frame));
        match Box::pin(wait).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(flume::SendError(_))) => Err(Stop),
            Err(_) => {
                tracing::info!(
                    deadline_ms = self.write_deadline.as_millis() as u64,
                    "closing a live client that stopped reading"
                );
                self.closer.close(CloseReason::SLOW);
                Err(Stop)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_past_the_deadline_closes_as_slow() {
        let closer = Closer::default();
        let (outbox, receiver) = Outbox::new(1, Duration::from_millis(20), closer.clone());
        outbox.send(ServerFrame::Heartbeat.into()).await.unwrap();
        assert!(outbox.send(ServerFrame::Heartbeat.into()).await.is_err());
        assert_eq!(closer.reason(), Some(CloseReason::SLOW));
        // The first reason wins; later ones do not overwrite it.
        closer.close(CloseReason::RESTART);
        assert_eq!(closer.reason(), Some(CloseReason::SLOW));
        assert_eq!(receiver.try_recv(), Ok(ServerFrame::Heartbeat.into()));
    }
}
