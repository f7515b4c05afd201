//! Browser sessions: opened with an API token or a one-time link, kept as a random cookie whose
//! SHA-256 is stored, ended by signing out or by revoking the token they were opened with.

use super::claims::{self, Audience, Claims, Scope};
use super::keys::TokenError;
use super::{principal, Auth, Grant, Principal, Role, SESSION_COOKIE};
use crate::server::error::AppError;
use crate::server::outbox::CloseReason;
use crate::server::store::{SessionRecord, StoreError};
use axum::http::{header, HeaderMap};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

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
    Store(#[from] StoreError),
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

/// What a session was opened with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Credential {
    Token,
    Link,
}

/// The SHA-256 of a session cookie, as stored.
fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
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
    /// The session a request's cookie names: `Ok(None)` without a cookie, `Err(401)` when the
    /// session ended (signed out, expired, its token revoked).
    pub(super) async fn session_principal(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<Principal>, AppError> {
        let Some(secret) = cookie(headers, SESSION_COOKIE) else {
            return Ok(None);
        };
        let id_hash = hash(&secret);
        let ended = || AppError::Unauthorized("your session has ended: sign in again".into());
        let session = self.store.session(&id_hash).await?.ok_or_else(ended)?;
        // Revoking deletes the token's sessions; this also covers a sign-in that raced it.
        if self.revoked.contains(&session.source) {
            return Err(ended());
        }
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
            Some(session.expires_at.timestamp()),
        )
        .map(Some)
    }

    /// Opens a browser session with an API token or a one-time link: the cookie's value, the
    /// principal and when the session ends. Refusals of a verified credential are audited in
    /// its tenant; unverifiable ones are only logged (they belong to no tenant).
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
        let (claims, via) = match keys.verify(credential, Audience::SignIn) {
            Ok(claims) => (claims, Credential::Link),
            Err(TokenError::WrongAudience) => {
                (keys.verify(credential, Audience::Api)?, Credential::Token)
            }
            Err(error) => return Err(error.into()),
        };
        let refused = match self.open_session(&claims, via).await {
            Ok(opened) => return Ok(opened),
            Err(refused) => refused,
        };
        if let Ok(who) = principal(
            claims.sub,
            claims.tenant,
            claims.role,
            Grant::Local,
            Scope::default(),
            None,
        ) {
            self.record(&who, "sign_in.failed", "", &refused.to_string())
                .await;
        }
        Err(refused)
    }

    async fn open_session(
        &self,
        claims: &Claims,
        via: Credential,
    ) -> Result<(String, Principal, DateTime<Utc>), SignInError> {
        if self.revoked.contains(&claims.jti) {
            return Err(TokenError::Revoked.into());
        }
        if claims.role == Role::Reporter {
            return Err(SignInError::Reporter);
        }
        let now = Utc::now();
        // Never longer than the token it was opened with (a link's token: as recorded).
        let token_end = match via {
            Credential::Token => Some(claims.exp),
            Credential::Link => self
                .store
                .token_expiry(&claims.jti)
                .await?
                .map(|t| t.timestamp()),
        }
        .and_then(|t| DateTime::from_timestamp(t, 0))
        .unwrap_or(now);
        let lifetime =
            chrono::Duration::from_std(self.session_lifetime).unwrap_or(chrono::Duration::days(7));
        let expires_at = (now + lifetime).min(token_end);
        let secret = claims::random_id(32);
        let id_hash = hash(&secret);
        let principal = principal(
            claims.sub.clone(),
            claims.tenant.clone(),
            claims.role,
            Grant::Session(id_hash.clone()),
            Scope::default(),
            Some(expires_at.timestamp()),
        )
        .map_err(|_| SignInError::Tenant)?;
        if via == Credential::Link {
            let link_end = DateTime::from_timestamp(claims.exp, 0).unwrap_or(now);
            if !self.store.use_sign_in_link(&claims.jti, link_end).await? {
                return Err(TokenError::LinkUsed.into());
            }
        }
        let session = SessionRecord {
            user: claims.sub.clone(),
            tenant: claims.tenant.clone(),
            role: claims.role.as_str().to_owned(),
            source: claims.jti.clone(),
            expires_at,
        };
        self.store.insert_session(&id_hash, &session).await?;
        let detail = match via {
            Credential::Token => "with a token",
            Credential::Link => "with a one-time link",
        };
        self.record(&principal, "sign_in", "", detail).await;
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
