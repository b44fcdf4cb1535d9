//! The helper library flows call: money, currency conversion, dates, profile lookups, status
//! mapping and card masking. Everything a helper needs from the profile comes in `HelperEnv`,
//! captured when the engine is built (one engine per profile and flow revision).

mod cards;
mod dates;
mod money;
mod tables;

pub use dates::{Parsed as ParsedTime, pacific_date, parse_time, sage_date};
pub use money::{format_money, from_str as money_from_text};
pub use tables::{find as table_value, status_for};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where "now" comes from; tests and replays fix it.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

/// What helpers may read from the profile.
#[derive(Clone)]
pub struct HelperEnv {
    /// `lookup` tables: table -> key -> value, converted for scripts once.
    pub tables: BTreeMap<String, BTreeMap<String, rhai::Dynamic>>,
    /// Currency -> value of one unit in the base currency.
    pub rates: BTreeMap<String, Decimal>,
    pub clock: Clock,
}

impl Default for HelperEnv {
    fn default() -> Self {
        HelperEnv {
            tables: BTreeMap::new(),
            rates: BTreeMap::new(),
            clock: system_clock(),
        }
    }
}

impl HelperEnv {
    /// Convert profile tables (JSON values) for scripts.
    pub fn tables_from(
        tables: &BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    ) -> Result<BTreeMap<String, BTreeMap<String, rhai::Dynamic>>, String> {
        let mut out = BTreeMap::new();
        for (name, table) in tables {
            let mut t = BTreeMap::new();
            for (k, v) in table {
                t.insert(k.clone(), crate::script::value::to_dynamic(v)?);
            }
            out.insert(name.clone(), t);
        }
        Ok(out)
    }
}

/// Register every helper on `engine`.
pub fn register(engine: &mut rhai::Engine, env: &Arc<HelperEnv>) {
    money::register(engine);
    dates::register(engine, env);
    tables::register(engine, env);
    cards::register(engine);
}

/// A script-facing error.
pub(crate) fn fail<T>(message: impl Into<String>) -> Result<T, Box<rhai::EvalAltResult>> {
    Err(message.into().into())
}
