//! Money: an amount in integer minor units of one ISO 4217 currency.
//!
//! This module owns the only way text becomes money. Amounts in files are decimals in the
//! currency's major unit ("12.50" USD, "1000" JPY, "1.250" KWD); they are parsed exactly,
//! never through a float, and anything that could be read two ways is refused: a comma
//! (decimal or thousands separator?), an exponent, more decimals than the currency has.
//! The currency table (exponents included) is ISO 4217 as the `iso_currency` crate
//! maintains it; nothing here types a currency list by hand.
//!
//! It must never add two currencies silently: arithmetic across currencies is an error.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What can go wrong turning text into money, or combining two amounts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("the amount is empty")]
    Empty,
    #[error("`{text}` is not a plain decimal amount: {reason}")]
    Malformed { text: String, reason: &'static str },
    #[error("`{text}` has more decimals than {currency} allows ({exponent}); refusing to round")]
    TooPrecise {
        text: String,
        currency: Currency,
        exponent: u32,
    },
    #[error("`{text}` is negative, and a negative amount is not allowed here")]
    Negative { text: String },
    #[error("`{0}` is not an ISO 4217 currency code")]
    UnknownCurrency(String),
    #[error(
        "`{0}` has no minor unit in ISO 4217 (a fund or metal code), so it cannot be money here"
    )]
    NoMinorUnit(String),
    #[error("cannot combine {left} with {right}: the currencies differ")]
    CurrencyMismatch { left: Currency, right: Currency },
    #[error("the amount `{0}` is too large to hold")]
    Overflow(String),
}

/// The largest amount a file may state, in minor units: 10^15 (ten trillion dollars). No
/// invoice or payment comes near it, and the store's running totals of many such amounts
/// (the chart's per-quarter-hour money, kept by triggers with `+`) stay inside 64 bits,
/// where SQLite turns an overflowing `+` into an inexact REAL.
pub const MAX_WRITTEN_MINOR: i64 = 1_000_000_000_000_000;

/// What may stand around an amount written for people: nothing, a currency sign, or the
/// currency's own code (`USD`, `US$`); another currency's code is an error.
fn check_currency_marks(marks: &str, currency: Currency) -> Result<(), &'static str> {
    if marks.is_empty() {
        return Ok(());
    }
    let letters: String = marks.chars().filter(|c| c.is_alphabetic()).collect();
    if letters.is_empty() {
        // Currency signs ($ € £ ¥ ₹ …): any non-alphanumeric mark but a digit separator.
        return if marks
            .chars()
            .all(|c| !c.is_alphanumeric() && !matches!(c, ',' | '.' | '\'' | '+'))
        {
            Ok(())
        } else {
            Err("it has marks around the number that are not a currency sign")
        };
    }
    let code = currency.code();
    let upper = letters.to_uppercase();
    if upper == code || (upper.len() < 3 && code.starts_with(&upper)) {
        Ok(())
    } else if upper.len() == 3 && upper.chars().all(|c| c.is_ascii_uppercase()) {
        Err("it is written in another currency than the row's")
    } else {
        Err("it has letters around the number that are not the row's currency")
    }
}

/// An ISO 4217 currency that has a minor unit. Shown upper-case ("USD"), stored and
/// serialized lower-case ("usd") as Stripe writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    /// Looks a code up case-insensitively ("usd", "USD").
    pub fn from_code(code: &str) -> Result<Currency, MoneyError> {
        let trimmed = code.trim();
        let upper = trimmed.to_ascii_uppercase();
        let iso = iso_currency::Currency::from_code(&upper)
            .ok_or_else(|| MoneyError::UnknownCurrency(trimmed.to_string()))?;
        if iso.exponent().is_none() {
            return Err(MoneyError::NoMinorUnit(upper));
        }
        Ok(Currency(iso))
    }

    /// The upper-case ISO code, "USD".
    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// The lower-case code Stripe and our store use, "usd".
    pub fn lower(self) -> String {
        self.0.code().to_ascii_lowercase()
    }

    /// The lower-case code as bytes, for paths that run per row and should not allocate.
    pub fn lower_bytes(self) -> [u8; 3] {
        let mut out = [0u8; 3];
        for (o, b) in out.iter_mut().zip(self.0.code().bytes()) {
            *o = b.to_ascii_lowercase();
        }
        out
    }

    /// Number of decimals of the minor unit: JPY 0, USD 2, KWD 3.
    pub fn exponent(self) -> u32 {
        // Checked in `from_code`: every `Currency` has an exponent.
        u32::from(self.0.exponent().unwrap_or(0))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::from_code(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.lower())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Currency::from_code(&text).map_err(serde::de::Error::custom)
    }
}

/// Whether a parsed amount may be below zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    NonNegative,
    Any,
}

/// An amount of money: integer minor units of one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    pub fn from_minor(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    pub fn zero(currency: Currency) -> Money {
        Money { minor: 0, currency }
    }

    pub fn minor(self) -> i64 {
        self.minor
    }

    pub fn currency(self) -> Currency {
        self.currency
    }

    pub fn is_negative(self) -> bool {
        self.minor < 0
    }

    pub fn is_zero(self) -> bool {
        self.minor == 0
    }

    /// An amount as an invoicing app writes it for people, read exactly: a currency symbol
    /// or code before or after it (`$1,020.00`, `1.020,00 €`, `USD 13.50`), its whole part
    /// grouped in threes by `,`, `.`, `'` or a space (whichever is not `decimal`), a minus
    /// or parentheses for a negative. Grouping that is not in threes (`1,02.00`), a second
    /// decimal mark or another currency's code is refused rather than guessed.
    pub fn parse_written(
        text: &str,
        currency: Currency,
        sign: Sign,
        decimal: char,
    ) -> Result<Money, MoneyError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(MoneyError::Empty);
        }
        let malformed = |reason| MoneyError::Malformed {
            text: trimmed.to_string(),
            reason,
        };
        let (mut negative, mut body) = match trimmed.strip_prefix('(') {
            Some(inner) => match inner.strip_suffix(')') {
                Some(inner) => (true, inner.trim()),
                None => return Err(malformed("an opening parenthesis is never closed")),
            },
            None => (false, trimmed),
        };
        let is_number = |c: char| c.is_ascii_digit() || c == decimal;
        let start = body.find(is_number).ok_or(malformed("it has no digits"))?;
        let end = body
            .rfind(|c: char| c.is_ascii_digit())
            .map_or(start, |i| i + 1);
        let (prefix, suffix) = (&body[..start], &body[end..]);
        let mut marks = String::new();
        for c in prefix.chars().chain(suffix.chars()) {
            match c {
                '-' | '\u{2212}' if !negative => negative = true,
                c if c.is_whitespace() => {}
                c => marks.push(c),
            }
        }
        check_currency_marks(&marks, currency).map_err(malformed)?;
        body = &body[start..end];
        let (whole, fraction) = match body.split_once(decimal) {
            Some((w, f)) => (w, Some(f)),
            None => (body, None),
        };
        if fraction.is_some_and(|f| !f.bytes().all(|b| b.is_ascii_digit())) {
            return Err(malformed(
                "after the decimal mark only digits may follow; check the layout's decimal mark",
            ));
        }
        let groups: Vec<&str> = whole
            .split([',', '.', '\'', ' ', '\u{a0}', '\u{202f}'])
            .collect();
        let grouped_in_threes = groups.len() == 1
            || (!groups[0].is_empty()
                && groups[0].len() <= 3
                && groups[1..].iter().all(|g| g.len() == 3));
        if !grouped_in_threes
            || groups
                .iter()
                .any(|g| !g.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(malformed(
                "its digits are not grouped in threes around one decimal mark; check the layout's decimal mark",
            ));
        }
        let mut plain = String::with_capacity(body.len() + 1);
        if negative {
            plain.push('-');
        }
        plain.extend(groups);
        if let Some(f) = fraction {
            plain.push('.');
            plain.push_str(f);
        }
        Money::parse(&plain, currency, sign).map_err(|e| match e {
            MoneyError::Negative { .. } => MoneyError::Negative {
                text: trimmed.to_string(),
            },
            MoneyError::TooPrecise {
                currency, exponent, ..
            } => MoneyError::TooPrecise {
                text: trimmed.to_string(),
                currency,
                exponent,
            },
            other => other,
        })
    }

    /// Parses a decimal in the currency's major unit, exactly.
    ///
    /// Accepted: optional `-`, digits, optionally `.` and digits, surrounding spaces.
    /// Refused: empty text, `,` anywhere, exponents, `+`, currency symbols, more decimals
    /// than the currency has (unless they are trailing zeros: `1000.00` JPY is 1000).
    pub fn parse(text: &str, currency: Currency, sign: Sign) -> Result<Money, MoneyError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(MoneyError::Empty);
        }
        let malformed = |reason| MoneyError::Malformed {
            text: trimmed.to_string(),
            reason,
        };
        if trimmed.contains(',') {
            return Err(malformed(
                "a comma could be a decimal or a thousands separator; write 1234.50",
            ));
        }
        let unsigned = trimmed.strip_prefix('-').unwrap_or(trimmed);
        let (whole, fraction) = match unsigned.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (unsigned, None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(whole) || fraction.is_some_and(|f| !all_digits(f)) {
            return Err(malformed(
                "only digits, one optional leading minus and one optional decimal point are allowed",
            ));
        }
        let decimal = Decimal::from_str_exact(trimmed)
            .map_err(|_| MoneyError::Overflow(trimmed.to_string()))?
            .normalize();
        if decimal.is_sign_negative() && !decimal.is_zero() && sign == Sign::NonNegative {
            return Err(MoneyError::Negative {
                text: trimmed.to_string(),
            });
        }
        let exponent = currency.exponent();
        if decimal.scale() > exponent {
            return Err(MoneyError::TooPrecise {
                text: trimmed.to_string(),
                currency,
                exponent,
            });
        }
        let scaled = decimal
            .checked_mul(Decimal::from(10i64.pow(exponent)))
            .ok_or_else(|| MoneyError::Overflow(trimmed.to_string()))?;
        let minor = i64::try_from(scaled.normalize().mantissa())
            .ok()
            .filter(|m| m.unsigned_abs() <= MAX_WRITTEN_MINOR.unsigned_abs())
            .ok_or_else(|| MoneyError::Overflow(trimmed.to_string()))?;
        Ok(Money { minor, currency })
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or_else(|| MoneyError::Overflow(format!("{self} + {other}")))?;
        Ok(Money { minor, ..self })
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_sub(other.minor)
            .ok_or_else(|| MoneyError::Overflow(format!("{self} - {other}")))?;
        Ok(Money { minor, ..self })
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            });
        }
        Ok(())
    }

    /// The amount in major units with exactly the currency's decimals: "12.50", "1000".
    pub fn to_decimal_string(self) -> String {
        let exponent = self.currency.exponent();
        let decimal = Decimal::new(self.minor, exponent);
        format!("{decimal:.prec$}", prec = exponent as usize)
    }
}

impl fmt::Display for Money {
    /// For people: `12,000 JPY`, `1,250.500 KWD`, `-1,234.50 USD` — the whole part grouped
    /// in threes, every decimal the currency has, never rounded. Machines read
    /// [`Money::to_decimal_string`] (`12000`), which [`Money::parse`] takes back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = self.to_decimal_string();
        let (sign, unsigned) = match plain.strip_prefix('-') {
            Some(rest) => ("-", rest),
            None => ("", plain.as_str()),
        };
        let (whole, fraction) = match unsigned.split_once('.') {
            Some((w, fr)) => (w, Some(fr)),
            None => (unsigned, None),
        };
        f.write_str(sign)?;
        for (i, digit) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i).is_multiple_of(3) {
                f.write_str(",")?;
            }
            write!(f, "{digit}")?;
        }
        if let Some(fraction) = fraction {
            write!(f, ".{fraction}")?;
        }
        write!(f, " {}", self.currency.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn cur(code: &str) -> Currency {
        Currency::from_code(code).unwrap()
    }

    #[rstest]
    #[case::dollars_and_cents("12.50", "USD", 1250)]
    #[case::dollars_one_decimal("12.5", "USD", 1250)]
    #[case::whole_dollars("12", "USD", 1200)]
    #[case::yen_has_no_minor_unit("1000", "JPY", 1000)]
    #[case::yen_with_zero_decimals_is_exact("1000.00", "JPY", 1000)]
    #[case::dinar_has_three("1.250", "KWD", 1250)]
    #[case::lower_case_code("0.01", "usd", 1)]
    #[case::spaces_around(" 7.00 ", "EUR", 700)]
    #[case::zero("0", "USD", 0)]
    #[case::ten_trillion_is_the_most("10000000000000.00", "USD", MAX_WRITTEN_MINOR)]
    fn parses_exactly(#[case] text: &str, #[case] code: &str, #[case] minor: i64) {
        let money = Money::parse(text, cur(code), Sign::NonNegative).unwrap();
        assert_eq!(money.minor(), minor);
        assert_eq!(money.currency(), cur(code));
    }

    #[rstest]
    #[case::too_many_decimals_for_usd("12.345", "USD")]
    #[case::decimals_on_yen("100.5", "JPY")]
    #[case::exponent("1e3", "USD")]
    #[case::comma_decimal("12,50", "EUR")]
    #[case::thousands_separator("1,234.50", "USD")]
    #[case::empty("", "USD")]
    #[case::blank("   ", "USD")]
    #[case::negative_where_not_allowed("-5.00", "USD")]
    #[case::plus_sign("+5.00", "USD")]
    #[case::currency_symbol("$5.00", "USD")]
    #[case::trailing_dot("5.", "USD")]
    #[case::leading_dot(".5", "USD")]
    #[case::two_dots("1.2.3", "USD")]
    #[case::too_large("999999999999999999999", "USD")]
    #[case::beyond_what_sums_hold("92233720368547758.07", "USD")]
    #[case::just_beyond_ten_trillion("10000000000000.01", "USD")]
    fn refuses_ambiguous_or_wrong_amounts(#[case] text: &str, #[case] code: &str) {
        assert!(Money::parse(text, cur(code), Sign::NonNegative).is_err());
    }

    #[test]
    fn negative_allowed_when_asked() {
        let m = Money::parse("-5.25", cur("USD"), Sign::Any).unwrap();
        assert_eq!(m.minor(), -525);
    }

    #[test]
    fn unknown_and_unitless_currencies_are_refused() {
        assert!(matches!(
            Currency::from_code("XYZ"),
            Err(MoneyError::UnknownCurrency(_))
        ));
        assert!(matches!(
            Currency::from_code("XAU"),
            Err(MoneyError::NoMinorUnit(_))
        ));
    }

    #[test]
    fn adding_two_currencies_is_an_error_not_a_sum() {
        let usd = Money::from_minor(100, cur("USD"));
        let eur = Money::from_minor(100, cur("EUR"));
        assert!(matches!(
            usd.checked_add(eur),
            Err(MoneyError::CurrencyMismatch { .. })
        ));
        assert_eq!(usd.checked_add(usd).unwrap().minor(), 200);
    }

    #[test]
    fn formats_with_the_currency_decimals() {
        assert_eq!(Money::from_minor(1250, cur("USD")).to_string(), "12.50 USD");
        assert_eq!(Money::from_minor(1000, cur("JPY")).to_string(), "1,000 JPY");
        assert_eq!(Money::from_minor(-5, cur("KWD")).to_string(), "-0.005 KWD");
    }

    proptest::proptest! {
        #[test]
        fn decimal_text_round_trips(minor in -10_000_000_000i64..10_000_000_000i64, pick in 0usize..3) {
            let currency = cur(["JPY", "USD", "KWD"][pick]);
            let money = Money::from_minor(minor, currency);
            let back = Money::parse(&money.to_decimal_string(), currency, Sign::Any).unwrap();
            proptest::prop_assert_eq!(back, money);
        }
    }

    #[rstest]
    #[case::thousands_and_symbol("$1,020.00", "USD", '.', 102_000)]
    #[case::symbol_after_with_comma_decimal("1.020,50 €", "EUR", ',', 102_050)]
    #[case::code_before("USD 13.50", "USD", '.', 1_350)]
    #[case::us_dollar_sign("US$13.50", "USD", '.', 1_350)]
    #[case::space_grouping("1 020,00", "EUR", ',', 102_000)]
    #[case::swiss_apostrophe("1'020.00", "CHF", '.', 102_000)]
    #[case::parentheses_negative("($13.50)", "USD", '.', -1_350)]
    #[case::minus_before_symbol("-$13.50", "USD", '.', -1_350)]
    #[case::plain("13.5", "USD", '.', 1_350)]
    #[case::yen_grouped("¥12,000", "JPY", '.', 12_000)]
    fn amounts_written_for_people_are_read_exactly(
        #[case] text: &str,
        #[case] code: &str,
        #[case] decimal: char,
        #[case] minor: i64,
    ) {
        let money = Money::parse_written(text, cur(code), Sign::Any, decimal).unwrap();
        assert_eq!(money.minor(), minor, "{text}");
    }

    #[rstest]
    #[case::groups_not_in_threes("1,02.00", '.')]
    #[case::two_decimal_marks("1.020.50", ',')]
    #[case::decimal_comma_read_as_point("13,50", '.')]
    #[case::another_currency("EUR 13.50", '.')]
    #[case::too_precise("$13.505", '.')]
    #[case::words("thirteen", '.')]
    #[case::unclosed_parenthesis("(13.50", '.')]
    fn amounts_written_for_people_are_never_guessed(#[case] text: &str, #[case] decimal: char) {
        assert!(
            Money::parse_written(text, cur("USD"), Sign::Any, decimal).is_err(),
            "{text}"
        );
    }

    #[rstest]
    #[case::yen("12000", "JPY", "12,000 JPY")]
    #[case::dinar("1250.500", "KWD", "1,250.500 KWD")]
    #[case::negative_dollars("-1234.5", "USD", "-1,234.50 USD")]
    #[case::a_million("1000000", "USD", "1,000,000.00 USD")]
    #[case::small("999.99", "EUR", "999.99 EUR")]
    #[case::zero("0", "USD", "0.00 USD")]
    fn amounts_read_as_people_write_them(
        #[case] text: &str,
        #[case] code: &str,
        #[case] shown: &str,
    ) {
        let money = Money::parse(text, cur(code), Sign::Any).unwrap();
        assert_eq!(money.to_string(), shown);
        let back = Money::parse_written(
            shown.trim_end_matches(code).trim(),
            cur(code),
            Sign::Any,
            '.',
        );
        assert_eq!(back.unwrap(), money, "what is shown reads back exactly");
    }
}

/// Serde for a [`Money`] written as two fields beside its owner's others: `amount_minor`
/// and the lower-case `currency` (`#[serde(flatten, with = "money::as_minor_parts")]`),
/// the shape the CLI's JSON and the store's columns have always had.
pub mod as_minor_parts {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{Currency, Money};

    #[derive(Serialize, Deserialize)]
    struct Parts {
        amount_minor: i64,
        currency: String,
    }

    pub fn serialize<S: Serializer>(money: &Money, serializer: S) -> Result<S::Ok, S::Error> {
        Parts {
            amount_minor: money.minor(),
            currency: money.currency().lower(),
        }
        .serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Money, D::Error> {
        let parts = Parts::deserialize(deserializer)?;
        let currency = Currency::from_code(&parts.currency).map_err(serde::de::Error::custom)?;
        Ok(Money::from_minor(parts.amount_minor, currency))
    }
}

/// Like [`as_minor_parts`], with the decimal `amount` beside them for a person reading the
/// JSON (`"amount": "49.00"`); reading back takes the minor units and ignores the text.
pub mod as_written_parts {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{Currency, Money};

    #[derive(Serialize)]
    struct Written {
        amount_minor: i64,
        amount: String,
        currency: String,
    }

    #[derive(Deserialize)]
    struct Read {
        amount_minor: i64,
        currency: String,
    }

    pub fn serialize<S: Serializer>(money: &Money, serializer: S) -> Result<S::Ok, S::Error> {
        Written {
            amount_minor: money.minor(),
            amount: money.to_decimal_string(),
            currency: money.currency().lower(),
        }
        .serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Money, D::Error> {
        let read = Read::deserialize(deserializer)?;
        let currency = Currency::from_code(&read.currency).map_err(serde::de::Error::custom)?;
        Ok(Money::from_minor(read.amount_minor, currency))
    }
}
