//! Leptos components: the same code renders on the server (SSR) and hydrates in the browser.

mod app;
mod board;
mod conn;
mod fan_out_panel;
mod format;
mod gantt;
mod graph;
mod hydration;
mod live;
mod pages;
mod panel;
mod plan;
mod run_header;
mod runs_table;
mod sparkline;
mod stage_timeline;
mod system_panel;
mod toasts;
pub(crate) mod user_menu;

pub use app::{shell, App};
#[cfg(feature = "hydrate")]
pub use hydration::hydrate;
