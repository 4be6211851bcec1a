//! What an action will do, decided when it is proposed and never changed after: the fix a
//! finding calls for, or a re-charge of an unpaid invoice.
//!
//! Turning a finding into a plan is a pure function of the finding and the books; it never
//! looks at the gateway (the guards do that, at execution) and never writes.

use chargeguard_domain::ActionKind;
use serde::{Deserialize, Serialize};

use crate::money::Money;
use crate::reconcile::{Books, FindingKind};
use crate::records::{InvoiceStatus, LedgerKind};
use crate::store::{Adjustment, AdjustmentKind, StoredFinding};

/// One action's intent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Plan {
    /// Give back (part of) a charge.
    Refund {
        charge_id: String,
        amount: Money,
        /// The invoice the charge pays, whose coverage the guard protects.
        invoice_number: Option<String>,
        /// For a duplicate invoice: the invoice voided together with the refund.
        void_invoice: Option<String>,
    },
    /// Charge an unpaid invoice again, with the customer's saved card.
    Recharge {
        invoice_number: String,
        customer: String,
        amount: Money,
        attempt: i64,
    },
    /// Correct the ledger; no money moves.
    LedgerFix { adjustment: Adjustment },
}

impl Plan {
    pub fn kind(&self) -> ActionKind {
        match self {
            Plan::Refund { .. } => ActionKind::Refund,
            Plan::Recharge { .. } => ActionKind::Recharge,
            Plan::LedgerFix { .. } => ActionKind::LedgerFix,
        }
    }

    pub fn amount(&self) -> Money {
        match self {
            Plan::Refund { amount, .. } | Plan::Recharge { amount, .. } => *amount,
            Plan::LedgerFix { adjustment } => adjustment.amount,
        }
    }

    /// The invoice this action holds while it is open.
    pub fn invoice_number(&self) -> Option<&str> {
        match self {
            Plan::Refund { invoice_number, .. } => invoice_number.as_deref(),
            Plan::Recharge { invoice_number, .. } => Some(invoice_number),
            Plan::LedgerFix { adjustment } => Some(&adjustment.invoice_number),
        }
    }

    /// The charge this action holds while it is open.
    pub fn charge_id(&self) -> Option<&str> {
        match self {
            Plan::Refund { charge_id, .. } => Some(charge_id),
            Plan::Recharge { .. } => None,
            Plan::LedgerFix { adjustment } => adjustment.gateway_id.as_deref().filter(|g| {
                // A ledger fix about a gateway charge holds that charge too.
                g.starts_with("ch_") || g.starts_with("py_")
            }),
        }
    }

    /// Plain words for the bookkeeper.
    pub fn describe(&self) -> String {
        match self {
            Plan::Refund {
                charge_id,
                amount,
                void_invoice,
                ..
            } => match void_invoice {
                Some(inv) => {
                    format!("Refund {amount} of charge {charge_id} and void invoice {inv}")
                }
                None => format!("Refund {amount} of charge {charge_id}"),
            },
            Plan::Recharge {
                invoice_number,
                amount,
                attempt,
                ..
            } => format!("Re-charge invoice {invoice_number} for {amount} (attempt {attempt})"),
            Plan::LedgerFix { adjustment: a } => match a.kind {
                AdjustmentKind::RecordPayment => format!(
                    "Record a payment of {} on invoice {} for {}",
                    a.amount,
                    a.invoice_number,
                    a.gateway_id.as_deref().unwrap_or("the charge")
                ),
                AdjustmentKind::ReversePayment => format!(
                    "Reverse ledger payment {} ({}) on invoice {}",
                    a.payment_id.as_deref().unwrap_or("?"),
                    a.amount,
                    a.invoice_number
                ),
                AdjustmentKind::CorrectAmount => format!(
                    "Correct ledger payment {} to {}",
                    a.payment_id.as_deref().unwrap_or("?"),
                    a.amount
                ),
                AdjustmentKind::RecordRefund => format!(
                    "Record a refund of {} on invoice {} for {}",
                    a.amount,
                    a.invoice_number,
                    a.gateway_id.as_deref().unwrap_or("the charge")
                ),
                AdjustmentKind::VoidInvoice => format!("Void invoice {}", a.invoice_number),
            },
        }
    }
}

/// Why a finding has no fix Chargeguard can carry out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoPlan {
    #[error("finding {0} is already resolved")]
    Resolved(i64),
    #[error(
        "{0}; dismiss the finding with a reason once you have dealt with it outside Chargeguard"
    )]
    NeedsAPerson(String),
}

/// The one fix a finding calls for (DESIGN.md's table), from the finding and the books.
pub fn for_finding(
    finding: &StoredFinding,
    books: &Books,
    now: jiff::Timestamp,
) -> Result<Plan, NoPlan> {
    if finding.status != crate::store::FindingStatus::Open {
        return Err(NoPlan::Resolved(finding.id));
    }
    let currency = crate::money::Currency::from_code(&finding.currency)
        .map_err(|e| NoPlan::NeedsAPerson(e.to_string()))?;
    let amount = Money::from_minor(finding.amount_minor, currency);
    let invoice = finding
        .invoice_number
        .as_deref()
        .and_then(|n| books.invoices.iter().find(|i| i.number == n));
    let charge = |id: &str| books.charges.iter().find(|c| c.id == id);
    let last_charge = || {
        finding
            .charge_ids
            .iter()
            .filter_map(|id| charge(id))
            .max_by_key(|c| (c.created, c.id.clone()))
    };
    match finding.kind {
        FindingKind::DoubleCharge => {
            let surplus = last_charge().ok_or_else(|| {
                NoPlan::NeedsAPerson("the surplus charge is not in the store".into())
            })?;
            // One charge per action: refund what this charge holds of the surplus; a
            // surplus spread over several charges becomes the next finding's fix.
            let refundable = surplus.net_captured();
            Ok(Plan::Refund {
                charge_id: surplus.id.clone(),
                amount: Money::from_minor(refundable.min(amount.minor()), currency),
                invoice_number: finding.invoice_number.clone(),
                void_invoice: None,
            })
        }
        FindingKind::DuplicateInvoice => {
            let later = last_charge().ok_or_else(|| {
                NoPlan::NeedsAPerson("the later invoice's charge is not in the store".into())
            })?;
            Ok(Plan::Refund {
                charge_id: later.id.clone(),
                amount: Money::from_minor(later.net_captured(), later.amount.currency()),
                invoice_number: finding.invoice_number.clone(),
                void_invoice: finding.invoice_number.clone(),
            })
        }
        FindingKind::OrphanCharge => {
            let orphan = last_charge()
                .ok_or_else(|| NoPlan::NeedsAPerson("the charge is not in the store".into()))?;
            let paid_elsewhere = invoice.is_some_and(|inv| {
                inv.status == InvoiceStatus::Paid
                    || ledger_paid(books, &inv.number) >= inv.amount.minor()
            });
            match invoice {
                Some(inv) if !paid_elsewhere && inv.status != InvoiceStatus::Void => {
                    Ok(Plan::LedgerFix {
                        adjustment: Adjustment {
                            kind: AdjustmentKind::RecordPayment,
                            invoice_number: inv.number.clone(),
                            payment_id: None,
                            gateway_id: Some(orphan.id.clone()),
                            amount,
                            effective_at: orphan.created.as_second(),
                        },
                    })
                }
                // Paid already (or no invoice at all): the money is not owed; give it back.
                _ => Ok(Plan::Refund {
                    charge_id: orphan.id.clone(),
                    amount,
                    invoice_number: finding.invoice_number.clone(),
                    void_invoice: None,
                }),
            }
        }
        FindingKind::MissingCharge => {
            let payment_id = single_payment(finding)?;
            Ok(Plan::LedgerFix {
                adjustment: Adjustment {
                    kind: AdjustmentKind::ReversePayment,
                    invoice_number: required_invoice(finding)?,
                    payment_id: Some(payment_id),
                    gateway_id: finding.charge_ids.first().cloned(),
                    amount,
                    effective_at: now.as_second(),
                },
            })
        }
        FindingKind::AmountMismatch => {
            let payment_id = single_payment(finding)?;
            let entry = books
                .ledger
                .iter()
                .find(|e| e.payment_id == payment_id)
                .ok_or_else(|| {
                    NoPlan::NeedsAPerson("the ledger payment is not in the store".into())
                })?;
            let gateway = finding
                .charge_ids
                .first()
                .and_then(|id| charge(id))
                .ok_or_else(|| NoPlan::NeedsAPerson("the charge is not in the store".into()))?;
            if gateway.amount.currency() != entry.amount.currency() {
                return Err(NoPlan::NeedsAPerson(
                    "the ledger and the gateway disagree on the currency".into(),
                ));
            }
            Ok(Plan::LedgerFix {
                adjustment: Adjustment {
                    kind: AdjustmentKind::CorrectAmount,
                    invoice_number: required_invoice(finding)?,
                    payment_id: Some(payment_id),
                    gateway_id: Some(gateway.id.clone()),
                    amount: gateway.amount,
                    effective_at: now.as_second(),
                },
            })
        }
        FindingKind::UnrecordedRefund => Ok(Plan::LedgerFix {
            adjustment: Adjustment {
                kind: AdjustmentKind::RecordRefund,
                invoice_number: required_invoice(finding)?,
                payment_id: None,
                gateway_id: finding.charge_ids.first().cloned(),
                amount,
                effective_at: now.as_second(),
            },
        }),
    }
}

fn required_invoice(finding: &StoredFinding) -> Result<String, NoPlan> {
    finding
        .invoice_number
        .clone()
        .ok_or_else(|| NoPlan::NeedsAPerson("the finding names no invoice".into()))
}

fn single_payment(finding: &StoredFinding) -> Result<String, NoPlan> {
    match finding.payment_ids.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(NoPlan::NeedsAPerson(format!(
            "the finding is about {} ledger payments; which one to correct is a person's call",
            finding.payment_ids.len()
        ))),
    }
}

/// What the ledger says was paid on an invoice (payments less refunds), in minor units.
pub fn ledger_paid(books: &Books, invoice_number: &str) -> i64 {
    books
        .ledger
        .iter()
        .filter(|e| e.invoice_number == invoice_number)
        .map(|e| match e.kind {
            LedgerKind::Payment => e.amount.minor(),
            LedgerKind::Refund => -e.amount.minor(),
        })
        .sum()
}
