//! What keeps one bad request from hurting the others: a request still unanswered after a
//! bound gets a 503, and a handler that panics gets the API's 500 while the server lives on.

use super::error::AppError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::any::Any;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

/// Longest a request may take to be answered (a cancel waits up to 10 s for the executor).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// `router` with every request bounded by `timeout` (live streams answer at once, so their
/// long life is not bounded by it) and panics answered as internal errors.
pub fn resilient(router: Router, timeout: Duration) -> Router {
    router
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ))
        .layer(CatchPanicLayer::custom(panicked))
}

/// The API's error answer for a panic; what the panic said goes to the log only.
fn panicked(panic: Box<dyn Any + Send + 'static>) -> Response {
    let said = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message");
    AppError::Internal(format!("handler panicked: {said}")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{to_bytes, Body};
    use axum::http::Request;
    use axum::routing::get;
    use tower::ServiceExt;

    fn app() -> Router {
        let routes = Router::new()
            .route(
                "/slow",
                get(|| tokio::time::sleep(Duration::from_secs(3600))),
            )
            .route("/panic", get(|| async { panic!("boom") as &'static str }))
            .route("/fine", get(|| async { "fine" }));
        resilient(routes, Duration::from_secs(30))
    }

    async fn ask(app: &Router, path: &str) -> (StatusCode, String) {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = to_bytes(response.into_body(), 1 << 16).await.unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_that_takes_too_long_gets_503() {
        let app = app();
        let (status, _) = ask(&app, "/slow").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(ask(&app, "/fine").await, (StatusCode::OK, "fine".into()));
    }

    #[tokio::test]
    async fn a_panicking_handler_gets_500_and_the_others_go_on() {
        let app = app();
        let (status, body) = ask(&app, "/panic").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error"]["code"], "internal");
        assert!(
            !body.to_string().contains("boom"),
            "what the panic said stays in the log: {body}"
        );
        assert_eq!(ask(&app, "/fine").await, (StatusCode::OK, "fine".into()));
    }
}
