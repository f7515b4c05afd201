//! Shared server state, handed to handlers (axum `State`) and server functions (context).

use super::catalog::Catalog;
use super::executor::Executor;
use super::runs::Runs;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub runs: Arc<Runs>,
    pub executor: Arc<Executor>,
    pub catalog: Arc<Catalog>,
}
