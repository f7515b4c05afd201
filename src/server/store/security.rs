//! Storage of the security records: issued tokens, browser sessions, used sign-in links and
//! the audit trail.

use super::{stamp, Store, StoreError};
use crate::api::{AuditEntry, AuditFilter};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

/// An issued API token (never the token itself).
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TokenRecord {
    pub jti: String,
    pub user: String,
    pub tenant: String,
    pub role: String,
    /// The reporter scope as JSON (`{}` when unscoped).
    #[serde(skip)]
    pub scope: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A browser session, found by the hash of its cookie.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionRecord {
    pub user: String,
    pub tenant: String,
    pub role: String,
    /// The token (jti) the session was opened with.
    pub source: String,
    pub expires_at: DateTime<Utc>,
}

/// An audit entry about to be written.
#[derive(Clone, Debug)]
pub struct NewAuditEntry<'a> {
    pub actor: &'a str,
    pub tenant: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub detail: &'a str,
}

fn time(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt {
            run: String::new(),
            detail: format!("timestamp `{text}`: {e}"),
        })
}

impl Store {
    pub async fn insert_token(&self, token: &TokenRecord) -> Result<(), StoreError> {
        let _write = self.write.lock().await;
        sqlx::query(
            "INSERT INTO tokens (jti, user, tenant, role, scope, created_by, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&token.jti)
        .bind(&token.user)
        .bind(&token.tenant)
        .bind(&token.role)
        .bind(&token.scope)
        .bind(&token.created_by)
        .bind(stamp(token.created_at))
        .bind(stamp(token.expires_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Tokens of a tenant, newest first.
    pub async fn tokens(&self, tenant: &str) -> Result<Vec<TokenRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT jti, user, tenant, role, scope, created_by, created_at, expires_at, revoked_at
             FROM tokens WHERE tenant = ? ORDER BY created_at DESC, jti",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TokenRecord {
                    jti: r.get(0),
                    user: r.get(1),
                    tenant: r.get(2),
                    role: r.get(3),
                    scope: r.get(4),
                    created_by: r.get(5),
                    created_at: time(r.get(6))?,
                    expires_at: time(r.get(7))?,
                    revoked_at: r.get::<Option<&str>, _>(8).map(time).transpose()?,
                })
            })
            .collect()
    }

    /// Marks a tenant's token revoked and ends the sessions opened with it. Returns the
    /// token's expiry and the ended sessions' hashes, or `None` when the tenant has no such
    /// token.
    pub async fn revoke_token(
        &self,
        tenant: &str,
        jti: &str,
    ) -> Result<Option<(DateTime<Utc>, Vec<String>)>, StoreError> {
        let _write = self.write.lock().await;
        let mut tx = self.pool.begin().await?;
        let found = sqlx::query(
            "UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE jti = ? AND tenant = ?
             RETURNING expires_at",
        )
        .bind(stamp(Utc::now()))
        .bind(jti)
        .bind(tenant)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = found else {
            return Ok(None);
        };
        let expires = time(row.get(0))?;
        let ended = sqlx::query("DELETE FROM sessions WHERE source = ? RETURNING id_hash")
            .bind(jti)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        tx.commit().await?;
        Ok(Some((expires, ended)))
    }

    /// Every revoked token that has not expired yet, with its expiry.
    pub async fn revoked_tokens(&self) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT jti, expires_at FROM tokens WHERE revoked_at IS NOT NULL AND expires_at > ?",
        )
        .bind(stamp(Utc::now()))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.get(0), time(r.get(1))?)))
            .collect()
    }

    /// When a recorded token expires.
    pub async fn token_expiry(&self, jti: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row = sqlx::query("SELECT expires_at FROM tokens WHERE jti = ?")
            .bind(jti)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| time(r.get(0))).transpose()
    }

    pub async fn insert_session(
        &self,
        id_hash: &str,
        session: &SessionRecord,
    ) -> Result<(), StoreError> {
        let _write = self.write.lock().await;
        // Ended sessions are forgotten as new ones begin.
        sqlx::query("DELETE FROM sessions WHERE expires_at < ?")
            .bind(stamp(Utc::now()))
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (id_hash, user, tenant, role, source, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id_hash)
        .bind(&session.user)
        .bind(&session.tenant)
        .bind(&session.role)
        .bind(&session.source)
        .bind(stamp(Utc::now()))
        .bind(stamp(session.expires_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The session with this hash, unless it has expired.
    pub async fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT user, tenant, role, source, expires_at FROM sessions
             WHERE id_hash = ? AND expires_at > ?",
        )
        .bind(id_hash)
        .bind(stamp(Utc::now()))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(SessionRecord {
                user: r.get(0),
                tenant: r.get(1),
                role: r.get(2),
                source: r.get(3),
                expires_at: time(r.get(4))?,
            })
        })
        .transpose()
    }

    pub async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        let _write = self.write.lock().await;
        sqlx::query("DELETE FROM sessions WHERE id_hash = ?")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records a sign-in link as used. False when it already was: links work once. Links past
    /// their expiry are forgotten here (an expired link is refused before this is asked).
    pub async fn use_sign_in_link(
        &self,
        jti: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let _write = self.write.lock().await;
        let now = stamp(Utc::now());
        sqlx::query("DELETE FROM used_sign_in_links WHERE expires_at < ?")
            .bind(&now)
            .execute(&self.pool)
            .await?;
        let inserted = sqlx::query(
            "INSERT OR IGNORE INTO used_sign_in_links (jti, used_at, expires_at) VALUES (?, ?, ?)",
        )
        .bind(jti)
        .bind(&now)
        .bind(stamp(expires_at))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(inserted == 1)
    }

    pub async fn append_audit(&self, entry: &NewAuditEntry<'_>) -> Result<(), StoreError> {
        let _write = self.write.lock().await;
        sqlx::query(
            "INSERT INTO audit (at, actor, tenant, action, target, detail) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(stamp(Utc::now()))
        .bind(entry.actor)
        .bind(entry.tenant)
        .bind(entry.action)
        .bind(entry.target)
        .bind(entry.detail)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A tenant's audit entries matching the filter, newest first.
    pub async fn audit(
        &self,
        tenant: &str,
        filter: &AuditFilter,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, actor, tenant, action, target, detail FROM audit
             WHERE tenant = ?1 AND (?2 IS NULL OR actor = ?2)
               AND (?3 IS NULL OR action = ?3 OR action LIKE ?3 || '.%')
               AND (?4 IS NULL OR id < ?4)
             ORDER BY id DESC LIMIT ?5",
        )
        .bind(tenant)
        .bind(&filter.actor)
        .bind(&filter.action)
        .bind(filter.before)
        .bind(i64::from(filter.limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.get(0),
                    at: time(r.get(1))?,
                    actor: r.get(2),
                    tenant: r.get(3),
                    action: r.get(4),
                    target: r.get(5),
                    detail: r.get(6),
                })
            })
            .collect()
    }
}
