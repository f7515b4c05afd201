//! Issuing API tokens, shared by `signalbox token create` and the admin API: the token is
//! signed, recorded (never stored itself) and audited, and people get a one-time sign-in
//! link beside it.

use super::claims::{Audience, Claims, Scope};
use super::keys::TokenKeys;
use super::role::Role;
use super::secret::{self, SecretError};
use crate::domain::duration::parse_millis;
use crate::server::store::{NewAuditEntry, Store, StoreError, TokenRecord};
use crate::server::tenants::check_name;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum IssueError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A token request as people write it (the admin API's body, the CLI's flags).
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub user: String,
    pub role: String,
    /// A duration such as `90d` or `12h` (default 90 days).
    #[serde(default = "default_ttl")]
    pub ttl: String,
    #[serde(default)]
    pub runs: Vec<String>,
    #[serde(default)]
    pub pipelines: Vec<String>,
}

fn default_ttl() -> String {
    "90d".to_owned()
}

impl TokenRequest {
    /// The token to issue in `tenant`, or what is wrong with the request (naming the field).
    pub fn check(self, tenant: &str) -> Result<NewToken, IssueError> {
        check_user(&self.user).map_err(IssueError::Invalid)?;
        let role: Role = self
            .role
            .parse()
            .map_err(|e: String| IssueError::Invalid(format!("`role`: {e}")))?;
        let lifetime = parse_millis(&self.ttl)
            .map(Duration::from_millis)
            .map_err(|e| IssueError::Invalid(format!("`ttl`: {e}")))?;
        if lifetime > MAX_LIFETIME {
            return Err(IssueError::Invalid(format!(
                "`ttl`: `{}` is longer than the longest lifetime, 730d",
                self.ttl
            )));
        }
        if role != Role::Reporter && !(self.runs.is_empty() && self.pipelines.is_empty()) {
            return Err(IssueError::Invalid(
                "`runs` and `pipelines` scope reporter tokens only".into(),
            ));
        }
        Ok(NewToken {
            user: self.user,
            role,
            tenant: tenant.to_owned(),
            lifetime,
            scope: Scope {
                runs: self.runs,
                pipelines: self.pipelines,
            },
        })
    }
}

/// `signalbox token create`: issues a token for `tenant` with the data directory's key (or
/// `secret`) and records it in the data directory's database, beside a running server or not.
pub async fn create_offline(
    data_dir: &Path,
    secret: Option<String>,
    tenant: &str,
    request: TokenRequest,
) -> Result<IssuedToken, IssueError> {
    check_name(tenant).map_err(|e| IssueError::Invalid(format!("`tenant`: {e}")))?;
    let request = request.check(tenant)?;
    std::fs::create_dir_all(data_dir).map_err(|source| SecretError::Io {
        path: data_dir.to_path_buf(),
        source,
    })?;
    let secret = match secret {
        Some(secret) => secret::configured(&secret)?,
        None => secret::stored_or_created(data_dir)?,
    };
    let store = Store::open(&data_dir.join("signalbox.db")).await?;
    let issued = issue_token(&TokenKeys::new(&secret), &store, "cli", request).await;
    store.close().await;
    Ok(issued?)
}

/// The longest a token may live (two years): a token for ever cannot be forgotten.
const MAX_LIFETIME: Duration = Duration::from_secs(730 * 24 * 3600);

/// How long a one-time sign-in link works.
pub const SIGN_IN_LINK_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// What a token is to be issued for.
#[derive(Clone, Debug)]
pub struct NewToken {
    pub user: String,
    pub role: Role,
    pub tenant: String,
    pub lifetime: Duration,
    pub scope: Scope,
}

/// A freshly issued token: shown once, to whoever asked for it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct IssuedToken {
    pub token: String,
    pub jti: String,
    pub user: String,
    pub role: Role,
    pub tenant: String,
    pub expires_at: DateTime<Utc>,
    /// `/login?link=…`: signs a browser in once within 15 minutes (not for reporters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign_in_link: Option<String>,
}

/// A user name: 1–64 printable characters.
pub fn check_user(user: &str) -> Result<(), String> {
    let ok = !user.trim().is_empty()
        && user.chars().count() <= 64
        && !user.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`user`: `{}` must be 1-64 printable characters",
            user.escape_debug()
        ))
    }
}

/// Signs, records and audits a token for `request`, issued by `created_by`.
pub async fn issue_token(
    keys: &TokenKeys,
    store: &Store,
    created_by: &str,
    request: NewToken,
) -> Result<IssuedToken, StoreError> {
    let claims = Claims::fresh(
        Audience::Api,
        &request.user,
        &request.tenant,
        request.role,
        request.lifetime,
        request.scope.clone(),
    );
    let expires_at = DateTime::from_timestamp(claims.exp, 0).unwrap_or(DateTime::<Utc>::MAX_UTC);
    let record = TokenRecord {
        jti: claims.jti.clone(),
        user: request.user.clone(),
        tenant: request.tenant.clone(),
        role: request.role.as_str().to_owned(),
        scope: serde_json::to_string(&request.scope).unwrap_or_else(|_| "{}".into()),
        created_by: created_by.to_owned(),
        created_at: Utc::now(),
        expires_at,
        revoked_at: None,
    };
    store.insert_token(&record).await?;
    store
        .append_audit(&NewAuditEntry {
            actor: created_by,
            tenant: &request.tenant,
            action: "token.create",
            target: &claims.jti,
            detail: &format!(
                "for {} as {}, expires {}",
                request.user,
                request.role,
                expires_at.format("%Y-%m-%d %H:%M UTC")
            ),
        })
        .await?;
    // The link shares the token's id: revoking the token also stops its unused link and
    // ends the sessions opened with either.
    let sign_in_link = (request.role != Role::Reporter).then(|| {
        let link = Claims {
            aud: Audience::SignIn.as_str().to_owned(),
            exp: (claims.iat + SIGN_IN_LINK_LIFETIME.as_secs() as i64).min(claims.exp),
            scope: Scope::default(),
            ..claims.clone()
        };
        format!("/login?link={}", keys.issue(&link))
    });
    Ok(IssuedToken {
        token: keys.issue(&claims),
        jti: claims.jti,
        user: request.user,
        role: request.role,
        tenant: request.tenant,
        expires_at,
        sign_in_link,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_printable_and_short() {
        assert!(check_user("alice@example.com").is_ok());
        assert!(check_user("").is_err());
        assert!(check_user("  ").is_err());
        assert!(check_user("a\nb").is_err());
        assert!(check_user(&"x".repeat(65)).is_err());
    }
}
