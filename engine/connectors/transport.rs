//! The one way to build an HTTP client: reqwest with rustls on the `ring` provider (no C
//! toolchain beyond ring's own, no OpenSSL), installed once per process before the first
//! client is built, and the platform's certificate store for verification.

use std::sync::Once;

/// A client builder with the crypto provider in place. Every reqwest client in Ledgerlink is
/// built from this (`clippy.toml` disallows the other constructors).
#[allow(clippy::disallowed_methods)]
pub fn builder() -> reqwest::ClientBuilder {
    static PROVIDER: Once = Once::new();
    PROVIDER.call_once(|| {
        // Fails only when another provider is already installed, which serves just as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
}

/// A client with default settings (tests and one-off calls).
pub fn client() -> reqwest::Client {
    builder().build().unwrap_or_default()
}

/// A connector's base URL parsed once. A request's URL is the base with its path (and query)
/// set, the same URL as the text `base + path` parsed, without parsing the scheme and host
/// again for every request (a tenth of a connector call's CPU on the W1 workload).
#[derive(Debug, Clone)]
pub struct BaseUrl {
    text: String,
    /// `None` when the text does not parse, or carries a query or fragment: such a base is
    /// joined as text and the request reports the URL error as before.
    parsed: Option<reqwest::Url>,
}

impl BaseUrl {
    pub fn new(text: &str) -> BaseUrl {
        let parsed = reqwest::Url::parse(text)
            .ok()
            .filter(|u| u.query().is_none() && u.fragment().is_none() && !u.cannot_be_a_base());
        BaseUrl {
            text: text.to_string(),
            parsed,
        }
    }

    /// A request to `path` (`/api/payments`, `/api/invoices/INV-1?x=1`) under this base.
    pub fn request(
        &self,
        http: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        match self.join(path) {
            Ok(url) => http.request(method, url),
            // reqwest reports the URL error when the request is sent, as for any bad URL.
            Err(text) => http.request(method, text),
        }
    }

    /// The URL of `path` under this base, or the joined text when it is not a URL.
    pub fn join(&self, path: &str) -> Result<reqwest::Url, String> {
        let joined = || format!("{}{path}", self.text);
        let parse = |text: String| reqwest::Url::parse(&text).map_err(|_| text);
        let base = self.parsed.as_ref();
        let Some(base) = base.filter(|_| path.starts_with('/') && !path.contains('#')) else {
            return parse(joined());
        };
        // The text `http://host` parses with the path `/`, which `base + path` does not have.
        let prefix = match base.path() {
            "/" if !self.text.ends_with('/') => "",
            p => p,
        };
        let (path, query) = match path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path, None),
        };
        let mut url = base.clone();
        url.set_path(&format!("{prefix}{path}"));
        url.set_query(query);
        Ok(url)
    }
}

/// One HTTP answer as connectors classify it: status, the `Retry-After` delay if any, and the
/// body parsed as JSON (`Null` when empty or not JSON, such as a load balancer's HTML 503).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<std::time::Duration>,
    pub headers: reqwest::header::HeaderMap,
    pub body: serde_json::Value,
}

/// Why no answer came. `Unsent` is safe to retry blindly; `Unknown` means the request may have
/// reached the server and done its work (a timeout or a dropped connection after sending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoAnswer {
    Unsent(String),
    Unknown(String),
}

impl NoAnswer {
    pub fn message(&self) -> &str {
        match self {
            NoAnswer::Unsent(m) | NoAnswer::Unknown(m) => m,
        }
    }
}

/// Send `request` and read the answer. Messages name the method and path, never the body.
/// At debug level the request body (`logged`, when given) and the answer are logged, redacted
/// (`redact::for_log`).
pub async fn send(
    request: reqwest::RequestBuilder,
    what: &str,
    logged: Option<&serde_json::Value>,
) -> Result<Answer, NoAnswer> {
    if tracing::enabled!(tracing::Level::DEBUG) {
        let body = logged.map(super::redact::for_log).unwrap_or_default();
        tracing::debug!(call = what, body = %body, "connector request");
    }
    let started = std::time::Instant::now();
    let mut response = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            let e = no_answer(what, &e);
            tracing::debug!(
                call = what,
                error = e.message(),
                "connector call got no answer"
            );
            return Err(e);
        }
    };
    let status = response.status().as_u16();
    // Taken, not copied: reading the body needs no headers.
    let headers = std::mem::take(response.headers_mut());
    let retry_after = headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(std::time::Duration::from_secs);
    let bytes = response.bytes().await.map_err(|e| no_answer(what, &e))?;
    let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    if tracing::enabled!(tracing::Level::DEBUG) {
        tracing::debug!(
            call = what,
            status,
            elapsed_ms = started.elapsed().as_millis() as u64,
            body = %super::redact::for_log(&body),
            "connector answer"
        );
    }
    Ok(Answer {
        status,
        retry_after,
        headers,
        body,
    })
}

fn no_answer(what: &str, e: &reqwest::Error) -> NoAnswer {
    if e.is_connect() {
        NoAnswer::Unsent(format!("{what}: cannot connect"))
    } else if e.is_timeout() {
        NoAnswer::Unknown(format!("{what}: no answer before the timeout"))
    } else {
        NoAnswer::Unknown(format!("{what}: the connection failed before an answer"))
    }
}

/// Fill `{Field}` placeholders of a catalog path from `input` (percent-encoded), returning the
/// path and the input without the fields used.
pub fn fill_path(
    template: &str,
    input: &serde_json::Value,
) -> Result<(String, serde_json::Map<String, serde_json::Value>), String> {
    let (path, used) = path_for(template, input)?;
    let mut rest = input.as_object().cloned().unwrap_or_default();
    for name in used {
        rest.shift_remove(name);
    }
    Ok((path, rest))
}

/// `fill_path` without the rest of the input (a POST sends the input whole): the path and
/// the names of the fields it used.
pub fn path_for<'t>(
    template: &'t str,
    input: &serde_json::Value,
) -> Result<(String, Vec<&'t str>), String> {
    let mut used = Vec::new();
    let mut path = String::new();
    let mut parts = template.split('{');
    path.push_str(parts.next().unwrap_or(""));
    for part in parts {
        let (name, tail) = part
            .split_once('}')
            .ok_or_else(|| format!("unclosed `{{` in path `{template}`"))?;
        let value = match input.get(name) {
            Some(serde_json::Value::String(s)) => encode(s.trim()),
            Some(serde_json::Value::Number(n)) => encode(n.to_string().trim()),
            _ => return Err(format!("input field `{name}` is required for the path")),
        };
        path.push_str(&value);
        path.push_str(tail);
        used.push(name);
    }
    Ok((path, used))
}

/// The remaining input as a query string (`?a=1&b=x`), for GET operations.
pub fn query(fields: &serde_json::Map<String, serde_json::Value>) -> String {
    let pairs: Vec<String> = fields
        .iter()
        .filter_map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some(format!("{}={}", encode(k), encode(&text)))
        })
        .collect();
    if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
    }
}

/// Percent-encode everything but unreserved characters (RFC 3986).
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_joined_url_is_the_base_and_path_text_parsed() {
        for base in [
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080/",
            "https://erp.example.com/sagepro",
            "https://erp.example.com/sagepro/",
            "http://[::1]:9000/a b",
            "not a url",
            "http://h/x?tenant=1",
        ] {
            for path in [
                "/api/payments",
                "/api/invoices/INV%201%2F2?pageSize=50&active=true",
                "/api/x/../y/./z",
                "/api/caf\u{e9} ok",
                "/",
            ] {
                let text = format!("{base}{path}");
                let expected = reqwest::Url::parse(&text).map_err(|_| text);
                assert_eq!(BaseUrl::new(base).join(path), expected, "{base} + {path}");
            }
        }
    }

    #[test]
    fn paths_are_filled_and_the_rest_becomes_the_query() {
        let input = json!({"InvoiceID": " INV 1/2 ", "pageSize": 50, "active": true});
        let (path, rest) = fill_path("/api/invoices/{InvoiceID}", &input).unwrap();
        assert_eq!(path, "/api/invoices/INV%201%2F2");
        assert_eq!(query(&rest), "?pageSize=50&active=true");
        assert!(fill_path("/api/x/{Id}", &json!({})).is_err());
        assert_eq!(query(&serde_json::Map::new()), "");
        // A POST's path alone, the input left whole.
        let (path, used) = path_for("/api/invoices/{InvoiceID}/lines/{pageSize}", &input).unwrap();
        assert_eq!(path, "/api/invoices/INV%201%2F2/lines/50");
        assert_eq!(used, ["InvoiceID", "pageSize"]);
        assert!(path_for("/api/x/{Id", &input).is_err());
    }
}
