//! What an action will do, decided when it is proposed and never changed after: a refund,
//! a re-charge, or a ledger fix (an [`Adjustment`]). The journal stores a plan as it is
//! here, and every layer reads it back typed.
//!
//! Which plan a finding calls for is the core's rule (`actions::plan::for_finding`), not
//! this module's: here are only the values and the words for them.

use serde::{Deserialize, Serialize};

use crate::lifecycle::ActionKind;
use crate::money::Money;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdjustmentKind {
    /// Record a payment the ledger never saw (an orphan charge, a re-charge).
    RecordPayment,
    /// Reverse a ledger payment whose charge does not exist or did not succeed.
    ReversePayment,
    /// Set a ledger payment to the amount the gateway really charged.
    CorrectAmount,
    /// Record a refund the gateway made.
    RecordRefund,
    /// Void an invoice (the later of two for one order).
    VoidInvoice,
}

impl AdjustmentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AdjustmentKind::RecordPayment => "record_payment",
            AdjustmentKind::ReversePayment => "reverse_payment",
            AdjustmentKind::CorrectAmount => "correct_amount",
            AdjustmentKind::RecordRefund => "record_refund",
            AdjustmentKind::VoidInvoice => "void_invoice",
        }
    }

    pub const ALL: [AdjustmentKind; 5] = [
        AdjustmentKind::RecordPayment,
        AdjustmentKind::ReversePayment,
        AdjustmentKind::CorrectAmount,
        AdjustmentKind::RecordRefund,
        AdjustmentKind::VoidInvoice,
    ];

    pub fn parse(text: &str) -> Option<AdjustmentKind> {
        AdjustmentKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// One ledger fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjustment {
    pub kind: AdjustmentKind,
    pub invoice_number: String,
    /// The ledger payment it changes (reverse, correct), if any.
    pub payment_id: Option<String>,
    /// The gateway object it records (record payment, record refund), if any.
    pub gateway_id: Option<String>,
    /// For `correct_amount` the payment's new amount; otherwise the amount recorded.
    pub amount: Money,
    /// Unix seconds.
    pub effective_at: i64,
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn usd(minor: i64) -> Money {
        Money::from_minor(minor, Currency::from_code("USD").unwrap())
    }

    #[test]
    fn a_plan_reads_back_as_it_was_written() {
        let plans = [
            Plan::Refund {
                charge_id: "ch_1".into(),
                amount: usd(4900),
                invoice_number: Some("INV-1".into()),
                void_invoice: None,
            },
            Plan::Recharge {
                invoice_number: "INV-2".into(),
                customer: "cus_1".into(),
                amount: usd(100),
                attempt: 2,
            },
            Plan::LedgerFix {
                adjustment: Adjustment {
                    kind: AdjustmentKind::RecordPayment,
                    invoice_number: "INV-3".into(),
                    payment_id: None,
                    gateway_id: Some("ch_3".into()),
                    amount: usd(2500),
                    effective_at: 1_700_000_000,
                },
            },
        ];
        for plan in plans {
            let text = serde_json::to_string(&plan).unwrap();
            assert_eq!(serde_json::from_str::<Plan>(&text).unwrap(), plan, "{text}");
        }
    }

    #[test]
    fn a_ledger_fix_holds_the_gateway_charge_it_records_but_not_a_refund_id() {
        let fix = |gateway_id: &str| Plan::LedgerFix {
            adjustment: Adjustment {
                kind: AdjustmentKind::RecordRefund,
                invoice_number: "INV-1".into(),
                payment_id: None,
                gateway_id: Some(gateway_id.into()),
                amount: usd(100),
                effective_at: 0,
            },
        };
        assert_eq!(fix("ch_9").charge_id(), Some("ch_9"));
        assert_eq!(fix("re_9").charge_id(), None);
        assert_eq!(fix("re_9").kind(), ActionKind::LedgerFix);
    }

    #[test]
    fn every_adjustment_kind_parses_from_its_own_name() {
        for kind in AdjustmentKind::ALL {
            assert_eq!(AdjustmentKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(AdjustmentKind::parse("refund_everything"), None);
    }
}
