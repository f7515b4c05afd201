//! The HTTP API under `/api/v1` (PROTOCOL.md): pipelines, runs, events (JSON or SSE), logs,
//! cancel, and the WebSocket's handshake.

use super::auth::{Action, Caller, Grant};
use super::commands::{
    cancel_run, create_adhoc_run, plan_pipeline_run, retry_run, start_pipeline_run,
};
use super::error::AppError;
use super::extract::{ApiQuery, Body, MAX_BODY_BYTES};
use super::feed::Resume;
use super::ingest::parse_ingest_body;
use super::openapi::{
    ErrorBody, EventPage, IngestAnswer, IngestBody, LogPage, PipelineDetail, Refusals, RunSnapshot,
};
use super::sse::{last_event_id, stream_run, wants_event_stream};
use super::state::AppState;
use super::store::RunFilter;
use super::tenants::Tenant;
use super::ws::ws_handler;
use crate::api::{PipelineCard, Position, RunsQuery};
use crate::domain::RunSummary;
use crate::domain::{Graph, GraphStep, Plan, Seq};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Most events or log lines one read returns.
const MAX_PAGE: u32 = 10_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/pipelines", get(list_pipelines))
        .route("/pipelines/{id}", get(get_pipeline))
        .route("/pipelines/{id}/plan", post(post_plan))
        .route("/runs", get(list_runs).post(create_run))
        .route("/runs/{id}", get(get_run))
        .route("/runs/{id}/events", get(get_events).post(post_events))
        .route("/runs/{id}/steps/{step}/logs", get(get_logs))
        .route("/runs/{id}/cancel", post(post_cancel))
        .route("/runs/{id}/retry", post(post_retry))
        .route("/ws", get(ws_handler))
        .merge(super::auth::admin::router())
        .route("/openapi.json", get(super::openapi::document))
        .fallback(unknown_endpoint)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

async fn unknown_endpoint() -> AppError {
    AppError::NotFound("no such API endpoint (see /api/v1 in the README)".into())
}

async fn method_not_allowed() -> Response {
    let body = json!({ "error": { "code": "method_not_allowed", "message": "this endpoint does not accept that method" } });
    (StatusCode::METHOD_NOT_ALLOWED, Json(body)).into_response()
}

#[utoipa::path(get, path = "/api/v1/pipelines", tag = "pipelines",
    responses(
        (status = 200, description = "The caller's tenant's pipelines", body = Vec<PipelineCard>),
        Refusals,
    ))]
pub(crate) async fn list_pipelines(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<Vec<PipelineCard>>, AppError> {
    caller.require(Action::View)?;
    let tenant = state.tenants.get(&caller.tenant).await?;
    Ok(Json(
        tenant
            .catalog
            .all()
            .map(|p| PipelineCard::from(p.as_ref()))
            .collect(),
    ))
}

#[utoipa::path(get, path = "/api/v1/pipelines/{id}", tag = "pipelines",
    params(("id" = String, Path, description = "Pipeline id")),
    responses(
        (status = 200, description = "The pipeline and its layout", body = PipelineDetail),
        (status = 404, description = "No such pipeline", body = ErrorBody),
        Refusals,
    ))]
pub(crate) async fn get_pipeline(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    caller.require(Action::View)?;
    let tenant = state.tenants.get(&caller.tenant).await?;
    let entry = tenant
        .catalog
        .get(&id)
        .ok_or_else(|| AppError::NotFound(format!("no pipeline `{id}`")))?;
    Ok(Json(
        json!({ "pipeline": entry.pipeline, "layout": entry.layout.as_ref() }),
    ))
}

/// `POST /pipelines/{id}/plan` body: the parameters a run would get.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlanRequest {
    #[serde(default)]
    params: BTreeMap<String, String>,
}

/// A dry run: what a run with these parameters would do, executing nothing (a viewer may ask).
#[utoipa::path(post, path = "/api/v1/pipelines/{id}/plan", tag = "pipelines",
    params(("id" = String, Path, description = "Pipeline id")),
    request_body = PlanRequest,
    responses(
        (status = 200, description = "The execution plan", body = Plan),
        (status = 400, description = "Malformed", body = ErrorBody),
        (status = 404, description = "No such pipeline", body = ErrorBody),
        (status = 422, description = "Bad parameters", body = ErrorBody),
        Refusals,
    ))]
pub(crate) async fn post_plan(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<Json<Plan>, AppError> {
    caller.require(Action::View)?;
    let request: PlanRequest = if body.iter().all(u8::is_ascii_whitespace) {
        PlanRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| AppError::BadRequest(format!("invalid plan request: {e}")))?
    };
    let tenant = state.tenants.get(&caller.tenant).await?;
    Ok(Json(plan_pipeline_run(&tenant, &id, &request.params)?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    pipeline: Option<String>,
    status: Option<String>,
    /// Runs created on this day (UTC), `YYYY-MM-DD`.
    day: Option<String>,
    /// Paging: runs older than this run id.
    before: Option<String>,
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/runs", tag = "runs", params(ListQuery),
    responses(
        (status = 200, description = "Run history, newest first", body = Vec<RunSummary>),
        (status = 400, description = "A bad filter", body = ErrorBody),
        Refusals,
    ))]
pub(crate) async fn list_runs(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, AppError> {
    caller.require(Action::View)?;
    let query = RunsQuery {
        pipeline: q.pipeline,
        status: q.status,
        day: q.day,
        before: q.before,
    };
    let filter = RunFilter::from_query(&query, q.limit.unwrap_or(50).clamp(1, 1000))
        .map_err(AppError::BadRequest)?;
    let tenant = state.tenants.get(&caller.tenant).await?;
    Ok(Json(tenant.runs.list(&filter).await?).into_response())
}

/// `POST /runs` body: a pipeline run, or an ad-hoc run reported by a producer.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateRun {
    pipeline: Option<String>,
    #[serde(default)]
    params: BTreeMap<String, String>,
    id: Option<String>,
    name: Option<String>,
    steps: Option<Vec<AdhocStep>>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdhocStep {
    id: String,
    name: Option<String>,
    kind: Option<String>,
    #[serde(default)]
    needs: Vec<String>,
    weight: Option<f64>,
}

/// Starting a pipeline is an operator's action; creating an ad-hoc run is a reporter's (one
/// scoped to named runs must name the run it creates).
#[utoipa::path(post, path = "/api/v1/runs", tag = "runs", request_body = CreateRun,
    responses(
        (status = 201, description = "Created (and started, for a pipeline)", body = RunSummary),
        (status = 200, description = "A run with this `id` exists: it is returned", body = RunSummary),
        (status = 400, description = "Malformed", body = ErrorBody),
        (status = 404, description = "No such pipeline", body = ErrorBody),
        (status = 422, description = "Bad parameters, id or graph", body = ErrorBody),
        Refusals,
    ))]
pub(crate) async fn create_run(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Body(body): Body,
) -> Result<Response, AppError> {
    let request: CreateRun = serde_json::from_slice(&body)
        .map_err(|e| AppError::BadRequest(format!("invalid run request: {e}")))?;
    let tenant = state.tenants.get(&caller.tenant).await?;
    let (summary, created) = match (request.pipeline, request.steps) {
        (Some(pipeline), None) => {
            caller.require(Action::Operate)?;
            start_pipeline_run(
                &state,
                &tenant,
                &caller,
                &pipeline,
                &request.params,
                request.id,
            )
            .await?
        }
        (None, Some(steps)) => {
            caller.require_ingest(request.id.as_deref().unwrap_or(""), None)?;
            let graph = Graph {
                steps: steps
                    .into_iter()
                    .map(|s| GraphStep {
                        name: s.name.unwrap_or_else(|| s.id.clone()),
                        kind: s.kind.unwrap_or_default(),
                        needs: s.needs,
                        weight: s.weight.unwrap_or(1.0),
                        id: s.id,
                    })
                    .collect(),
            };
            create_adhoc_run(&tenant, request.id, request.name, graph).await?
        }
        (Some(_), Some(_)) => {
            return Err(AppError::BadRequest(
                "give either `pipeline` or `steps`, not both".into(),
            ))
        }
        (None, None) => {
            return Err(AppError::BadRequest(
                "missing field `pipeline` (or `steps` for an ad-hoc run)".into(),
            ))
        }
    };
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(summary)).into_response())
}

#[utoipa::path(get, path = "/api/v1/runs/{id}", tag = "runs",
    params(("id" = String, Path, description = "Run id")),
    responses(
        (status = 200, description = "The run's snapshot", body = RunSnapshot),
        (status = 404, description = "No such run", body = ErrorBody),
        Refusals,
    ))]
pub(crate) async fn get_run(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    caller.require(Action::View)?;
    let tenant = state.tenants.get(&caller.tenant).await?;
    let snapshot = tenant.runs.snapshot(&id).await?;
    let percent = snapshot.state.percent();
    let mut body =
        serde_json::to_value(snapshot.state).map_err(|e| AppError::Internal(e.to_string()))?;
    body["percent"] = json!(percent);
    body["epoch"] = json!(snapshot.epoch);
    Ok(Json(body).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct EventsQuery {
    /// Kept as text so a bad value gets a message naming the field and the range.
    since: Option<String>,
    epoch: Option<String>,
    limit: Option<u32>,
}

/// A seq from a query string: a whole number from 0 to 2^64-1, never wrapped.
fn parse_seq(field: &str, text: &str) -> Result<Seq, AppError> {
    text.trim().parse::<Seq>().map_err(|_| {
        AppError::BadRequest(format!(
            "`{field}` must be a whole number from 0 to {}, got `{text}`",
            Seq::MAX
        ))
    })
}

#[utoipa::path(get, path = "/api/v1/runs/{id}/events", tag = "events",
    params(("id" = String, Path, description = "Run id"), EventsQuery),
    responses(
        (status = 200, description = "Stored events after `since` (with `Accept: text/event-stream`: Server-Sent Events that continue live)", body = EventPage),
        (status = 400, description = "A bad position", body = ErrorBody),
        (status = 404, description = "No such run", body = ErrorBody),
        Refusals,
    ))]
pub(crate) async fn get_events(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Result<Response, AppError> {
    caller.require(Action::View)?;
    let since = q
        .since
        .as_deref()
        .map(|s| parse_seq("since", s))
        .transpose()?;
    if wants_event_stream(&headers) {
        // `Last-Event-ID` (a reconnecting EventSource) wins over the URL's `since`; with
        // neither, the stream starts with a snapshot.
        let since = last_event_id(&headers).or(since.map(Position::At));
        let resume = Resume {
            since,
            epoch: q.epoch,
        };
        return stream_run(state, &caller, id, resume).await;
    }
    let tenant = state.tenants.get(&caller.tenant).await?;
    let current = tenant.runs.snapshot(&id).await?;
    let events = tenant
        .runs
        .events_since(
            &id,
            since.unwrap_or(0),
            q.limit.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE),
        )
        .await?;
    let body =
        json!({ "run": id, "seq": current.state.seq, "epoch": current.epoch, "events": events });
    Ok(Json(body).into_response())
}

#[utoipa::path(post, path = "/api/v1/runs/{id}/events", tag = "events",
    params(("id" = String, Path, description = "Run id")), request_body = IngestBody,
    responses(
        (status = 200, description = "Durably stored (a known event `id` answers its original seq)", body = IngestAnswer),
        (status = 400, description = "A bad item, named with its field; nothing stored", body = ErrorBody),
        (status = 404, description = "No such run", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 422, description = "An event that does not fit the run; nothing stored", body = ErrorBody),
        (status = 429, description = "Over the token's ingest rate", body = ErrorBody),
        Refusals,
    ))]
pub(crate) async fn post_events(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<Response, AppError> {
    caller.require(Action::Ingest)?;
    let tenant = state.tenants.get(&caller.tenant).await?;
    if !caller.scope.covers(&id, None) {
        let pipeline = tenant.runs.snapshot(&id).await?.state.pipeline;
        caller.require_ingest(&id, pipeline.as_deref())?;
    }
    let items = parse_ingest_body(&body).map_err(AppError::BadRequest)?;
    let limited = match &caller.grant {
        Grant::Local => None,
        Grant::Token(jti) => Some(jti.as_str()),
        Grant::Session(id_hash) => Some(id_hash.as_str()),
    };
    if let Some(key) = limited {
        state.auth.rates.ingest(key, items.len())?;
    }
    let seqs = tenant.runs.ingest(&id, items).await?;
    Ok(Json(json!({ "run": id, "seqs": seqs })).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LogsQuery {
    after: Option<String>,
    limit: Option<u32>,
    /// `text`: the whole log (after `after`) as a plain-text download.
    format: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/runs/{id}/steps/{step}/logs", tag = "logs",
    params(("id" = String, Path, description = "Run id"), ("step" = String, Path, description = "Step id"), LogsQuery),
    responses(
        (status = 200, description = "Log lines after `after` (with `format=text`: all of them as a text file)", body = LogPage),
        (status = 404, description = "No such run or step", body = ErrorBody),
        Refusals,
    ))]
pub(crate) async fn get_logs(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((id, step)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<LogsQuery>,
) -> Result<Response, AppError> {
    caller.require(Action::View)?;
    let tenant = state.tenants.get(&caller.tenant).await?;
    let current = tenant.runs.snapshot(&id).await?.state;
    if !current.steps.contains_key(&step) {
        return Err(AppError::NotFound(format!(
            "run `{id}` has no step `{step}`"
        )));
    }
    let after = q
        .after
        .as_deref()
        .map(|a| parse_seq("after", a))
        .transpose()?
        .unwrap_or(0);
    match q.format.as_deref() {
        None | Some("json") => {}
        Some("text") => return Ok(log_download(tenant, id, step, after)),
        Some(other) => {
            return Err(AppError::BadRequest(format!(
                "`format`: expected `json` or `text`, got `{other}`"
            )))
        }
    }
    let lines = tenant
        .runs
        .logs_after(
            &id,
            &step,
            after,
            q.limit.unwrap_or(1000).clamp(1, MAX_PAGE),
        )
        .await?;
    Ok(Json(json!({ "run": id, "step": step, "lines": lines })).into_response())
}

/// A step's whole log as a text file, read and sent a page at a time (a log of millions of
/// lines never sits in memory at once).
fn log_download(tenant: Arc<Tenant>, run: String, step: String, after: u64) -> Response {
    let file = format!("{run}-{step}.log");
    let pages = futures::stream::unfold(Some(after), move |next| {
        let (tenant, run, step) = (Arc::clone(&tenant), run.clone(), step.clone());
        async move {
            let after = next?;
            match tenant.runs.logs_after(&run, &step, after, MAX_PAGE).await {
                Ok(lines) if lines.is_empty() => None,
                Ok(lines) => {
                    let last = lines.last().map(|l| l.n);
                    let text: String = lines.iter().map(|l| format!("{}\n", l.line)).collect();
                    Some((Ok::<_, std::io::Error>(text), last))
                }
                Err(error) => Some((Err(std::io::Error::other(error.to_string())), None)),
            }
        }
    });
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        // Fused: a layer may poll the body once more after its end.
        axum::body::Body::from_stream(futures::StreamExt::fuse(pages)),
    )
        .into_response()
}

#[utoipa::path(post, path = "/api/v1/runs/{id}/cancel", tag = "runs",
    params(("id" = String, Path, description = "Run id")),
    responses(
        (status = 200, description = "The run as the cancel left it", body = RunSummary),
        (status = 404, description = "No such run", body = ErrorBody),
        (status = 409, description = "The run already finished", body = ErrorBody),
        Refusals,
    ))]
pub(crate) async fn post_cancel(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    caller.require(Action::Operate)?;
    let tenant = state.tenants.get(&caller.tenant).await?;
    Ok(Json(cancel_run(&state, &tenant, &caller, &id).await?).into_response())
}

#[utoipa::path(post, path = "/api/v1/runs/{id}/retry", tag = "runs",
    params(("id" = String, Path, description = "The run to retry")),
    responses(
        (status = 201, description = "A new run of the same pipeline with the same parameters", body = RunSummary),
        (status = 404, description = "No such run", body = ErrorBody),
        (status = 409, description = "The run is still going", body = ErrorBody),
        (status = 422, description = "An ad-hoc run (its producer retries it)", body = ErrorBody),
        Refusals,
    ))]
pub(crate) async fn post_retry(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    caller.require(Action::Operate)?;
    let tenant = state.tenants.get(&caller.tenant).await?;
    let summary = retry_run(&state, &tenant, &caller, &id).await?;
    Ok((StatusCode::CREATED, Json(summary)).into_response())
}
