//! The evidence a finding carries: the invoice, its ledger entries and the charges, with
//! times and amounts, side by side, plus the few facts particular to its kind.
//!
//! Reconciliation fills it, the store keeps it, the screens and `findings --json` show it;
//! it describes rows the rules already chose and never decides anything. Its JSON keys are
//! the ones `findings --json` has always had (amounts as `*_minor` beside a decimal
//! `amount` and a lower-case `currency`).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::money::{self, Money};
use crate::records::{ChargeStatus, DisputeStatus, InvoiceStatus, LedgerKind, PayoutStatus};

/// The rows a finding is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The invoice the finding is on, if any.
    pub invoice: Option<InvoiceEvidence>,
    /// For a duplicate invoice: the earlier one of the pair.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earlier_invoice: Option<InvoiceEvidence>,
    /// The ledger entries of the invoices and charges, by payment id.
    #[serde(default)]
    pub ledger_entries: Vec<LedgerEvidence>,
    /// The charges, by id, each with its part in the finding.
    #[serde(default)]
    pub charges: Vec<ChargeEvidence>,
    /// For a payout or deposit finding: the gateway's payout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payout: Option<PayoutEvidence>,
    /// For a payout or deposit finding: the bank line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deposit: Option<DepositEvidence>,
    /// For a dispute finding: the dispute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispute: Option<DisputeEvidence>,
    #[serde(flatten)]
    pub facts: Facts,
}

/// What only some kinds of finding know; a fact a kind does not have is absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// Duplicate invoice: how the pair was matched (`order_ref` or `customer_amount_time`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_by: Option<String>,
    /// Double charge: what the invoice was owed, in its minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_minor: Option<i64>,
    /// Unrecorded refund: what the ledger has recorded as refunded, in minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger_refunded_minor: Option<i64>,
    /// Missing charge: the gateway id the ledger payment names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_id: Option<String>,
    /// Missing charge: whether the gateway has a charge by that id at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_found: Option<bool>,
    /// Payout and deposit findings: the business days after a payout's arrival date its
    /// deposit is looked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_business_days: Option<u32>,
    /// Deposit differs: the bank account's tolerance, in minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance_minor: Option<i64>,
    /// Payout unbalanced: what its balance transactions add up to, in minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transactions_net_minor: Option<i64>,
}

/// One kind-specific fact, for a screen that lists them by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    Text(String),
    /// In minor units of the finding's currency.
    Minor(i64),
    Flag(bool),
}

impl Facts {
    /// The facts present, by their JSON name, in that order.
    pub fn named(&self) -> Vec<(&'static str, Fact)> {
        let mut out = Vec::new();
        let text = |s: &Option<String>| s.clone().map(Fact::Text);
        for (name, fact) in [
            ("charge_found", self.charge_found.map(Fact::Flag)),
            ("due_minor", self.due_minor.map(Fact::Minor)),
            ("gateway_id", text(&self.gateway_id)),
            (
                "ledger_refunded_minor",
                self.ledger_refunded_minor.map(Fact::Minor),
            ),
            ("matched_by", text(&self.matched_by)),
            ("tolerance_minor", self.tolerance_minor.map(Fact::Minor)),
            (
                "transactions_net_minor",
                self.transactions_net_minor.map(Fact::Minor),
            ),
            (
                "window_business_days",
                self.window_business_days.map(|d| Fact::Text(d.to_string())),
            ),
        ] {
            if let Some(fact) = fact {
                out.push((name, fact));
            }
        }
        out
    }
}

/// Which record stands for an invoice's ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LedgerSource {
    /// The invoicing app's payments export.
    #[serde(rename = "payments export")]
    PaymentsExport,
    /// What the invoice export says was paid.
    #[serde(rename = "invoice export")]
    InvoiceExport,
    /// The gateway's own invoice.
    #[serde(rename = "gateway invoice")]
    GatewayInvoice,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceEvidence {
    pub number: String,
    pub customer_id: String,
    #[serde(flatten, with = "money::as_written_parts")]
    pub amount: Money,
    pub issued_at: Timestamp,
    pub due_at: Option<Timestamp>,
    pub status: InvoiceStatus,
    pub order_ref: Option<String>,
    pub gateway_invoice_id: Option<String>,
    /// What the invoice export says was paid, in minor units.
    pub stated_paid_minor: Option<i64>,
    pub paid_at: Option<Timestamp>,
    pub ledger_from: Option<LedgerSource>,
    /// What the gateway holds for it, net of refunds, in minor units.
    pub gateway_net_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEvidence {
    pub payment_id: String,
    pub invoice_number: String,
    pub kind: LedgerKind,
    #[serde(flatten, with = "money::as_written_parts")]
    pub amount: Money,
    pub recorded_at: Timestamp,
    pub gateway_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeEvidence {
    pub id: String,
    /// Its part in the finding: `surplus`, `kept`, `orphan`, …
    pub role: String,
    #[serde(flatten, with = "money::as_written_parts")]
    pub amount: Money,
    pub amount_refunded_minor: i64,
    pub net_minor: i64,
    pub status: ChargeStatus,
    pub captured: bool,
    pub created: Timestamp,
    pub customer: Option<String>,
    pub customer_email: Option<String>,
    pub payment_intent: Option<String>,
    pub invoice_ref: Option<String>,
    pub gateway_invoice_id: Option<String>,
    /// The invoice it was tied to, and how (`reference`, `ledger` or `heuristic`).
    pub linked_invoice: Option<String>,
    pub linked_by: Option<String>,
    pub recorded_in_ledger: bool,
    pub accounted_by_invoice: bool,
}

/// A gateway payout, as a payout or deposit finding shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutEvidence {
    pub id: String,
    #[serde(flatten, with = "money::as_written_parts")]
    pub amount: Money,
    pub status: PayoutStatus,
    pub created: Timestamp,
    pub arrival_date: jiff::civil::Date,
    /// How many balance transactions it took to the bank, its own debit left out.
    pub transactions: u64,
}

/// A dispute, as a dispute finding shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisputeEvidence {
    pub id: String,
    #[serde(flatten, with = "money::as_written_parts")]
    pub amount: Money,
    pub status: DisputeStatus,
    pub reason: String,
    pub created: Timestamp,
    pub evidence_due_by: Option<Timestamp>,
}

/// A bank statement line, as a payout or deposit finding shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepositEvidence {
    pub account: String,
    /// The bank's id for the line.
    pub line_id: String,
    pub booked_on: jiff::civil::Date,
    #[serde(flatten, with = "money::as_written_parts")]
    pub amount: Money,
    pub description: String,
}

impl Evidence {
    /// One text for the evidence whatever the order of its fields: keys sorted, as
    /// `serde_json`'s own map keeps them. A proposal's snapshot hashes it.
    pub fn canonical_json(&self) -> String {
        serde_json::to_value(self)
            .expect("evidence is plain data")
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use serde_json::json;

    fn usd(minor: i64) -> Money {
        Money::from_minor(minor, Currency::from_code("USD").unwrap())
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn sample() -> Evidence {
        Evidence {
            invoice: Some(InvoiceEvidence {
                number: "INV-1".into(),
                customer_id: "cus_1".into(),
                amount: usd(4900),
                issued_at: at("2026-11-02T09:00:00Z"),
                due_at: None,
                status: InvoiceStatus::Open,
                order_ref: Some("ord-1".into()),
                gateway_invoice_id: None,
                stated_paid_minor: None,
                paid_at: None,
                ledger_from: Some(LedgerSource::PaymentsExport),
                gateway_net_minor: 9800,
            }),
            earlier_invoice: None,
            ledger_entries: vec![LedgerEvidence {
                payment_id: "pay_1".into(),
                invoice_number: "INV-1".into(),
                kind: LedgerKind::Payment,
                amount: usd(4900),
                recorded_at: at("2026-11-02T09:05:00Z"),
                gateway_id: Some("ch_1".into()),
            }],
            charges: vec![ChargeEvidence {
                id: "ch_2".into(),
                role: "surplus".into(),
                amount: usd(4900),
                amount_refunded_minor: 0,
                net_minor: 4900,
                status: ChargeStatus::Succeeded,
                captured: true,
                created: at("2026-11-02T09:01:00Z"),
                customer: Some("cus_1".into()),
                customer_email: None,
                payment_intent: None,
                invoice_ref: Some("INV-1".into()),
                gateway_invoice_id: None,
                linked_invoice: Some("INV-1".into()),
                linked_by: Some("reference".into()),
                recorded_in_ledger: false,
                accounted_by_invoice: false,
            }],
            payout: None,
            deposit: None,
            dispute: None,
            facts: Facts {
                due_minor: Some(4900),
                ..Facts::default()
            },
        }
    }

    #[test]
    fn evidence_keeps_the_json_keys_findings_json_always_had() {
        let value = serde_json::to_value(sample()).unwrap();
        assert_eq!(value["invoice"]["amount_minor"], 4900);
        assert_eq!(value["invoice"]["amount"], "49.00");
        assert_eq!(value["invoice"]["currency"], "usd");
        assert_eq!(value["invoice"]["issued_at"], "2026-11-02T09:00:00Z");
        assert_eq!(value["invoice"]["due_at"], json!(null));
        assert_eq!(value["invoice"]["status"], "open");
        assert_eq!(value["invoice"]["ledger_from"], "payments export");
        assert_eq!(value["ledger_entries"][0]["kind"], "payment");
        assert_eq!(value["charges"][0]["status"], "succeeded");
        assert_eq!(value["charges"][0]["net_minor"], 4900);
        assert_eq!(value["due_minor"], 4900);
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["charges", "due_minor", "invoice", "ledger_entries"],
            "a fact this kind does not have, and no earlier invoice, are left out"
        );
    }

    #[test]
    fn evidence_reads_back_as_it_was_written_and_hashes_the_same() {
        let evidence = sample();
        let text = serde_json::to_string(&evidence).unwrap();
        let back: Evidence = serde_json::from_str(&text).unwrap();
        assert_eq!(back, evidence);
        assert_eq!(back.canonical_json(), evidence.canonical_json());
        assert_eq!(
            evidence.facts.named(),
            vec![("due_minor", Fact::Minor(4900))]
        );
    }
}
