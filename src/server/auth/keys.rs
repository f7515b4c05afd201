//! Signing and checking tokens (RFC 8725): HS256 only, whatever the token's header says (so
//! `alg: none` and algorithm confusion are refused), with issuer, audience, expiry and
//! not-before always checked.

use super::claims::{Audience, Claims, ISSUER};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use thiserror::Error;

/// The shortest secret accepted: HS256 wants at least 256 bits of key.
pub const MIN_SECRET_BYTES: usize = 32;

/// Why a token is refused. The messages go to the client: they say what is wrong with the
/// token, never anything about the key.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token is meant for another audience")]
    WrongAudience,
    #[error("the token was issued by someone else")]
    WrongIssuer,
    #[error("the token's signature does not match")]
    BadSignature,
    #[error("the token must be signed with HS256")]
    WrongAlgorithm,
    #[error("the token is malformed")]
    Malformed,
    #[error("the token has been revoked")]
    Revoked,
    #[error("this sign-in link has already been used")]
    LinkUsed,
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl TokenKeys {
    /// Keys from a secret of at least [`MIN_SECRET_BYTES`] (see `secret::configured`).
    pub fn new(secret: &[u8]) -> TokenKeys {
        assert!(
            secret.len() >= MIN_SECRET_BYTES,
            "the secret is checked before use"
        );
        TokenKeys {
            encoding: EncodingKey::from_secret(secret).expect("a non-empty secret"),
            decoding: DecodingKey::from_secret(secret).expect("a non-empty secret"),
        }
    }

    /// The signed token carrying `claims`.
    pub fn issue(&self, claims: &Claims) -> String {
        encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("HS256 signs any serialisable claims")
    }

    /// The claims of a valid token for `audience`.
    pub fn verify(&self, token: &str, audience: Audience) -> Result<Claims, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[audience.as_str()]);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        decode::<Claims>(token.trim(), &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                ErrorKind::InvalidAudience => TokenError::WrongAudience,
                ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    TokenError::WrongAlgorithm
                }
                _ => TokenError::Malformed,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::auth::claims::Scope;
    use crate::server::auth::role::Role;
    use std::time::Duration;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn claims(audience: Audience) -> Claims {
        Claims::fresh(
            audience,
            "alice",
            "default",
            Role::Operator,
            Duration::from_secs(600),
            Scope::default(),
        )
    }

    /// base64url without padding, as JWTs are written.
    fn b64(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn a_fresh_token_round_trips() {
        let keys = TokenKeys::new(SECRET);
        let claims = claims(Audience::Api);
        let token = keys.issue(&claims);
        assert_eq!(keys.verify(&token, Audience::Api), Ok(claims));
    }

    #[test]
    fn every_kind_of_bad_token_is_refused_for_its_reason() {
        let keys = TokenKeys::new(SECRET);
        let mut expired = claims(Audience::Api);
        expired.exp = expired.iat - 60;
        let mut early = claims(Audience::Api);
        early.nbf = early.iat + 3600;
        let mut foreign = claims(Audience::Api);
        foreign.iss = "someone-else".into();
        let cases = [
            (keys.issue(&expired), TokenError::Expired),
            (keys.issue(&early), TokenError::NotYetValid),
            (
                keys.issue(&claims(Audience::SignIn)),
                TokenError::WrongAudience,
            ),
            (keys.issue(&foreign), TokenError::WrongIssuer),
            (
                TokenKeys::new(b"another-secret-another-secret-!!").issue(&claims(Audience::Api)),
                TokenError::BadSignature,
            ),
            ("not.a.token".to_owned(), TokenError::Malformed),
        ];
        for (token, expected) in cases {
            assert_eq!(keys.verify(&token, Audience::Api), Err(expected));
        }
    }

    #[test]
    fn unsigned_and_other_algorithm_tokens_are_refused() {
        let keys = TokenKeys::new(SECRET);
        let body = b64(&serde_json::to_vec(&claims(Audience::Api)).unwrap());
        let none = format!("{}.{body}.", b64(br#"{"alg":"none","typ":"JWT"}"#));
        assert!(keys.verify(&none, Audience::Api).is_err());
        let hs512 = encode(
            &Header::new(Algorithm::HS512),
            &claims(Audience::Api),
            &EncodingKey::from_secret(SECRET).unwrap(),
        )
        .unwrap();
        assert_eq!(
            keys.verify(&hs512, Audience::Api),
            Err(TokenError::WrongAlgorithm)
        );
    }

    #[test]
    fn a_tampered_payload_breaks_the_signature() {
        let keys = TokenKeys::new(SECRET);
        let token = keys.issue(&claims(Audience::Api));
        let parts: Vec<&str> = token.split('.').collect();
        let mut admin = claims(Audience::Api);
        admin.role = Role::Admin;
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            b64(&serde_json::to_vec(&admin).unwrap()),
            parts[2]
        );
        assert_eq!(
            keys.verify(&forged, Audience::Api),
            Err(TokenError::BadSignature)
        );
    }
}
