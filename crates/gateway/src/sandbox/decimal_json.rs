//! Amounts as the accounting systems write them on the wire: JSON numbers with two
//! decimals (`362.07`, `25`), or numeric strings from clients that send decimals as text.
//! Read exactly from their decimal text into cents; written back from the exact decimal.

use rust_decimal::Decimal;
use serde_json::{Value, json};

/// Cents of an amount, or `None` when it is not a number or has more than two decimals
/// (refused rather than rounded).
pub fn cents_of(value: &Value) -> Option<i64> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => return None,
    };
    let d: Decimal = text.parse().ok()?;
    let minor = (d * Decimal::from(100)).normalize();
    if minor.scale() > 0 {
        return None;
    }
    i64::try_from(minor).ok()
}

/// Cents as the JSON number the systems write.
pub fn number(cents: i64) -> Value {
    let text = Decimal::new(cents, 2).normalize().to_string();
    // The wire writes amounts as JSON numbers; this one is made from the exact decimal
    // text, never computed on, and reads back as the same text.
    let n: f64 = text.parse().unwrap_or(0.0); // float-ok: a JSON number from exact decimal text, no arithmetic
    json!(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_exactly_and_write_back_as_the_same_decimals() {
        for (sent, minor) in [
            (json!(362.07), 36_207),
            (json!(25), 2_500),
            (json!("25.00"), 2_500),
            (json!(0.1), 10),
            (json!("1234567.89"), 123_456_789),
        ] {
            assert_eq!(cents_of(&sent), Some(minor), "{sent}");
            assert_eq!(cents_of(&number(minor)), Some(minor));
        }
        assert_eq!(number(36_207).to_string(), "362.07");
        assert_eq!(cents_of(&json!("1.005")), None);
        assert_eq!(cents_of(&json!("x")), None);
        assert_eq!(cents_of(&json!(null)), None);
    }
}
