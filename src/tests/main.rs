//! Integration tests: the real server on port 0 with a temporary data directory, driven over
//! HTTP, the WebSocket and SSE like any client (and, for crashes, as a separate process).

mod proxy;
mod support;

mod api;
mod auth_matrix;
mod bench;
mod chaos;
mod crash;
mod executor;
mod limits;
mod live;
mod metrics;
mod nats;
mod openapi;
mod pages;
mod report;
mod restart;
mod resume;
mod security;
mod sessions;
mod silence;
mod slow;
mod tenants;
mod token_logs;
