//! Wire types shared by server and browser, and the server functions the pages call.

pub mod frames;
pub mod functions;
pub mod security;
pub mod views;

pub use frames::{ClientOp, OpKind, Position, Resync, ServerFrame, SystemSample};
pub use security::{Access, AuditEntry, AuditFilter, Viewer};
pub use views::{PipelineCard, PipelineView, RunView, RunsPage, RunsQuery};
