//! The OpenAPI document of the HTTP API (`GET /api/v1/openapi.json`), generated from the
//! handlers' `#[utoipa::path]` annotations and the wire types' schemas. The few shapes that
//! are assembled as JSON in the handlers (answers wrapping a list, the ingest body, errors)
//! are described here.

use super::auth::admin;
use super::http;
use crate::api::{AuditEntry, PipelineCard};
use crate::domain::{
    EventKind, LogLine, NewEvent, ParamSpec, Plan, PlannedAction, PlannedStep, RunState,
    RunSummary, Status, StepState, StoredEvent,
};
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// Every error: `{"error": {"code": "not_found", "message": "no run `x`"}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// `not_found`, `bad_request`, `unprocessable`, `conflict`, `unauthorized`, `forbidden`,
    /// `rate_limited`, `payload_too_large`, `unsupported_media_type`, `internal`.
    pub code: String,
    /// What is wrong, naming the field.
    pub message: String,
}

/// The refusals every endpoint may answer.
#[derive(utoipa::IntoResponses)]
pub enum Refusals {
    #[response(status = 401, description = "No or bad credentials")]
    Unauthorized(ErrorBody),
    #[response(status = 403, description = "The role may not do this")]
    Forbidden(ErrorBody),
}

/// A pipeline with its computed layout.
#[derive(Serialize, ToSchema)]
pub struct PipelineDetail {
    pub pipeline: Value,
    /// Node boxes, edge paths and the view box.
    pub layout: Value,
}

/// A run's snapshot: its state as of `seq`, the history it belongs to, its weighted percent.
#[derive(Serialize, ToSchema)]
pub struct RunSnapshot {
    #[serde(flatten)]
    pub state: RunState,
    pub percent: f64,
    pub epoch: String,
}

/// Stored events after `since`.
#[derive(Serialize, ToSchema)]
pub struct EventPage {
    pub run: String,
    /// The run's latest seq.
    pub seq: u64,
    pub epoch: String,
    pub events: Vec<StoredEvent>,
}

/// One item of an ingest body: an event, or a batch of log lines.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum IngestItem {
    Event(NewEvent),
    Logs(LogBatch),
}

/// `{"type": "step.log", "step": "build", "lines": ["..."], "stream": "stdout"}`
#[derive(Serialize, ToSchema)]
pub struct LogBatch {
    /// Always `step.log`.
    #[serde(rename = "type")]
    pub kind: String,
    pub step: String,
    pub lines: Vec<String>,
    /// `stdout` (default), `stderr` or `system`.
    pub stream: Option<String>,
}

/// One item or an array of them (at most 5,000).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum IngestBody {
    One(IngestItem),
    Many(Vec<IngestItem>),
}

/// Each item's seq, in order (`null` for log batches).
#[derive(Serialize, ToSchema)]
pub struct IngestAnswer {
    pub run: String,
    pub seqs: Vec<Option<u64>>,
}

/// Log lines after `after`.
#[derive(Serialize, ToSchema)]
pub struct LogPage {
    pub run: String,
    pub step: String,
    pub lines: Vec<LogLine>,
}

/// API tokens go in `Authorization: Bearer <token>`.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Signalbox API", description = "Pipelines as live graphs: runs, events, logs, tokens and the audit trail. The live stream (`/api/v1/ws`) and SSE are described in the README."),
    paths(
        http::list_pipelines,
        http::get_pipeline,
        http::post_plan,
        http::list_runs,
        http::create_run,
        http::get_run,
        http::get_events,
        http::post_events,
        http::get_logs,
        http::post_cancel,
        http::post_retry,
        admin::create_token,
        admin::list_tokens,
        admin::revoke_token,
        admin::audit,
    ),
    components(schemas(
        ErrorBody, ErrorDetail, PipelineDetail, RunSnapshot, EventPage, IngestBody, IngestItem,
        LogBatch, IngestAnswer, LogPage, PipelineCard, ParamSpec, RunSummary, RunState,
        StepState, Status, EventKind, NewEvent, StoredEvent, LogLine, AuditEntry,
        admin::TokenList, admin::AuditPage, crate::server::auth::issue::TokenRequest,
        crate::server::auth::issue::IssuedToken, crate::server::store::TokenRecord,
        crate::server::auth::Role, http::CreateRun, http::AdhocStep, http::PlanRequest, Plan,
        PlannedStep, PlannedAction,
    )),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

/// `GET /api/v1/openapi.json`
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
