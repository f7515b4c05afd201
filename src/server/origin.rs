//! Cross-site protection. A web page the user happens to visit must not be able to start or
//! cancel runs on their Signalbox, nor open its live stream. Browsers say where a request
//! comes from (`Origin`, `Sec-Fetch-Site`); programs such as curl or a CI job send neither and
//! are not a cross-site risk. So:
//!
//! - a mutating request (any method but GET/HEAD/OPTIONS) or a live-stream handshake
//!   (WebSocket upgrade, `Accept: text/event-stream`) from another site is refused with 403;
//! - a mutating API request must not carry a "simple" content type (form, multipart, text), the
//!   kind a page can send cross-site without a CORS preflight: the API speaks JSON;
//! - only host names that cannot be rebound are served: loopback names, IP addresses, and the
//!   hosts of configured origins; so a DNS-rebinding page (whose host name an attacker points
//!   at this server) cannot pass itself off as same-origin.

use super::error::AppError;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use thiserror::Error;

#[derive(Debug, Error)]
#[error("allowed origin `{0}` must look like https://host or http://host:port, without a path")]
pub struct BadOrigin(String);

#[derive(Debug)]
pub struct OriginPolicy {
    /// Configured origins, normalised (`scheme://host[:port]`, lower case). Empty: the
    /// server's own origin only, judged by the request's `Host`.
    allowed: Vec<String>,
}

impl OriginPolicy {
    pub fn new(allowed: &[String]) -> Result<Self, BadOrigin> {
        let allowed = allowed
            .iter()
            .map(|origin| normalise(origin).ok_or_else(|| BadOrigin(origin.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(OriginPolicy { allowed })
    }

    /// Whether a browser page at `origin` may act on this server, for a request sent to `host`.
    fn allows(&self, origin: &str, host: Option<&str>) -> bool {
        let Some(origin) = normalise(origin) else {
            // `Origin: null` (sandboxed frames, file: pages) and garbage.
            return false;
        };
        if !self.allowed.is_empty() {
            return self.allowed.contains(&origin);
        }
        let authority = origin.split_once("://").map_or("", |(_, rest)| rest);
        host.is_some_and(|host| authority.eq_ignore_ascii_case(host))
    }

    /// Host names nobody else can point at this server: loopback names, IP addresses, and the
    /// hosts of configured origins.
    fn serves_host(&self, host: Option<&str>) -> bool {
        let Some(host) = host else { return true };
        let name = host_name(host);
        is_loopback_name(name)
            || is_ip_address(name)
            || self
                .allowed
                .iter()
                .filter_map(|o| o.split_once("://"))
                .any(|(_, authority)| host_name(authority).eq_ignore_ascii_case(name))
    }
}

/// `scheme://host[:port]` in lower case, or `None` when `origin` is not of that form.
fn normalise(origin: &str) -> Option<String> {
    let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    let (scheme, authority) = origin.split_once("://")?;
    let valid = matches!(scheme, "http" | "https")
        && !authority.is_empty()
        && !authority.contains(['/', '?', '#', '@', ' ']);
    valid.then_some(origin)
}

/// The host part of `host[:port]` (brackets kept for IPv6).
fn host_name(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority.split_inclusive(']').next().unwrap_or(authority);
    }
    authority.split(':').next().unwrap_or(authority)
}

fn is_loopback_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name == "[::1]"
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn is_ip_address(name: &str) -> bool {
    name.parse::<std::net::Ipv4Addr>().is_ok()
        || name
            .strip_prefix('[')
            .and_then(|n| n.strip_suffix(']'))
            .is_some_and(|n| n.parse::<std::net::Ipv6Addr>().is_ok())
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Opens a live stream: a WebSocket upgrade or an SSE request.
fn is_stream_handshake(headers: &HeaderMap) -> bool {
    header_str(headers, header::UPGRADE).is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
        || header_str(headers, header::ACCEPT).is_some_and(|v| v.contains("text/event-stream"))
}

/// The check itself, separate from axum for testing: `Err` carries the refusal.
fn check(
    policy: &OriginPolicy,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Result<(), AppError> {
    let host = header_str(headers, header::HOST);
    if !policy.serves_host(host) {
        return Err(AppError::Forbidden(format!(
            "host `{}` is not served: use an IP address or localhost, or add the site's origin \
             with --allowed-origin (this protects against DNS rebinding)",
            host.unwrap_or_default()
        )));
    }
    let mutating = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !mutating && !is_stream_handshake(headers) {
        return Ok(());
    }
    let origin = header_str(headers, header::ORIGIN);
    let fetch_site = header_str(
        headers,
        "sec-fetch-site".parse().expect("valid header name"),
    );
    let cross_site = match (fetch_site, origin) {
        (Some("same-origin" | "none"), _) => false,
        (_, Some(origin)) => !policy.allows(origin, host),
        // Sec-Fetch-Site says another site, and no Origin to prove it is an allowed one.
        (Some(_), None) => true,
        // Neither header: not a browser page.
        (None, None) => false,
    };
    if cross_site {
        return Err(AppError::Forbidden(format!(
            "cross-site request refused (Origin `{}`); allow an origin with --allowed-origin",
            origin.unwrap_or("none")
        )));
    }
    if mutating && path.starts_with("/api/") {
        let content_type = header_str(headers, header::CONTENT_TYPE).unwrap_or("");
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let simple = matches!(
            essence.as_str(),
            "text/plain" | "application/x-www-form-urlencoded" | "multipart/form-data"
        );
        if simple || !(essence.is_empty() || essence == "application/json") {
            return Err(AppError::UnsupportedMediaType(format!(
                "`Content-Type` must be application/json, got `{content_type}`"
            )));
        }
    }
    Ok(())
}

/// The axum middleware applying [`check`] to every request.
pub async fn guard(
    State(policy): State<Arc<OriginPolicy>>,
    request: Request,
    next: Next,
) -> Response {
    match check(
        &policy,
        request.method(),
        request.uri().path(),
        request.headers(),
    ) {
        Ok(()) => next.run(request).await,
        Err(refusal) => {
            tracing::warn!(
                method = %request.method(),
                path = %request.uri().path(),
                reason = %refusal,
                "request refused"
            );
            refusal.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    fn local() -> OriginPolicy {
        OriginPolicy::new(&[]).unwrap()
    }

    const HOST: (&str, &str) = ("host", "127.0.0.1:3000");
    const JSON: (&str, &str) = ("content-type", "application/json");

    #[test]
    fn programs_without_browser_headers_pass() {
        let ok = check(
            &local(),
            &Method::POST,
            "/api/v1/runs",
            &headers(&[HOST, JSON]),
        );
        assert!(ok.is_ok());
        let no_body = check(
            &local(),
            &Method::POST,
            "/api/v1/runs/r/cancel",
            &headers(&[HOST]),
        );
        assert!(no_body.is_ok());
    }

    #[test]
    fn same_origin_pages_pass_and_other_sites_are_refused() {
        let post = |extra: &[(&'static str, &str)]| {
            let mut all = vec![HOST, JSON];
            all.extend_from_slice(extra);
            check(&local(), &Method::POST, "/api/v1/runs", &headers(&all))
        };
        assert!(post(&[("origin", "http://127.0.0.1:3000")]).is_ok());
        assert!(post(&[("sec-fetch-site", "same-origin")]).is_ok());
        for refused in [
            post(&[("origin", "https://evil.example")]),
            post(&[("origin", "null")]),
            post(&[("sec-fetch-site", "cross-site")]),
            post(&[
                ("sec-fetch-site", "same-site"),
                ("origin", "http://127.0.0.1:4000"),
            ]),
        ] {
            assert!(
                matches!(refused, Err(AppError::Forbidden(_))),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn simple_content_types_cannot_mutate_the_api() {
        for content_type in [
            "text/plain",
            "application/x-www-form-urlencoded; charset=utf-8",
            "multipart/form-data; boundary=x",
            "application/xml",
        ] {
            let refused = check(
                &local(),
                &Method::POST,
                "/api/v1/runs",
                &headers(&[HOST, ("content-type", content_type)]),
            );
            assert!(
                matches!(refused, Err(AppError::UnsupportedMediaType(_))),
                "{content_type}"
            );
        }
        // Server functions post forms (also without JavaScript): only their origin matters.
        let form = headers(&[
            HOST,
            ("content-type", "application/x-www-form-urlencoded"),
            ("origin", "http://127.0.0.1:3000"),
        ]);
        assert!(check(&local(), &Method::POST, "/fn/start_run", &form).is_ok());
    }

    #[test]
    fn stream_handshakes_check_the_origin_and_plain_reads_do_not() {
        let ws = |origin: &str| headers(&[HOST, ("upgrade", "websocket"), ("origin", origin)]);
        assert!(check(
            &local(),
            &Method::GET,
            "/api/v1/ws",
            &ws("http://127.0.0.1:3000")
        )
        .is_ok());
        assert!(check(
            &local(),
            &Method::GET,
            "/api/v1/ws",
            &ws("https://evil.example")
        )
        .is_err());
        let sse = headers(&[
            HOST,
            ("accept", "text/event-stream"),
            ("origin", "https://evil.example"),
        ]);
        assert!(check(&local(), &Method::GET, "/api/v1/runs/r/events", &sse).is_err());
        let read = headers(&[HOST, ("origin", "https://evil.example")]);
        assert!(check(&local(), &Method::GET, "/api/v1/runs", &read).is_ok());
    }

    #[test]
    fn loopback_serves_only_loopback_names_unless_configured() {
        let rebinding = headers(&[("host", "attacker.example:3000")]);
        assert!(check(&local(), &Method::GET, "/", &rebinding).is_err());
        for host in [
            "localhost:3000",
            "127.0.0.1:3000",
            "127.0.0.2",
            "[::1]:3000",
        ] {
            assert!(
                check(&local(), &Method::GET, "/", &headers(&[("host", host)])).is_ok(),
                "{host}"
            );
        }
        let configured = OriginPolicy::new(&["https://Signalbox.example.com/".to_owned()]).unwrap();
        let proxied = headers(&[
            ("host", "signalbox.example.com"),
            ("origin", "https://signalbox.example.com"),
            JSON,
        ]);
        assert!(check(&configured, &Method::POST, "/api/v1/runs", &proxied).is_ok());
        assert!(check(&configured, &Method::GET, "/", &rebinding).is_err());
        assert!(OriginPolicy::new(&["ftp://x".to_owned()]).is_err());
        assert!(OriginPolicy::new(&["https://x/path".to_owned()]).is_err());
    }
}
