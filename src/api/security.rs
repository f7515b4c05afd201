//! What the pages show about who is signed in, and the audit trail.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The person (or laptop) the page is shown to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Viewer {
    pub user: String,
    pub role: String,
    pub tenant: String,
    /// Authentication is off: the server listens on loopback without a secret.
    pub local: bool,
}

impl Viewer {
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }
}

/// What the page knows about access: who is signed in, and whether sign-in is on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Access {
    pub viewer: Option<Viewer>,
    pub sign_in_required: bool,
}

/// One entry of the audit trail: who did what to what, and when.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub tenant: String,
    /// `run.start`, `run.cancel`, `sign_in`, `sign_in.failed`, `sign_out`, `token.create`,
    /// `token.revoke`.
    pub action: String,
    pub target: String,
    pub detail: String,
}

/// Which audit entries to show, newest first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    /// Entries older than this id (the next page).
    pub before: Option<i64>,
    pub limit: u32,
}
