//! Shared server state, handed to handlers (axum `State`) and server functions (context).

use super::auth::Auth;
use super::config::LiveLimits;
use super::origin::OriginPolicy;
use super::tenants::Tenants;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The state every request gets a copy of (axum clones a router's state for each request it
/// hands a handler, and the middleware for theirs): one reference count to take and drop, not
/// one per field (a dozen, among them a cancellation token whose clone takes a lock), which
/// cost a few microseconds of every request.
#[derive(Clone)]
pub struct AppState(Arc<AppStateData>);

impl AppState {
    pub fn new(data: AppStateData) -> AppState {
        AppState(Arc::new(data))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppStateData;

    fn deref(&self) -> &AppStateData {
        &self.0
    }
}

/// Leptos's handlers take their options from the state.
impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> LeptosOptions {
        state.leptos_options.clone()
    }
}

/// What every [`AppState`] copy refers to.
pub struct AppStateData {
    pub leptos_options: LeptosOptions,
    pub tenants: Arc<Tenants>,
    pub live: Live,
    pub origins: Arc<OriginPolicy>,
    pub auth: Arc<Auth>,
    /// The site's files named after their hash (cached for good), and the bundle's parts each
    /// page loads, named in its `<head>` (`server::site_files`).
    pub hashed_files: super::site_files::HashedFiles,
    pub split_parts: super::site_files::SplitParts,
    /// An ad-hoc run with no event for this long ends as failed (`server::silence`).
    pub adhoc_idle_timeout: std::time::Duration,
}

/// What live connections share: their limits, the shutdown signal they close on, and the
/// tracker the server drains them with.
#[derive(Clone)]
pub struct Live {
    pub limits: Arc<LiveLimits>,
    pub shutdown: CancellationToken,
    pub tracker: TaskTracker,
    /// The latest system reading (`server::system`), for the `system` topic.
    pub system: tokio::sync::watch::Receiver<Option<crate::api::SystemSample>>,
}
