//! Assembling and running the server. `run(listener, config, shutdown)` takes its listener and
//! shutdown future, so tests start the real server on port 0 with a temporary data directory.

use super::catalog::Catalog;
use super::commands::fail_interrupted_runs;
use super::config::{site_options, ConfigError, ServeConfig};
use super::executor::Executor;
use super::hub::Hub;
use super::runs::{RunError, Runs};
use super::state::AppState;
use super::store::{Store, StoreError};
use crate::ui::{shell, App};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::future::Future;
use std::sync::Arc;
use thiserror::Error;
use tokio::net::TcpListener;

#[derive(Debug, Error)]
pub enum ServeError {
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Recovery(#[from] RunError),
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// Builds the whole application state: store, hub, runs, executor, catalog.
pub async fn build_state(
    listener: &TcpListener,
    config: &ServeConfig,
) -> Result<AppState, ServeError> {
    let data_dir = &config.data_dir;
    std::fs::create_dir_all(data_dir).map_err(|source| ServeError::DataDir {
        path: data_dir.display().to_string(),
        source,
    })?;
    let addr = listener.local_addr()?;
    let store = Arc::new(Store::open(&data_dir.join("signalbox.db")).await?);
    let runs = Arc::new(Runs::new(store, Arc::new(Hub::default())));
    let executor = Arc::new(Executor::new(
        Arc::clone(&runs),
        data_dir.join("work"),
        format!("http://{addr}"),
    ));
    let (catalog, problems) = Catalog::load(config.pipelines.as_deref());
    for problem in &problems {
        tracing::error!(%problem, "pipeline not loaded");
    }
    let state = AppState {
        leptos_options: site_options(addr)?,
        runs,
        executor,
        catalog: Arc::new(catalog),
    };
    let interrupted = fail_interrupted_runs(&state).await?;
    if interrupted > 0 {
        tracing::warn!(
            count = interrupted,
            "runs interrupted by the last shutdown were marked failed"
        );
    }
    Ok(state)
}

/// The router: health endpoints, the HTTP API, the pages and server functions, static files.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .nest("/api/v1", super::http::router())
        .leptos_routes(&state, routes, move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .with_state(state)
}

async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    match state.runs.store().ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(error) => {
            tracing::error!(%error, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}

/// Serves until `shutdown` resolves.
pub async fn run(
    listener: TcpListener,
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let state = build_state(&listener, &config).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, data_dir = %config.data_dir.display(), "signalbox listening");
    println!("Signalbox is running at http://{addr}");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}
