//! Who a request acts for, found by the authentication guard and handed to every handler and
//! server function through the request's extensions.

use super::claims::Scope;
use super::role::{Action, Role};
use crate::server::error::AppError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// What the caller proved, and so what signing out or revoking ends.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Grant {
    /// Authentication is off (loopback, no secret): the laptop's owner.
    Local,
    /// An API token, by its `jti`.
    Token(String),
    /// A browser session, by the hash of its cookie.
    Session(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Principal {
    pub user: String,
    pub tenant: String,
    pub role: Role,
    pub grant: Grant,
    /// For reporters: the runs they may report on.
    pub scope: Scope,
    /// When the token or session ends (seconds since the epoch); live connections close then.
    pub expires: Option<i64>,
}

/// The one tenant of a server without tenants configured, and of the laptop.
pub const DEFAULT_TENANT: &str = "default";

impl Principal {
    /// The laptop's owner when authentication is off: may do everything.
    pub fn local() -> Principal {
        Principal {
            user: "local".to_owned(),
            tenant: DEFAULT_TENANT.to_owned(),
            role: Role::Admin,
            grant: Grant::Local,
            scope: Scope::default(),
            expires: None,
        }
    }

    /// `Err(403)` naming the role and the action, unless the role allows it.
    pub fn require(&self, action: Action) -> Result<(), AppError> {
        if self.role.allows(action) {
            Ok(())
        } else {
            Err(AppError::Forbidden(self.role.refusal(action)))
        }
    }

    /// `Err(403)` unless the caller may report on this run (of `pipeline`, if any).
    pub fn require_ingest(&self, run: &str, pipeline: Option<&str>) -> Result<(), AppError> {
        self.require(Action::Ingest)?;
        if self.scope.covers(run, pipeline) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "this token may not report on run `{run}`"
            )))
        }
    }
}

/// The authenticated caller, as an extractor. The guard put it in the request; a route that is
/// reached without one is a wiring mistake, answered 401 rather than served.
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| AppError::Unauthorized("sign in or send a bearer token".into()))
    }
}
