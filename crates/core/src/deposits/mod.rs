//! Payouts and the deposits they arrived as, for the screens and `chargeguard payouts`:
//! each payout beside the bank line that met it, or why none did. It reads what
//! reconciliation's bank rules decide ([`crate::reconcile::deposits`]) and decides nothing
//! itself; `tolerance` keeps how far a deposit may differ from its payout.

pub mod tolerance;

use jiff::civil::Date;
use serde::Serialize;

use crate::people::PeopleError;
use crate::reconcile::deposits::{self, Deposit};
use crate::reconcile::{ReconcileError, bank_books_in};
use crate::records::Payout;
use crate::store::{Store, StoreError};

/// Why a payout or tolerance request could not be done, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum DepositsError {
    #[error("{0}")]
    Refused(String),
    #[error("`{0}` is not an approver; only an approver may change a deposit tolerance")]
    NotAnApprover(String),
    #[error(transparent)]
    People(#[from] PeopleError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Reconcile(#[from] ReconcileError),
}

/// A payout, its balance transactions' total and where it stands against the bank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PayoutDeposit {
    pub payout: Payout,
    pub arrival_day: Date,
    pub transactions: u64,
    pub transactions_net_minor: i64,
    /// The fees Stripe took from those transactions.
    pub transactions_fee_minor: i64,
    /// What disputes took from those transactions (their amounts; won ones give back).
    pub transactions_disputed_minor: i64,
    /// `deposited`, `not_yet_in_the_bank`, `missing` or `not_expected`.
    pub bank: &'static str,
    /// The bank line it arrived as, when one met it.
    pub deposit: Option<DepositLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DepositLine {
    pub account: String,
    pub line_id: String,
    pub booked_on: Date,
    pub amount_minor: i64,
    /// The line less the payout: what the bank's fee or a conversion took.
    pub difference_minor: i64,
}

/// Every payout, newest arrival first, with the deposit that met it.
pub fn payouts(store: &mut Store) -> Result<Vec<PayoutDeposit>, DepositsError> {
    let books = store.read(bank_books_in)?;
    let matching = deposits::reconcile(&books);
    Ok(books
        .payouts
        .iter()
        .map(|row| {
            let state = matching.payouts.get(row.payout.id.as_str());
            let (bank, deposit) = match state {
                Some(Deposit::Met {
                    line,
                    difference_minor,
                }) => (
                    "deposited",
                    Some(DepositLine {
                        account: line.account.clone(),
                        line_id: line.id.clone(),
                        booked_on: line.booked_on,
                        amount_minor: line.amount.minor(),
                        difference_minor: *difference_minor,
                    }),
                ),
                Some(Deposit::NotYetInTheBank) => ("not_yet_in_the_bank", None),
                Some(Deposit::Missing) => ("missing", None),
                Some(Deposit::NotExpected) | None => ("not_expected", None),
            };
            PayoutDeposit {
                payout: row.payout.clone(),
                arrival_day: deposits::arrival_day(row),
                transactions: row.transactions,
                transactions_net_minor: row.transactions_net.minor(),
                transactions_fee_minor: row.transactions_fee.minor(),
                transactions_disputed_minor: row.transactions_disputed.minor(),
                bank,
                deposit,
            }
        })
        .collect())
}

/// The balance transactions payout `payout_id` took to the bank, oldest first.
pub fn payout_transactions(
    store: &mut Store,
    payout_id: &str,
) -> Result<Vec<crate::records::BalanceTransaction>, DepositsError> {
    Ok(store.read(|tx| tx.balance_transactions_of_payout(crate::sync::GATEWAY, payout_id))?)
}
