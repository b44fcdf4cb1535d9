//! The bearer-token side every OAuth-style connector shares: a cache that hands out the current
//! token until it is due for renewal, the token request (a form POST), and form encoding.
//! Each connector keeps its own grant (password, client credentials) and error wording.

use super::ConnectorError;
use super::transport::{self, Answer};
use serde_json::Value;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One cached token, shared by every run using the connector instance.
#[derive(Default)]
pub struct TokenCache {
    slot: Mutex<Option<(String, Instant)>>,
}

impl TokenCache {
    /// The cached token, unless it is missing or due for renewal.
    pub fn current(&self) -> Option<String> {
        let slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        slot.as_ref()
            .filter(|(_, renew_at)| Instant::now() < *renew_at)
            .map(|(token, _)| token.clone())
    }

    /// Keep the token of a token endpoint's answer (`access_token`, `expires_in` or
    /// `default_life`), to be renewed `early(lifetime)` before it expires. `None` when the
    /// answer holds no token.
    pub fn keep(
        &self,
        answer: &Value,
        default_life: Duration,
        early: impl Fn(Duration) -> Duration,
    ) -> Option<String> {
        let token = answer.get("access_token").and_then(Value::as_str)?;
        let life = answer
            .get("expires_in")
            .and_then(Value::as_u64)
            .map_or(default_life, Duration::from_secs);
        let renew_at = Instant::now() + life.saturating_sub(early(life));
        *self.slot.lock().unwrap_or_else(|e| e.into_inner()) = Some((token.to_string(), renew_at));
        Some(token.to_string())
    }
}

/// POST a form to a token endpoint. No answer is retryable and harmless: asking for a token
/// changes nothing.
pub async fn request(
    http: &reqwest::Client,
    url: &str,
    form: String,
    what: &str,
) -> Result<Answer, ConnectorError> {
    let request = http
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form);
    transport::send(request, what, None)
        .await
        .map_err(|e| ConnectorError::NotSent {
            message: e.message().to_string(),
            retry_after: None,
        })
}

/// `application/x-www-form-urlencoded` value encoding.
pub fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tokens_are_kept_until_due_and_forms_encoded() {
        let cache = TokenCache::default();
        assert_eq!(cache.current(), None);
        let kept = cache.keep(
            &json!({"access_token": "a:b", "expires_in": 300}),
            Duration::from_secs(60),
            |l| l / 5,
        );
        assert_eq!(kept.as_deref(), Some("a:b"));
        assert_eq!(cache.current().as_deref(), Some("a:b"));
        cache.keep(
            &json!({"access_token": "c", "expires_in": 0}),
            Duration::from_secs(60),
            |_| Duration::ZERO,
        );
        assert_eq!(cache.current(), None, "an expired token is not handed out");
        assert_eq!(
            cache.keep(&json!({"error": "x"}), Duration::from_secs(1), |_| {
                Duration::ZERO
            }),
            None
        );
        assert_eq!(form_encode("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
    }
}
