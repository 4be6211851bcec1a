//! The Payouts screen: each payout with the deposit it arrived as (or why none did), its
//! fees and disputes, and its balance transactions one click away. Translates the core's
//! `deposits` into transport types; decides nothing.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::json::Amount;
use super::{Api, ApiError, count32};
use chargeguard_core::deposits;
use chargeguard_core::money::Money;

/// One payout as the screen lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "PayoutView.ts")]
pub struct PayoutView {
    pub id: String,
    pub amount: Amount,
    /// Stripe's status: paid, pending, in_transit, canceled, failed.
    pub status: String,
    /// The day it was to reach the bank (`YYYY-MM-DD`).
    pub arrival_date: String,
    pub automatic: bool,
    /// `deposited`, `not_yet_in_the_bank`, `missing` or `not_expected`.
    pub bank: String,
    pub deposit: Option<DepositView>,
    /// Its balance transactions stored (its own debit left out), their net and fees.
    pub transactions: u32,
    pub transactions_net: Amount,
    pub fees: Amount,
    /// What disputes took from it (negative), or gave back once won; their fees are in
    /// `fees`.
    pub disputes: Amount,
}

/// The bank line a payout arrived as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "DepositView.ts")]
pub struct DepositView {
    pub account: String,
    pub line_id: String,
    pub booked_on: String,
    pub amount: Amount,
    /// The deposit less the payout (the bank's fee, a conversion): zero when it met it.
    pub difference: Amount,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "PayoutRequest.ts")]
pub struct PayoutRequest {
    pub payout_id: String,
}

/// One balance transaction of a payout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "BalanceTransactionView.ts")]
pub struct BalanceTransactionView {
    pub id: String,
    /// Stripe's type (`charge`, `refund`, `adjustment` for a dispute, …) or a report's
    /// reporting category.
    pub kind: String,
    pub amount: Amount,
    pub fee: Amount,
    pub net: Amount,
    pub created: String,
    /// The charge, refund or dispute it came from.
    pub source: Option<String>,
}

fn refused(e: deposits::DepositsError) -> ApiError {
    match e {
        deposits::DepositsError::Store(e) => e.into(),
        other => ApiError::invalid(other.to_string()),
    }
}

/// Every payout, newest arrival first.
pub fn payouts(api: &Api) -> Result<Vec<PayoutView>, ApiError> {
    let mut store = api.open()?;
    let rows = deposits::payouts(&mut store).map_err(refused)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let currency = row.payout.amount.currency();
            let money = |minor| Amount::from_money(Money::from_minor(minor, currency));
            PayoutView {
                id: row.payout.id.clone(),
                amount: Amount::from_money(row.payout.amount),
                status: row.payout.status.as_str().to_string(),
                arrival_date: row.arrival_day.to_string(),
                automatic: row.payout.automatic,
                bank: row.bank.to_string(),
                deposit: row.deposit.as_ref().map(|d| DepositView {
                    account: d.account.clone(),
                    line_id: d.line_id.clone(),
                    booked_on: d.booked_on.to_string(),
                    amount: money(d.amount_minor),
                    difference: money(d.difference_minor),
                }),
                transactions: count32(row.transactions),
                transactions_net: money(row.transactions_net_minor),
                fees: money(row.transactions_fee_minor),
                disputes: money(row.transactions_disputed_minor),
            }
        })
        .collect())
}

/// The balance transactions one payout took to the bank.
pub fn payout_transactions(
    api: &Api,
    request: &PayoutRequest,
) -> Result<Vec<BalanceTransactionView>, ApiError> {
    super::required("a payout", &request.payout_id)?;
    let mut store = api.open()?;
    let rows =
        deposits::payout_transactions(&mut store, request.payout_id.trim()).map_err(refused)?;
    Ok(rows
        .into_iter()
        .map(|t| BalanceTransactionView {
            id: t.id,
            kind: t.kind,
            amount: Amount::from_money(t.amount),
            fee: Amount::from_money(t.fee),
            net: Amount::from_money(t.net),
            created: t.created.to_string(),
            source: t.source,
        })
        .collect())
}
