//! What the activity simulator reports: one `SimEvent` per simulated operation (sale, decline,
//! ACH sale, void, refund, settlement, chargeback notice), its deterministic `plan()` text used
//! to compare runs of the same seed, and its log line. Cards appear only as brand and last four;
//! bank accounts only as last four. Also the seeded xorshift generator and money helpers.

use rust_decimal::Decimal;
use std::fmt;

/// The kinds of simulated activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// Keyed card sale against a Sage Pro invoice (or a counter sale once all are paid).
    Sale,
    /// Keyed card sale that a documented decline trigger refuses.
    Decline,
    /// ACH check sale by account against an invoice.
    AchSale,
    /// Void of an earlier, not yet settled card sale.
    Void,
    /// Refund (full or partial) of an earlier, settled card sale.
    Refund,
    /// Batch close through the control call.
    Settlement,
    /// Chargeback notice for a settled sale. PayTrace has no chargeback API: this is a
    /// simulator event only, nothing is sent to the emulator.
    ChargebackNotice,
}

impl EventKind {
    pub fn label(self) -> &'static str {
        match self {
            EventKind::Sale => "sale",
            EventKind::Decline => "sale (decline)",
            EventKind::AchSale => "ach sale",
            EventKind::Void => "void",
            EventKind::Refund => "refund",
            EventKind::Settlement => "settlement",
            EventKind::ChargebackNotice => "CHARGEBACK NOTICE (simulated)",
        }
    }
}

/// One simulated operation and what came of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimEvent {
    /// Position in the run, from 1.
    pub seq: usize,
    pub kind: EventKind,
    pub invoice_id: Option<String>,
    pub customer_id: Option<String>,
    pub amount: Option<Decimal>,
    /// `Visa ...1111`, `ACH ...6789`: never a full number.
    pub instrument: Option<String>,
    /// `seq` of the earlier event this one acts on (void, refund, chargeback).
    pub target: Option<usize>,
    /// PayTrace transaction (or check transaction) id, or the batch number of a settlement.
    pub transaction_id: Option<u64>,
    /// PayTrace `response_code`, when there was one.
    pub response_code: Option<i64>,
    /// Short human text: the status message, decline text, errors, or the notice's reason.
    pub outcome: String,
}

impl SimEvent {
    pub(crate) fn new(seq: usize, kind: EventKind) -> SimEvent {
        SimEvent {
            seq,
            kind,
            invoice_id: None,
            customer_id: None,
            amount: None,
            instrument: None,
            target: None,
            transaction_id: None,
            response_code: None,
            outcome: String::new(),
        }
    }

    /// What was asked for, without the emulator's ids or answers: the same seed against the
    /// same seeded emulators gives the same plans, in the same order.
    pub fn plan(&self) -> String {
        format!(
            "#{} {} invoice={} amount={} via={} target={}",
            self.seq,
            self.kind.label(),
            self.invoice_id.as_deref().unwrap_or("-"),
            self.amount
                .map(|a| a.to_string())
                .unwrap_or_else(|| "-".into()),
            self.instrument.as_deref().unwrap_or("-"),
            self.target
                .map(|t| format!("#{t}"))
                .unwrap_or_else(|| "-".into()),
        )
    }
}

impl fmt::Display for SimEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.plan())?;
        if let Some(id) = self.transaction_id {
            let name = if self.kind == EventKind::Settlement {
                "batch"
            } else {
                "txn"
            };
            write!(f, " {name}={id}")?;
        }
        if let Some(c) = self.response_code {
            write!(f, " code={c}")?;
        }
        write!(f, " -> {}", self.outcome)
    }
}

/// Deterministic xorshift generator (the same recipe as the Sage Pro seed).
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5eed_5eed_5eed_5eed | 1)
    }

    /// A number in `0..below`.
    pub(crate) fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below.max(1)
    }

    /// An index into a list of `len` items.
    pub(crate) fn pick(&mut self, len: usize) -> usize {
        self.next(len as u64) as usize
    }
}

/// Cents that trip a documented emulator trigger (card .01/.02/.05/.13/.99, ACH .01/.03).
const TRIGGER_CENTS: &[i64] = &[1, 2, 3, 5, 13, 99];

/// The cents part of an amount, 0-99.
pub(crate) fn cents_of(amount: Decimal) -> i64 {
    use rust_decimal::prelude::ToPrimitive;
    ((amount * Decimal::from(100)).trunc() % Decimal::from(100))
        .to_i64()
        .unwrap_or(0)
}

/// An amount that approves: ten cents less when its cents would trip a trigger.
pub(crate) fn clear_of_triggers(amount: Decimal) -> Decimal {
    if TRIGGER_CENTS.contains(&cents_of(amount)) && amount > Decimal::ONE {
        amount - Decimal::new(10, 2)
    } else {
        amount
    }
}

/// `amount` with its cents replaced by `cents`.
pub(crate) fn with_cents(amount: Decimal, cents: i64) -> Decimal {
    amount.trunc() + Decimal::new(cents, 2)
}

/// A cent amount as money with two decimals.
pub(crate) fn money(cents: u64) -> Decimal {
    Decimal::new(i64::try_from(cents).unwrap_or(0), 2)
}
