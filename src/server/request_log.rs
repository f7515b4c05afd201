//! Request tracing (see `serve::router`): every request gets an id (`x-request-id`, kept if
//! the client or a proxy sent one, echoed in the response) and a span with its method, path
//! and query string, whose values are redacted unless known to be harmless: a query value may
//! be a token (a sign-in link carries one; careless clients put bearer tokens there).

use axum::extract::Request;
use tracing::Span;

/// Query parameters whose values are logged as they are: positions, limits and filters.
const HARMLESS: [&str; 11] = [
    "since",
    "after",
    "limit",
    "epoch",
    "step",
    "pipeline",
    "status",
    "actor",
    "action",
    "before",
    "signed_out",
];

/// The query string with every value but the harmless ones replaced by `…`.
pub fn redacted_query(query: Option<&str>) -> String {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) if HARMLESS.contains(&key) => format!("{key}={value}"),
            Some((key, _)) => format!("{key}=…"),
            None => "…".to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The span of one request (`TraceLayer::make_span_with`).
pub fn request_span(request: &Request) -> Span {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        id,
        method = %request.method(),
        path = %request.uri().path(),
        query = %redacted_query(request.uri().query()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_harmless_query_values_are_kept() {
        assert_eq!(
            redacted_query(Some("since=5&link=eyJhbGc.x.y&limit=10&token&next=/runs/a")),
            "since=5&link=…&limit=10&…&next=…"
        );
        assert_eq!(redacted_query(None), "");
    }
}
