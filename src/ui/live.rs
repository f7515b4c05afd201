//! The browser side of the live stream. A run page has one connection ([`LivePage`]) that
//! carries the run and the log of any open panel, over the best transport that works: the
//! WebSocket, else Server-Sent Events, else polling, switching back to the WebSocket when it
//! works again. It resumes from the last applied seq (in the history it came from) after any
//! drop, applies events with the reducer the server uses, and keeps the connection indicator
//! truthful. On the server these functions only set up what the first render needs.

#[cfg(any(feature = "hydrate", test))]
mod backoff;
#[cfg(feature = "hydrate")]
mod client;
#[cfg(feature = "hydrate")]
mod paint;
#[cfg(feature = "hydrate")]
mod shared;
#[cfg(feature = "hydrate")]
mod topic;
#[cfg(feature = "hydrate")]
mod transport;

use crate::domain::{LogLine, RunState};
use crate::ui::conn::Conn;
use crate::ui::graph::StepSignals;
use chrono::{DateTime, Utc};
use leptos::prelude::*;

/// A clock for elapsed times: starts at the server's time of the render (so server and browser
/// render the same text) and ticks every second in the browser, corrected for clock skew.
pub fn use_clock(server_now: DateTime<Utc>) -> Signal<DateTime<Utc>> {
    let now = RwSignal::new(server_now);
    #[cfg(feature = "hydrate")]
    {
        // `server_now` is when the server answered: for the page being hydrated, when its
        // HTML began to arrive (hydration starts seconds later on a slow device); for data
        // fetched since, about now.
        let hydrating = Owner::current_shared_context().is_some_and(|c| c.during_hydration());
        let answered = hydrating
            .then(|| {
                let ms = web_sys::window()?.performance()?.timing().response_start();
                (ms > 0.0).then(|| DateTime::from_timestamp_millis(ms as i64))?
            })
            .flatten()
            .unwrap_or_else(Utc::now);
        let skew = server_now - answered;
        if let Ok(handle) = set_interval_with_handle(
            // Not before the page is hydrated: a tick would change what is still the server's
            // HTML (the timeline's axis, say).
            move || {
                if crate::ui::hydration::is_finished() {
                    now.set(Utc::now() + skew)
                }
            },
            std::time::Duration::from_secs(1),
        ) {
            on_cleanup(move || handle.clear());
        }
    }
    now.into()
}

/// The run page's live connection, shared through context with the panels inside it.
#[derive(Clone)]
pub struct LivePage {
    #[cfg(feature = "hydrate")]
    client: send_wrapper::SendWrapper<std::rc::Rc<client::Client>>,
}

/// Follows a run: applies snapshots and events to `state` (which is as of the history
/// `epoch`) and the changed steps to `steps`, once per animation frame, and keeps `conn`
/// truthful. Provides the connection to the page's panels.
pub fn provide_live(
    run: String,
    epoch: String,
    state: RwSignal<RunState>,
    steps: StepSignals,
    conn: RwSignal<Conn>,
) {
    #[cfg(feature = "hydrate")]
    let page = LivePage {
        client: send_wrapper::SendWrapper::new(client::Client::start(
            run, epoch, state, steps, conn,
        )),
    };
    #[cfg(not(feature = "hydrate"))]
    let page = {
        let _ = (run, epoch, state, steps, conn);
        LivePage {}
    };
    provide_context(page);
}

/// Where a view following the stream queues operations for its current connection (those
/// sent to a connection that has ended are dropped: the next one starts with the opening).
pub type Outbox = futures::channel::mpsc::UnboundedSender<crate::api::ClientOp>;

/// Follows a topic of the live stream (`runs`, `system`) while the calling component lives,
/// on the tab's one connection for topics ([`provide_topics`]): `on_frame` gets each frame of
/// the topic, `on_drop` runs when the connection ends (each returns false once its view is
/// gone). Nothing happens on the server.
pub fn follow_topic(
    topic: &'static str,
    on_frame: impl Fn(crate::api::ServerFrame) -> bool + 'static,
    on_drop: impl Fn() -> bool + 'static,
) {
    #[cfg(feature = "hydrate")]
    match use_context::<SharedTopics>() {
        Some(shared) => shared
            .0
            .follow(topic, Box::new(on_frame), Box::new(on_drop)),
        None => leptos::logging::warn!("no shared topic connection: `{topic}` is not followed"),
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (topic, on_frame, on_drop);
}

/// The tab's one connection for topics, shared by every view that follows one.
#[derive(Clone)]
pub struct SharedTopics(
    #[cfg(feature = "hydrate")] send_wrapper::SendWrapper<std::rc::Rc<shared::Topics>>,
);

/// Provides the tab's topic connection (the app's root calls it: the connection lives as
/// long as the tab, opened when a view first follows a topic).
pub fn provide_topics() {
    #[cfg(feature = "hydrate")]
    provide_context(SharedTopics(send_wrapper::SendWrapper::new(
        shared::Topics::new(),
    )));
    #[cfg(not(feature = "hydrate"))]
    provide_context(SharedTopics());
}

/// Follows the live stream on a connection of its own while the calling component lives:
/// each connection starts with the `opening` operations; `on_frame` gets each frame and the
/// connection's outbox for further operations. Nothing happens on the server.
pub fn follow_stream(
    opening: impl Fn() -> Vec<crate::api::ClientOp> + 'static,
    on_frame: impl Fn(crate::api::ServerFrame, &Outbox) -> bool + 'static,
    on_drop: impl Fn() -> bool + 'static,
) {
    #[cfg(feature = "hydrate")]
    topic::follow(topic::Handlers {
        opening: Box::new(move |_| opening()),
        on_frame: Box::new(on_frame),
        on_drop: Box::new(on_drop),
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (opening, on_frame, on_drop);
}

/// Follows one step's log on the page's connection, appending lines after the last in `lines`.
pub fn follow_logs(step: String, lines: RwSignal<Vec<LogLine>>) {
    #[cfg(feature = "hydrate")]
    if let Some(page) = use_context::<LivePage>() {
        let client = std::rc::Rc::clone(&page.client);
        client.follow_logs(&step, lines);
        on_cleanup(move || page.client.unfollow_logs(&step));
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (step, lines);
}
