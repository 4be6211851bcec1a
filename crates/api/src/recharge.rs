//! The Re-charge screen's commands and their transport types: unpaid invoices with a
//! failed attempt, every guard of a re-charge with its result, and proposing one only when
//! they all pass (`actions::recharge` decides; this module translates). The proposed
//! action then goes through the same `approve` and `execute` as a finding's fix.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::json::{ActionView, Amount};
use super::{Api, ApiError, action_view, action_view_now, now, required};
use chargeguard_core::actions::{self, GuardOutcome as CoreOutcome, RechargeGuard as CoreGuard};

// ---------------------------------------------------------------- transport types

/// An unpaid invoice that an attempt failed to collect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "RechargeCandidate.ts")]
pub struct RechargeCandidate {
    pub invoice_number: String,
    pub customer_id: String,
    pub invoice_amount: Amount,
    /// What the ledger says is still owed: what a re-charge would take.
    pub owed: Amount,
    /// RFC 3339 instants.
    pub issued_at: String,
    pub due_at: Option<String>,
    /// Newest first.
    pub failed_attempts: Vec<FailedAttempt>,
    /// The open action holding the invoice (a re-charge under way), if any.
    pub open_action: Option<ActionView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "FailedAttempt.ts")]
pub struct FailedAttempt {
    pub at: String,
    pub charge_id: Option<String>,
    pub action_id: Option<u32>,
    /// Plain words: "charge ch_… for 49.00 USD was declined at the gateway".
    pub what: String,
}

/// Which candidates to list: a page of at most `limit` (every one when absent), after the
/// invoice the page before ended on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "RechargeQuery.ts")]
pub struct RechargeQuery {
    #[ts(optional)]
    pub limit: Option<u32>,
    #[ts(optional)]
    pub after_invoice: Option<String>,
}

/// Names one invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "InvoiceRequest.ts")]
pub struct InvoiceRequest {
    pub invoice_number: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "RechargeProposeRequest.ts")]
pub struct RechargeProposeRequest {
    pub invoice_number: String,
    pub by: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export_to = "RechargeGuard.ts")]
pub enum RechargeGuard {
    UnpaidInLedger,
    NoSucceededCharge,
    NothingInFlight,
    CardOnFile,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export_to = "GuardOutcome.ts")]
pub enum GuardOutcome {
    Passed,
    Refused,
    /// The gateway could not be asked: not known, so not passed.
    Unchecked,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "GuardCheck.ts")]
pub struct GuardCheck {
    pub guard: RechargeGuard,
    pub outcome: GuardOutcome,
    /// Plain words: what was found.
    pub detail: String,
}

/// Every guard of a re-charge of one invoice, each with its result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "RechargeCheck.ts")]
pub struct RechargeCheck {
    pub invoice_number: String,
    pub customer_id: String,
    /// What a re-charge would take, when the ledger says it is owed.
    pub amount: Option<Amount>,
    pub attempt: u32,
    /// In the order they are shown: ledger, gateway, in flight, card.
    pub checks: Vec<GuardCheck>,
    /// Every guard passed: Propose may be pressed.
    pub may_propose: bool,
    /// The open action holding the invoice: continue it (approve, execute) instead.
    pub open_action: Option<ActionView>,
}

// ---------------------------------------------------------------- conversions

fn guard_out(g: CoreGuard) -> RechargeGuard {
    match g {
        CoreGuard::UnpaidInLedger => RechargeGuard::UnpaidInLedger,
        CoreGuard::NoSucceededCharge => RechargeGuard::NoSucceededCharge,
        CoreGuard::NothingInFlight => RechargeGuard::NothingInFlight,
        CoreGuard::CardOnFile => RechargeGuard::CardOnFile,
    }
}

fn outcome_out(o: CoreOutcome) -> GuardOutcome {
    match o {
        CoreOutcome::Passed => GuardOutcome::Passed,
        CoreOutcome::Refused => GuardOutcome::Refused,
        CoreOutcome::Unchecked => GuardOutcome::Unchecked,
    }
}

// ---------------------------------------------------------------- commands

/// Unpaid invoices with a failed attempt, oldest invoice first, a page at a time.
pub fn recharge_candidates(
    api: &Api,
    query: &RechargeQuery,
) -> Result<Vec<RechargeCandidate>, ApiError> {
    let mut store = api.open()?;
    let limit = query.limit.map_or(usize::MAX, |l| l as usize);
    let candidates =
        actions::recharge_candidates_after(&mut store, query.after_invoice.as_deref(), limit)?;
    store.read(|tx| {
        candidates
            .into_iter()
            .map(|c| {
                Ok(RechargeCandidate {
                    invoice_number: c.invoice.number.clone(),
                    customer_id: c.invoice.customer_id.clone(),
                    invoice_amount: Amount::from_money(c.invoice.amount),
                    owed: Amount::from_money(c.owed),
                    issued_at: c.invoice.issued_at.to_string(),
                    due_at: c.invoice.due_at.map(|d| d.to_string()),
                    failed_attempts: c
                        .failed_attempts
                        .iter()
                        .map(|a| FailedAttempt {
                            at: a.at.to_string(),
                            charge_id: a.charge_id.clone(),
                            action_id: a.action_id.map(super::id32),
                            what: a.what.clone(),
                        })
                        .collect(),
                    open_action: c
                        .open_action
                        .as_ref()
                        .map(|a| action_view(tx, a))
                        .transpose()?,
                })
            })
            .collect()
    })
}

/// Runs every guard of a re-charge of one invoice (the gateway is asked) and reports each.
pub async fn recharge_check(
    api: &Api,
    request: &InvoiceRequest,
) -> Result<RechargeCheck, ApiError> {
    required("an invoice number", &request.invoice_number)?;
    let mut store = api.open()?;
    let client = api.client(&mut store).await?;
    let checked = actions::check_recharge(&mut store, &client, &request.invoice_number).await?;
    let open_action = match &checked.open_action {
        Some(a) => Some(action_view_now(&mut store, a)?),
        None => None,
    };
    Ok(RechargeCheck {
        invoice_number: checked.invoice.number.clone(),
        customer_id: checked.invoice.customer_id.clone(),
        amount: checked.amount.map(Amount::from_money),
        attempt: u32::try_from(checked.attempt).unwrap_or(u32::MAX),
        may_propose: checked.all_passed(),
        checks: checked
            .checks
            .iter()
            .map(|c| GuardCheck {
                guard: guard_out(c.guard),
                outcome: outcome_out(c.outcome),
                detail: c.detail.clone(),
            })
            .collect(),
        open_action,
    })
}

/// Proposes a re-charge, only if every guard passes now; proposing again returns the same
/// action. It is then approved and executed like any other action.
pub async fn recharge_propose(
    api: &Api,
    request: &RechargeProposeRequest,
) -> Result<ActionView, ApiError> {
    required("an invoice number", &request.invoice_number)?;
    required("your name", &request.by)?;
    let mut store = api.open()?;
    let client = api.client(&mut store).await?;
    let action = actions::propose_checked_recharge(
        &mut store,
        &client,
        &request.invoice_number,
        &request.by,
        now(),
    )
    .await?;
    action_view_now(&mut store, &action)
}
