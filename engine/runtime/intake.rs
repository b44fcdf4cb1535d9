//! Intake: turning incoming events into inbox rows. Each event gets its flow's deduplication
//! key (the trigger's `event_id` expression, or a digest of the body when the flow has none)
//! and its ordering key, and is stamped with the plan revision that will run it.

use crate::plan::{Compiled, Plan};
use crate::script::value::to_dynamic;
use crate::store::NewEvent;
use rhai::Dynamic;
use serde_json::Value;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("flow `{flow}`: {message}")]
pub struct IntakeError {
    pub flow: String,
    pub message: String,
    /// What a webhook answers with: `NoEventId` (no id, or its expression failed) or
    /// `BadEventId` (an id or ordering key no store can keep).
    pub code: &'static str,
}

/// The inbox row for `event` in `plan`'s flow.
pub fn new_event(plan: &Plan, event: Value, received_ms: i64) -> Result<NewEvent, IntakeError> {
    let fail = |message: String| IntakeError {
        flow: plan.flow.flow.clone(),
        message,
        code: "NoEventId",
    };
    let bad_key = |message: String| IntakeError {
        code: "BadEventId",
        ..fail(message)
    };
    if !event.is_object() {
        return Err(fail("an event must be a JSON object".into()));
    }
    let key = match &plan.event_id {
        Some(c) => {
            let k = eval_text(plan, c, &event).map_err(|m| fail(format!("event id: {m}")))?;
            if k.trim().is_empty() || k == "()" {
                return Err(fail(
                    "the event id expression gave nothing for this event".into(),
                ));
            }
            storable("event id", &k).map_err(bad_key)?;
            k
        }
        None => digest(&event),
    };
    let ordering_key = plan
        .ordering_key
        .as_ref()
        .map(|c| eval_text(plan, c, &event).map_err(|m| fail(format!("ordering key: {m}"))))
        .transpose()?
        .filter(|k| k != "()");
    if let Some(k) = &ordering_key {
        storable("ordering key", k).map_err(bad_key)?;
    }
    Ok(NewEvent {
        flow: plan.flow.flow.clone(),
        key,
        body: event,
        revision: plan.hash.clone(),
        ordering_key,
        received_ms,
        text: None,
    })
}

/// Longest event id or ordering key, in bytes. Keys are indexed; a PostgreSQL index entry
/// has a size limit (about 2.7 KB), and an id longer than this is not an id.
pub const MAX_KEY_BYTES: usize = 512;

/// Refuse a key every store cannot keep, with what is wrong, rather than fail at the store
/// on every delivery (PostgreSQL text cannot hold a NUL character).
fn storable(what: &str, key: &str) -> Result<(), String> {
    if key.contains('\0') {
        return Err(format!("the {what} contains a NUL character"));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(format!(
            "the {what} is {} bytes long, more than the {MAX_KEY_BYTES} allowed",
            key.len()
        ));
    }
    Ok(())
}

/// A flow-level expression evaluated against the event alone.
fn eval_text(plan: &Plan, c: &Compiled, event: &Value) -> Result<String, String> {
    // `event.field` naming a text or whole-number field: read it from the JSON (what Rhai
    // would give: integers stay `INT` and print as such).
    let field = c
        .event_path
        .as_ref()
        .and_then(|path| path.iter().try_fold(event, |v, k| v.get(k)));
    let direct = match field {
        Some(Value::String(s)) => Some(std::borrow::Cow::Borrowed(s.as_str())),
        Some(Value::Number(n)) if n.is_i64() => Some(std::borrow::Cow::Owned(n.to_string())),
        _ => None,
    };
    if let Some(text) = direct {
        let text = text.as_ref();
        return Ok(if crate::pci::card_number_in(text).is_some() {
            crate::pci::mask(text)
        } else {
            text.to_string()
        });
    }
    let mut scope = crate::plan::base_scope();
    scope.set_value("event", to_dynamic(event)?);
    scope.set_value("profile", plan.profile_values.clone());
    let value: Dynamic = plan
        .engine
        .eval_ast_with_scope(&mut scope, &c.ast)
        .map_err(|e| e.to_string())?;
    let mut text = if value.is::<rust_decimal::Decimal>() {
        crate::script::helpers::format_money(value.cast::<rust_decimal::Decimal>())
    } else {
        value.to_string()
    };
    if crate::pci::card_number_in(&text).is_some() {
        text = crate::pci::mask(&text);
    }
    Ok(text)
}

/// `sha256:` and the hex digest of the body's JSON text, for flows without an event id.
fn digest(event: &Value) -> String {
    let hash = Sha256::digest(event.to_string().as_bytes());
    let hex: String = hash.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The plan of an unsigned webhook flow `t` on `/t` with `event_id` and one map step `a` of
/// `map` (a YAML flow mapping), for tests.
#[cfg(test)]
pub(crate) fn test_plan(event_id: &str, map: &str) -> Plan {
    let text = format!(
        "flow: t\ntrigger:\n  webhook:\n    path: /t\n    signature: {{ scheme: none }}\n    event_id: {event_id}\nsteps:\n  - id: a\n    map: {map}\n"
    );
    let source = crate::load::from_bytes("t.yaml", text.into_bytes()).unwrap();
    crate::plan::build(
        source,
        crate::model::Profile::default(),
        crate::script::helpers::system_clock(),
    )
    .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan(event_id: &str) -> Plan {
        test_plan(event_id, "{ A: '1' }")
    }

    #[test]
    fn a_plain_event_field_reads_as_rhai_would() {
        let direct = plan("event.txn.id");
        assert!(direct.event_id.as_ref().unwrap().event_path.is_some());
        let computed = plan("event.txn.id + \"\"");
        assert!(computed.event_id.as_ref().unwrap().event_path.is_none());
        for event in [
            json!({"txn": {"id": "T-1"}}),
            json!({"txn": {"id": 42}}),
            json!({"txn": {"id": -7}}),
            json!({"txn": {"id": 18446744073709551615u64}}),
            json!({"txn": {"id": 4111111111111111u64}}),
            json!({"txn": {"id": "4111111111111111"}}),
        ] {
            let a = new_event(&direct, event.clone(), 0).unwrap().key;
            let b = new_event(&computed, event.clone(), 0).unwrap().key;
            assert_eq!(a, b, "{event}");
            assert!(!a.contains("4111111111111111"));
        }
        assert!(new_event(&direct, json!({"txn": {}}), 0).is_err());
    }

    #[test]
    fn keys_no_store_can_keep_are_refused_with_the_reason() {
        let p = plan("event.id");
        let nul = new_event(&p, serde_json::json!({"id": "a\u{0}b"}), 0).unwrap_err();
        assert!(
            nul.message.contains("event id contains a NUL"),
            "{}",
            nul.message
        );
        let long = "x".repeat(MAX_KEY_BYTES + 1);
        let err = new_event(&p, serde_json::json!({ "id": long }), 0).unwrap_err();
        assert!(err.message.contains("513 bytes long"), "{}", err.message);
        let fine = "x".repeat(MAX_KEY_BYTES);
        assert!(new_event(&p, serde_json::json!({ "id": fine }), 0).is_ok());
    }
}
