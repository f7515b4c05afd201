//! Signalbox: pipelines as live graphs.
//!
//! - [`domain`]: the pure core (pipelines, layout, geometry, events, the run reducer); builds
//!   for the server and for wasm32 alike.
//! - [`api`]: wire types shared by both sides, and the server functions the pages call.
//! - [`ui`]: Leptos components, rendered on the server and hydrated in the browser.
//! - [`server`] (feature `ssr`): store, hub, executor, HTTP API, WebSocket, serving.
//! - [`bench`] (feature `ssr`): the load generator behind `signalbox bench`.
//! - [`reporter`] (feature `reporter`, part of `ssr`): progress reports from any Rust program,
//!   non-blocking, batched and retried; also `signalbox report`.
//!
//! The browser entry point is [`hydrate`]; the server's is `main.rs`.
#![recursion_limit = "256"]

pub mod api;
#[cfg(feature = "ssr")]
pub mod bench;
pub mod domain;
#[cfg(feature = "reporter")]
pub mod reporter;
#[cfg(feature = "ssr")]
pub mod server;
pub mod ui;

/// Browser entry point: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    ui::hydrate(ui::App);
}
