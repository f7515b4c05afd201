//! The authentication middleware: finds the caller of every request (or refuses it) before
//! any handler runs, and hands it on in the request's extensions ([`super::Caller`]).
//! Pages send people without a session to the sign-in page; the API and server functions
//! answer 401.

use super::{Action, Auth, SESSION_COOKIE};
use crate::api::QUERY_VALUE;
use crate::server::error::AppError;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use percent_encoding::utf8_percent_encode;
use std::sync::Arc;

/// Reachable without signing in: the sign-in page and its form, health checks, the API's
/// description, and the site's static files (none of which hold data).
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/login"
            | "/auth/login"
            | "/healthz"
            | "/readyz"
            | "/metrics"
            | "/favicon.svg"
            | "/favicon.ico"
            | "/api/v1/openapi.json"
    ) || path.starts_with("/pkg/")
}

/// A page people open in a browser (not the API, a server function or a form endpoint).
fn is_page(path: &str) -> bool {
    !(path.starts_with("/api/") || path.starts_with("/fn/") || path.starts_with("/auth/"))
}

/// `/login?next=<where they were going>`.
fn sign_in_redirect(path_and_query: &str) -> String {
    format!(
        "/login?next={}",
        utf8_percent_encode(path_and_query, QUERY_VALUE)
    )
}

/// Clears the session cookie (a stale cookie would otherwise be sent, and refused, forever).
pub fn clear_session_cookie() -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
    ))
    .expect("a valid header value")
}

pub async fn authenticate(
    State(auth): State<Arc<Auth>>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if is_public(path) {
        return next.run(request).await;
    }
    let page = is_page(path) && request.method() == Method::GET;
    match auth.authenticate(request.headers()).await {
        Ok(Some(principal)) => {
            if page && !principal.role.allows(Action::View) {
                return (StatusCode::FORBIDDEN, principal.role.refusal(Action::View))
                    .into_response();
            }
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Ok(None) if page => {
            let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
            Redirect::to(&sign_in_redirect(target)).into_response()
        }
        Ok(None) => {
            AppError::Unauthorized("sign in or send `Authorization: Bearer <token>`".into())
                .into_response()
        }
        Err(refusal @ AppError::Unauthorized(_)) => {
            let mut response = if page {
                Redirect::to(&sign_in_redirect(
                    request.uri().path_and_query().map_or("/", |p| p.as_str()),
                ))
                .into_response()
            } else {
                refusal.into_response()
            };
            response
                .headers_mut()
                .append(header::SET_COOKIE, clear_session_cookie());
            response
        }
        // The database failed, say: the session may be fine, so it is kept.
        Err(failure) => failure.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_sign_in_page_health_and_static_files_are_public() {
        for path in ["/login", "/auth/login", "/healthz", "/pkg/signalbox.wasm"] {
            assert!(is_public(path), "{path}");
        }
        for path in [
            "/",
            "/runs/x",
            "/api/v1/runs",
            "/fn/load_run",
            "/auth/logout",
            "/audit",
        ] {
            assert!(!is_public(path), "{path}");
        }
    }

    #[test]
    fn the_way_back_is_encoded_whole() {
        assert_eq!(
            sign_in_redirect("/runs/a?step=b&x=1"),
            "/login?next=/runs/a%3Fstep%3Db%26x%3D1"
        );
    }
}
