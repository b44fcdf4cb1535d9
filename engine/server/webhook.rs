//! The webhook trigger. A POST to a flow's `trigger.webhook.path` is checked in this order:
//! known path (404), JSON content type (415), body size against the flow's `max_body` (413),
//! signature (`triggers::signature`: HMAC-SHA256 over timestamp and body, within the tolerance
//! window; 401, or accepted unsigned only when the flow says `scheme: none` and the profile
//! allows unsigned webhooks), JSON object (400), event id (400). Only then is the event written
//! to the inbox, and only after that commit does the sender get 202 (new) or 200 (a duplicate
//! event id: nothing new is created). Refused requests store nothing.

use super::{ServerState, error};
use crate::load::secrets::SecretScope;
use crate::model::{Profile, SignatureScheme};
use crate::plan::Plan;
use crate::runtime::intake::new_event;
use crate::runtime::journal::Admission;
use crate::runtime::worker::Plans;
use crate::store::{Accepted, AcceptedNow, NewEvent, now_ms};
use crate::triggers::signature;
use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::Arc;

/// Largest body any webhook may send, whatever its flow says.
pub const HARD_MAX_BODY: usize = 16 * 1024 * 1024;
/// `max_body` when a flow gives none.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;
/// Signature header when a flow gives none.
pub const DEFAULT_HEADER: &str = "X-Signature";

/// One webhook endpoint.
pub struct WebhookRoute {
    pub plan: Arc<Plan>,
    /// `None`: unsigned webhooks accepted (flow `scheme: none` under a profile allowing it).
    pub secret: Option<Vec<u8>>,
    pub header: String,
    pub max_body: usize,
    /// Answer after the run has ended (`respond: completed`).
    pub after_run: bool,
}

/// How long a `respond: completed` webhook waits for its run before answering 202.
pub const RESPOND_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Webhook endpoints by path.
#[derive(Default)]
pub struct WebhookRoutes {
    pub by_path: HashMap<String, Arc<WebhookRoute>>,
}

impl WebhookRoutes {
    /// The endpoints of every webhook flow in `plans`, secrets resolved in `scope`. An
    /// unresolvable secret, an unsigned flow under a profile that forbids it, or two flows on
    /// one path stop the start with the flow named.
    pub fn build(
        plans: &Plans,
        profile: &Profile,
        scope: &SecretScope,
    ) -> Result<WebhookRoutes, String> {
        let mut routes = WebhookRoutes::default();
        for flow in plans.flows() {
            let Some(plan) = plans.current(&flow) else {
                continue;
            };
            let Some(hook) = plan.flow.trigger.webhook.clone() else {
                continue;
            };
            let secret = match hook.signature.scheme {
                SignatureScheme::None if profile.allow_unsigned_webhooks => None,
                SignatureScheme::None => {
                    return Err(format!(
                        "flow `{flow}`: unsigned webhooks (`scheme: none`) are not allowed under profile `{}`",
                        profile.profile
                    ));
                }
                SignatureScheme::HmacSha256 => {
                    let reference = hook.signature.secret.clone().unwrap_or_default();
                    let value = scope
                        .resolve(
                            &format!("flow `{flow}` trigger.webhook.signature.secret"),
                            &reference,
                        )
                        .map_err(|e| e.to_string())?;
                    Some(value.into_bytes())
                }
            };
            let max_body = hook
                .max_body
                .as_deref()
                .and_then(crate::lint::rules::invalid_duration::parse_size)
                .map_or(DEFAULT_MAX_BODY, |n| (n as usize).min(HARD_MAX_BODY));
            if let Some(other) = routes.by_path.get(&hook.path) {
                return Err(format!(
                    "flows `{}` and `{flow}` both listen on `{}`",
                    other.plan.flow.flow, hook.path
                ));
            }
            routes.by_path.insert(
                hook.path.clone(),
                Arc::new(WebhookRoute {
                    plan: Arc::clone(&plan),
                    secret,
                    header: hook
                        .signature
                        .header
                        .clone()
                        .unwrap_or_else(|| DEFAULT_HEADER.to_string()),
                    max_body,
                    after_run: hook.respond == Some(crate::model::Respond::Completed),
                }),
            );
        }
        Ok(routes)
    }
}

/// Why a webhook request was refused: the status and the JSON error's code and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct Refused {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

fn refused(status: StatusCode, code: &'static str, message: impl Into<String>) -> Refused {
    Refused {
        status,
        code,
        message: message.into(),
    }
}

/// Longest a sender may take to send a webhook's body once its headers are in: a slow body
/// would otherwise hold its connection and task for as long as the sender likes.
pub const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Whether the request says its body is JSON (`application/json`, any parameters).
pub fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            // The media type is what stands before any `;` parameters: `application/jsonx`
            // is not JSON.
            let media = v.split(';').next().unwrap_or("").trim();
            media.eq_ignore_ascii_case("application/json")
        })
}

/// The checks on a read body, in order: signature (when the route has a secret), JSON object,
/// event id; the inbox row when all pass. No I/O and the clock passed in, so the handler and
/// the fuzz target (`fuzz/fuzz_targets/webhook_intake.rs`) run exactly the same code.
pub fn check_request(
    plan: &Plan,
    secret: Option<&[u8]>,
    header_name: &str,
    headers: &HeaderMap,
    body: &[u8],
    now_ms: i64,
    tolerance_s: i64,
) -> Result<NewEvent, Refused> {
    if let Some(secret) = secret {
        let given = headers.get(header_name).and_then(|v| v.to_str().ok());
        signature::verify(secret, given, body, now_ms.div_euclid(1000), tolerance_s).map_err(
            |e| {
                refused(
                    StatusCode::UNAUTHORIZED,
                    "InvalidSignature",
                    format!("{e} (header `{header_name}`)"),
                )
            },
        )?;
    }
    if let Some(row) = lean_row(plan, body, now_ms) {
        return Ok(row);
    }
    let event: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v @ serde_json::Value::Object(_)) => v,
        Ok(_) => {
            return Err(refused(
                StatusCode::BAD_REQUEST,
                "NotAnObject",
                "the event must be a JSON object",
            ));
        }
        Err(e) => {
            return Err(refused(
                StatusCode::BAD_REQUEST,
                "MalformedJson",
                format!("the body is not JSON: {e}"),
            ));
        }
    };
    new_event(plan, event, now_ms)
        .map_err(|e| refused(StatusCode::BAD_REQUEST, e.code, e.to_string()))
}

/// The inbox row for a body that surely holds no card data (`pci::json_text_is_clean`), for a
/// flow whose expressions read the event field by field (`Plan::event_fields`) and that has an
/// `event_id`: only the fields the flow reads are parsed into values, and the body is stored
/// as it came (masking it would change nothing). `None` sends the body down the whole path
/// (parse, mask, write the text again), which also gives every refusal its message.
fn lean_row(plan: &Plan, body: &[u8], now_ms: i64) -> Option<NewEvent> {
    let fields = plan.event_fields.as_deref()?;
    plan.event_id.as_ref()?;
    let text = std::str::from_utf8(body).ok()?;
    if !crate::pci::json_text_is_clean(text) {
        return None;
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let event = serde::de::DeserializeSeed::deserialize(OnlyFields(fields), &mut de).ok()?;
    de.end().ok()?;
    let mut row = new_event(plan, serde_json::Value::Object(event), now_ms).ok()?;
    row.text = Some(text.to_string());
    Some(row)
}

/// A JSON object's members named in `.0`, the others checked as JSON and skipped. A member
/// named twice keeps its last value, as a whole parse would.
struct OnlyFields<'a>(&'a [String]);

impl<'de> serde::de::DeserializeSeed<'de> for OnlyFields<'_> {
    type Value = serde_json::Map<String, serde_json::Value>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for OnlyFields<'_> {
    type Value = serde_json::Map<String, serde_json::Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = serde_json::Map::new();
        // Keys with escapes never come here (`json_text_is_clean`), so they borrow.
        while let Some(key) = map.next_key::<&'de str>()? {
            if self.0.iter().any(|f| f == key) {
                out.insert(key.to_string(), map.next_value()?);
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(out)
    }
}

/// Every request the other routes do not take.
pub async fn receive(State(state): State<ServerState>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let found = state
        .routes
        .read()
        .ok()
        .and_then(|r| r.by_path.get(&path).cloned());
    let Some(route) = found else {
        return error(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("no webhook at `{path}`"),
        );
    };
    let (plan, max_body, after_run) = (&route.plan, route.max_body, route.after_run);
    if request.method() != Method::POST {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "webhooks are POSTed",
        );
    }
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    if !is_json(&headers) {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            "send the event as `Content-Type: application/json`",
        );
    }
    let body = match tokio::time::timeout(BODY_READ_TIMEOUT, to_bytes(body, max_body)).await {
        Ok(Ok(b)) => b,
        Err(_) => {
            return error(
                StatusCode::REQUEST_TIMEOUT,
                "RequestTimeout",
                format!(
                    "the body did not arrive within {} s",
                    BODY_READ_TIMEOUT.as_secs()
                ),
            );
        }
        Ok(Err(_)) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PayloadTooLarge",
                format!("the body is larger than this webhook's limit of {max_body} bytes"),
            );
        }
    };
    let checked = check_request(
        plan,
        route.secret.as_deref(),
        &route.header,
        &headers,
        &body,
        now_ms(),
        state.tolerance_s,
    );
    let row = match checked {
        Ok(row) => row,
        Err(refused) => {
            if refused.status == StatusCode::UNAUTHORIZED {
                tracing::warn!(path = %path, flow = %plan.flow.flow, reason = %refused.message, "webhook refused");
            }
            return error(refused.status, refused.code, refused.message);
        }
    };
    let key = row.key.clone();
    let taken = match take(&state, plan, row, after_run).await {
        Ok(t) => t,
        Err(()) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "StoreUnavailable",
                "the event could not be stored; send it again",
            );
        }
    };
    let run = match taken {
        Taken::Duplicate => {
            return (
                StatusCode::OK,
                axum::Json(
                    serde_json::json!({"accepted": false, "duplicate": true, "event_id": key}),
                ),
            )
                .into_response();
        }
        Taken::Queued(run) => {
            let ended = after_run.then(|| state.completions.wait(run));
            state.wake.notify_one();
            (run, ended)
        }
        Taken::Running(run, ended) => (run, ended),
    };
    match run {
        (run, Some(ended)) => answer_after_run(&state, run, &key, ended).await,
        (run, None) => (
            StatusCode::ACCEPTED,
            axum::Json(serde_json::json!({"accepted": true, "run": run, "event_id": key})),
        )
            .into_response(),
    }
}

/// What became of a webhook's event once it was stored.
enum Taken {
    Duplicate,
    /// Queued for the worker pool.
    Queued(i64),
    /// Claimed and running in a task of its own; its end is told to the receiver when the
    /// webhook answers after its run.
    Running(
        i64,
        Option<tokio::sync::oneshot::Receiver<crate::runtime::completions::Outcome>>,
    ),
}

/// Store the event (durably, before any answer). When this process runs flows and has a free
/// slot, the run starts at once and its first write stores the event and claims the run in
/// one commit (`Admission`); otherwise the event is queued for the worker.
async fn take(
    state: &ServerState,
    plan: &Arc<Plan>,
    row: NewEvent,
    after_run: bool,
) -> Result<Taken, ()> {
    let store = Arc::clone(&state.store);
    let direct = state
        .runner
        .as_ref()
        .and_then(|w| w.slot().map(|slot| (Arc::clone(w), slot)));
    match direct {
        Some((worker, slot)) => {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let completions = Arc::clone(&worker.completions);
            let told = move |r: Result<&AcceptedNow, &crate::store::StoreError>| {
                let taken = match r {
                    Ok(AcceptedNow::Running(c)) => {
                        // Registered before the run goes on, so its end cannot be missed.
                        let ended = after_run.then(|| completions.wait(c.run.id));
                        Ok(Taken::Running(c.run.id, ended))
                    }
                    Ok(AcceptedNow::Queued { run, .. }) => Ok(Taken::Queued(*run)),
                    Ok(AcceptedNow::Duplicate { .. }) => Ok(Taken::Duplicate),
                    Err(e) => {
                        tracing::error!(error = %e, "cannot store a webhook's event");
                        Err(())
                    }
                };
                let _ = tx.send(taken);
            };
            let admission = Admission {
                event: row,
                worker: worker.config.id.clone(),
                lease_ms: worker.config.lease.as_millis() as i64,
                told: Box::new(told),
            };
            worker.run_admitting(Arc::clone(plan), admission, slot);
            rx.await.unwrap_or(Err(()))
        }
        None => {
            let accepted = tokio::task::spawn_blocking(move || store.accept(&[row])).await;
            match accepted {
                Ok(Ok(a)) => match a.first() {
                    Some(Accepted::New { run, .. }) => Ok(Taken::Queued(*run)),
                    _ => Ok(Taken::Duplicate),
                },
                _ => Err(()),
            }
        }
    }
}

/// `respond: completed`: 200 with the run's outcome once it has ended; 202 when it waits for
/// a retry or is still running after `RESPOND_WAIT` (it goes on either way).
async fn answer_after_run(
    state: &ServerState,
    run: i64,
    key: &str,
    ended: tokio::sync::oneshot::Receiver<crate::runtime::completions::Outcome>,
) -> Response {
    match tokio::time::timeout(RESPOND_WAIT, ended).await {
        Ok(Ok(o)) => {
            let status = if o.status == "waiting" {
                StatusCode::ACCEPTED
            } else {
                StatusCode::OK
            };
            let mut body = serde_json::json!({"accepted": true, "run": run, "event_id": key,
                "status": o.status});
            if let Some(step) = o.step {
                body["step"] = step.into();
            }
            if let Some(reason) = o.reason {
                body["reason"] = reason.into();
            }
            (status, axum::Json(body)).into_response()
        }
        _ => {
            state.completions.forget(run);
            (
                StatusCode::ACCEPTED,
                axum::Json(
                    serde_json::json!({"accepted": true, "run": run, "event_id": key,
                    "status": "running"}),
                ),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(map: &str) -> Plan {
        crate::runtime::intake::test_plan("event.id", map)
    }

    fn check(plan: &Plan, body: &str) -> NewEvent {
        check_request(plan, None, "X", &HeaderMap::new(), body.as_bytes(), 0, 300).unwrap()
    }

    #[test]
    fn a_clean_body_is_kept_as_it_came_and_only_the_fields_read_are_parsed() {
        let p = plan("{ A: 'event.amount', B: 'event.card.brand' }");
        let body =
            r#"{"id": 7, "amount": "1.50", "card": {"brand": "VISA"}, "other": [1, {"x": "y"}]}"#;
        let row = check(&p, body);
        assert_eq!(row.key, "7");
        assert_eq!(row.text.as_deref(), Some(body));
        assert_eq!(
            row.body,
            serde_json::json!({"id": 7, "amount": "1.50", "card": {"brand": "VISA"}})
        );
        // A field named twice keeps its last value, as a whole parse does.
        let row = check(&p, r#"{"id": 7, "amount": "1", "amount": "2"}"#);
        assert_eq!(row.body["amount"], "2");
    }

    #[test]
    fn the_shipped_webhook_flows_take_the_fast_path() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let profile = crate::load::find_profile(&root.join("profiles"), "dev").unwrap();
        for flow in ["paytrace-payment-posting.yaml", "paytrace-chargeback.yaml"] {
            let source = crate::load::read(&root.join("flows").join(flow)).unwrap();
            let plan = crate::plan::build(
                source,
                profile.clone(),
                crate::script::helpers::system_clock(),
            )
            .unwrap();
            assert!(
                plan.event_fields.is_some() && plan.event_id.is_some(),
                "{flow}"
            );
        }
    }

    #[test]
    fn card_data_or_a_whole_event_read_take_the_whole_path() {
        let p = plan("{ A: 'event.amount' }");
        let mut row = check(
            &p,
            r#"{"id": 1, "amount": "1", "note": "4111 1111 1111 1111"}"#,
        );
        assert!(row.text.is_none());
        row.mask();
        let text = row.text.unwrap_or_default();
        assert!(text.contains(r#""note":"411111******1111""#), "{text}");
        let whole = plan("{ A: 'event' }");
        let row = check(&whole, r#"{"id": 1, "amount": "1", "more": 2}"#);
        assert!(row.text.is_none());
        assert_eq!(row.body["more"], 2);
        // What a whole parse refuses is refused, whichever path reads it: a raw control
        // character or a bad escape in a field the flow does not read, a lone surrogate.
        for body in [
            "{\"id\": 1, \"x\": \"a\u{1}b\"}",
            r#"{"id": 1, "x": "a\qb"}"#,
            r#"{"id": 1, "x": "\ud800"}"#,
            r#"{"id": 1, "x": 1.}"#,
            r#"{"id": 1, "x": 01}"#,
            r#"{"id": 1, "x": [1,]}"#,
            r#"{"id": 1, "x": tru}"#,
        ] {
            let whole = serde_json::from_str::<serde_json::Value>(body).is_ok();
            let read = check_request(&p, None, "X", &HeaderMap::new(), body.as_bytes(), 0, 300);
            assert_eq!(read.is_ok(), whole, "{body}");
        }
        // Refusals read as before.
        let refused = check_request(&p, None, "X", &HeaderMap::new(), b"[1]", 0, 300);
        assert_eq!(refused.unwrap_err().code, "NotAnObject");
        let refused = check_request(
            &p,
            None,
            "X",
            &HeaderMap::new(),
            br#"{"amount": 1}"#,
            0,
            300,
        );
        assert_eq!(refused.unwrap_err().code, "NoEventId");
        let refused = check_request(&p, None, "X", &HeaderMap::new(), br#"{"id": 1} x"#, 0, 300);
        assert_eq!(refused.unwrap_err().code, "MalformedJson");
    }
}
