//! Small stroke icons (24-unit grid): one per step kind, one per status, so a node reads
//! without relying on colour.

use crate::domain::Status;

/// Path data for a step kind's icon; unknown kinds get a neutral dot-in-circle.
pub fn kind_icon(kind: &str) -> &'static str {
    match kind {
        "source" | "extract" | "db" | "database" => "M4 6c0-1.7 3.6-3 8-3s8 1.3 8 3-3.6 3-8 3-8-1.3-8-3zM4 6v12c0 1.7 3.6 3 8 3s8-1.3 8-3V6M4 12c0 1.7 3.6 3 8 3s8-1.3 8-3",
        "transform" => "M4 7h13l-3-3M20 17H7l3 3",
        "sink" | "load" => "M12 3v11m-4-4 4 4 4-4M4 15v4a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-4",
        "test" | "validate" => "M9 11l2.5 2.5L16 9M4 4h16v16H4z",
        "build" | "compile" => "M14 4l6 6-8 8H6v-6zM11 7l6 6",
        "deploy" | "publish" | "release" => "M12 3c3 2 5 5 5 9l-2 4H9l-2-4c0-4 2-7 5-9zM12 10v.01M9 16l-2 4M15 16l2 4",
        "container" | "package" => "M12 3l8 4.5v9L12 21l-8-4.5v-9zM12 12l8-4.5M12 12v9M12 12L4 7.5",
        "service" | "run" => "M7 4l13 8-13 8z",
        "shutdown" => "M12 3v8M6.3 7a8 8 0 1 0 11.4 0",
        "stop" => "M6 6h12v12H6z",
        "lint" => "M5 6h14M5 12h10M5 18h6",
        "rollback" => "M9 14L4 9l5-5M4 9h10a6 6 0 0 1 0 12h-3",
        "docs" | "report" => "M6 3h9l4 4v14H6zM14 3v5h5M9 13h7M9 17h5",
        _ => "M12 4a8 8 0 1 0 0 16 8 8 0 0 0 0-16zM12 11v2",
    }
}

/// Path data for a status icon.
pub fn status_icon(status: Status) -> &'static str {
    match status {
        Status::Success => "M6 12.5l4 4 8-9",
        Status::Failed => "M7 7l10 10M17 7L7 17",
        Status::Warning => "M12 4l9 16H3zM12 10v4M12 17v.01",
        Status::Running => "M12 4a8 8 0 1 1-8 8",
        Status::Pending => "M12 5a7 7 0 1 0 0 14 7 7 0 0 0 0-14z",
        Status::Skipped => "M5 12h14M13 6l6 6-6 6",
        Status::Cancelled => "M12 4a8 8 0 1 0 0 16 8 8 0 0 0 0-16zM6.5 17.5l11-11",
    }
}
