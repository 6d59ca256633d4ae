//! Opaque high-entropy secrets: refresh tokens and API keys.
//!
//! Both are random values the server hands out once and then only recognizes
//! by their SHA-256. A fast hash is right here, unlike for passwords: with 256
//! random bits there is nothing to brute-force, and the hash only makes a
//! stolen database useless for signing in.
//!
//! API keys read `lr_<prefix>_<secret>`: `prefix` is 8 random lower-case
//! letters or digits, visible in listings and used to find the key's row;
//! `secret` is 32 random bytes in unpadded base64url (43 characters). The
//! stored hash covers the whole key.

use std::fmt;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngExt;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// How many characters an API key's visible prefix has.
pub const API_KEY_PREFIX_LEN: usize = 8;
/// The fixed start of every API key.
const API_KEY_SCHEME: &str = "lr_";
/// Random bytes in a refresh token or an API key's secret part.
const SECRET_BYTES: usize = 32;
/// Characters of [`SECRET_BYTES`] random bytes in unpadded base64.
const SECRET_B64_LEN: usize = 43;
/// What a prefix is drawn from.
const PREFIX_ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// 32 random bytes, base64url without padding.
fn random_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    // The thread-local generator is a ChaCha CSPRNG seeded from the OS.
    rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A fresh random token for double-submit CSRF protection of cookie sessions:
/// 256 random bits, base64url without padding. Not a credential by itself.
pub fn csrf_token() -> String {
    random_secret()
}

/// The SHA-256 of a secret in lower-case hex (64 characters): what is stored
/// and looked up instead of the secret.
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest.iter() {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    hex
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Whether two hashes are equal, in time that depends only on their length,
/// so that response times reveal nothing about how much of a guess matched.
pub fn hashes_match(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// A refresh token: 256 random bits, base64url without padding. Given to the
/// client once; the server keeps only [`RefreshToken::hash`].
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(String);

impl RefreshToken {
    /// A fresh random token.
    pub fn generate() -> Self {
        Self(random_secret())
    }

    /// The token, to give to the client.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The token, to give to the client.
    pub fn into_string(self) -> String {
        self.0
    }

    /// What the server stores: [`hash_secret`] of the token.
    pub fn hash(&self) -> String {
        hash_secret(&self.0)
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(***)")
    }
}

/// The generator of API keys.
#[derive(Debug, Clone, Copy)]
pub struct ApiKeySecret;

impl ApiKeySecret {
    /// A fresh key: `lr_<prefix>_<secret>`, its prefix and its hash.
    pub fn generate() -> GeneratedApiKey {
        let mut rng = rand::rng();
        let prefix: String = (0..API_KEY_PREFIX_LEN)
            .map(|_| char::from(PREFIX_ALPHABET[rng.random_range(0..PREFIX_ALPHABET.len())]))
            .collect();
        let full_key = format!("{API_KEY_SCHEME}{prefix}_{}", random_secret());
        let hash = hash_secret(&full_key);
        GeneratedApiKey {
            full_key,
            prefix,
            hash,
        }
    }
}

/// A newly generated API key. `full_key` is shown to its creator once and
/// never stored; `prefix` and `hash` are stored.
#[derive(Clone, PartialEq, Eq)]
pub struct GeneratedApiKey {
    /// The whole key, `lr_<prefix>_<secret>`.
    pub full_key: String,
    /// The visible, unique lookup prefix (8 lower-case letters or digits).
    pub prefix: String,
    /// [`hash_secret`] of `full_key`.
    pub hash: String,
}

impl fmt::Debug for GeneratedApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedApiKey")
            .field("full_key", &"***")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Splits a presented API key into its prefix and the whole key, or `None`
/// when it does not have the shape of one of ours (`lr_`, 8 lower-case
/// letters or digits, `_`, 43 base64url characters).
pub fn parse_api_key(raw: &str) -> Option<(&str, &str)> {
    let rest = raw.strip_prefix(API_KEY_SCHEME)?;
    let prefix = rest.get(..API_KEY_PREFIX_LEN)?;
    let secret = rest.get(API_KEY_PREFIX_LEN..)?.strip_prefix('_')?;
    let prefix_ok = prefix
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let secret_ok = secret.len() == SECRET_B64_LEN
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (prefix_ok && secret_ok).then_some((prefix, raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_are_256_random_bits_in_base64url() {
        let a = RefreshToken::generate();
        let b = RefreshToken::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 43);
        assert_eq!(URL_SAFE_NO_PAD.decode(a.as_str()).unwrap().len(), 32);
        assert_eq!(format!("{a:?}"), "RefreshToken(***)");
    }

    #[test]
    fn secrets_hash_to_sha256_hex() {
        // SHA-256("abc"), from FIPS 180-2.
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let t = RefreshToken::generate();
        assert_eq!(t.hash(), hash_secret(t.as_str()));
    }

    #[test]
    fn generated_api_keys_parse_back_to_their_prefix() {
        let key = ApiKeySecret::generate();
        assert_eq!(key.full_key.len(), 3 + 8 + 1 + 43);
        assert!(key.full_key.starts_with(&format!("lr_{}_", key.prefix)));
        assert!(
            key.prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        assert_eq!(
            parse_api_key(&key.full_key),
            Some((key.prefix.as_str(), key.full_key.as_str()))
        );
        assert_eq!(key.hash, hash_secret(&key.full_key));
        assert!(!format!("{key:?}").contains(&key.full_key));
        assert_ne!(ApiKeySecret::generate().full_key, key.full_key);
    }

    #[test]
    fn strings_not_shaped_like_our_keys_do_not_parse() {
        let secret = "A".repeat(43);
        for bad in [
            String::new(),
            "dev_key_123".to_owned(),
            format!("lr_abcd1234{secret}"),
            format!("lr_ABCD1234_{secret}"),
            format!("lr_abc_{secret}"),
            format!("lr_abcd1234_{}", "A".repeat(42)),
            format!("lr_abcd1234_{}", "A".repeat(44)),
            format!("lr_abcd1234_{}+", "A".repeat(42)),
            format!("xx_abcd1234_{secret}"),
            "lr_ab€d1234_x".to_owned(),
        ] {
            assert_eq!(parse_api_key(&bad), None, "{bad:?}");
        }
        assert!(parse_api_key(&format!("lr_abcd1234_{}-_", "A".repeat(41))).is_some());
    }

    #[test]
    fn hash_comparison_is_exact() {
        assert!(hashes_match("abc", "abc"));
        assert!(!hashes_match("abc", "abd"));
        assert!(!hashes_match("abc", "abcd"));
    }
}
