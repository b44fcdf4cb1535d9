//! The webhook signature scheme: HMAC-SHA256 over `"{timestamp}.{raw body}"`, sent in one
//! header as `t=<unix seconds>,v1=<lowercase hex>`. Signing the timestamp with the body lets
//! the receiver refuse replays outside a tolerance window; several `v1=` values may be present
//! while a secret is being rotated. Comparison is constant time (`hmac`'s `verify_slice`).

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Why a signature was refused. Messages never contain the secret or the expected digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is missing")]
    Missing,
    #[error("the signature header is not `t=<unix seconds>,v1=<hex>`")]
    Malformed,
    #[error("the signature timestamp is {} (tolerance {tolerance_s} s)", describe_age(*age_s))]
    Stale { age_s: i64, tolerance_s: i64 },
    #[error("the signature does not match the body")]
    Mismatch,
}

/// `age_s` (now minus the signed timestamp) in words: a clock ahead of ours is in the future,
/// not a negative age.
fn describe_age(age_s: i64) -> String {
    if age_s < 0 {
        format!("{} s in the future", -age_s)
    } else {
        format!("{age_s} s old")
    }
}

/// The header value for `body` sent at `timestamp` (unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", hex(&digest(secret, timestamp, body)))
}

/// Check a header value against `body` at time `now`, accepting timestamps within
/// `tolerance_s` seconds either side.
pub fn verify(
    secret: &[u8],
    header: Option<&str>,
    body: &[u8],
    now: i64,
    tolerance_s: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => {
                timestamp = Some(t.parse::<i64>().map_err(|_| SignatureError::Malformed)?)
            }
            Some(("v1", sig)) => candidates.push(unhex(sig).ok_or(SignatureError::Malformed)?),
            // Unknown schemes (a future v2) are ignored, as senders may send several.
            Some(_) => {}
            None => return Err(SignatureError::Malformed),
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let age_s = now.saturating_sub(timestamp);
    if age_s.abs() > tolerance_s {
        return Err(SignatureError::Stale { age_s, tolerance_s });
    }
    for candidate in candidates {
        if mac(secret, timestamp, body)
            .verify_slice(&candidate)
            .is_ok()
        {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail; the fallback keeps the
    // function total without an unwrap.
    let mut mac = HmacSha256::new_from_slice(secret)
        .unwrap_or_else(|_| <HmacSha256 as Mac>::new(&Default::default()));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn digest(secret: &[u8], timestamp: i64, body: &[u8]) -> Vec<u8> {
    mac(secret, timestamp, body)
        .finalize()
        .into_bytes()
        .to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || text.len() > 128 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec-test";

    #[test]
    fn a_signed_body_verifies_and_any_change_is_refused() {
        let body = br#"{"transaction_id":1}"#;
        let header = sign(SECRET, 1_000, body);
        assert!(header.starts_with("t=1000,v1="));
        assert_eq!(verify(SECRET, Some(&header), body, 1_010, 300), Ok(()));
        assert_eq!(
            verify(
                SECRET,
                Some(&header),
                br#"{"transaction_id":2}"#,
                1_010,
                300
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"other", Some(&header), body, 1_010, 300),
            Err(SignatureError::Mismatch)
        );
        // Moving the timestamp breaks the signature too.
        let moved = header.replace("t=1000", "t=1005");
        assert_eq!(
            verify(SECRET, Some(&moved), body, 1_010, 300),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn stale_missing_and_malformed_headers_are_told_apart() {
        let body = b"{}";
        let header = sign(SECRET, 1_000, body);
        assert_eq!(
            verify(SECRET, Some(&header), body, 1_301, 300),
            Err(SignatureError::Stale {
                age_s: 301,
                tolerance_s: 300
            })
        );
        assert!(matches!(
            verify(SECRET, Some(&header), body, 600, 300),
            Err(SignatureError::Stale { .. })
        ));
        assert_eq!(
            verify(SECRET, None, body, 1_000, 300),
            Err(SignatureError::Missing)
        );
        for bad in [
            "",
            "v1=00",
            "t=abc,v1=00",
            "t=1000",
            "t=1000,v1=zz",
            "t=1000,v1=abc",
            "junk",
        ] {
            assert_eq!(
                verify(SECRET, Some(bad), body, 1_000, 300),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn any_of_several_signatures_may_match_during_rotation() {
        let body = b"{}";
        let new = sign(b"new-secret", 1_000, body);
        let old_sig = sign(SECRET, 1_000, body).replace("t=1000,", "");
        let both = format!("{new},{old_sig}");
        assert_eq!(verify(SECRET, Some(&both), body, 1_000, 300), Ok(()));
        assert_eq!(verify(b"new-secret", Some(&both), body, 1_000, 300), Ok(()));
    }
}
