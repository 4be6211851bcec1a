//! The approval threshold, per currency: above it a refund or re-charge needs a second,
//! different approver (`journal::approvals_needed` reads it).
//!
//! A threshold is an amount of one currency (`approval_threshold.jpy` = `75000`), never a
//! number read in whatever currency an action happens to be in: 500 is $500 but only
//! about $3 in yen and $1,600 in Kuwaiti dinars. Without a setting, a currency takes its
//! built-in default, about the same real value in each; a currency with neither needs two
//! approvers for every amount until someone sets one, because a control that is too strict
//! is an annoyance and one that is too loose is a loss.
//!
//! Changing a threshold weakens or strengthens that control, so it is an approver's
//! sign-off, checked with their passphrase and audited in the same transaction as the
//! change, like any other step that decides who may move money.

use serde::Serialize;
use serde_json::json;

use super::ActionError;
use crate::money::{Currency, Money, Sign};
use crate::people::{self, Role};
use crate::store::{Store, StoreTx};

/// The settings holding thresholds: `approval_threshold.` then the lower-case code.
pub const APPROVAL_THRESHOLD_PREFIX: &str = "approval_threshold.";

/// Built-in thresholds: about 500 US dollars in each currency at 2026's rates, rounded to
/// a figure people write. They are a starting point, not a rate feed: a business sets its
/// own on the Settings screen (or `chargeguard settings threshold`).
const DEFAULTS: &[(&str, &str)] = &[
    ("AED", "1800"),
    ("AUD", "750"),
    ("BHD", "190"),
    ("BRL", "2500"),
    ("CAD", "700"),
    ("CHF", "400"),
    ("CLP", "475000"),
    ("CNY", "3500"),
    ("COP", "2000000"),
    ("CZK", "10000"),
    ("DKK", "3500"),
    ("EGP", "25000"),
    ("EUR", "450"),
    ("GBP", "400"),
    ("HKD", "4000"),
    ("HUF", "170000"),
    ("IDR", "8000000"),
    ("ILS", "1700"),
    ("INR", "45000"),
    ("ISK", "60000"),
    ("JOD", "350"),
    ("JPY", "75000"),
    ("KRW", "700000"),
    ("KWD", "150"),
    ("MXN", "9000"),
    ("MYR", "2100"),
    ("NGN", "750000"),
    ("NOK", "5000"),
    ("NZD", "850"),
    ("OMR", "190"),
    ("PHP", "28000"),
    ("PLN", "2000"),
    ("RON", "2200"),
    ("SAR", "1900"),
    ("SEK", "5000"),
    ("SGD", "650"),
    ("THB", "16000"),
    ("TND", "1500"),
    ("TRY", "20000"),
    ("TWD", "15000"),
    ("USD", "500"),
    ("VND", "13000000"),
    ("ZAR", "9000"),
];

/// Where a currency's threshold comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdSource {
    /// An approver set it.
    Set,
    /// The built-in default for the currency.
    Default,
    /// No default and no setting: every amount needs two approvers.
    Unset,
}

/// One currency's threshold: amounts strictly above it need two approvers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold {
    pub amount: Money,
    pub source: ThresholdSource,
}

impl std::fmt::Display for Threshold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.source {
            ThresholdSource::Unset => write!(
                f,
                "no threshold is set for {}: every amount needs two approvers",
                self.amount.currency().code()
            ),
            _ => write!(f, "above {} two approvers are needed", self.amount),
        }
    }
}

fn setting_key(currency: Currency) -> String {
    format!("{APPROVAL_THRESHOLD_PREFIX}{}", currency.lower())
}

/// The built-in threshold of `currency`, if it has one.
pub fn default_threshold(currency: Currency) -> Option<Money> {
    DEFAULTS
        .iter()
        .find(|(code, _)| *code == currency.code())
        .map(|(_, major)| {
            Money::parse(major, currency, Sign::NonNegative)
                .expect("every built-in threshold is a whole amount")
        })
}

/// The threshold of `currency`: its setting, else its default, else zero.
pub fn threshold(tx: &StoreTx<'_>, currency: Currency) -> Result<Threshold, ActionError> {
    if let Some(text) = tx.setting(&setting_key(currency))? {
        let amount = Money::parse(&text, currency, Sign::NonNegative).map_err(|e| {
            ActionError::Refused(format!(
                "the approval threshold stored for {} is unreadable ({e}); an approver can set it again in Settings",
                currency.code()
            ))
        })?;
        return Ok(Threshold {
            amount,
            source: ThresholdSource::Set,
        });
    }
    Ok(match default_threshold(currency) {
        Some(amount) => Threshold {
            amount,
            source: ThresholdSource::Default,
        },
        None => Threshold {
            amount: Money::zero(currency),
            source: ThresholdSource::Unset,
        },
    })
}

/// The thresholds worth showing: every currency the books hold money in, and every one an
/// approver has set, by code.
pub fn thresholds(tx: &StoreTx<'_>) -> Result<Vec<Threshold>, ActionError> {
    let mut codes = tx.currencies_in_use()?;
    for (key, _) in tx.settings_with_prefix(APPROVAL_THRESHOLD_PREFIX)? {
        codes.push(key[APPROVAL_THRESHOLD_PREFIX.len()..].to_ascii_uppercase());
    }
    codes.sort();
    codes.dedup();
    codes
        .iter()
        .filter_map(|code| Currency::from_code(code).ok())
        .map(|currency| threshold(tx, currency))
        .collect()
}

/// Sets the threshold of currency `code` to `amount`, written as people write it
/// (`75,000`, `1,250.500`, `499.99`), as approver `by`. An amount the currency cannot hold
/// (`10.5` yen) or that is not an amount is refused with what to type instead.
pub fn set_approval_threshold(
    store: &mut Store,
    code: &str,
    amount: &str,
    by: &str,
    passphrase: &str,
    at: jiff::Timestamp,
) -> Result<Threshold, ActionError> {
    let currency = Currency::from_code(code.trim()).map_err(|e| {
        ActionError::Refused(format!(
            "{e}; name the currency by its three-letter ISO 4217 code, like USD or JPY"
        ))
    })?;
    let value = Money::parse_written(amount, currency, Sign::NonNegative, '.').map_err(|e| {
        ActionError::Refused(format!(
            "`{}` is not an amount of {} ({e}); type it like {}",
            amount.trim(),
            currency.code(),
            default_threshold(currency)
                .unwrap_or(Money::from_minor(50_000, currency))
                .to_decimal_string()
        ))
    })?;
    match people::check_passphrase(store, by, passphrase)? {
        Role::Approver => {}
        Role::Bookkeeper => return Err(ActionError::NotAnApprover(by.to_string())),
    }
    store.write(|tx| {
        let before = threshold(tx, currency).ok();
        tx.set_setting(&setting_key(currency), &value.to_decimal_string())?;
        tx.append_audit(
            at,
            by,
            "approval_threshold_set",
            &format!("setting:{}", setting_key(currency)),
            &json!({
                "currency": currency.code(),
                "from": before.map(|t| t.amount.to_decimal_string()),
                "from_source": before.map(|t| t.source),
                "to": value.to_decimal_string(),
            }),
        )?;
        Ok(Threshold {
            amount: value,
            source: ThresholdSource::Set,
        })
    })
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn store_with_people(dir: &tempfile::TempDir) -> Store {
        let mut store = Store::open(&dir.path().join("cg.db")).unwrap();
        let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        people::add_user(
            &mut store,
            "alice",
            Role::Approver,
            "correct horse battery",
            None,
            now,
        )
        .unwrap();
        people::add_user(
            &mut store,
            "bob",
            Role::Bookkeeper,
            "another passphrase",
            Some(people::Sponsor {
                name: "alice",
                passphrase: "correct horse battery",
            }),
            now,
        )
        .unwrap();
        store
    }

    fn currency(code: &str) -> Currency {
        Currency::from_code(code).unwrap()
    }

    #[test]
    fn every_default_is_an_amount_its_currency_can_hold() {
        for (code, _) in DEFAULTS {
            let c = Currency::from_code(code).unwrap_or_else(|e| panic!("{code}: {e}"));
            assert!(
                default_threshold(c).is_some_and(|m| m.minor() > 0),
                "{code}"
            );
        }
        let mut codes: Vec<_> = DEFAULTS.iter().map(|(c, _)| *c).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), DEFAULTS.len(), "one default per currency");
    }

    #[rstest]
    #[case::dollars("USD", "500.00 USD")]
    #[case::yen("JPY", "75,000 JPY")]
    #[case::dinars("KWD", "150.000 KWD")]
    fn a_currency_without_a_setting_takes_its_own_default(#[case] code: &str, #[case] shown: &str) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = store_with_people(&dir);
        let t = store.read(|tx| threshold(tx, currency(code))).unwrap();
        assert_eq!(t.source, ThresholdSource::Default);
        assert_eq!(t.amount.to_string(), shown);
    }

    #[test]
    fn a_currency_with_no_default_needs_two_approvers_for_every_amount() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = store_with_people(&dir);
        let t = store.read(|tx| threshold(tx, currency("MGA"))).unwrap();
        assert_eq!(t.source, ThresholdSource::Unset);
        assert!(t.amount.is_zero());
        assert!(t.to_string().contains("every amount needs two approvers"));
    }

    #[test]
    fn an_approver_sets_one_currency_and_the_change_is_audited() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = store_with_people(&dir);
        let at = jiff::Timestamp::from_second(1_800_000_100).unwrap();
        let set = set_approval_threshold(
            &mut store,
            " kwd ",
            " 1,250.500 ",
            "alice",
            "correct horse battery",
            at,
        )
        .unwrap();
        assert_eq!(set.amount.to_string(), "1,250.500 KWD");
        let kwd = store.read(|tx| threshold(tx, currency("KWD"))).unwrap();
        assert_eq!(
            (kwd.amount.minor(), kwd.source),
            (1_250_500, ThresholdSource::Set)
        );
        let usd = store.read(|tx| threshold(tx, currency("USD"))).unwrap();
        assert_eq!(
            usd.source,
            ThresholdSource::Default,
            "other currencies keep theirs"
        );
        let listed = store.read(thresholds).unwrap();
        assert_eq!(
            listed,
            vec![kwd],
            "a set currency is listed even before it is used"
        );
        let entries = store.read(|tx| tx.audit_entries(None, None)).unwrap();
        let last = entries.last().unwrap();
        assert_eq!(last.event, "approval_threshold_set");
        assert_eq!(last.actor, "alice");
        let details: serde_json::Value = serde_json::from_str(&last.details).unwrap();
        assert_eq!(details["currency"], "KWD");
        assert_eq!(details["from"], "150.000");
        assert_eq!(details["from_source"], "default");
        assert_eq!(details["to"], "1250.500");
    }

    #[rstest]
    #[case::a_bookkeeper("bob", "another passphrase", "USD", "250", "not an approver")]
    #[case::a_wrong_passphrase("alice", "not the passphrase", "USD", "250", "passphrase")]
    #[case::more_decimals_than_yen_has("alice", "correct horse battery", "JPY", "250.5", "JPY")]
    #[case::negative("alice", "correct horse battery", "USD", "-1", "not an amount")]
    #[case::grouped_wrongly("alice", "correct horse battery", "USD", "1,00", "not an amount")]
    #[case::not_a_currency("alice", "correct horse battery", "DOLLARS", "250", "ISO 4217")]
    #[case::another_currency("alice", "correct horse battery", "USD", "250 EUR", "not an amount")]
    fn a_threshold_change_is_refused(
        #[case] by: &str,
        #[case] passphrase: &str,
        #[case] code: &str,
        #[case] amount: &str,
        #[case] says: &str,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = store_with_people(&dir);
        let at = jiff::Timestamp::from_second(1_800_000_100).unwrap();
        let err = set_approval_threshold(&mut store, code, amount, by, passphrase, at).unwrap_err();
        assert!(err.to_string().contains(says), "{err}");
        assert!(
            store.read(thresholds).unwrap().is_empty(),
            "nothing changed"
        );
    }
}
