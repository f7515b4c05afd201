//! Ids of tokens refused before their expiry (revoked by an admin, or a step's token once the
//! step ended), kept in memory so checking a bearer token costs no query. Each id is kept
//! until its token would have expired anyway, so the set does not grow for ever.

use std::collections::HashMap;
use std::sync::RwLock;

/// Expired entries are swept when the set reaches a multiple of this size.
const SWEEP_EVERY: usize = 1024;

#[derive(Default)]
pub struct Revoked {
    /// Token id → its expiry (seconds since the epoch).
    ids: RwLock<HashMap<String, i64>>,
}

impl Revoked {
    pub fn new(entries: impl IntoIterator<Item = (String, i64)>) -> Revoked {
        Revoked {
            ids: RwLock::new(entries.into_iter().collect()),
        }
    }

    pub fn contains(&self, jti: &str) -> bool {
        self.ids
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(jti)
    }

    pub fn insert(&self, jti: &str, expires: i64) {
        let mut ids = self.ids.write().unwrap_or_else(|e| e.into_inner());
        if ids.len() % SWEEP_EVERY == SWEEP_EVERY - 1 {
            let now = chrono::Utc::now().timestamp();
            ids.retain(|_, expiry| *expiry > now);
        }
        ids.insert(jti.to_owned(), expires);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.ids.read().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_kept_until_their_tokens_expire() {
        let now = chrono::Utc::now().timestamp();
        let revoked = Revoked::default();
        for i in 0..SWEEP_EVERY - 2 {
            revoked.insert(&format!("old-{i}"), now - 10);
        }
        revoked.insert("live", now + 3600);
        assert!(revoked.contains("old-0") && revoked.contains("live"));
        revoked.insert("another", now + 3600);
        assert!(!revoked.contains("old-0"), "expired ids are swept");
        assert!(revoked.contains("live") && revoked.contains("another"));
        assert_eq!(revoked.len(), 2);
    }
}
