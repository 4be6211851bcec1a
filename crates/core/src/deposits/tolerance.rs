//! How far a bank account's deposit may differ from its payout before it is a finding: the
//! bank's own fee on an incoming transfer, rounding on a conversion. Zero until a person
//! sets it, per account and currency (`deposit_tolerance.<currency>.<account>`).
//!
//! A tolerance hides differences, so setting one is an approver's sign-off, checked with
//! their passphrase and audited in the same transaction as the change, like the approval
//! threshold. It never decides a finding itself (reconciliation reads it).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::json;

use super::DepositsError;
use crate::money::{Currency, Money, Sign};
use crate::people::{self, Role};
use crate::store::{Store, StoreError, StoreTx};

const PREFIX: &str = "deposit_tolerance.";

fn key(currency: Currency, account: &str) -> String {
    format!("{PREFIX}{}.{account}", currency.lower())
}

/// One account's tolerance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tolerance {
    pub account: String,
    pub amount: Money,
}

/// Every tolerance set, by account and currency. A stored value that does not read back
/// as an amount of its currency counts as zero: the strictest reading of a control.
pub fn all(tx: &StoreTx<'_>) -> Result<BTreeMap<(String, Currency), Money>, StoreError> {
    let mut out = BTreeMap::new();
    for (key, value) in tx.settings_with_prefix(PREFIX)? {
        let Some((code, account)) = key[PREFIX.len()..].split_once('.') else {
            continue;
        };
        let Ok(currency) = Currency::from_code(code) else {
            continue;
        };
        if let Ok(amount) = Money::parse(&value, currency, Sign::NonNegative) {
            out.insert((account.to_string(), currency), amount);
        }
    }
    Ok(out)
}

/// Sets the tolerance of bank account `account` (its name in Chargeguard, as `chargeguard
/// bank` lists it) to `amount` of the account's currency, as approver `by`.
pub fn set(
    store: &mut Store,
    account: &str,
    amount: &str,
    by: &str,
    passphrase: &str,
    at: jiff::Timestamp,
) -> Result<Tolerance, DepositsError> {
    let currencies = store.read(|tx| tx.bank_account_currencies(account))?;
    let currency = match currencies.as_slice() {
        [one] => *one,
        [] => {
            return Err(DepositsError::Refused(format!(
                "no bank statement of an account named `{account}` is imported; `chargeguard bank` lists the accounts"
            )));
        }
        _ => {
            return Err(DepositsError::Refused(format!(
                "account `{account}` has statements in several currencies; a tolerance is one amount of one currency"
            )));
        }
    };
    let value = Money::parse_written(amount, currency, Sign::NonNegative, '.').map_err(|e| {
        DepositsError::Refused(format!(
            "`{}` is not an amount of {} ({e}); type it like 2.50",
            amount.trim(),
            currency.code()
        ))
    })?;
    match people::check_passphrase(store, by, passphrase)? {
        Role::Approver => {}
        Role::Bookkeeper => return Err(DepositsError::NotAnApprover(by.to_string())),
    }
    store.write(|tx| {
        let key = key(currency, account);
        let before = tx.setting(&key)?;
        tx.set_setting(&key, &value.to_decimal_string())?;
        tx.append_audit(
            at,
            by,
            "deposit_tolerance_set",
            &format!("setting:{key}"),
            &json!({
                "account": account,
                "currency": currency.code(),
                "from": before.unwrap_or_else(|| "0".into()),
                "to": value.to_decimal_string(),
            }),
        )?;
        Ok(Tolerance {
            account: account.to_string(),
            amount: value,
        })
    })
}
