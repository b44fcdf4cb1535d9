//! The fuzz harness: one function per cargo-fuzz target, each taking raw bytes and driving the
//! engine's own entry points with them. A panic anywhere (the engine's or an invariant asserted
//! here) is a crash. The stable test `tests/it/fuzz_corpus.rs` includes this file by path and
//! replays the committed corpus (`fuzz/corpus/<target>/`) through the same functions, so CI
//! checks every input the fuzzer once found interesting without nightly or libFuzzer.
//!
//! Input formats are plain text so seeds can be written by hand and read in a review:
//! - `flow_lint`: the bytes are a flow file.
//! - `webhook_intake`: HTTP-like `Name: value` header lines, an empty line, then the body.
//!   A signature header value `!sign` is replaced by a valid signature of the body (so the
//!   fuzzer reaches the JSON and event-id checks), `!stale` by a valid but expired one.
//! - `script_helpers`: line 1 an expression, line 2 the event as JSON, lines 3 to 5 the
//!   string variables `a`, `b`, `c`. An expression native evaluation answers
//!   (`script::native`) must get Rhai's answer.

use ledgerlink::diag::{Format, render};
use ledgerlink::lint::{LintOptions, lint_sources};
use ledgerlink::model::Profile;
use ledgerlink::plan::Plan;
use ledgerlink::script::helpers::{Clock, HelperEnv};
use std::sync::{Arc, OnceLock};

/// The dev profile the repository ships: real tables, rates and secret bindings.
const DEV_PROFILE: &str = include_str!("../../profiles/dev.yaml");
/// The shipped webhook flow: its `event_id`, header and filter are what the intake runs.
const WEBHOOK_FLOW: &str = include_str!("../../flows/paytrace-payment-posting.yaml");
/// The webhook secret the harness signs with (any value works: the route is built here).
const SECRET: &[u8] = b"fuzz-webhook-secret";
/// "Now" for every target: fixed, so a corpus input behaves the same on every replay.
const NOW_S: i64 = 1_795_000_000;
const TOLERANCE_S: i64 = 300;

fn dev_profile() -> &'static Profile {
    static PROFILE: OnceLock<Profile> = OnceLock::new();
    PROFILE.get_or_init(|| {
        let parsed = ledgerlink::load::parse(DEV_PROFILE).expect("the shipped dev profile parses");
        serde_json::from_value(parsed.value).expect("the shipped dev profile is a profile")
    })
}

fn fixed_clock() -> Clock {
    Arc::new(|| chrono::DateTime::from_timestamp(NOW_S, 0).unwrap_or_default())
}

/// Flow loader and lint: bytes -> UTF-8 and size limits -> YAML -> schema -> model -> every
/// rule (with the dev profile's data, so LL023 runs too) -> every renderer; a flow that lints
/// clean must also plan. Checks that every finding points inside the file.
pub fn flow_lint(data: &[u8]) {
    let Ok(file) = ledgerlink::load::from_bytes("fuzz.yaml", data.to_vec()) else {
        return; // too large or not UTF-8: refused before parsing, as intended
    };
    let lines = ledgerlink::diag::lines(&file.text).count().max(1);
    let options = LintOptions {
        profile: Some("dev".into()),
        profile_data: Some(Arc::new(dev_profile().clone())),
    };
    let report = lint_sources(vec![file.clone()], &options);
    for d in &report.diagnostics {
        if let Some(span) = d.span {
            assert!(
                span.line >= 1 && span.line <= lines + 1,
                "{}: line {} outside a {lines}-line file",
                d.code.code,
                span.line
            );
        }
    }
    for format in [
        Format::Human { colour: true },
        Format::Short,
        Format::Json,
        Format::Sarif,
    ] {
        let _ = render(format, &report.diagnostics, &report.sources, report.files);
    }
    if !report.has_errors() {
        // Lint is the plan's gate: what it passes must compile. The exceptions are profile
        // mismatches, which lint only warns about (LL023: the flow may be meant for another
        // profile) and the plan refuses with the table or rate named.
        let warned = report.diagnostics.iter().any(|d| d.code.code == "LL023");
        if let Err(e) = ledgerlink::plan::build(file, dev_profile().clone(), fixed_clock()) {
            assert!(
                warned || matches!(e, ledgerlink::plan::PlanError::Profile { .. }),
                "lint-clean flow failed to plan: {e}"
            );
        }
    }
}

fn webhook_plan() -> &'static Plan {
    static PLAN: OnceLock<Plan> = OnceLock::new();
    PLAN.get_or_init(|| {
        let source = ledgerlink::load::from_bytes(
            "flows/paytrace-payment-posting.yaml",
            WEBHOOK_FLOW.as_bytes().to_vec(),
        )
        .expect("the shipped flow loads");
        ledgerlink::plan::build(source, dev_profile().clone(), fixed_clock())
            .expect("the shipped flow plans")
    })
}

/// Splits an HTTP-like request into header lines and body at the first empty line.
fn split_request(data: &[u8]) -> (&[u8], &[u8]) {
    for (sep, len) in [(&b"\r\n\r\n"[..], 4), (&b"\n\n"[..], 2)] {
        if let Some(i) = data.windows(len).position(|w| w == sep) {
            return (&data[..i], &data[i + len..]);
        }
    }
    (&[], data)
}

/// The webhook intake: headers (parsed by `http`, as hyper would) + body -> content type ->
/// `server::webhook::check_request` (signature, JSON object, event id) with the shipped
/// payment flow's route. Checks that every refusal is a 4xx, that an accepted event's id is
/// never empty and never a card number, and that a valid signature of a changed body fails.
pub fn webhook_intake(data: &[u8]) {
    use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
    use ledgerlink::server::webhook::{check_request, is_json};
    use ledgerlink::triggers::signature;

    let plan = webhook_plan();
    let header_name = plan
        .flow
        .trigger
        .webhook
        .as_ref()
        .and_then(|w| w.signature.header.clone())
        .unwrap_or_else(|| "X-Signature".into());
    let (head, body) = split_request(data);
    let mut headers = HeaderMap::new();
    for line in head.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        let value = match value {
            b"!sign" => signature::sign(SECRET, NOW_S, body).into_bytes(),
            b"!stale" => signature::sign(SECRET, NOW_S - 2 * TOLERANCE_S, body).into_bytes(),
            other => other.to_vec(),
        };
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name),
            HeaderValue::from_bytes(&value),
        ) {
            headers.append(n, v);
        }
    }
    let _ = is_json(&headers);
    let now_ms = NOW_S * 1000;
    for secret in [Some(SECRET), None] {
        match check_request(
            plan,
            secret,
            &header_name,
            &headers,
            body,
            now_ms,
            TOLERANCE_S,
        ) {
            Ok(row) => {
                assert!(
                    !row.key.trim().is_empty(),
                    "accepted with an empty event id"
                );
                assert!(
                    ledgerlink::pci::card_number_in(&row.key).is_none(),
                    "a card number became an event id"
                );
                assert!(row.body.is_object());
                if let Some(text) = &row.text {
                    // Stored as it came (the fast path): it must be a JSON object holding
                    // nothing masking would change, and the fields the run got and the event
                    // id must be the whole parse's.
                    let whole: serde_json::Value =
                        serde_json::from_str(text).expect("a stored body is JSON");
                    let mut stored = whole.clone();
                    assert!(stored.is_object());
                    assert_eq!(ledgerlink::pci::redact(&mut stored), 0, "{text}");
                    for (field, value) in row.body.as_object().into_iter().flatten() {
                        assert_eq!(whole.get(field), Some(value), "field `{field}` of {text}");
                    }
                    let again = ledgerlink::runtime::intake::new_event(plan, whole, now_ms)
                        .expect("the whole parse takes what the fast path took");
                    assert_eq!(again.key, row.key);
                }
                if secret.is_some() && !body.is_empty() {
                    // The same headers with one byte of the body changed must not verify.
                    let mut changed = body.to_vec();
                    changed[0] ^= 1;
                    let again = check_request(
                        plan,
                        secret,
                        &header_name,
                        &headers,
                        &changed,
                        now_ms,
                        TOLERANCE_S,
                    );
                    assert_eq!(
                        again.map(|_| ()).map_err(|r| r.status),
                        Err(StatusCode::UNAUTHORIZED),
                        "a changed body passed the signature check"
                    );
                }
            }
            Err(refused) => {
                assert!(
                    refused.status.is_client_error(),
                    "refused with {}",
                    refused.status
                );
                assert!(!refused.message.is_empty());
            }
        }
    }
}

/// The dev profile's script engine and the helper data it was built with (which native
/// evaluation reads too).
fn script_engine() -> &'static (rhai::Engine, Arc<HelperEnv>) {
    static ENGINE: OnceLock<(rhai::Engine, Arc<HelperEnv>)> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let profile = dev_profile();
        let mut rates = std::collections::BTreeMap::new();
        if let Some(c) = &profile.currency {
            rates.insert(c.base.clone(), rust_decimal::Decimal::ONE);
            for (code, v) in &c.rates {
                if let Some(r) = v.as_str().and_then(|t| t.parse().ok()) {
                    rates.insert(code.clone(), r);
                }
            }
        }
        let env = HelperEnv {
            tables: HelperEnv::tables_from(&profile.tables).expect("dev tables convert"),
            rates,
            clock: fixed_clock(),
        };
        let env = Arc::new(env);
        (ledgerlink::script::runtime_engine(&env), env)
    })
}

/// The Rhai helper library under the engine's limits: a fuzzer-chosen expression over the
/// event (JSON -> Rhai, exact decimals) and three fuzzer-chosen strings, compiled with strict
/// variables and evaluated with the runtime engine (dev tables, rates, a fixed clock); the
/// result goes back to JSON. Checks that `mask` and `last4` never give back a card number.
pub fn script_helpers(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let expr = lines.next().unwrap_or_default();
    let event = lines
        .next()
        .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .unwrap_or_else(|| serde_json::json!({}));
    let args: Vec<&str> = (0..3).map(|_| lines.next().unwrap_or_default()).collect();
    let (engine, env) = script_engine();
    let mut scope = ledgerlink::plan::base_scope();
    let event = ledgerlink::script::value::to_dynamic(&event).unwrap_or(rhai::Dynamic::UNIT);
    scope.set_value("event", event.clone());
    let mut locals = Vec::new();
    for (name, value) in ["a", "b", "c"].iter().zip(&args) {
        scope.push(*name, rhai::ImmutableString::from(*value));
        locals.push((name.to_string(), rhai::Dynamic::from(value.to_string())));
    }
    // What a plan would evaluate natively must be what Rhai gives.
    let names: Vec<String> = locals.iter().map(|(n, _)| n.clone()).collect();
    if engine.compile_expression_with_scope(&scope, expr).is_ok()
        && let Some(native) = ledgerlink::script::native::parse(expr, &names)
    {
        let inputs = ledgerlink::script::native::Inputs {
            event: &event,
            steps: &rhai::Dynamic::UNIT,
            locals: &locals,
            env,
        };
        if let Some(v) = native.eval(&inputs) {
            match engine.eval_expression_with_scope::<rhai::Dynamic>(&mut scope.clone(), expr) {
                Ok(r) => assert!(
                    v.type_name() == r.type_name() && format!("{v:?}") == format!("{r:?}"),
                    "`{expr}`: native {v:?}, Rhai {r:?}"
                ),
                Err(e) => panic!("`{expr}`: native {v:?}, Rhai failed: {e}"),
            }
        }
    }
    // An expression (`map:` fields, `when:`) or else a statement block (`script:` steps).
    let compiled = engine
        .compile_expression_with_scope(&scope, expr)
        .or_else(|_| engine.compile_with_scope(&scope, expr));
    if let Ok(ast) = compiled
        && let Ok(value) = engine.eval_ast_with_scope::<rhai::Dynamic>(&mut scope, &ast)
    {
        let _ = ledgerlink::script::value::to_json(&value);
    }
    // The card helpers on the raw strings: whatever they are given, no PAN comes back.
    for arg in &args {
        for helper in ["mask", "last4"] {
            let mut scope = rhai::Scope::new();
            scope.push("s", rhai::ImmutableString::from(*arg));
            if let Ok(out) = engine.eval_with_scope::<String>(&mut scope, &format!("{helper}(s)")) {
                assert!(
                    ledgerlink::pci::card_number_in(&out).is_none(),
                    "{helper} returned a card number"
                );
            }
        }
    }
}
