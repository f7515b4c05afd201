//! The load generator (`signalbox bench`): measures the live path, ingest and page rendering
//! against a real server, on loopback, bounded in time and count.
//!
//! - [`fanout`]: WebSocket subscribers over many runs, events posted at an open-loop rate;
//!   latency from each event's scheduled send time; loss, duplicates and reordering counted.
//! - [`idle`]: many idle subscribed connections: memory per connection, connects per second.
//! - [`ingest`]: stored events per second with batches of a given size.
//! - [`render`]: server rendering time of big run pages.
//! - [`suite`]: all of them, repeated, as the README's table of medians.
//!
//! By default each measurement starts its own server (this binary, `serve`, a fresh data
//! directory) so it can read the server's CPU time and memory from `/proc`.

pub mod client;
pub mod command;
pub mod fanout;
pub mod idle;
pub mod ingest;
pub mod procfs;
pub mod render;
pub mod stats;
pub mod suite;
pub mod target;
