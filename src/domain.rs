//! The pure core of Signalbox: pipeline model and validation, graph layout and geometry, events
//! and the run reducer. Nothing here touches I/O, time sources, Leptos, axum or the browser, so
//! the same code compiles natively (server, tests) and for wasm32 (the browser applies live
//! events with exactly the reducer the server uses to build snapshots).

pub mod duration;
pub mod eta;
pub mod event;
pub mod fan_out;
pub mod geometry;
pub mod graph;
pub mod layout;
pub mod log;
pub mod pipeline;
pub mod plan;
pub mod run;
pub mod status;

pub use event::{EventError, EventKind, NewEvent, Seq, StoredEvent};
pub use graph::{Graph, GraphError, GraphStep};
pub use layout::{EdgePath, Layout, NodeBox};
pub use log::LogLine;
pub use pipeline::{ParamSpec, Pipeline, PipelineError, Step};
pub use plan::{Plan, PlannedAction, PlannedStep};
pub use run::{ApplyError, RunState, RunSummary, StepState};
pub use status::Status;
