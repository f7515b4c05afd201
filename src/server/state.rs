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

#[derive(Clone, FromRef)]
pub struct AppState {
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
