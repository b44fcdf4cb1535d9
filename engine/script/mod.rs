//! The only place that builds a `rhai::Engine`. Engines are hardened: operation, call-depth,
//! expression-depth and size limits, time and memory budgets (`budget`), strict variables, no `eval`, no module loading from disk.
//! The helper library for consultants (money, dates, lookups) is registered here too.

pub mod budget;
pub mod helpers;
pub mod native;
pub mod value;

use rhai::packages::{Package, StandardPackage};
use rhai::{Engine, ParseError, ParseErrorType, Position, Scope};
use std::sync::Arc;

/// Limits for every engine; a runaway script fails its step, it never hangs the process.
pub mod limits {
    pub const MAX_OPERATIONS: u64 = 100_000;
    pub const MAX_CALL_LEVELS: usize = 32;
    pub const MAX_EXPR_DEPTH: usize = 64;
    pub const MAX_STRING_SIZE: usize = 1024 * 1024;
    pub const MAX_ARRAY_SIZE: usize = 10_000;
    pub const MAX_MAP_SIZE: usize = 10_000;
}

/// Variables every flow expression sees.
pub const FLOW_VARIABLES: &[&str] = &["event", "steps", "profile", "flow"];

/// Build a hardened engine.
pub fn engine() -> Engine {
    #[allow(clippy::disallowed_methods)] // this is the factory
    let mut e = Engine::new_raw();
    e.register_global_module(StandardPackage::new().as_shared_module());
    e.set_strict_variables(true)
        .set_max_operations(limits::MAX_OPERATIONS)
        .set_max_call_levels(limits::MAX_CALL_LEVELS)
        .set_max_expr_depths(limits::MAX_EXPR_DEPTH, limits::MAX_EXPR_DEPTH)
        .set_max_string_size(limits::MAX_STRING_SIZE)
        .set_max_array_size(limits::MAX_ARRAY_SIZE)
        .set_max_map_size(limits::MAX_MAP_SIZE)
        .set_optimization_level(rhai::OptimizationLevel::None);
    e.on_progress(budget::on_progress);
    e.disable_symbol("eval");
    // Scripts cannot print: nothing they see may reach a log unfiltered.
    e.on_print(|_| {});
    e.on_debug(|_, _, _| {});
    e
}

/// A hardened engine with the helper library bound to one profile's tables, rates and clock.
pub fn runtime_engine(env: &Arc<helpers::HelperEnv>) -> Engine {
    let mut e = engine();
    helpers::register(&mut e, env);
    // Plans are compiled once and run many times: fold constants at compile time. (Lint keeps
    // `None` so it never evaluates anything.)
    e.set_optimization_level(rhai::OptimizationLevel::Simple);
    e
}

/// A compile failure with its position inside the expression (1-based; 0 when unknown).
#[derive(Debug, Clone)]
pub struct CompileError {
    pub message: String,
    pub line: usize,
    pub col: usize,
    /// Set when the error is an undefined variable (strict variables).
    pub undefined_variable: Option<String>,
}

/// Compile an expression (`block == false`) or a script block, with `extra` variables in scope
/// besides the flow variables, for lint (which reads the calls in the AST: LL024).
pub fn check(
    engine: &Engine,
    src: &str,
    block: bool,
    extra: &[&str],
) -> Result<rhai::AST, CompileError> {
    let mut scope = Scope::new();
    for v in FLOW_VARIABLES.iter().chain(extra) {
        scope.push_dynamic(*v, rhai::Dynamic::UNIT);
    }
    let result = if block {
        engine.compile_with_scope(&scope, src)
    } else {
        engine.compile_expression_with_scope(&scope, src)
    };
    result.map_err(to_compile_error)
}

fn to_compile_error(e: ParseError) -> CompileError {
    let pos: Position = e.1;
    let undefined_variable = match &*e.0 {
        ParseErrorType::VariableUndefined(name) => Some(name.clone()),
        _ => None,
    };
    CompileError {
        message: e.0.to_string(),
        line: pos.line().unwrap_or(0),
        col: pos.position().unwrap_or(0),
        undefined_variable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_variables_catch_typos() {
        let e = engine();
        assert!(check(&e, "event.amount > 0", false, &[]).is_ok());
        let err = check(&e, "evnt.amount", false, &[]).unwrap_err();
        assert_eq!(err.undefined_variable.as_deref(), Some("evnt"));
        assert_eq!((err.line, err.col), (1, 1));
    }

    #[test]
    fn eval_is_disabled() {
        assert!(check(&engine(), "eval(\"1\")", false, &[]).is_err());
    }
}
