//! The tab's one connection for topics: the runs table, the system panel and the toasts
//! follow `runs` and `system` on it instead of opening a WebSocket each. A topic is
//! subscribed while at least one view follows it, and every view gets only its topic's
//! frames. The connection belongs to the app's root, so views come and go (pages change)
//! without reconnecting.

use super::topic::{follow, Handlers};
use super::Outbox;
use crate::api::{ClientOp, ServerFrame};
use leptos::prelude::*;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

type OnFrame = Box<dyn Fn(ServerFrame) -> bool>;
type OnDrop = Box<dyn Fn() -> bool>;

/// A view following a topic.
struct Follower {
    id: u64,
    topic: &'static str,
    on_frame: OnFrame,
    on_drop: OnDrop,
}

pub struct Topics {
    followers: RefCell<Vec<Rc<Follower>>>,
    /// The current connection's outbox (`None` before the first connection).
    outbox: RefCell<Option<Outbox>>,
    next_id: Cell<u64>,
    /// The app's root: the connection lives under it.
    owner: Owner,
    started: Cell<bool>,
}

/// The topic a frame belongs to.
fn topic_of(frame: &ServerFrame) -> Option<&str> {
    match frame {
        ServerFrame::Run { .. } | ServerFrame::Runs { .. } => Some("runs"),
        ServerFrame::System(_) => Some("system"),
        ServerFrame::Subscribed { topic, .. } => topic.as_deref(),
        _ => None,
    }
}

impl Topics {
    pub fn new() -> Rc<Topics> {
        Rc::new(Topics {
            followers: RefCell::default(),
            outbox: RefCell::default(),
            next_id: Cell::new(0),
            owner: Owner::current().unwrap_or_default(),
            started: Cell::new(false),
        })
    }

    fn in_use(&self, topic: &str) -> bool {
        self.followers.borrow().iter().any(|f| f.topic == topic)
    }

    fn send(&self, op: ClientOp) {
        if let Some(outbox) = self.outbox.borrow().as_ref() {
            let _ = outbox.unbounded_send(op);
        }
    }

    /// Follows `topic` for the calling component, until it is cleaned up.
    pub fn follow(self: &Rc<Self>, topic: &'static str, on_frame: OnFrame, on_drop: OnDrop) {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let first = !self.in_use(topic);
        self.followers.borrow_mut().push(Rc::new(Follower {
            id,
            topic,
            on_frame,
            on_drop,
        }));
        if !self.started.replace(true) {
            self.start();
        } else if first {
            self.send(ClientOp::follow_topic(topic));
        }
        let this = send_wrapper::SendWrapper::new(Rc::clone(self));
        on_cleanup(move || this.leave(id));
    }

    fn leave(&self, id: u64) {
        let mut gone = None;
        self.followers.borrow_mut().retain(|f| {
            let keep = f.id != id;
            if !keep {
                gone = Some(f.topic);
            }
            keep
        });
        if let Some(topic) = gone.filter(|t| !self.in_use(t)) {
            self.send(ClientOp::unfollow_topic(topic));
        }
    }

    fn start(self: &Rc<Self>) {
        let (opening, frames, drops) = (Rc::clone(self), Rc::clone(self), Rc::clone(self));
        let handlers = Handlers {
            opening: Box::new(move |outbox| {
                *opening.outbox.borrow_mut() = Some(outbox.clone());
                let mut topics: Vec<&'static str> =
                    opening.followers.borrow().iter().map(|f| f.topic).collect();
                topics.sort_unstable();
                topics.dedup();
                topics.into_iter().map(ClientOp::follow_topic).collect()
            }),
            on_frame: Box::new(move |frame, _| {
                frames.dispatch(frame);
                true
            }),
            on_drop: Box::new(move || {
                // A copy: a view may leave (or join) from inside its handler.
                let followers = drops.followers.borrow().clone();
                for follower in followers {
                    if !(follower.on_drop)() {
                        drops.leave(follower.id);
                    }
                }
                true
            }),
        };
        leptos::task::spawn_local(open(self.owner.clone(), handlers));
    }

    fn dispatch(&self, frame: ServerFrame) {
        let Some(topic) = topic_of(&frame) else {
            return;
        };
        let followers: Vec<Rc<Follower>> = (self.followers.borrow().iter())
            .filter(|f| f.topic == topic)
            .cloned()
            .collect();
        for follower in followers {
            if !(follower.on_frame)(frame.clone()) {
                self.leave(follower.id);
            }
        }
    }
}

/// Opens the tab's topic connection under the app's root. A split point: the connection's
/// code (the WebSocket session, reading frames) is not part of the main wasm module that
/// every page waits for; it loads with the first view that follows a topic.
#[lazy]
fn open(owner: Owner, handlers: Handlers) {
    owner.with(|| follow(handlers));
}
