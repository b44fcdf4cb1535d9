//! What connector logs may show of a request or an answer: card data masked (`pci::redact`:
//! numbers, CSC, track data, bank account numbers) and credentials replaced (passwords,
//! tokens, secrets, routing numbers, Protect.js keys), then cut to a readable length.

use serde_json::Value;

/// Keys whose values are credentials or bank details, never logged (compared without case).
const SECRET_KEYS: &[&str] = &[
    "password",
    "access_token",
    "refresh_token",
    "token",
    "client_secret",
    "secret",
    "authorization",
    "api_key",
    "apikey",
    "routing_number",
    "transit_routing_number",
    "direct_deposit_account",
    "hpf_token",
    "enc_key",
    "clientkey",
];

/// Longest logged body, in characters.
const MAX_LOGGED: usize = 2000;

/// A body as it may appear in a log line.
pub fn for_log(value: &Value) -> String {
    let mut copy = value.clone();
    crate::pci::redact(&mut copy);
    hide_secrets(&mut copy);
    let mut text = copy.to_string();
    if text.len() > MAX_LOGGED {
        let mut cut = MAX_LOGGED;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("...(cut)");
    }
    text
}

fn hide_secrets(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if SECRET_KEYS.iter().any(|s| s.eq_ignore_ascii_case(k)) && !v.is_null() {
                    *v = Value::String("[redacted]".into());
                } else {
                    hide_secrets(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(hide_secrets),
        // A credential echoed back under any name (`"auth": "Bearer ..."`).
        Value::String(text)
            if ["bearer ", "basic "]
                .iter()
                .any(|p| text.len() > p.len() && text[..p.len()].eq_ignore_ascii_case(p)) =>
        {
            *text = "[redacted]".into();
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cards_credentials_and_bank_details_never_show() {
        let body = json!({"amount": "10.00", "credit_card": {"number": "4111111111111111", "expiration_month": 12},
            "csc": "987", "password": "hunter2", "access_token": "abc:def",
            "check": {"account_number": "123456789", "routing_number": "325070760"},
            "description": "card 4111 1111 1111 1111 at till", "echo": {"auth": "Bearer abc.def"}});
        let text = for_log(&body);
        for secret in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "987",
            "hunter2",
            "abc:def",
            "123456789",
            "325070760",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(
            text.contains("\"amount\":\"10.00\"") && text.contains("411111"),
            "{text}"
        );
        assert!(for_log(&json!({"x": "y".repeat(5000)})).ends_with("...(cut)"));
    }
}
