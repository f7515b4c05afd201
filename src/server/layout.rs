//! Graph layouts on the server: computed on the blocking pool, never on the async threads
//! that serve requests and live connections.

use crate::domain::{Graph, Layout};
use std::sync::Arc;

/// Lays `graph` out on the blocking pool.
pub async fn lay_out(graph: Graph) -> Result<Arc<Layout>, tokio::task::JoinError> {
    tokio::task::spawn_blocking(move || Arc::new(Layout::compute(&graph))).await
}
