//! Signing in and out of the browser. The sign-in page posts a token or a one-time link here
//! (a plain form, so it works before the page's script loads); a session cookie comes back.

use super::guard::clear_session_cookie;
use super::Caller;
use crate::api::QUERY_VALUE;
use crate::server::error::AppError;
use crate::server::state::AppState;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use percent_encoding::utf8_percent_encode;
use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

#[derive(Deserialize)]
pub struct SignInForm {
    /// An API token or a one-time sign-in link (or the token in it).
    credential: String,
    /// Where to go once signed in (a path of this site).
    next: Option<String>,
}

/// `next` if it is a path of this site, else the home page (no open redirect). Browsers drop
/// tabs and line breaks from URLs and read `\` as `/`, so a path holding any of them is
/// refused whole (`/<tab>/evil.example` would become `//evil.example`).
fn local_path(next: Option<&str>) -> &str {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.chars().any(|c| c == '\\' || c.is_control()) =>
        {
            path
        }
        _ => "/",
    }
}

pub async fn sign_in(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    Form(form): Form<SignInForm>,
) -> Response {
    let next = local_path(form.next.as_deref()).to_owned();
    if !state.auth.is_required() {
        return Redirect::to(&next).into_response();
    }
    let address = peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| p.0 .0.ip());
    if let Err(refusal) = state.auth.rates.sign_in(address) {
        tracing::warn!(%address, "sign-in attempts over the limit");
        return too_many_attempts(refusal);
    }
    match state.auth.sign_in(&form.credential).await {
        Ok((secret, principal, expires_at)) => {
            tracing::info!(user = %principal.user, role = %principal.role, "signed in");
            let mut response = Redirect::to(&next).into_response();
            if let Ok(cookie) =
                HeaderValue::from_str(&state.auth.session_cookie(&secret, expires_at))
            {
                response.headers_mut().insert(header::SET_COOKIE, cookie);
            }
            response
        }
        Err(error) => {
            tracing::warn!(%address, reason = %error, "sign-in refused");
            Redirect::to(&format!(
                "/login?error={}&next={}",
                error.code(),
                utf8_percent_encode(&next, QUERY_VALUE)
            ))
            .into_response()
        }
    }
}

/// 429 with `Retry-After`, as a page a person can read.
fn too_many_attempts(refusal: AppError) -> Response {
    let seconds = match refusal {
        AppError::TooManyRequests { retry_after, .. } => retry_after.as_secs().max(1),
        _ => 60,
    };
    let mut page = (
        StatusCode::TOO_MANY_REQUESTS,
        Html(format!(
            "<!doctype html><title>Too many attempts · Signalbox</title>\
             <p>Too many sign-in attempts from your address. Wait {seconds} seconds, then \
             <a href=\"/login\">try again</a>.</p>"
        )),
    )
        .into_response();
    page.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    page
}

/// Ends the session, closes its live connections, and goes to the sign-in page.
pub async fn sign_out(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Response, AppError> {
    state.auth.sign_out(&principal).await?;
    let mut response = Redirect::to("/login?signed_out=1").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, clear_session_cookie());
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_site_are_followed_after_sign_in() {
        assert_eq!(local_path(Some("/runs/x?step=a")), "/runs/x?step=a");
        for outside in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/a\\b",
            "runs",
        ] {
            assert_eq!(local_path(Some(outside)), "/", "{outside}");
        }
        assert_eq!(local_path(None), "/");
    }
}
