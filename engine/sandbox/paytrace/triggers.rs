//! Deterministic outcomes for card authorizations (PayTrace publishes no sandbox triggers, so
//! these are the emulator's own; see `docs/sandbox-paytrace.md`): the cents of the amount, a
//! few test card numbers, the expiry date, the security code and the billing zip decide
//! approval, decline, auto-void or a server error, and the AVS/CSC texts.

use super::model::Card;
use chrono::{DateTime, Datelike, Utc};
use rust_decimal::Decimal;

/// Test cards that decline, by first six and last four.
pub const DECLINE_CARDS: &[(&str, Decline)] = &[
    ("400000******0002", Decline::DoNotHonor),
    ("400000******9995", Decline::InsufficientFunds),
    ("400000******0069", Decline::ExpiredCard),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decline {
    DoNotHonor,
    InsufficientFunds,
    ExpiredCard,
}

impl Decline {
    fn message(self) -> &'static str {
        match self {
            Decline::DoNotHonor => "    DECLINE - Do not honor",
            Decline::InsufficientFunds => "    NSF - Insufficient funds",
            Decline::ExpiredCard => "  EXPIRED CARD - Expired card",
        }
    }
}

/// What happens to an authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Approved,
    Declined(Decline),
    /// Approved by the issuer, then voided by the merchant's AVS security setting (103).
    AutoVoided,
    /// The gateway fails with HTTP 500 and records nothing.
    ServerError,
}

/// The decided outcome with the texts PayTrace returns.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub verdict: Verdict,
    pub approval_message: String,
    pub avs_response: String,
    pub csc_response: String,
}

/// Decide. `csc` is only looked at, never kept; `zip` is the billing zip.
pub fn decide(
    amount: Decimal,
    card: &Card,
    csc: Option<&str>,
    zip: Option<&str>,
    now: DateTime<Utc>,
) -> Outcome {
    let cents = (amount * Decimal::from(100)) % Decimal::from(100);
    let by_cents = if cents == Decimal::from(1) {
        Some(Verdict::Declined(Decline::DoNotHonor))
    } else if cents == Decimal::from(2) {
        Some(Verdict::Declined(Decline::InsufficientFunds))
    } else if cents == Decimal::from(5) {
        Some(Verdict::Declined(Decline::ExpiredCard))
    } else if cents == Decimal::from(13) {
        Some(Verdict::AutoVoided)
    } else if cents == Decimal::from(99) {
        Some(Verdict::ServerError)
    } else {
        None
    };
    let by_card = DECLINE_CARDS
        .iter()
        .find(|(bin, _)| *bin == card.bin)
        .map(|(_, d)| Verdict::Declined(*d));
    let today = (now.year(), now.month());
    let expired = (card.exp_year, card.exp_month) < (today.0, today.1);
    let verdict = by_cents
        .or(by_card)
        .or(expired.then_some(Verdict::Declined(Decline::ExpiredCard)))
        .unwrap_or(Verdict::Approved);
    let (avs_response, avs_text) = match zip {
        Some("00000") => ("No Match", "  NO  MATCH"),
        Some(_) => ("Full Exact Match", "  EXACT MATCH"),
        None => ("Not Provided", " NO ADDRESS"),
    };
    let csc_response = match csc {
        None | Some("") => "",
        Some("000") => "No Match",
        Some(_) => "Match",
    };
    let approval_message = match &verdict {
        Verdict::Declined(d) => d.message().to_string(),
        _ => format!("{avs_text} - Approved and completed"),
    };
    Outcome {
        verdict,
        approval_message,
        avs_response: avs_response.to_string(),
        csc_response: csc_response.to_string(),
    }
}
