//! Access tokens: short-lived JWTs signed with HMAC-SHA256.
//!
//! Verification is strict: only `HS256` is accepted (so `none`, `HS512` and
//! any asymmetric algorithm are refused before the signature is even looked
//! at), every claim must be present, `iss`, `aud` and `typ` must be ours, and
//! `exp`/`nbf`/`iat` are checked with [`LEEWAY_SECS`] of clock skew. Whatever
//! its `exp` says, a token is never accepted for longer than
//! [`ACCESS_TOKEN_TTL_SECS`] after its `iat`: a token minted with the key
//! (a leaked key, a bug) cannot grant itself a longer life.
//!
//! A valid token only proves who the user *was* when it was issued, in which
//! sign-in (`sid`, its session family):
//! [`crate::Authenticator::authenticate_bearer`] still loads the user and
//! checks that the sign-in has not ended, so a logout, a deactivation, a
//! password or role change takes effect at once.

use std::fmt;

use chrono::{DateTime, Utc};
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode, errors::ErrorKind,
};
use serde::{Deserialize, Serialize};
use tenancy::{Email, OrgId, Role};

use crate::{CryptoError, SessionFamilyId, User, UserId, Username};

/// How long an access token lives: one hour.
pub const ACCESS_TOKEN_TTL_SECS: u64 = 3600;
/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY_SECS: u64 = 30;
/// The shortest JWT secret accepted in production, in bytes (the HS256 key
/// size: a shorter key weakens the MAC).
pub const MIN_JWT_SECRET_LEN: usize = 32;
/// The `typ` claim of access tokens, so that no other token we may sign one
/// day (e-mail verification, password reset) passes as one.
const ACCESS_TYP: &str = "access";

/// The claims of an access token. Serialized camelCase: `userId`,
/// `username`, `email`, `role` (`super_admin`…), `orgId`, `sid`, `iat`,
/// `exp`, `nbf`, `iss`, `aud`, `typ`. Times are Unix seconds. Every claim is
/// required: a token without `sid` (issued before it existed) is refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Claims {
    /// The user.
    pub user_id: UserId,
    /// Its username when the token was issued.
    pub username: Username,
    /// Its e-mail address when the token was issued.
    pub email: Email,
    /// Its role when the token was issued (the authenticator uses the
    /// current one).
    pub role: Role,
    /// Its organization.
    pub org_id: OrgId,
    /// The sign-in it belongs to: the session family of the refresh token
    /// issued with it. Every access token of one sign-in, at login and at
    /// each refresh, carries the same one; the token dies with the family.
    pub sid: SessionFamilyId,
    /// Issued at.
    pub iat: i64,
    /// Expires at.
    pub exp: i64,
    /// Not valid before.
    pub nbf: i64,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Token type: always `access`.
    pub typ: String,
}

/// An issued access token and its lifetime.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// The JWT.
    pub token: String,
    /// Seconds until it expires ([`ACCESS_TOKEN_TTL_SECS`]).
    pub expires_in: u64,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"***")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// Why an access token was refused. All of them are
/// [`crate::AuthError::InvalidToken`] to the client; the detail is for logs
/// and tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts of JSON, or claims of the wrong shape or
    /// missing.
    #[error("malformed token")]
    Malformed,
    /// Signed with an algorithm other than HS256 (including `none`).
    #[error("algorithm not allowed")]
    AlgorithmNotAllowed,
    /// The signature does not match: another key, or a tampered token.
    #[error("bad signature")]
    BadSignature,
    /// `exp` is past, or `iat` is older than [`ACCESS_TOKEN_TTL_SECS`]
    /// (beyond the leeway in both cases).
    #[error("token expired")]
    Expired,
    /// `nbf` or `iat` is in the future (beyond the leeway).
    #[error("token not yet valid")]
    NotYetValid,
    /// `exp - iat` exceeds [`ACCESS_TOKEN_TTL_SECS`]: we never issue such a
    /// token, so it was minted elsewhere.
    #[error("token lifetime exceeds the maximum")]
    LifetimeTooLong,
    /// `iss`, `aud` or `typ` is not ours, or a required claim is missing.
    #[error("claim `{0}` missing or not accepted")]
    BadClaim(&'static str),
}

/// The signing key, issuer and audience of access tokens. Cheap to clone.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
}

impl fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKeys")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl TokenKeys {
    /// Keys for HS256 with this secret. Get the secret from
    /// [`JwtSecret::from_env_value`], which enforces its length.
    ///
    /// # Errors
    /// [`SecretError::Empty`] for an empty secret.
    pub fn new(
        secret: &[u8],
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<Self, SecretError> {
        let encoding = EncodingKey::from_secret(secret).map_err(|_| SecretError::Empty)?;
        let decoding = DecodingKey::from_secret(secret).map_err(|_| SecretError::Empty)?;
        let issuer = issuer.into();
        let audience = audience.into();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud"]);
        validation.set_issuer(&[&issuer]);
        validation.set_audience(&[&audience]);
        validation.validate_aud = true;
        // Time is checked in `verify_access_at` against the caller's clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        Ok(Self {
            encoding,
            decoding,
            validation,
            issuer,
            audience,
        })
    }

    /// A signed access token for `user` in sign-in `family` (its `sid`),
    /// valid from `now` for [`ACCESS_TOKEN_TTL_SECS`].
    ///
    /// # Errors
    /// [`CryptoError`] when signing fails (not expected).
    pub fn issue_access(
        &self,
        user: &User,
        family: &SessionFamilyId,
        now: DateTime<Utc>,
    ) -> Result<AccessToken, CryptoError> {
        let iat = now.timestamp();
        let claims = Claims {
            user_id: user.id.clone(),
            username: user.username.clone(),
            email: user.email.clone(),
            role: user.role,
            org_id: user.org_id.clone(),
            sid: family.clone(),
            iat,
            exp: iat.saturating_add_unsigned(ACCESS_TOKEN_TTL_SECS),
            nbf: iat,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            typ: ACCESS_TYP.to_owned(),
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| CryptoError(format!("JWT signing failed: {e}")))?;
        Ok(AccessToken {
            token,
            expires_in: ACCESS_TOKEN_TTL_SECS,
        })
    }

    /// Verifies an access token against the system clock.
    ///
    /// # Errors
    /// As [`TokenKeys::verify_access_at`].
    pub fn verify_access(&self, token: &str) -> Result<Claims, TokenError> {
        self.verify_access_at(token, Utc::now())
    }

    /// Verifies an access token as of `now`: algorithm HS256, signature, all
    /// claims present, `iss`, `aud`, `typ`, then `exp`, `nbf` and `iat` with
    /// [`LEEWAY_SECS`] of skew, then the lifetime cap: `exp - iat` at most
    /// [`ACCESS_TOKEN_TTL_SECS`] and `iat` no older than that (plus the
    /// leeway), whatever `exp` says. Whether its sign-in is still live is the
    /// authenticator's business.
    ///
    /// # Errors
    /// The first [`TokenError`] found.
    pub fn verify_access_at(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, TokenError> {
        let claims = decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| token_error(e.kind()))?
            .claims;
        if claims.typ != ACCESS_TYP {
            return Err(TokenError::BadClaim("typ"));
        }
        let now = now.timestamp();
        let leeway = LEEWAY_SECS as i64;
        if claims.exp.saturating_add(leeway) < now {
            return Err(TokenError::Expired);
        }
        if claims.nbf.saturating_sub(leeway) > now || claims.iat.saturating_sub(leeway) > now {
            return Err(TokenError::NotYetValid);
        }
        // The cap holds even for a token signed with our key but not issued
        // by `issue_access`: no token lives longer than one we would issue.
        let ttl = ACCESS_TOKEN_TTL_SECS as i64;
        if claims.iat.saturating_add(ttl).saturating_add(leeway) < now {
            return Err(TokenError::Expired);
        }
        if claims.exp.saturating_sub(claims.iat) > ttl {
            return Err(TokenError::LifetimeTooLong);
        }
        Ok(claims)
    }
}

fn token_error(kind: &ErrorKind) -> TokenError {
    match kind {
        ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::UnsupportedAlgorithm
        | ErrorKind::MissingAlgorithm => TokenError::AlgorithmNotAllowed,
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        ErrorKind::InvalidIssuer => TokenError::BadClaim("iss"),
        ErrorKind::InvalidAudience => TokenError::BadClaim("aud"),
        ErrorKind::MissingRequiredClaim(claim) => TokenError::BadClaim(match claim.as_str() {
            "exp" => "exp",
            "nbf" => "nbf",
            "iss" => "iss",
            "aud" => "aud",
            _ => "claims",
        }),
        _ => TokenError::Malformed,
    }
}

/// The HS256 secret, from the `JWT_SECRET` setting.
#[derive(Clone)]
pub struct JwtSecret {
    bytes: Vec<u8>,
    generated: bool,
}

/// Why no usable JWT secret could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// Production without `JWT_SECRET`.
    #[error(
        "JWT_SECRET is not set; production requires a random secret of at least 32 bytes (e.g. `openssl rand -base64 48`)"
    )]
    Missing,
    /// Production with a secret too short to resist brute force.
    #[error(
        "JWT_SECRET is {len} bytes; production requires at least 32 (e.g. `openssl rand -base64 48`)"
    )]
    TooShort {
        /// The length given, in bytes.
        len: usize,
    },
    /// An empty key was given to [`TokenKeys::new`].
    #[error("the JWT signing key is empty")]
    Empty,
}

impl JwtSecret {
    /// The secret from the raw setting. A missing or blank value is:
    /// - in production, [`SecretError::Missing`];
    /// - in development, 64 random bytes, flagged by
    ///   [`JwtSecret::was_generated`] so the caller can warn that tokens will
    ///   not survive a restart.
    ///
    /// A given value is used as its UTF-8 bytes; in production it must be at
    /// least [`MIN_JWT_SECRET_LEN`] bytes.
    ///
    /// # Errors
    /// [`SecretError::Missing`] or [`SecretError::TooShort`], in production
    /// only.
    pub fn from_env_value(value: Option<String>, production: bool) -> Result<Self, SecretError> {
        let value = value.filter(|v| !v.trim().is_empty());
        match value {
            Some(v) if production && v.len() < MIN_JWT_SECRET_LEN => {
                Err(SecretError::TooShort { len: v.len() })
            }
            Some(v) => Ok(Self {
                bytes: v.into_bytes(),
                generated: false,
            }),
            None if production => Err(SecretError::Missing),
            None => {
                let mut bytes = vec![0u8; 64];
                rand::fill(bytes.as_mut_slice());
                Ok(Self {
                    bytes,
                    generated: true,
                })
            }
        }
    }

    /// Whether the secret was generated for this process (development only).
    pub fn was_generated(&self) -> bool {
        self.generated
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for JwtSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtSecret")
            .field("bytes", &"***")
            .field("generated", &self.generated)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use chrono::Duration;

    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn keys() -> TokenKeys {
        TokenKeys::new(SECRET, "lead-routing", "lead-routing-api").unwrap()
    }

    fn user() -> User {
        let now = tenancy::now();
        User {
            id: UserId::generate(),
            org_id: OrgId::default_org(),
            username: Username::parse("ann").unwrap(),
            email: Email::parse("ann@acme.com").unwrap(),
            role: Role::Admin,
            is_active: true,
            created_at: now,
            updated_at: now,
            last_login_at: None,
        }
    }

    fn fam() -> SessionFamilyId {
        SessionFamilyId::generate()
    }

    /// A token with these claims, signed with the right key.
    fn forge(claims: &serde_json::Value) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(SECRET).unwrap(),
        )
        .unwrap()
    }

    /// The claims of a genuine token issued at `iat`, as JSON to alter.
    fn claims_at(iat: DateTime<Utc>) -> serde_json::Value {
        let access = keys().issue_access(&user(), &fam(), iat).unwrap();
        let claims = keys().verify_access_at(&access.token, iat).unwrap();
        serde_json::to_value(&claims).unwrap()
    }

    fn b64(json: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(json.to_string())
    }

    fn parts(token: &str) -> Vec<&str> {
        token.split('.').collect()
    }

    #[test]
    fn an_issued_token_verifies_back_to_its_claims() {
        let u = user();
        let family = fam();
        let now = Utc::now();
        let access = keys().issue_access(&u, &family, now).unwrap();
        assert_eq!(access.expires_in, 3600);
        let claims = keys().verify_access(&access.token).unwrap();
        assert_eq!(claims.user_id, u.id);
        assert_eq!(claims.username, u.username);
        assert_eq!(claims.email, u.email);
        assert_eq!(claims.role, Role::Admin);
        assert_eq!(claims.org_id, u.org_id);
        assert_eq!(claims.sid, family);
        assert_eq!(claims.exp - claims.iat, 3600);
        assert_eq!(claims.typ, "access");
        assert!(!format!("{access:?}").contains(&access.token));
    }

    #[test]
    fn claims_travel_in_camel_case_with_a_snake_case_role() {
        let u = User {
            role: Role::SuperAdmin,
            ..user()
        };
        let access = keys().issue_access(&u, &fam(), Utc::now()).unwrap();
        let payload = URL_SAFE_NO_PAD.decode(parts(&access.token)[1]).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        for key in [
            "userId", "username", "email", "role", "orgId", "sid", "iat", "exp", "nbf", "iss",
            "aud", "typ",
        ] {
            assert!(json.get(key).is_some(), "{key} missing in {json}");
        }
        assert_eq!(json["role"], "super_admin");
        assert_eq!(json["orgId"], "org_default_001");
    }

    #[test]
    fn an_expired_token_is_refused_after_the_leeway() {
        let issued = Utc::now() - Duration::hours(2);
        let access = keys().issue_access(&user(), &fam(), issued).unwrap();
        assert_eq!(
            keys().verify_access(&access.token),
            Err(TokenError::Expired)
        );
        let exp = issued + Duration::seconds(3600);
        let k = keys();
        assert!(
            k.verify_access_at(&access.token, exp + Duration::seconds(30))
                .is_ok()
        );
        assert_eq!(
            k.verify_access_at(&access.token, exp + Duration::seconds(31)),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn a_token_not_yet_valid_is_refused_beyond_the_leeway() {
        let now = Utc::now();
        let access = keys()
            .issue_access(&user(), &fam(), now + Duration::minutes(5))
            .unwrap();
        assert_eq!(
            keys().verify_access_at(&access.token, now),
            Err(TokenError::NotYetValid)
        );
        let soon = keys()
            .issue_access(&user(), &fam(), now + Duration::seconds(20))
            .unwrap();
        assert!(keys().verify_access_at(&soon.token, now).is_ok());
    }

    #[test]
    fn a_token_signed_with_another_secret_is_refused() {
        let other = TokenKeys::new(
            b"another secret of at least 32 bytes!",
            "lead-routing",
            "lead-routing-api",
        )
        .unwrap();
        let access = other.issue_access(&user(), &fam(), Utc::now()).unwrap();
        assert_eq!(
            keys().verify_access(&access.token),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn an_unsigned_alg_none_token_is_refused() {
        let access = keys().issue_access(&user(), &fam(), Utc::now()).unwrap();
        let payload = parts(&access.token)[1].to_owned();
        let header = b64(&serde_json::json!({"alg": "none", "typ": "JWT"}));
        let forged = format!("{header}.{payload}.");
        assert!(keys().verify_access(&forged).is_err());
        // Even with the original signature kept.
        let sig = parts(&access.token)[2];
        assert!(
            keys()
                .verify_access(&format!("{header}.{payload}.{sig}"))
                .is_err()
        );
    }

    #[test]
    fn tokens_with_other_algorithms_are_refused_even_with_the_right_secret() {
        let u = user();
        let access = keys().issue_access(&u, &fam(), Utc::now()).unwrap();
        let claims = keys().verify_access(&access.token).unwrap();
        let hs512 = encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(SECRET).unwrap(),
        )
        .unwrap();
        assert_eq!(
            keys().verify_access(&hs512),
            Err(TokenError::AlgorithmNotAllowed)
        );
        // RS256 with the HMAC secret as "public key": the classic confusion attack.
        let header = b64(&serde_json::json!({"alg": "RS256", "typ": "JWT"}));
        let p = parts(&access.token);
        let rs = format!("{header}.{}.{}", p[1], p[2]);
        assert_eq!(
            keys().verify_access(&rs),
            Err(TokenError::AlgorithmNotAllowed)
        );
    }

    #[test]
    fn a_tampered_payload_breaks_the_signature() {
        let access = keys().issue_access(&user(), &fam(), Utc::now()).unwrap();
        let p = parts(&access.token);
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p[1]).unwrap()).unwrap();
        claims["role"] = "super_admin".into();
        let tampered = format!("{}.{}.{}", p[0], b64(&claims), p[2]);
        assert_eq!(
            keys().verify_access(&tampered),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn a_token_for_another_audience_or_issuer_is_refused() {
        let u = user();
        let other_aud = TokenKeys::new(SECRET, "lead-routing", "another-api").unwrap();
        let t = other_aud.issue_access(&u, &fam(), Utc::now()).unwrap();
        assert_eq!(
            keys().verify_access(&t.token),
            Err(TokenError::BadClaim("aud"))
        );
        let other_iss = TokenKeys::new(SECRET, "someone-else", "lead-routing-api").unwrap();
        let t = other_iss.issue_access(&u, &fam(), Utc::now()).unwrap();
        assert_eq!(
            keys().verify_access(&t.token),
            Err(TokenError::BadClaim("iss"))
        );
    }

    #[test]
    fn a_token_of_another_type_is_refused() {
        let access = keys().issue_access(&user(), &fam(), Utc::now()).unwrap();
        let mut claims = keys().verify_access(&access.token).unwrap();
        claims.typ = "refresh".into();
        let token = encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET).unwrap(),
        )
        .unwrap();
        assert_eq!(
            keys().verify_access(&token),
            Err(TokenError::BadClaim("typ"))
        );
    }

    #[test]
    fn a_token_missing_a_claim_is_refused() {
        let access = keys().issue_access(&user(), &fam(), Utc::now()).unwrap();
        let claims = keys().verify_access(&access.token).unwrap();
        let mut json = serde_json::to_value(&claims).unwrap();
        for claim in ["aud", "nbf", "orgId", "sid"] {
            let mut partial = json.clone();
            partial.as_object_mut().unwrap().remove(claim);
            let token = encode(
                &Header::new(Algorithm::HS256),
                &partial,
                &EncodingKey::from_secret(SECRET).unwrap(),
            )
            .unwrap();
            assert!(keys().verify_access(&token).is_err(), "without {claim}");
        }
        json["exp"] = "tomorrow".into();
        let token = encode(
            &Header::new(Algorithm::HS256),
            &json,
            &EncodingKey::from_secret(SECRET).unwrap(),
        )
        .unwrap();
        assert!(keys().verify_access(&token).is_err());
    }

    #[test]
    fn a_token_without_a_session_id_is_refused() {
        let mut claims = claims_at(Utc::now());
        claims.as_object_mut().unwrap().remove("sid");
        assert_eq!(
            keys().verify_access(&forge(&claims)),
            Err(TokenError::Malformed)
        );
        claims["sid"] = "not a family id".into();
        assert_eq!(
            keys().verify_access(&forge(&claims)),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn a_token_older_than_the_ttl_is_refused_whatever_its_exp() {
        let now = Utc::now();
        let issued = now - Duration::hours(2);
        let mut claims = claims_at(issued);
        claims["exp"] = (now + Duration::days(365)).timestamp().into();
        assert_eq!(
            keys().verify_access_at(&forge(&claims), now),
            Err(TokenError::Expired)
        );
        // At the cap plus the leeway it still passes, one second later not.
        let issued = now - Duration::seconds(3600 + 30);
        let claims = claims_at(issued);
        assert!(keys().verify_access_at(&forge(&claims), now).is_ok());
        assert_eq!(
            keys().verify_access_at(&forge(&claims), now + Duration::seconds(1)),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn a_token_claiming_a_lifetime_beyond_the_ttl_is_refused() {
        let now = Utc::now();
        let mut claims = claims_at(now);
        let iat = now.timestamp();
        claims["exp"] = (iat + 3600).into();
        assert!(keys().verify_access_at(&forge(&claims), now).is_ok());
        claims["exp"] = (iat + 3601).into();
        assert_eq!(
            keys().verify_access_at(&forge(&claims), now),
            Err(TokenError::LifetimeTooLong)
        );
        claims["exp"] = i64::MAX.into();
        assert_eq!(
            keys().verify_access_at(&forge(&claims), now),
            Err(TokenError::LifetimeTooLong)
        );
    }

    #[test]
    fn a_token_issued_in_the_future_is_refused_even_if_already_valid() {
        let now = Utc::now();
        let mut claims = claims_at(now);
        // `nbf` now, but `iat` five minutes ahead: a token from the future.
        claims["iat"] = (now + Duration::minutes(5)).timestamp().into();
        assert_eq!(
            keys().verify_access_at(&forge(&claims), now),
            Err(TokenError::NotYetValid)
        );
        claims["iat"] = (now + Duration::seconds(30)).timestamp().into();
        assert!(keys().verify_access_at(&forge(&claims), now).is_ok());
    }

    #[test]
    fn garbage_is_malformed() {
        for bad in ["", "abc", "a.b.c", "..."] {
            assert!(keys().verify_access(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn production_requires_a_jwt_secret_of_32_bytes() {
        assert_eq!(
            JwtSecret::from_env_value(None, true).unwrap_err(),
            SecretError::Missing
        );
        assert_eq!(
            JwtSecret::from_env_value(Some("  ".into()), true).unwrap_err(),
            SecretError::Missing
        );
        let err = JwtSecret::from_env_value(Some("short".into()), true).unwrap_err();
        assert_eq!(err, SecretError::TooShort { len: 5 });
        assert!(err.to_string().contains("at least 32"));
        let ok = JwtSecret::from_env_value(Some("x".repeat(32)), true).unwrap();
        assert!(!ok.was_generated());
        assert_eq!(ok.as_bytes(), "x".repeat(32).as_bytes());
    }

    #[test]
    fn development_generates_a_random_secret_when_none_is_set() {
        let a = JwtSecret::from_env_value(None, false).unwrap();
        let b = JwtSecret::from_env_value(None, false).unwrap();
        assert!(a.was_generated());
        assert!(a.as_bytes().len() >= 32);
        assert_ne!(a.as_bytes(), b.as_bytes());
        assert!(!format!("{a:?}").contains("bytes: ["));
        let short = JwtSecret::from_env_value(Some("dev".into()), false).unwrap();
        assert!(!short.was_generated());
    }

    #[test]
    fn an_empty_signing_key_is_refused() {
        assert_eq!(
            TokenKeys::new(b"", "i", "a").unwrap_err(),
            SecretError::Empty
        );
    }
}
