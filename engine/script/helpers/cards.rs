//! `mask(pan)`, `last4(pan)`, `is_luhn(text)`: the only card helpers; none returns a full card
//! number, and the runtime refuses card numbers in outputs anyway.

use crate::pci;
use rhai::Engine;

pub fn register(engine: &mut Engine) {
    engine.register_fn("mask", |s: &str| mask_any(s));
    engine.register_fn("last4", |s: &str| {
        let digits: String = s.chars().filter(char::is_ascii_digit).collect();
        digits
            .chars()
            .skip(digits.len().saturating_sub(4))
            .collect::<String>()
    });
    engine.register_fn("is_luhn", |s: &str| pci::passes_luhn(s));
}

/// Mask a card number as first six and last four; any other text keeps only its last four.
fn mask_any(s: &str) -> String {
    if pci::is_card_number(s) {
        return pci::mask(s);
    }
    let chars: Vec<char> = s.chars().collect();
    let keep = chars.len().saturating_sub(4);
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < keep { '*' } else { *c })
        .collect()
}
