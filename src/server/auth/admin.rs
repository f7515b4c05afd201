//! The admin API: issue, list and revoke tokens; read the audit trail.
//! `POST /api/v1/tokens`, `GET /api/v1/tokens`, `DELETE /api/v1/tokens/{jti}`,
//! `GET /api/v1/audit`.

use super::issue::{issue_token, IssueError, IssuedToken, TokenRequest};
use super::{Action, Caller};
use crate::api::AuditEntry;
use crate::api::AuditFilter;
use crate::server::error::AppError;
use crate::server::extract::{ApiQuery, Body};
use crate::server::openapi::{ErrorBody, Refusals};
use crate::server::state::AppState;
use crate::server::store::TokenRecord;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

/// `{"tokens": [...]}`
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenRecord>,
}

/// `{"entries": [...]}`
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tokens", get(list_tokens).post(create_token))
        .route("/tokens/{jti}", delete(revoke_token))
        .route("/audit", get(audit))
}

#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = TokenRequest,
    responses(
        (status = 201, description = "The token, shown this once", body = IssuedToken),
        (status = 422, description = "A bad user, role, lifetime or scope", body = ErrorBody),
        Refusals,
    ))]
pub(crate) async fn create_token(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Body(body): Body,
) -> Result<Response, AppError> {
    caller.require(Action::Administer)?;
    let keys = state.auth.keys().ok_or_else(|| {
        AppError::Conflict(
            "authentication is off on this server (loopback, no secret): tokens are not used"
                .into(),
        )
    })?;
    let request: TokenRequest = serde_json::from_slice(&body)
        .map_err(|e| AppError::BadRequest(format!("invalid token request: {e}")))?;
    let request = request.check(&caller.tenant).map_err(|e| match e {
        IssueError::Invalid(message) => AppError::Unprocessable(message),
        other => AppError::Internal(other.to_string()),
    })?;
    let issued = issue_token(keys, state.auth.store(), &caller.user, request).await?;
    tracing::info!(by = %caller.user, user = %issued.user, role = %issued.role, jti = %issued.jti, "token issued");
    Ok((StatusCode::CREATED, Json(issued)).into_response())
}

#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens",
    responses(
        (status = 200, description = "The tenant's tokens (never the tokens themselves)", body = TokenList),
        Refusals,
    ))]
pub(crate) async fn list_tokens(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Response, AppError> {
    caller.require(Action::Administer)?;
    let tokens = state.auth.store().tokens(&caller.tenant).await?;
    Ok(Json(TokenList { tokens }).into_response())
}

#[utoipa::path(delete, path = "/api/v1/tokens/{jti}", tag = "tokens",
    params(("jti" = String, Path, description = "The token's id")),
    responses(
        (status = 200, description = "Revoked: its sessions ended, its live connections closed"),
        (status = 404, description = "No such token in the tenant", body = ErrorBody),
        Refusals,
    ))]
pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(jti): Path<String>,
) -> Result<Response, AppError> {
    caller.require(Action::Administer)?;
    if !state.auth.revoke(&caller, &jti).await? {
        return Err(AppError::NotFound(format!("no token `{jti}`")));
    }
    tracing::info!(by = %caller.user, %jti, "token revoked");
    Ok(Json(json!({ "jti": jti, "revoked": true })).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    before: Option<i64>,
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses(
        (status = 200, description = "Audit entries, newest first", body = AuditPage),
        Refusals,
    ))]
pub(crate) async fn audit(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Response, AppError> {
    caller.require(Action::Administer)?;
    let filter = AuditFilter {
        actor: q.actor.filter(|a| !a.is_empty()),
        action: q.action.filter(|a| !a.is_empty()),
        before: q.before,
        limit: q.limit.unwrap_or(100).clamp(1, 1000),
    };
    let entries = state.auth.store().audit(&caller.tenant, &filter).await?;
    Ok(Json(AuditPage { entries }).into_response())
}
