//! The emulator's data: settings, issued tokens, transactions (cards and checks), vault
//! profiles, settlement batches and Protect.js tokens, plus the seeded id generator and the
//! Pacific-time formatting PayTrace uses in exports. Nothing here holds a full card or account
//! number: cards are kept as `xxxxxxxxxxxx1234`, first-six-last-four and trigger flags.

use chrono::{DateTime, NaiveTime, Utc};
use chrono_tz::America::Los_Angeles;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};

/// Settings a test or consultant can change at run time (`POST /_sandbox/paytrace/config`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Lifetime of new access tokens, seconds.
    pub token_ttl_s: i64,
    /// HTTP status of `success:false` replies (declines and validation errors): 400 or 200.
    pub decline_status: u16,
    /// Account in test mode: 104/105/108 instead of 101/102/106.
    pub test_mode: bool,
    /// Allow `refund/for_transaction` before the original settled (off: error 817).
    pub refund_unsettled: bool,
    /// Daily batch close, Pacific time `HH:MM`, on the emulator clock; `None`: only on demand.
    pub daily_close: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            token_ttl_s: 7200,
            decline_status: 400,
            test_mode: false,
            refund_unsettled: false,
            daily_close: None,
        }
    }
}

/// A stored card: never the number itself.
#[derive(Debug, Clone)]
pub struct Card {
    /// `xxxxxxxxxxxx1234`.
    pub masked: String,
    /// `411111******1111` (first six, last four), returned with `include_bin`.
    pub bin: String,
    pub exp_month: u32,
    /// Four digits.
    pub exp_year: i32,
}

impl Card {
    pub fn brand(&self) -> &'static str {
        match self.bin.as_bytes().first() {
            Some(b'4') => "visa",
            Some(b'5') | Some(b'2') => "mastercard",
            Some(b'3') => "amex",
            _ => "other",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sale,
    Authorization,
    Refund,
    CheckSale,
    CheckHold,
    CheckRefund,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Sale | Kind::CheckSale => "SALE",
            Kind::Authorization | Kind::CheckHold => "AUTHORIZATION",
            Kind::Refund | Kind::CheckRefund => "REFUND",
        }
    }

    pub fn is_check(self) -> bool {
        matches!(self, Kind::CheckSale | Kind::CheckHold | Kind::CheckRefund)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Declined,
    /// Authorization not captured yet, or check on hold.
    Authorized,
    PendingSettlement,
    Settled,
    Voided,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Declined => "Declined",
            Status::Authorized => "Authorized",
            Status::PendingSettlement => "Pending Settlement",
            Status::Settled => "Settled",
            Status::Voided => "Voided",
        }
    }
}

/// One transaction as PayTrace keeps it.
#[derive(Debug, Clone)]
pub struct Txn {
    pub id: u64,
    pub kind: Kind,
    pub status: Status,
    /// Authorized or charged amount; for a captured authorization, the captured amount.
    pub amount: Decimal,
    /// Total of refunds taken from this transaction (voided refunds give it back).
    pub refunded: Decimal,
    pub card: Option<Card>,
    /// Masked bank account for checks (`xxxxxx6789`).
    pub account: Option<String>,
    /// Request fields kept for exports (invoice_id, description, addresses, ...).
    pub fields: Map<String, Value>,
    pub customer_id: String,
    pub response_code: u16,
    pub approval_code: String,
    pub approval_message: String,
    pub avs_response: String,
    pub csc_response: String,
    pub created: DateTime<Utc>,
    pub settled: Option<DateTime<Utc>>,
    pub batch: Option<u64>,
    /// For refunds: the transaction refunded.
    pub original: Option<u64>,
    pub level_three_lines: Option<usize>,
}

/// A vault profile: one card and/or one bank account, never their numbers.
#[derive(Debug, Clone)]
pub struct Customer {
    pub id: String,
    pub card: Option<Card>,
    pub account: Option<String>,
    /// Fields kept for export (email, phone, fax, addresses, discretionary_data).
    pub fields: Map<String, Value>,
}

impl Customer {
    pub fn name(&self) -> String {
        self.fields
            .get("billing_address")
            .and_then(|a| a.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    }
}

/// A closed settlement batch.
#[derive(Debug, Clone)]
pub struct Batch {
    pub number: u64,
    pub closed: DateTime<Utc>,
    pub txns: Vec<u64>,
}

/// A one-time Protect.js token minted for a test card.
#[derive(Debug, Clone)]
pub struct Protect {
    pub card: Card,
    pub enc_key: String,
    pub csc_given: bool,
    pub expires: DateTime<Utc>,
}

/// Everything behind the state lock.
pub struct Inner {
    pub cfg: Config,
    /// access token -> expiry.
    pub tokens: HashMap<String, DateTime<Utc>>,
    pub txns: BTreeMap<u64, Txn>,
    pub customers: BTreeMap<String, Customer>,
    pub batches: Vec<Batch>,
    pub protect: HashMap<String, Protect>,
    /// When the daily close last ran (so it runs once per day).
    pub last_close: Option<DateTime<Utc>>,
    rng: u64,
    next_id: u64,
    next_batch: u64,
}

impl Inner {
    pub fn new(seed: u64) -> Self {
        let mut rng = seed ^ 0x5151_7ace_0bad_cafe;
        let first = 100_000_000 + splitmix(&mut rng) % 300_000_000;
        let batch = 1000 + splitmix(&mut rng) % 9000;
        Inner {
            cfg: Config::default(),
            tokens: HashMap::new(),
            txns: BTreeMap::new(),
            customers: seeded_customers(),
            batches: Vec::new(),
            protect: HashMap::new(),
            last_close: None,
            rng,
            next_id: first,
            next_batch: batch,
        }
    }

    pub fn random(&mut self) -> u64 {
        splitmix(&mut self.rng)
    }

    /// Next transaction id: 9 digits, increasing, small seeded gaps (other merchants' traffic).
    pub fn new_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1 + self.random() % 7;
        id
    }

    /// The number the next batch will get (the one pending now).
    pub fn pending_batch_number(&self) -> u64 {
        self.next_batch
    }

    pub fn new_batch_number(&mut self) -> u64 {
        let n = self.next_batch;
        self.next_batch += 1;
        n
    }

    /// Random lowercase hex of `n` digits.
    pub fn hex(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        while s.len() < n {
            s.push_str(&format!("{:016x}", self.random()));
        }
        s.truncate(n);
        s
    }
}

/// The vault profiles the dev profile's tables name (`pt-cust-1001` to `1003`, for the Sage
/// Pro customers ACME01, GLOBEX and INITECH), so vault sales and the customer sync work out of
/// the box. Masked test cards only.
fn seeded_customers() -> BTreeMap<String, Customer> {
    let seeds = [
        ("pt-cust-1001", "Acme Corporation", "4111", "411111"),
        ("pt-cust-1002", "Globex Corporation", "5454", "545454"),
        ("pt-cust-1003", "Initech", "1111", "411111"),
    ];
    seeds
        .iter()
        .map(|(id, name, last4, bin)| {
            let mut fields = Map::new();
            fields.insert("billing_address".into(), serde_json::json!({"name": name}));
            let customer = Customer {
                id: id.to_string(),
                card: Some(Card {
                    masked: format!("xxxxxxxxxxxx{last4}"),
                    bin: format!("{bin}******{last4}"),
                    exp_month: 12,
                    exp_year: 2030,
                }),
                account: None,
                fields,
            };
            (id.to_string(), customer)
        })
        .collect()
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// PayTrace's export timestamp: `4/10/2015 4:06:30 PM`, Pacific time, no offset.
pub fn pacific_text(t: DateTime<Utc>) -> String {
    t.with_timezone(&Los_Angeles)
        .format("%-m/%-d/%Y %-I:%M:%S %p")
        .to_string()
}

/// `HH:MM` as a time of day.
pub fn parse_hhmm(text: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(text.trim(), "%H:%M").ok()
}
