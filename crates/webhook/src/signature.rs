//! Signing deliveries: `X-Lead-Routing-Signature: t=<unix seconds>,v1=<hex
//! HMAC-SHA256(secret, "<t>.<raw body>")>`, the scheme Stripe documents, so
//! receivers can reuse what they know (and reject replays by `t`).

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The event type header.
pub const EVENT_HEADER: &str = "X-Lead-Routing-Event";
/// The event id header: receivers deduplicate on it (deliveries are at
/// least once).
pub const DELIVERY_HEADER: &str = "X-Lead-Routing-Delivery";
/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Lead-Routing-Signature";

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The signature header's value for `body` sent at `timestamp` (unix
/// seconds).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(digest))
}

/// Whether `header` is a valid signature of `body` with `secret`, made at
/// most `tolerance_secs` from `now` (what a receiver does; our tests use
/// it).
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64, tolerance_secs: i64) -> bool {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.push(v.to_owned()),
            _ => {}
        }
    }
    let Some(t) = timestamp else {
        return false;
    };
    if (now - t).abs() > tolerance_secs {
        return false;
    }
    let expected = hex::encode(mac(secret, t, body).finalize().into_bytes());
    signatures
        .iter()
        .any(|s| bool::from(s.as_bytes().ct_eq(expected.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_and_any_change_breaks_it() {
        let header = sign("whsec_x", 1_700_000_000, b"{\"a\":1}");
        assert!(header.starts_with("t=1700000000,v1="));
        assert!(verify("whsec_x", &header, b"{\"a\":1}", 1_700_000_010, 300));
        assert!(!verify(
            "whsec_y",
            &header,
            b"{\"a\":1}",
            1_700_000_010,
            300
        ));
        assert!(!verify(
            "whsec_x",
            &header,
            b"{\"a\":2}",
            1_700_000_010,
            300
        ));
        assert!(
            !verify("whsec_x", &header, b"{\"a\":1}", 1_700_001_000, 300),
            "too old"
        );
        assert!(!verify("whsec_x", "v1=00", b"", 0, 300));
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Known answer: printf '1.{}' | openssl dgst -sha256 -hmac k
        assert_eq!(
            sign("k", 1, b"{}"),
            "t=1,v1=3dd49b2593d0f9a349e9e71c4bde3e2b862c2be4003fe9b4ba81332029310158"
        );
    }
}
