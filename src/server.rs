//! Everything that runs only on the server (feature `ssr`): storage, the live hub, the
//! executor, the HTTP API and WebSocket, and assembling them into one axum app.

pub mod auth;
pub mod catalog;
pub mod commands;
pub mod config;
pub mod data_dir;
pub mod error;
pub mod executor;
pub mod extract;
pub mod feed;
#[cfg(test)]
mod fuzz;
pub mod group_commit;
pub mod http;
pub mod hub;
pub mod ingest;
pub mod layout;
pub mod metrics;
pub mod nats;
pub mod openapi;
pub mod origin;
pub mod outbox;
pub mod request_log;
pub mod resilience;
pub mod runs;
pub mod serve;
pub mod silence;
pub mod site_files;
pub mod sse;
pub mod state;
pub mod store;
pub mod system;
pub mod tenants;
pub mod waiting;
pub mod ws;
