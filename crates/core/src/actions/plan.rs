//! What an action will do, decided when it is proposed and never changed after: the fix a
//! finding calls for, or a re-charge of an unpaid invoice.
//!
//! Turning a finding into a plan is a pure function of the finding and the books; it never
//! looks at the gateway (the guards do that, at execution) and never writes.

pub use chargeguard_domain::plan::Plan;

use crate::money::Money;
use crate::reconcile::{Books, FindingKind};
use crate::records::{InvoiceStatus, LedgerKind};
use crate::store::{Adjustment, AdjustmentKind, StoredFinding};

/// The part of the books a finding's fix is decided on: its invoice and its charges, with
/// what surrounds them (`reconcile::books_about`).
pub fn books_for_finding(
    tx: &crate::store::StoreTx<'_>,
    finding: &StoredFinding,
) -> Result<Books, crate::reconcile::ReconcileError> {
    let invoices: Vec<&str> = finding.invoice_number.as_deref().into_iter().collect();
    let charges: Vec<&str> = finding.charge_ids.iter().map(String::as_str).collect();
    crate::reconcile::books_about(tx, &invoices, &charges)
}

/// The part of the books an action's guards and effects read: the invoices and the charge
/// its plan holds, with what surrounds them.
pub fn books_for_plan(
    tx: &crate::store::StoreTx<'_>,
    plan: &Plan,
) -> Result<Books, crate::reconcile::ReconcileError> {
    let mut invoices: Vec<&str> = plan.invoice_number().into_iter().collect();
    if let Plan::Refund {
        void_invoice: Some(void),
        ..
    } = plan
    {
        invoices.push(void);
    }
    let charges: Vec<&str> = plan.charge_id().into_iter().collect();
    crate::reconcile::books_about(tx, &invoices, &charges)
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
    let amount = finding.amount;
    let currency = amount.currency();
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
            // A payment the ledger records on a charge the bank took back (or holds until
            // it decides) pays the invoice with money the business no longer has: this
            // charge is what pays it now, and refunding it would leave the customer
            // paying nothing (the chargeback's own finding records the chargeback).
            let paid_elsewhere = invoice.is_some_and(|inv| {
                !rests_on_a_chargeback(books, &inv.number)
                    && (inv.status == InvoiceStatus::Paid
                        || ledger_paid(books, &inv.number) >= inv.amount.minor())
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
        // A lost chargeback gave the money back through the card network: the ledger
        // records it as a refund of the charge, as it does a refund the gateway made.
        FindingKind::UnrecordedRefund | FindingKind::DisputeLostUnrecorded => Ok(Plan::LedgerFix {
            adjustment: Adjustment {
                kind: AdjustmentKind::RecordRefund,
                invoice_number: required_invoice(finding)?,
                payment_id: None,
                gateway_id: finding.charge_ids.first().cloned(),
                amount,
                effective_at: now.as_second(),
            },
        }),
        // Undecided: the business answers the dispute at the gateway; the books change
        // only once it is lost.
        FindingKind::DisputeInvoiceStillPaid => Err(NoPlan::NeedsAPerson(
            "a dispute is answered with evidence at Stripe; once it is lost, record the chargeback here".into(),
        )),
        // Money between the gateway and the bank moves outside Chargeguard: no refund or
        // ledger fix of an invoice settles it.
        FindingKind::PayoutMissingDeposit
        | FindingKind::PayoutUnbalanced
        | FindingKind::DepositWithoutPayout
        | FindingKind::DepositAmountDiffers => Err(NoPlan::NeedsAPerson(
            "a payout or deposit is settled with the bank or Stripe, or by recording the bank's fee in the books".into(),
        )),
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
        .map(paid_by)
        .sum()
}

/// Whether a payment the ledger records on `invoice_number` names a charge (or its payment
/// intent) whose money a chargeback holds.
fn rests_on_a_chargeback(books: &Books, invoice_number: &str) -> bool {
    books.chargebacks.iter().any(|d| {
        books.ledger.iter().any(|e| {
            e.invoice_number == invoice_number
                && e.kind == LedgerKind::Payment
                && e.gateway_id
                    .as_deref()
                    .is_some_and(|g| g == d.charge_id || Some(g) == d.payment_intent.as_deref())
        })
    })
}

/// What one ledger entry adds to its invoice's paid total: a payment its amount, a refund
/// less.
pub fn paid_by(entry: &crate::records::LedgerEntry) -> i64 {
    match entry.kind {
        LedgerKind::Payment => entry.amount.minor(),
        LedgerKind::Refund => -entry.amount.minor(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::{self, DemoSpec};
    use crate::store::{FindingFilter, Store};

    /// The targeted reads must give every plan and every ledger total that the whole books
    /// give: the demo plants each kind of incident, refunds, payment intents and all.
    #[test]
    fn the_part_of_the_books_about_a_finding_decides_as_the_whole_books_do() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("demo.db");
        let mut store = Store::open(&db).unwrap();
        let now = jiff::Timestamp::now();
        demo::build(
            &mut store,
            &db,
            &dir.path().join("files"),
            &DemoSpec::demo(),
            now,
        )
        .unwrap();
        store
            .read(|tx| {
                let whole = crate::reconcile::books_in(tx).unwrap();
                let findings = tx.findings(&FindingFilter::default())?;
                assert!(findings.len() > 5, "the demo plants incidents");
                for f in &findings {
                    let part = books_for_finding(tx, f).unwrap();
                    assert_eq!(
                        for_finding(f, &part, now),
                        for_finding(f, &whole, now),
                        "finding {} ({})",
                        f.id,
                        f.fingerprint
                    );
                    if let Ok(plan) = for_finding(f, &whole, now) {
                        let about_plan = books_for_plan(tx, &plan).unwrap();
                        if let Some(inv) = plan.invoice_number() {
                            assert_eq!(ledger_paid(&about_plan, inv), ledger_paid(&whole, inv));
                        }
                    }
                }
                for invoice in &whole.invoices {
                    let n = invoice.number.as_str();
                    let part = crate::reconcile::books_about(tx, &[n], &[]).unwrap();
                    assert_eq!(ledger_paid(&part, n), ledger_paid(&whole, n), "{n}");
                    assert_eq!(
                        crate::actions::recharge::owed_in_ledger(&part, n),
                        crate::actions::recharge::owed_in_ledger(&whole, n),
                        "{n}"
                    );
                    assert_eq!(part.invoices, vec![invoice.clone()]);
                }
                Ok::<_, crate::store::StoreError>(())
            })
            .unwrap();
    }
}
