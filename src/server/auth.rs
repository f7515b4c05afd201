//! Who may see and do what (README: "Security").
//!
//! Authentication is off only for the laptop case: the server listens on loopback and no
//! secret is configured; every request then acts as the local owner. Otherwise every request
//! but the sign-in page, health checks and static files must prove who it comes from:
//! programs with an API token (`Authorization: Bearer <JWT>`), browsers with a session cookie
//! obtained by signing in with a token or a one-time link. What the caller may then do is
//! its role's ([`role`]); what it may see is its tenant's.

pub mod admin;
pub mod claims;
pub mod connections;
pub mod guard;
pub mod issue;
pub mod keys;
pub mod principal;
pub mod rates;
pub mod role;
pub mod secret;
pub mod sign_in;

pub use principal::{Caller, Grant, Principal, DEFAULT_TENANT};
pub use role::{Action, Role};

use super::error::AppError;
use super::outbox::CloseReason;
use super::store::{NewAuditEntry, SessionRecord, Store};
use super::tenants::check_name;
use axum::http::{header, HeaderMap};
use chrono::{DateTime, Utc};
use claims::{Audience, Claims, Scope};
use connections::Connections;
use keys::{TokenError, TokenKeys};
use rates::RateLimits;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// The browser session's cookie.
pub const SESSION_COOKIE: &str = "signalbox_session";

/// Security settings (flags and `SIGNALBOX_*` variables of `serve`).
#[derive(Clone, Debug)]
pub struct SecurityConfig {
    /// The token signing secret. Unset on loopback: authentication is off; unset elsewhere:
    /// one is generated into the data directory.
    pub secret: Option<String>,
    pub sign_in_per_minute: u32,
    pub ingest_per_second: u32,
    pub connections_per_user: usize,
    /// How long a browser session lasts (never longer than the token it was opened with).
    pub session_lifetime: Duration,
    /// Session cookies get `Secure` (the site is served over https).
    pub secure_cookies: bool,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        SecurityConfig {
            secret: None,
            sign_in_per_minute: 10,
            ingest_per_second: 20_000,
            connections_per_user: 200,
            session_lifetime: Duration::from_secs(7 * 24 * 3600),
            secure_cookies: false,
        }
    }
}

/// Lifetime of a step's token in the built-in executor (scoped to its run: reporting only).
const STEP_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

pub struct Auth {
    /// `None`: authentication is off.
    keys: Option<Arc<TokenKeys>>,
    store: Arc<Store>,
    /// Ids of revoked tokens, loaded at start and kept current, so checking a bearer token
    /// costs no query.
    revoked: RwLock<HashSet<String>>,
    pub connections: Arc<Connections>,
    pub rates: RateLimits,
    session_lifetime: Duration,
    pub secure_cookies: bool,
}

/// The SHA-256 of a session cookie, as stored.
fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn unauthorized(error: TokenError) -> AppError {
    AppError::Unauthorized(error.to_string())
}

/// The value of one cookie in the request's `Cookie` headers.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

impl Auth {
    /// Authentication for a server on `addr` over `data_dir`: off on loopback without a
    /// secret, else required with the configured or the data directory's secret.
    pub async fn new(
        config: &SecurityConfig,
        loopback: bool,
        data_dir: &Path,
        store: Arc<Store>,
    ) -> Result<Auth, secret::SecretError> {
        let secret = match (&config.secret, loopback) {
            (Some(secret), _) => Some(secret::configured(secret)?),
            (None, true) => None,
            (None, false) => Some(secret::stored_or_created(data_dir)?),
        };
        let revoked = match store.revoked_tokens().await {
            Ok(revoked) => revoked.into_iter().collect(),
            Err(error) => {
                tracing::error!(%error, "cannot read revoked tokens");
                HashSet::new()
            }
        };
        Ok(Auth {
            keys: secret.map(|s| Arc::new(TokenKeys::new(&s))),
            store,
            revoked: RwLock::new(revoked),
            connections: Arc::new(Connections::new(config.connections_per_user)),
            rates: RateLimits::new(config.sign_in_per_minute, config.ingest_per_second),
            session_lifetime: config.session_lifetime,
            secure_cookies: config.secure_cookies,
        })
    }

    pub fn is_required(&self) -> bool {
        self.keys.is_some()
    }

    pub fn keys(&self) -> Option<&Arc<TokenKeys>> {
        self.keys.as_ref()
    }

    fn is_revoked(&self, jti: &str) -> bool {
        self.revoked
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(jti)
    }

    /// Claims of an API token or one-time link, unless refused.
    fn verify(
        &self,
        keys: &TokenKeys,
        token: &str,
        audience: Audience,
    ) -> Result<Claims, TokenError> {
        let claims = keys.verify(token, audience)?;
        if self.is_revoked(&claims.jti) {
            return Err(TokenError::Revoked);
        }
        Ok(claims)
    }

    /// Who the request comes from: `Ok(None)` when it carries no credentials, `Err(401)` when
    /// it carries bad ones.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Principal>, AppError> {
        let Some(keys) = &self.keys else {
            return Ok(Some(Principal::local()));
        };
        if let Some(value) = headers.get(header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .ok_or_else(|| {
                    AppError::Unauthorized("use `Authorization: Bearer <token>`".into())
                })?;
            let claims = self
                .verify(keys, token, Audience::Api)
                .map_err(unauthorized)?;
            let grant = Grant::Token(claims.jti.clone());
            return principal(claims.sub, claims.tenant, claims.role, grant, claims.scope)
                .map(Some);
        }
        let Some(secret) = cookie(headers, SESSION_COOKIE) else {
            return Ok(None);
        };
        let id_hash = hash(&secret);
        let session = self.store.session(&id_hash).await?.ok_or_else(|| {
            AppError::Unauthorized("your session has ended: sign in again".into())
        })?;
        let role = session
            .role
            .parse()
            .map_err(|e: String| AppError::Internal(e))?;
        principal(
            session.user,
            session.tenant,
            role,
            Grant::Session(id_hash),
            Scope::default(),
        )
        .map(Some)
    }

    /// Opens a browser session with an API token or a one-time link: the cookie's value, the
    /// principal and when the session ends.
    pub async fn sign_in(
        &self,
        credential: &str,
    ) -> Result<(String, Principal, DateTime<Utc>), SignInError> {
        let keys = self.keys.as_ref().ok_or(SignInError::Off)?;
        let credential = credential.trim();
        // A pasted link works as well as the token in it.
        let credential = credential
            .rsplit_once("link=")
            .map_or(credential, |(_, token)| token);
        let (claims, via) = match self.verify(keys, credential, Audience::SignIn) {
            Ok(claims) => {
                let expires = DateTime::from_timestamp(claims.exp, 0).unwrap_or_else(Utc::now);
                if !self.store.use_sign_in_link(&claims.jti, expires).await? {
                    return Err(SignInError::Token(TokenError::LinkUsed));
                }
                (claims, "link")
            }
            Err(TokenError::WrongAudience) => {
                (self.verify(keys, credential, Audience::Api)?, "token")
            }
            Err(error) => return Err(error.into()),
        };
        if claims.role == Role::Reporter {
            return Err(SignInError::Reporter);
        }
        let now = Utc::now();
        let lifetime =
            chrono::Duration::from_std(self.session_lifetime).unwrap_or(chrono::Duration::days(7));
        // A session opened with an API token ends with it; a link's session lasts its own time.
        let token_end = DateTime::from_timestamp(claims.exp, 0).unwrap_or(now);
        let expires_at = if via == "token" {
            (now + lifetime).min(token_end)
        } else {
            now + lifetime
        };
        let secret = claims::random_id(32);
        let id_hash = hash(&secret);
        let session = SessionRecord {
            user: claims.sub.clone(),
            tenant: claims.tenant.clone(),
            role: claims.role.as_str().to_owned(),
            source: claims.jti.clone(),
            expires_at,
        };
        let principal = principal(
            claims.sub,
            claims.tenant,
            claims.role,
            Grant::Session(id_hash.clone()),
            Scope::default(),
        )
        .map_err(|_| SignInError::Tenant)?;
        self.store.insert_session(&id_hash, &session).await?;
        self.record(&principal, "sign_in", "", &format!("with a {via}"))
            .await;
        Ok((secret, principal, expires_at))
    }

    /// Ends the caller's session and closes its live connections.
    pub async fn sign_out(&self, principal: &Principal) -> Result<(), AppError> {
        if let Grant::Session(id_hash) = &principal.grant {
            self.store.delete_session(id_hash).await?;
            self.connections
                .close_grant(&principal.grant, CloseReason::SIGNED_OUT);
            self.record(principal, "sign_out", "", "").await;
        }
        Ok(())
    }

    /// Revokes a token of the caller's tenant: refused from now on, its sessions ended and
    /// their (and its own) live connections closed. False when there is no such token.
    pub async fn revoke(&self, by: &Principal, jti: &str) -> Result<bool, AppError> {
        let Some(sessions) = self.store.revoke_token(&by.tenant, jti).await? else {
            return Ok(false);
        };
        self.revoked
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(jti.to_owned());
        self.connections
            .close_grant(&Grant::Token(jti.to_owned()), CloseReason::SIGNED_OUT);
        for session in sessions {
            self.connections
                .close_grant(&Grant::Session(session), CloseReason::SIGNED_OUT);
        }
        self.record(by, "token.revoke", jti, "").await;
        Ok(true)
    }

    /// The token a step of run `run` reports with (`SIGNALBOX_TOKEN`): a reporter scoped to
    /// its run. Empty when authentication is off (none is needed).
    pub fn step_token(&self, tenant: &str, run: &str, step: &str) -> String {
        self.keys.as_ref().map_or_else(String::new, |keys| {
            keys.issue(&Claims::fresh(
                Audience::Api,
                &format!("step:{run}/{step}"),
                tenant,
                Role::Reporter,
                STEP_TOKEN_LIFETIME,
                Scope {
                    runs: vec![run.to_owned()],
                    pipelines: Vec::new(),
                },
            ))
        })
    }

    /// Appends to the audit trail. A failure is logged, not returned: what was done is done.
    pub async fn record(&self, actor: &Principal, action: &str, target: &str, detail: &str) {
        let entry = NewAuditEntry {
            actor: &actor.user,
            tenant: &actor.tenant,
            action,
            target,
            detail,
        };
        if let Err(error) = self.store.append_audit(&entry).await {
            tracing::error!(%error, action, target, "cannot record an audit entry");
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The `Set-Cookie` value of a new session (HttpOnly, SameSite=Lax, Secure on https).
    pub fn session_cookie(&self, secret: &str, expires_at: DateTime<Utc>) -> String {
        let max_age = (expires_at - Utc::now()).num_seconds().max(0);
        cookie::Cookie::build((SESSION_COOKIE, secret))
            .path("/")
            .http_only(true)
            .same_site(cookie::SameSite::Lax)
            .secure(self.secure_cookies)
            .max_age(cookie::time::Duration::seconds(max_age))
            .build()
            .to_string()
    }
}

/// A principal from verified claims (whose tenant must at least be a valid name).
fn principal(
    user: String,
    tenant: String,
    role: Role,
    grant: Grant,
    scope: Scope,
) -> Result<Principal, AppError> {
    check_name(&tenant).map_err(|e| AppError::Unauthorized(e.to_string()))?;
    Ok(Principal {
        user,
        tenant,
        role,
        grant,
        scope,
    })
}

/// Why signing in failed (shown on the sign-in page by its code).
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("sign-in is off: this server runs without authentication")]
    Off,
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("reporter tokens are for programs and cannot sign in")]
    Reporter,
    #[error("this token's tenant is not a valid tenant name")]
    Tenant,
    #[error(transparent)]
    Store(#[from] super::store::StoreError),
}

impl SignInError {
    /// The code the sign-in page explains.
    pub fn code(&self) -> &'static str {
        match self {
            SignInError::Off => "off",
            SignInError::Token(TokenError::Expired) => "expired",
            SignInError::Token(TokenError::Revoked) => "revoked",
            SignInError::Token(TokenError::LinkUsed) => "used",
            SignInError::Token(_) => "invalid",
            SignInError::Reporter => "reporter",
            SignInError::Tenant => "tenant",
            SignInError::Store(_) => "unavailable",
        }
    }
}
