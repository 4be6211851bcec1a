//! The amounts Stripe accepts for a card payment: at least the currency's minimum charge,
//! at most eight digits of minor units, and in the three-decimal currencies a whole number
//! of tens (the card networks settle them to two decimals). From Stripe's "Minimum and
//! maximum charge amounts" and "Three-decimal currencies" documentation.
//!
//! Currencies outside the published minimum table have a minimum "equivalent to 0.50 USD"
//! at the day's rate, which a sandbox without rates cannot know: for them only the
//! one-minor-unit floor and the maximum apply.

use super::wire::ApiError;
use crate::money::{Currency, Money};

/// The published minimum charge amounts, in minor units.
const MINIMUMS: &[(&str, i64)] = &[
    ("usd", 50),
    ("aed", 200),
    ("aud", 50),
    ("bgn", 100),
    ("brl", 50),
    ("cad", 50),
    ("chf", 50),
    ("czk", 1500),
    ("dkk", 250),
    ("eur", 50),
    ("gbp", 30),
    ("hkd", 400),
    ("huf", 17500),
    ("inr", 50),
    ("jpy", 50),
    ("mxn", 1000),
    ("myr", 200),
    ("nok", 300),
    ("nzd", 50),
    ("pln", 200),
    ("ron", 200),
    ("sek", 300),
    ("sgd", 50),
    ("thb", 1000),
];

/// The largest amount, in minor units: eight digits.
const MAXIMUM: i64 = 99_999_999;

/// Currencies with three decimals, whose card amounts must end in 0.
const THREE_DECIMALS: &[&str] = &["bhd", "jod", "kwd", "omr", "tnd"];

/// Refuses `amount` (minor units of `currency`, lower case) as Stripe refuses it when a
/// payment intent is created or its amount updated.
pub fn check(amount: i64, currency: &str) -> Result<(), ApiError> {
    // Stripe writes "$0.50 usd": the symbol where it has a common one, then the code.
    let written = |minor: i64| {
        let symbol = match currency {
            "usd" | "aud" | "cad" | "nzd" | "sgd" | "hkd" | "mxn" => "$",
            "eur" => "\u{20ac}",
            "gbp" => "\u{a3}",
            "jpy" => "\u{a5}",
            _ => "",
        };
        let amount = Currency::from_code(currency)
            .map(|c| Money::from_minor(minor, c).to_decimal_string())
            .unwrap_or_else(|_| minor.to_string());
        format!("{symbol}{amount} {currency}")
    };
    if let Some(&(_, minimum)) = MINIMUMS.iter().find(|(c, _)| *c == currency)
        && amount < minimum
    {
        return Err(ApiError::invalid_param(
            "amount",
            format!("Amount must be at least {}", written(minimum)),
        )
        .with("code", "amount_too_small"));
    }
    if amount > MAXIMUM {
        return Err(ApiError::invalid_param(
            "amount",
            format!("Amount must be no more than {}", written(MAXIMUM)),
        )
        .with("code", "amount_too_large"));
    }
    // Stripe documents the rule but no published error code for it: this one has none.
    if THREE_DECIMALS.contains(&currency) && amount % 10 != 0 {
        return Err(ApiError::invalid_param(
            "amount",
            format!(
                "Invalid amount {amount} for {currency}: amounts in three-decimal currencies must end in 0 (round to the nearest ten, e.g. {} or {}).",
                amount - amount % 10,
                amount - amount % 10 + 10
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn minimums_maximum_and_three_decimal_currencies() {
        assert!(check(50, "usd").is_ok());
        let small = check(49, "usd").unwrap_err();
        assert_eq!(small.error["code"], "amount_too_small");
        assert_eq!(small.error["message"], "Amount must be at least $0.50 usd");
        assert!(check(49, "jpy").is_err() && check(50, "jpy").is_ok());
        assert_eq!(
            check(100_000_000, "usd").unwrap_err().error["code"],
            "amount_too_large"
        );
        assert!(check(99_999_999, "usd").is_ok());
        assert_eq!(check(1_235, "kwd").unwrap_err().error["param"], "amount");
        assert!(check(1_230, "kwd").is_ok());
        assert!(
            check(1, "xof").is_ok(),
            "no published minimum: only the floor"
        );
    }
}
