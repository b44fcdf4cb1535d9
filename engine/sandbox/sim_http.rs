//! The activity simulator's tiny HTTP/1.1 client: one request per connection
//! (`Connection: close`) over `tokio::net::TcpStream` (readiness plus `try_read`/`try_write`,
//! since tokio's `io-util` is not enabled), JSON or form bodies, a bounded wait, and
//! just enough response parsing (status line, `Content-Length` or chunked body, JSON) to drive
//! the emulators through their real HTTP path without adding a client dependency.

use serde_json::Value;
use std::time::Duration;
use tokio::net::TcpStream;

/// How long one request may take before the simulator gives up on it (a `hang` fault).
const TIMEOUT: Duration = Duration::from_secs(10);

/// A parsed answer: HTTP status and the JSON body (`Null` when the body is not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

/// Where to send requests: `http://host:port` or `host:port`.
#[derive(Debug, Clone)]
pub struct Peer {
    addr: String,
}

impl Peer {
    pub fn new(base_url: &str) -> Peer {
        let addr = base_url
            .trim()
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        Peer { addr }
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Result<Answer, String> {
        let text = serde_json::to_string(body).map_err(|e| e.to_string())?;
        self.send("POST", path, token, Some(("application/json", &text)))
            .await
    }

    /// `POST path` with a form body.
    pub async fn post_form(&self, path: &str, form: &str) -> Result<Answer, String> {
        self.send(
            "POST",
            path,
            None,
            Some(("application/x-www-form-urlencoded", form)),
        )
        .await
    }

    /// `GET path`.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Result<Answer, String> {
        self.send("GET", path, token, None).await
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, &str)>,
    ) -> Result<Answer, String> {
        let what = format!("{method} {path}");
        match tokio::time::timeout(TIMEOUT, self.exchange(method, path, token, body)).await {
            Ok(Ok(raw)) => parse(&raw).map_err(|e| format!("{what}: {e}")),
            Ok(Err(e)) => Err(format!("{what}: {e}")),
            Err(_) => Err(format!("{what}: no answer within {}s", TIMEOUT.as_secs())),
        }
    }

    async fn exchange(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, &str)>,
    ) -> std::io::Result<Vec<u8>> {
        let stream = TcpStream::connect(&self.addr).await?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAccept: application/json\r\n",
            self.addr
        );
        if let Some(t) = token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        let payload = match body {
            Some((kind, text)) => {
                head.push_str(&format!(
                    "Content-Type: {kind}\r\nContent-Length: {}\r\n",
                    text.len()
                ));
                text
            }
            None => "",
        };
        head.push_str("\r\n");
        head.push_str(payload);
        let mut out = head.as_bytes();
        while !out.is_empty() {
            stream.writable().await?;
            match stream.try_write(out) {
                Ok(n) => out = &out[n..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        let mut raw = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            stream.readable().await?;
            match stream.try_read(&mut buf) {
                Ok(0) => return Ok(raw),
                Ok(n) => raw.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Split a raw response into status and JSON body.
fn parse(raw: &[u8]) -> Result<Answer, String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("connection closed before a full response")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let rest = &raw[split + 4..];
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or("malformed status line")?;
    let header = |name: &str| {
        head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_ascii_lowercase())
        })
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        dechunk(rest)
    } else if let Some(n) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        rest[..n.min(rest.len())].to_vec()
    } else {
        rest.to_vec()
    };
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Ok(Answer { status, body })
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let size_hex = size_text.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size_hex, 16) else {
            break;
        };
        data = &data[eol + 2..];
        if size == 0 || size > data.len() {
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = data.get(size + 2..).unwrap_or(&[]);
    }
    out
}
