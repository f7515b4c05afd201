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
pub mod revoked;
pub mod role;
pub mod secret;
pub mod sessions;
pub mod sign_in;

pub use principal::{Caller, Grant, Principal, DEFAULT_TENANT};
pub use role::{Action, Role};
pub use sessions::SignInError;

use super::error::AppError;
use super::outbox::CloseReason;
use super::store::{NewAuditEntry, Store, StoreError};
use super::tenants::check_name;
use axum::http::{header, HeaderMap};
use claims::{Audience, Claims, Scope};
use connections::Connections;
use keys::{TokenError, TokenKeys};
use rates::RateLimits;
use revoked::Revoked;
use std::path::Path;
use std::sync::Arc;
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

/// Longest lifetime of a step's token in the built-in executor (scoped to its run, reporting
/// only, and revoked as soon as the step ends); a step with a timeout gets that plus a margin.
const STEP_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);
const STEP_TOKEN_MARGIN: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    #[error(transparent)]
    Secret(#[from] secret::SecretError),
    /// Without the list of revoked tokens the server would accept them again: it does not
    /// start.
    #[error("cannot read the revoked tokens: {0}")]
    Revoked(#[from] StoreError),
}

pub struct Auth {
    /// `None`: authentication is off.
    keys: Option<Arc<TokenKeys>>,
    store: Arc<Store>,
    revoked: Revoked,
    pub connections: Arc<Connections>,
    pub rates: RateLimits,
    session_lifetime: Duration,
    pub secure_cookies: bool,
}

/// A step's token, and its id (revoked when the step ends).
pub struct StepToken {
    pub token: String,
    pub jti: Option<String>,
    expires: i64,
}

impl Auth {
    /// Authentication for a server on `addr` over `data_dir`: off on loopback without a
    /// secret, else required with the configured or the data directory's secret.
    pub async fn new(
        config: &SecurityConfig,
        loopback: bool,
        data_dir: &Path,
        store: Arc<Store>,
    ) -> Result<Auth, AuthSetupError> {
        let secret = match (&config.secret, loopback) {
            (Some(secret), _) => Some(secret::configured(secret)?),
            (None, true) => None,
            (None, false) => Some(secret::stored_or_created(data_dir)?),
        };
        let revoked = store
            .revoked_tokens()
            .await?
            .into_iter()
            .map(|(jti, expires)| (jti, expires.timestamp()));
        Ok(Auth {
            keys: secret.map(|s| Arc::new(TokenKeys::new(&s))),
            revoked: Revoked::new(revoked),
            store,
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

    /// Who the request comes from: `Ok(None)` when it carries no credentials, `Err(401)` when
    /// it carries bad ones.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Principal>, AppError> {
        let Some(keys) = &self.keys else {
            return Ok(Some(Principal::local()));
        };
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return self.session_principal(headers).await;
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| AppError::Unauthorized("use `Authorization: Bearer <token>`".into()))?;
        let claims = keys
            .verify(token, Audience::Api)
            .map_err(|e| AppError::Unauthorized(e.to_string()))?;
        if self.revoked.contains(&claims.jti) {
            return Err(AppError::Unauthorized(TokenError::Revoked.to_string()));
        }
        let grant = Grant::Token(claims.jti.clone());
        principal(
            claims.sub,
            claims.tenant,
            claims.role,
            grant,
            claims.scope,
            Some(claims.exp),
        )
        .map(Some)
    }

    /// Whether what authenticated `principal` still holds: checked again once a live
    /// connection is registered, so a sign-out or revocation that ran between the handshake's
    /// authentication and the registration cannot leave the connection open.
    pub async fn still_valid(&self, principal: &Principal) -> Result<(), AppError> {
        let valid = match &principal.grant {
            Grant::Local => true,
            Grant::Token(jti) => !self.revoked.contains(jti),
            Grant::Session(id_hash) => self
                .store
                .session(id_hash)
                .await?
                .is_some_and(|s| !self.revoked.contains(&s.source)),
        };
        if valid {
            Ok(())
        } else {
            Err(AppError::Unauthorized(
                "signed out or access revoked".into(),
            ))
        }
    }

    /// Revokes a token of the caller's tenant: refused from now on, its sessions ended and
    /// their (and its own) live connections closed. False when there is no such token.
    pub async fn revoke(&self, by: &Principal, jti: &str) -> Result<bool, AppError> {
        let Some((expires, sessions)) = self.store.revoke_token(&by.tenant, jti).await? else {
            return Ok(false);
        };
        self.revoked.insert(jti, expires.timestamp());
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
    /// its run, living as long as the step may (`timeout`). Empty when authentication is off
    /// (none is needed).
    pub fn step_token(
        &self,
        tenant: &str,
        run: &str,
        step: &str,
        timeout: Option<Duration>,
    ) -> StepToken {
        let Some(keys) = &self.keys else {
            return StepToken {
                token: String::new(),
                jti: None,
                expires: 0,
            };
        };
        let lifetime = timeout.map_or(STEP_TOKEN_LIFETIME, |t| {
            (t + STEP_TOKEN_MARGIN).min(STEP_TOKEN_LIFETIME)
        });
        let claims = Claims::fresh(
            Audience::Api,
            &format!("step:{run}/{step}"),
            tenant,
            Role::Reporter,
            lifetime,
            Scope {
                runs: vec![run.to_owned()],
                pipelines: Vec::new(),
            },
        );
        StepToken {
            token: keys.issue(&claims),
            jti: Some(claims.jti),
            expires: claims.exp,
        }
    }

    /// Revokes a step's token once the step ended: nothing may report as that step any more.
    pub fn end_step_token(&self, token: &StepToken) {
        if let Some(jti) = &token.jti {
            self.revoked.insert(jti, token.expires);
        }
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
}

/// A principal from verified claims (whose tenant must at least be a valid name).
fn principal(
    user: String,
    tenant: String,
    role: Role,
    grant: Grant,
    scope: Scope,
    expires: Option<i64>,
) -> Result<Principal, AppError> {
    check_name(&tenant).map_err(|e| AppError::Unauthorized(e.to_string()))?;
    Ok(Principal {
        user,
        tenant,
        role,
        grant,
        scope,
        expires,
    })
}
