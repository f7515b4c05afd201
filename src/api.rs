//! Wire types shared by server and browser, and the server functions the pages call.

pub mod board;
pub mod frames;
pub mod functions;
pub mod page_state;
pub mod security;
pub mod views;

/// What a query value must encode: everything but unreserved characters and `/` (so the way
/// back stays readable: `next=/runs/nightly-import`).
pub const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

pub use board::{BoardPipeline, BoardView, Stage, BOARD_ROWS};
pub use frames::{ClientOp, OpKind, Position, Resync, ServerFrame, SystemSample};
pub use page_state::PageState;
pub use security::{Access, AuditEntry, AuditFilter, Viewer};
pub use views::{PastStep, PipelineCard, PipelineView, RunView, RunsPage, RunsQuery};
