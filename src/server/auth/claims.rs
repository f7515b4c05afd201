//! What a token says about its holder (RFC 7519 claims plus ours), and the random ids tokens,
//! links and sessions are named by.

use super::role::Role;
use serde::{Deserialize, Serialize};

/// Every token this server issues names it as the issuer.
pub const ISSUER: &str = "signalbox";

/// Who a token is meant for: tokens of one audience are refused where another is expected, so a
/// one-time sign-in link cannot be used as an API token and the other way round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// `Authorization: Bearer` on the API and the live stream.
    Api,
    /// A one-time sign-in link, exchanged for a browser session once.
    SignIn,
}

impl Audience {
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Api => "signalbox-api",
            Audience::SignIn => "signalbox-sign-in",
        }
    }
}

/// Which runs a reporter may report on. Empty: every run of its tenant.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// Run ids it may report on (and create, for ad-hoc runs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<String>,
    /// Pipelines whose runs it may report on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pipelines: Vec<String>,
}

impl Scope {
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty() && self.pipelines.is_empty()
    }

    /// Whether a run (of `pipeline`, if any) is within the scope.
    pub fn covers(&self, run: &str, pipeline: Option<&str>) -> bool {
        self.is_empty()
            || self.runs.iter().any(|r| r == run)
            || pipeline.is_some_and(|p| self.pipelines.iter().any(|q| q == p))
    }
}

/// The claims of a Signalbox token. Times are seconds since the Unix epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user (or program) the token was issued to.
    pub sub: String,
    pub tenant: String,
    pub role: Role,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    /// The token's id: what revocation and the token list refer to.
    pub jti: String,
    #[serde(default, skip_serializing_if = "Scope::is_empty")]
    pub scope: Scope,
}

impl Claims {
    /// Claims of a new token valid from now for `lifetime`, with a fresh id.
    pub fn fresh(
        audience: Audience,
        user: &str,
        tenant: &str,
        role: Role,
        lifetime: std::time::Duration,
        scope: Scope,
    ) -> Claims {
        let now = chrono::Utc::now().timestamp();
        let lifetime = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX / 2);
        Claims {
            iss: ISSUER.to_owned(),
            aud: audience.as_str().to_owned(),
            sub: user.to_owned(),
            tenant: tenant.to_owned(),
            role,
            iat: now,
            nbf: now,
            exp: now.saturating_add(lifetime),
            jti: random_id(16),
            scope,
        }
    }
}

/// `bytes` random bytes from the operating system, as hex.
pub fn random_id(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).expect("the operating system provides random bytes");
    buffer.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_scope_covers_every_run_and_a_set_one_only_its_own() {
        assert!(Scope::default().covers("any", None));
        let scope = Scope {
            runs: vec!["r1".into()],
            pipelines: vec!["etl".into()],
        };
        assert!(scope.covers("r1", None));
        assert!(scope.covers("r2", Some("etl")));
        assert!(!scope.covers("r2", Some("deploy")));
        assert!(!scope.covers("r2", None));
    }

    #[test]
    fn random_ids_have_the_asked_length_and_differ() {
        let (a, b) = (random_id(16), random_id(16));
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
