//! Native and Rhai evaluation held to the same answers.

use super::{Inputs, parse, template};
use crate::script::helpers::HelperEnv;
use crate::script::limits::MAX_MAP_SIZE;
use crate::script::value::to_dynamic;
use rhai::{Dynamic, Map};
use serde_json::{Value, json};
use std::sync::Arc;

fn env() -> HelperEnv {
    let tables = json!({
        "customers": {"pt-cust-1001": "ACME01", "7": "SEVEN"},
        "gl_accounts": {"card_clearing": "1050", "ach_clearing": "1055"},
        "status_map": {"999": "Held"}
    });
    let tables = serde_json::from_value(tables).unwrap_or_default();
    HelperEnv {
        tables: HelperEnv::tables_from(&tables).unwrap_or_default(),
        ..HelperEnv::default()
    }
}

fn inputs() -> (Dynamic, Dynamic) {
    let event = json!({
        "transaction_id": 500123, "status_code": 101, "amount": "12.50", "amount_num": 12.5,
        "customer_id": "pt-cust-1001", "seven": 7, "flag": true, "none": null, "empty": "",
        "credit_card": {"masked_number": "xxxxxxxxxxxx5454"},
        "created": {"at": "11/25/2026 11:42:10 PM"}, "items": [1, 2], "s": "text"
    });
    let mut payment = Map::new();
    payment.insert("Amount".into(), Dynamic::from("10.5".to_string()));
    payment.insert("Ref".into(), Dynamic::from("R-1".to_string()));
    // A decimal as a map step leaves it, not as JSON would carry it.
    let money = "10.5".parse().unwrap_or_default();
    payment.insert("Money".into(), Dynamic::from_decimal(money));
    let mut steps = Map::new();
    steps.insert("payment".into(), Dynamic::from_map(payment));
    let steps = Dynamic::from_map(steps);
    let Ok(event) = to_dynamic(&event) else {
        unreachable!("the test event converts")
    };
    (event.into_shared(), steps.into_shared())
}

/// A `foreach` variable `inv` holding one invoice.
fn loop_variables() -> (Vec<String>, Vec<(String, Dynamic)>) {
    let inv = json!({"invoice": "INV-7", "customer": "ACME01", "open": 3});
    let Ok(inv) = to_dynamic(&inv) else {
        unreachable!("the loop value converts")
    };
    (vec!["inv".into()], vec![("inv".into(), inv)])
}

/// A run's values (an event, a map step's output, a loop variable) and the profile's
/// tables, evaluated both ways.
struct Fixture {
    env: HelperEnv,
    event: Dynamic,
    steps: Dynamic,
    locals: Vec<String>,
    loop_values: Vec<(String, Dynamic)>,
    engine: rhai::Engine,
}

impl Fixture {
    fn new() -> Fixture {
        let env = env();
        let (event, steps) = inputs();
        let (locals, loop_values) = loop_variables();
        let engine = crate::script::runtime_engine(&Arc::new(env.clone()));
        Fixture {
            env,
            event,
            steps,
            locals,
            loop_values,
            engine,
        }
    }

    fn inputs(&self) -> Inputs<'_> {
        Inputs {
            event: &self.event,
            steps: &self.steps,
            locals: &self.loop_values,
            env: &self.env,
        }
    }

    /// The native answer for `src`, if it has one.
    fn native(&self, src: &str) -> Option<Dynamic> {
        parse(src, &self.locals).and_then(|e| e.eval(&self.inputs()))
    }

    /// Rhai's answer for `src` in a run's scope.
    fn rhai(&self, src: &str) -> Result<Dynamic, String> {
        let mut scope = rhai::Scope::new();
        scope.push_constant_dynamic("event", self.event.clone());
        scope.push_constant_dynamic("steps", self.steps.clone());
        scope.push_constant_dynamic("profile", Dynamic::from_map(Map::new()));
        scope.push_constant_dynamic("flow", Dynamic::from_map(Map::new()));
        for (name, v) in &self.loop_values {
            scope.push_dynamic(name.clone(), v.clone());
        }
        self.engine
            .eval_expression_with_scope::<Dynamic>(&mut scope, src)
            .map_err(|e| e.to_string())
    }
}

fn same(a: &Dynamic, b: &Dynamic) -> bool {
    a.type_name() == b.type_name() && format!("{a:?}") == format!("{b:?}")
}

/// Sources native evaluation must answer itself, with Rhai's value.
const NATIVE: &[&str] = &[
    r#""W1-" + event.transaction_id"#,
    "pacific_date(event.created.at)",
    "money(event.amount)",
    r#"lookup("customers", event.customer_id)"#,
    r#"lookup("gl_accounts", if event.credit_card == () { "ach_clearing" } else { "card_clearing" })"#,
    r#"if event.credit_card == () { "ACH" } else { "CC" }"#,
    "status_map(event.status_code)",
    r#"status_map("999")"#,
    r#"status_map("Approved")"#,
    r#"lookup("customers", event.seven)"#,
    r#"lookup_or("customers", "nobody", "WALK-IN")"#,
    r#"lookup_or("customers", event.customer_id, ())"#,
    "money(12)",
    "money(event.amount_num)",
    "money(steps.payment.Money)",
    r#""Amount " + steps.payment.Money"#,
    r#"steps.payment.Money + " due""#,
    r#"event.transaction_id + "-x""#,
    "event.transaction_id + 1",
    r#""a" + "b" + event.s"#,
    "steps.payment.Ref",
    "steps.payment",
    "event.credit_card",
    "event.items",
    "event.missing",
    "event.none",
    "event.none == ()",
    "event.missing == ()",
    "event.missing != ()",
    "() == ()",
    "event.missing?.deeper",
    "event.credit_card.len",
    "event?.created?.at",
    "event.created?.at",
    r#"event.s == "text""#,
    r#"event.s != "text""#,
    r#""1" == 1"#,
    r#"1 == "1""#,
    "true == 1",
    "event.flag == true",
    "event.seven == 7",
    r#"if event.flag { "yes" }"#,
    r#"if event.missing == () { "no" }"#,
    r#"if event.seven == 8 { 1 } else if event.seven == 7 { 2 } else { 3 }"#,
    "(event.seven)",
    "42",
    "true",
    "()",
    r#""""#,
    r#"event.empty + "x""#,
    r#"sage_date("2026-11-25T10:00:00Z")"#,
    "event.status_code == 101 || event.status_code == 120",
    "event.status_code == 102 || event.status_code == 120",
    "event.flag && event.seven > 3",
    "event.seven >= 7",
    "event.seven <= 6",
    "event.seven < 7",
    r#"money(event.amount) > money("0")"#,
    r#"money(event.amount) == money("12.5")"#,
    r#"money(event.amount) != money("12.51")"#,
    r#""a" < "b""#,
    r#""b" >= "ab""#,
    r#"event.missing == () || event.missing == """#,
    r#"event.s == "text" && event.transaction_id > 500000 || false"#,
    "false && event.missing.deeper",
    "true || event.seven",
    "false && event.seven",
    "money(1) == money(1)",
    "true == true",
    "inv.customer",
    r#""autopay-" + inv.invoice + "-" + inv.open"#,
    "inv",
    "inv.open > 2",
    "inv.missing",
    "!event.flag",
    "!(event.seven > 3)",
    "!event.flag == false",
    "-7",
    "-event.seven",
    "event.seven + -1",
    r#"-money("1.25")"#,
    r#"event.missing ?? "none""#,
    r#"event.s ?? "none""#,
    r#"event.missing ?? event.missing ?? 0"#,
    r#"event.none ?? event.flag || false"#,
    "5 ?? 2 == 1",
    "event.s.len()",
    r#"("" + event.s).starts_with("te")"#,
    r#"!("" + event.s).starts_with("ledgerlink:")"#,
    r#"event.s.ends_with("xt")"#,
    r#"event.s.contains("ex")"#,
    r#"event.s.contains("")"#,
    "event.s.to_upper()",
    r#""ÜnÏ".to_lower().len()"#,
    "money(event.amount).abs()",
    "(-event.seven).abs()",
    "-event.seven.abs()",
    "inv.invoice.len()",
    "event.created.at.len() + 1",
    r#"event.customer_id.starts_with(inv.customer.to_lower())"#,
    r#""café " + event.s"#,
    r#"event.s == "ünï""#,
    r#"lookup_or("customers", event.customer_id ?? "x", ())"#,
    r#"pacific_date("2026-11-26T06:30:00Z")"#,
];

/// Sources that are left to Rhai: outside the grammar, or an error or type pairing that only
/// Rhai answers (its message, its rules).
const RHAI: &[&str] = &[
    r#""a\nb""#,
    "'c'",
    "1.5",
    "1_000",
    "event",
    r#"event["s"]"#,
    "event.s.len",
    "event.missing.deeper",
    "event.missing?.deeper.deepest",
    r#""a" + ()"#,
    "event.transaction_id + event.amount_num",
    "9223372036854775807 + 1",
    "if 1 { 2 } else { 3 }",
    r#"lookup("customers", "nobody")"#,
    r#"lookup("no_table", "x")"#,
    r#"status_map("0")"#,
    "money(())",
    r#"money("12e3")"#,
    "money(event.credit_card)",
    r#"pacific_date("not a date")"#,
    "pacific_date(event.created)",
    "event.items == event.items",
    "1 == 1 == true",
    "profile.x",
    "x",
    "now()",
    "1 - 1",
    "1 +",
    "event.",
    "// comment\n1",
    "event.s += 1",
    "event.seven && true",
    "true && event.seven",
    "false || event.seven",
    r#"event.seven < "x""#,
    "true < false",
    "1 < 2 < 3",
    "1 << 2",
    "event.seven > money(\"1\")",
    "event.items < event.items",
    "inv.invoice.len",
    "other.x",
    "a || b",
    "!event.seven",
    r#"-event.s"#,
    "1 -1",
    r#""a" + event.missing ?? "b""#,
    "--1",
    "!!true",
    "event.credit_card.len()",
    "event.items.len()",
    "event.s.starts_with('t')",
    "event.s?.len()",
    "event.len()",
    "event.s.trim()",
    "event.s.len",
    "event.seven.len()",
    "event.missing.len()",
    "(event.s).x",
    r#"event.s.contains(event.seven)"#,
    "é",
    "event.é",
    "event.s + é",
];

#[test]
fn native_answers_what_rhai_answers() {
    let f = Fixture::new();
    for src in NATIVE {
        assert!(
            parse(src, &f.locals).is_some(),
            "`{src}` should parse natively"
        );
        let (native, rhai) = (f.native(src), f.rhai(src));
        match (&native, &rhai) {
            (Some(n), Ok(r)) => assert!(same(n, r), "`{src}`: native {n:?}, Rhai {r:?}"),
            _ => panic!("`{src}`: native {native:?}, Rhai {rhai:?}"),
        }
    }
}

#[test]
fn anything_else_is_left_to_rhai() {
    let f = Fixture::new();
    for src in RHAI {
        if let Some(v) = f.native(src) {
            panic!(
                "`{src}` was answered natively with {v:?}; Rhai says {:?}",
                f.rhai(src)
            );
        }
    }
}

#[test]
fn a_record_template_is_native_when_every_field_is() {
    let f = Fixture::new();
    let map = json!({
        "Ref": "\"W1-\" + event.transaction_id", "Lines": [{"N": 1, "On": true, "X": null}],
        "Amount": "money(event.amount)", "Nested": {"At": "event.created.at"}
    });
    let expr = template(&map, &[]).unwrap_or_else(|| panic!("the template should parse"));
    let native = expr.eval(&f.inputs()).unwrap_or_default();
    let src = r#"#{ "Ref": "W1-" + event.transaction_id, "Lines": [#{ "N": 1, "On": true, "X": () }],
        "Amount": money(event.amount), "Nested": #{ "At": event.created.at } }"#;
    let rhai = f.rhai(src).unwrap_or_default();
    assert!(same(&native, &rhai), "native {native:?}, Rhai {rhai:?}");
    assert!(template(&json!({"A": "event.x", "B": 1.5}), &[]).is_none());
    // Past Rhai's map size limit the record is Rhai's to refuse.
    let wide: serde_json::Map<String, Value> = (0..=MAX_MAP_SIZE)
        .map(|i| (format!("F{i}"), json!(1)))
        .collect();
    let wide = template(&Value::Object(wide), &[]);
    assert!(wide.is_some_and(|e| e.eval(&f.inputs()).is_none()));
    assert!(template(&json!({"A": "event.x", "B": "now()"}), &[]).is_none());
}

/// Random expressions over the grammar (and around it: type pairings it leaves to Rhai,
/// operators without parentheses), each compiled by Rhai first as a plan would be. Any
/// native answer must be Rhai's answer.
#[test]
fn random_expressions_agree_with_rhai() {
    let f = Fixture::new();
    // A plan's compile scope: the flow variables, then the step's loop variable.
    let mut scope = rhai::Scope::new();
    for name in crate::script::FLOW_VARIABLES.iter().chain(&["inv"]) {
        scope.push_dynamic(*name, Dynamic::UNIT);
    }
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let (mut compiled, mut answered) = (0, 0);
    for _ in 0..4000 {
        let src = random_expr(&mut seed, 3);
        if f.engine
            .compile_expression_with_scope(&scope, &src)
            .is_err()
        {
            continue;
        }
        compiled += 1;
        let Some(native) = f.native(&src) else {
            continue;
        };
        answered += 1;
        match f.rhai(&src) {
            Ok(r) => assert!(same(&native, &r), "`{src}`: native {native:?}, Rhai {r:?}"),
            Err(e) => panic!("`{src}`: native {native:?}, Rhai failed: {e}"),
        }
    }
    // The test means something only if many expressions took each road.
    assert!(
        compiled > 1500 && answered > 500,
        "{compiled} compiled, {answered} native"
    );
}

fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

fn pick<'a>(seed: &mut u64, items: &[&'a str]) -> &'a str {
    items[(next(seed) % items.len() as u64) as usize]
}

fn random_expr(seed: &mut u64, depth: u32) -> String {
    const ATOMS: &[&str] = &[
        r#""""#,
        r#""a""#,
        r#""W1-""#,
        r#""text""#,
        "0",
        "7",
        "101",
        "9223372036854775807",
        "true",
        "false",
        "()",
        "event.transaction_id",
        "event.s",
        "event.seven",
        "event.flag",
        "event.none",
        "event.missing",
        "event.credit_card",
        "event.created.at",
        "event.missing?.x",
        "event.amount",
        "event.customer_id",
        "event.status_code",
        "steps.payment.Money",
        "steps.payment.Ref",
        "inv.open",
        "inv.invoice",
        "inv",
    ];
    const CALLS: &[&str] = &["money", "pacific_date", "sage_date", "status_map"];
    const OPS: &[&str] = &["+", "==", "!=", "<", ">=", "&&", "||", "??"];
    if depth == 0 || next(seed).is_multiple_of(3) {
        return pick(seed, ATOMS).to_string();
    }
    let d = depth - 1;
    match next(seed) % 10 {
        0 => format!("{}({})", pick(seed, CALLS), random_expr(seed, d)),
        7 => format!("{}{}", pick(seed, &["!", "-"]), random_expr(seed, d)),
        8 => format!(
            "({}).{}()",
            random_expr(seed, d),
            pick(seed, &["abs", "len", "to_upper"])
        ),
        9 => format!(
            "({}).{}({})",
            random_expr(seed, d),
            pick(seed, &["starts_with", "ends_with", "contains"]),
            random_expr(seed, d)
        ),
        1 => format!(r#"lookup("customers", {})"#, random_expr(seed, d)),
        2 => format!(
            r#"lookup_or("customers", {}, {})"#,
            random_expr(seed, d),
            random_expr(seed, d)
        ),
        3 => format!(
            "if {} {{ {} }} else {{ {} }}",
            random_expr(seed, d),
            random_expr(seed, d),
            random_expr(seed, d)
        ),
        4 => format!(
            "({} {} {})",
            random_expr(seed, d),
            pick(seed, OPS),
            random_expr(seed, d)
        ),
        _ => format!(
            "{} {} {}",
            random_expr(seed, d),
            pick(seed, OPS),
            random_expr(seed, d)
        ),
    }
}
