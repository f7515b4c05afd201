//! Assembling and running the server. `run(listener, config, shutdown)` takes its listener and
//! shutdown future, so tests start the real server on port 0 with a temporary data directory.
//!
//! Shutdown (SIGTERM, Ctrl-C, or the future resolving) stops accepting connections, records
//! runs in progress as interrupted (their processes are killed), closes live connections with
//! 1012 so clients reconnect with backoff, and waits a bounded time for all of it.

use super::auth::guard::authenticate;
use super::auth::sign_in::{sign_in, sign_out};
use super::auth::{Auth, AuthSetupError};
use super::config::{site_options, ConfigError, ServeConfig};
use super::data_dir::{DataDir, DataDirError};
use super::executor::kill_leftovers;
use super::origin::{guard, BadOrigin, OriginPolicy};
use super::request_log::request_span;
use super::resilience::{resilient, REQUEST_TIMEOUT};
use super::state::{AppState, AppStateData, Live};
use super::store::{Store, StoreError};
use super::tenants::{TenantError, Tenants, TenantsConfig};
use crate::ui::{shell, App};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::future::{Future, IntoFuture};
use std::path::Path;
use std::sync::Arc;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;

#[derive(Debug, Error)]
pub enum ServeError {
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Origin(#[from] BadOrigin),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Auth(#[from] AuthSetupError),
    #[error(transparent)]
    Tenant(#[from] TenantError),
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// Connections the kernel completes and holds for the accept loop. A burst of connects (every
/// open tab reconnecting after a restart) must not overflow it: a dropped SYN is retried only
/// after a second. `TcpListener::bind` asks for 128, which 256 clients connecting at once
/// overflowed (22 of 10,000 connects waited a second). The kernel caps it at
/// `net.core.somaxconn`.
pub const LISTEN_BACKLOG: u32 = 4096;

/// Listens on `addr` with room for [`LISTEN_BACKLOG`] connections waiting to be accepted
/// (and, like `TcpListener::bind`, `SO_REUSEADDR`, so a restart can bind at once).
pub fn listen(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Builds the whole application state over a locked data directory: store, authentication,
/// the tenants (each with its runs, hub, executor and pipelines); and makes the stored history
/// truthful after whatever ended the last server (leftover step processes killed, interrupted
/// runs failed, open epochs renewed).
pub async fn build_state(
    listener: &TcpListener,
    config: &ServeConfig,
    data_dir: &DataDir,
) -> Result<AppState, ServeError> {
    let owner = data_dir.path().display().to_string();
    let leftovers = kill_leftovers(&owner);
    if leftovers > 0 {
        tracing::warn!(
            count = leftovers,
            "killed step processes left by the last server"
        );
    }
    let addr = listener.local_addr()?;
    let store = Arc::new(Store::open(&data_dir.path().join("signalbox.db")).await?);
    let renewed = store.renew_open_epochs().await?;
    if renewed > 0 {
        tracing::info!(count = renewed, "unfinished runs start a new epoch");
    }
    let auth = Arc::new(
        Auth::new(
            &config.security,
            addr.ip().is_loopback(),
            data_dir.path(),
            Arc::clone(&store),
        )
        .await?,
    );
    if auth.is_required() {
        tracing::info!(
            "authentication required: sign in with a token from `signalbox token create`"
        );
    } else {
        tracing::warn!(
            %addr,
            "authentication off: the server listens on loopback and no secret is configured \
             (laptop mode); set --secret or listen elsewhere to require sign-in"
        );
    }
    let tenants = Tenants::open(
        TenantsConfig {
            data_dir: data_dir.path().to_path_buf(),
            pipelines: config.pipelines.clone(),
            public_url: format!("http://{addr}"),
            owner,
        },
        Arc::clone(&auth),
        store,
    )
    .await?;
    let origins = OriginPolicy::new(&config.allowed_origins)?;
    if config.allowed_origins.is_empty() && !addr.ip().is_loopback() {
        tracing::warn!(
            %addr,
            "no --allowed-origin configured: the server answers only to IP addresses and \
             localhost; add the public URL to use a host name"
        );
    }
    let (shutdown, tracker) = (CancellationToken::new(), TaskTracker::new());
    let leptos_options = site_options(addr)?;
    let (hashed_files, split_parts) = super::site_files::read(&leptos_options);
    let state = AppState::new(AppStateData {
        hashed_files,
        split_parts,
        leptos_options,
        tenants: Arc::new(tenants),
        live: Live {
            limits: Arc::new(config.live.clone()),
            system: super::system::start(
                super::system::Sources {
                    data_dir: data_dir.path().to_path_buf(),
                    live: tracker.clone(),
                },
                config.metrics_interval,
                shutdown.clone(),
            ),
            shutdown,
            tracker,
        },
        origins: Arc::new(origins),
        auth,
        adhoc_idle_timeout: config.adhoc_idle_timeout,
    });
    Ok(state)
}

/// The router: health endpoints, the HTTP API, the pages and server functions, static files,
/// all traced with a request id and behind the cross-site and authentication guards, bounded in
/// time and answering a panic with a 500;
/// responses compressed (zstd, brotli or gzip, as the client accepts; never event streams; site files
/// compressed at build time when the build stored them so) and site files cached for a year when their names carry their hash, else revalidated on every use.
pub fn router(state: AppState) -> Router {
    let pages = generate_route_list(App);
    let options = state.leptos_options.clone();
    let origins = Arc::clone(&state.origins);
    let auth = Arc::clone(&state.auth);
    // The bundle is served here rather than by Leptos's file handler, which drops the
    // request's conditional headers (so it never answered 304).
    let pkg = Path::new(&*options.site_root).join(&*options.site_pkg_dir);
    let hashed = state.hashed_files.clone();
    let routes = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(super::metrics::render))
        .nest("/api/v1", super::http::router())
        .route("/auth/login", post(sign_in))
        .route("/auth/logout", post(sign_out))
        .nest_service(
            &format!("/{}", options.site_pkg_dir),
            // A release build stores each file compressed beside it (`--precompress`): sent
            // as it is, it costs no CPU per request. Others are compressed by the layer below.
            ServeDir::new(pkg).precompressed_br().precompressed_gzip(),
        )
        .leptos_routes(&state, pages, move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            hashed,
            super::site_files::cache_headers,
        ))
        // zstd first when the client takes it (Chromium and Firefox do): the 2,000-step run
        // page (1.6 MB) compresses in a few ms to 78 KB, where brotli's on-the-fly level took
        // 40 ms (83 KB) and held the page's first byte back by as much.
        .layer(CompressionLayer::new());
    resilient(routes, REQUEST_TIMEOUT)
        .layer(axum::middleware::from_fn_with_state(auth, authenticate))
        .layer(axum::middleware::from_fn_with_state(origins, guard))
        // Outermost: every request, refused ones too, is traced under its id.
        .layer(axum::middleware::from_fn(super::metrics::count_requests))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    match state.tenants.default_tenant().runs.store().ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(error) => {
            tracing::error!(%error, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}

/// Serves until `shutdown` resolves, then shuts down within the configured drain time (half of
/// it at most for the runs to record their end, the rest for connections to close).
pub async fn run(
    listener: TcpListener,
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let data_dir = DataDir::lock(&config.data_dir)?;
    let state = build_state(&listener, &config, &data_dir).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, data_dir = %data_dir.path().display(), "signalbox listening");
    println!("Signalbox is running at http://{addr}");
    let live = state.live.clone();
    let tenants = Arc::clone(&state.tenants);
    let drain = config.live.drain;
    let stopping = CancellationToken::new();
    // No Nagle delay: live frames and answers are small writes that must leave at once (with
    // it, a second small write waits for the peer's delayed ACK, up to 40 ms).
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY on a connection");
        }
    });
    // Routes turned into services once, not for every connection (which is what serving a
    // `Router` directly does, at a cost growing with the number of routes).
    tokio::spawn(super::silence::watch(
        Arc::clone(&state.tenants),
        config.adhoc_idle_timeout,
        stopping.clone(),
    ));
    if let Some(url) = &config.nats {
        tokio::spawn(super::nats::ingest(
            url.clone(),
            Arc::clone(&state.tenants),
            stopping.clone(),
        ));
    }
    let app = router(state).with_state(());
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(stopping.clone().cancelled_owned());
    let mut server = std::pin::pin!(server.into_future());
    tokio::select! {
        result = &mut server => return result.map_err(Into::into),
        () = shutdown => {}
    }
    tracing::info!("shutting down");
    // Stop accepting first, then end the runs (so viewers see them end), then close the
    // live connections, which is what lets the graceful shutdown finish.
    let deadline = tokio::time::Instant::now() + drain;
    stopping.cancel();
    let opened = tenants.opened();
    futures::future::join_all(opened.iter().map(|t| t.executor.shutdown(drain / 2))).await;
    live.shutdown.cancel();
    live.tracker.close();
    let drained = tokio::time::timeout_at(deadline, async {
        live.tracker.wait().await;
        (&mut server).await
    })
    .await;
    match drained {
        Ok(result) => result?,
        Err(_) => tracing::warn!(
            drain_ms = drain.as_millis() as u64,
            "connections did not close in time"
        ),
    }
    for tenant in &opened {
        tenant.runs.store().close().await;
    }
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A burst of connects larger than `TcpListener::bind`'s backlog of 128, none accepted
    /// yet: each must complete at once, not after a dropped SYN's retry a second later.
    #[tokio::test]
    async fn a_burst_of_connects_waits_in_the_backlog_instead_of_being_dropped() {
        let listener = listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let connects = (0..400).map(|_| {
            tokio::time::timeout(
                Duration::from_millis(500),
                tokio::net::TcpStream::connect(addr),
            )
        });
        let outcomes = futures::future::join_all(connects).await;
        let completed = outcomes.iter().filter(|o| matches!(o, Ok(Ok(_)))).count();
        assert_eq!(completed, 400, "connects completed within 0.5 s");
        drop(listener);
    }
}
