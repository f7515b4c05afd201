//! The live connections of signed-in callers: counted per user (a limit), found by what
//! authenticated them, so that signing out or revoking a token closes them at once, and
//! closed when that token or session expires.
//! Connections of the laptop's owner (authentication off) are not tracked.

use super::principal::{Grant, Principal};
use crate::server::error::AppError;
use crate::server::outbox::{CloseReason, Closer};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub struct Connections {
    /// Live connections one user may hold at once.
    per_user: usize,
    inner: Mutex<Registry>,
}

#[derive(Default)]
struct Registry {
    by_grant: HashMap<Grant, Vec<(u64, Closer)>>,
    by_user: HashMap<String, usize>,
    next_id: u64,
}

/// A tracked connection; dropping it (when the connection ends) forgets it.
pub struct Admission {
    connections: Arc<Connections>,
    grant: Grant,
    user: String,
    id: u64,
    /// Closes the connection when its grant expires.
    expiry: Option<tokio::task::AbortHandle>,
}

impl Connections {
    pub fn new(per_user: usize) -> Connections {
        Connections {
            per_user,
            inner: Mutex::new(Registry::default()),
        }
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tracks a new connection closed through `closer`, or refuses it (429) when its user holds
    /// the most allowed.
    pub fn admit(
        self: &Arc<Self>,
        principal: &Principal,
        closer: &Closer,
    ) -> Result<Option<Admission>, AppError> {
        if principal.grant == Grant::Local {
            return Ok(None);
        }
        let user = format!("{}/{}", principal.tenant, principal.user);
        let mut registry = self.registry();
        let held = registry.by_user.get(&user).copied().unwrap_or(0);
        if held >= self.per_user {
            return Err(AppError::TooManyRequests {
                message: format!(
                    "user `{}` already holds {held} live connections, the most allowed",
                    principal.user
                ),
                retry_after: std::time::Duration::from_secs(10),
            });
        }
        registry.next_id += 1;
        let id = registry.next_id;
        *registry.by_user.entry(user.clone()).or_default() += 1;
        registry
            .by_grant
            .entry(principal.grant.clone())
            .or_default()
            .push((id, closer.clone()));
        let expiry = principal.expires.map(|at| {
            let left = u64::try_from(at - chrono::Utc::now().timestamp()).unwrap_or(0);
            let closer = closer.clone();
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_secs(left)).await;
                closer.close(CloseReason::SIGNED_OUT);
            })
            .abort_handle()
        });
        Ok(Some(Admission {
            connections: Arc::clone(self),
            grant: principal.grant.clone(),
            user,
            id,
            expiry,
        }))
    }

    /// Closes every connection `grant` authenticated. Returns how many.
    pub fn close_grant(&self, grant: &Grant, reason: CloseReason) -> usize {
        let closers = self
            .registry()
            .by_grant
            .get(grant)
            .map(|list| list.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>())
            .unwrap_or_default();
        for closer in &closers {
            closer.close(reason);
        }
        closers.len()
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        if let Some(expiry) = &self.expiry {
            expiry.abort();
        }
        let mut registry = self.connections.registry();
        if let Some(list) = registry.by_grant.get_mut(&self.grant) {
            list.retain(|(id, _)| *id != self.id);
            if list.is_empty() {
                registry.by_grant.remove(&self.grant);
            }
        }
        if let Some(count) = registry.by_user.get_mut(&self.user) {
            *count -= 1;
            if *count == 0 {
                registry.by_user.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::auth::claims::Scope;
    use crate::server::auth::role::Role;

    fn principal(user: &str, grant: Grant) -> Principal {
        Principal {
            user: user.into(),
            tenant: "default".into(),
            role: Role::Viewer,
            grant,
            scope: Scope::default(),
            expires: None,
        }
    }

    #[test]
    fn users_are_limited_and_their_grants_close_together() {
        let connections = Arc::new(Connections::new(2));
        let session = principal("ann", Grant::Session("s1".into()));
        let (a, b, c) = (Closer::default(), Closer::default(), Closer::default());
        let first = connections.admit(&session, &a).unwrap();
        let _second = connections.admit(&session, &b).unwrap();
        assert!(matches!(
            connections.admit(&session, &c),
            Err(AppError::TooManyRequests { .. })
        ));
        let other = principal("bob", Grant::Token("t".into()));
        let _bob = connections.admit(&other, &c).unwrap();
        drop(first);
        assert_eq!(
            connections.close_grant(&session.grant, CloseReason::SIGNED_OUT),
            1
        );
        assert_eq!(b.reason(), Some(CloseReason::SIGNED_OUT));
        assert_eq!(a.reason(), None, "a forgotten connection is not closed");
        assert_eq!(c.reason(), None, "another grant's connection stays open");
        assert!(connections
            .admit(&principal("x", Grant::Local), &a)
            .unwrap()
            .is_none());
    }
}
