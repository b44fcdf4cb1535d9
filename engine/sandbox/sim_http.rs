//! The HTTP client the simulator and the notifier use to reach the emulators (and the
//! notifier's target): a thin wrapper over one shared `reqwest` client with a bounded wait, JSON
//! or form bodies and JSON answers, so they drive the emulators through their real HTTP path.

use serde_json::Value;
use std::sync::OnceLock;
use std::time::Duration;

/// How long one request may take before the caller gives up on it (a `hang` fault).
const TIMEOUT: Duration = Duration::from_secs(10);

/// A parsed answer: HTTP status and the JSON body (`Null` when the body is not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

/// One client for the process: connections to the emulators are pooled across calls.
fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        crate::connectors::transport::builder()
            .timeout(TIMEOUT)
            .build()
            .unwrap_or_default()
    })
}

/// Where to send requests: `http://host:port` or `host:port`.
#[derive(Debug, Clone)]
pub struct Peer {
    base: String,
}

impl Peer {
    pub fn new(base_url: &str) -> Peer {
        let trimmed = base_url.trim().trim_end_matches('/');
        let base = if trimmed.contains("://") {
            trimmed.to_string()
        } else {
            format!("http://{trimmed}")
        };
        Peer { base }
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Result<Answer, String> {
        let text = serde_json::to_string(body).map_err(|e| e.to_string())?;
        self.send("POST", path, token, Some(("application/json", text)), &[])
            .await
    }

    /// `POST path` with a form body.
    pub async fn post_form(&self, path: &str, form: &str) -> Result<Answer, String> {
        let body = Some(("application/x-www-form-urlencoded", form.to_string()));
        self.send("POST", path, None, body, &[]).await
    }

    /// `POST path` with a raw JSON text and extra headers (the notifier's signed events).
    pub async fn post_signed(
        &self,
        path: &str,
        text: String,
        headers: &[(&str, String)],
    ) -> Result<Answer, String> {
        self.send(
            "POST",
            path,
            None,
            Some(("application/json", text)),
            headers,
        )
        .await
    }

    /// `GET path`.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Result<Answer, String> {
        self.send("GET", path, token, None, &[]).await
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, String)>,
        headers: &[(&str, String)],
    ) -> Result<Answer, String> {
        let what = format!("{method} {path}");
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let mut request = client()
            .request(method, format!("{}{path}", self.base))
            .header("Accept", "application/json");
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        if let Some((kind, text)) = body {
            request = request.header("Content-Type", kind).body(text);
        }
        let response = request.send().await.map_err(|e| describe(&what, &e))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| describe(&what, &e))?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Answer { status, body })
    }
}

fn describe(what: &str, e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!("{what}: no answer within {}s", TIMEOUT.as_secs())
    } else {
        format!("{what}: {e}")
    }
}
