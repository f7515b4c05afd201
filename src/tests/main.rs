//! Integration tests: the real server on port 0 with a temporary data directory, driven over
//! HTTP and the WebSocket like any client.

mod support;

mod api;
mod executor;
mod live;
mod pages;
mod restart;
