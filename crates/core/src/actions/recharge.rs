//! Re-charging by hand: which unpaid invoices had a failed attempt, and the guards of
//! DESIGN.md rule 4 for a re-charge, each reported with its own result *before* anything is
//! proposed — the same reads `execute` makes before it sends (`execute::paid_at_gateway`,
//! `execute::saved_card`), so the window shows exactly what execution will check again.
//!
//! A guard that could not ask the gateway is "unchecked", never "passed": a re-charge is
//! proposed only when every guard passed, and execution runs them all again anyway.

use std::collections::HashMap;

use serde::Serialize;

use super::execute::{self, Guarded};
use super::{ActionError, ActionKind, ActionState, journal, plan};
use crate::gateway::stripe::StripeClient;
use crate::money::Money;
use crate::reconcile::{self, Books};
use crate::records::{Charge, ChargeStatus, Invoice, InvoiceStatus};
use crate::store::{ActionRow, Store};

/// One failed attempt to collect an invoice: a declined charge at the gateway, or a
/// re-charge action the gateway refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedAttempt {
    pub at: jiff::Timestamp,
    /// The declined gateway charge, when the attempt is one.
    pub charge_id: Option<String>,
    /// The failed re-charge action, when the attempt is one.
    pub action_id: Option<i64>,
    /// Plain words: "charge ch_… was declined at the gateway".
    pub what: String,
}

/// An invoice the ledger says is unpaid, which at least one attempt failed to collect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RechargeCandidate {
    pub invoice: Invoice,
    /// What the ledger says is still owed (the amount a re-charge would take).
    pub owed: Money,
    /// Newest first.
    pub failed_attempts: Vec<FailedAttempt>,
    /// The open action holding the invoice, if one does (a re-charge under way, a fix).
    pub open_action: Option<ActionRow>,
}

/// What the ledger says is owed on `invoice_number`, or why nothing is: the ledger guard,
/// shared by the candidates, the checks, `propose_recharge` and `execute`.
pub(crate) fn owed_in_ledger(books: &Books, invoice_number: &str) -> Result<Money, String> {
    let invoice = books
        .invoices
        .iter()
        .find(|i| i.number == invoice_number)
        .ok_or_else(|| format!("invoice {invoice_number} is not in the store"))?;
    owed_on(invoice, plan::ledger_paid(books, invoice_number))
}

/// The gateway customer to charge for `invoice`. An invoice that names a Stripe customer
/// (`cus_…`, as one billed through Stripe or exported from it does) is charged to that
/// one, whatever its attempts say. An accounting system's invoice names its own customer
/// (a Xero contact, a QuickBooks id): it is charged to the one customer its own attempts
/// were made to; attempts to two customers, or none, leave the invoice's (which Stripe
/// then does not know: the card guard says so). Never a guess between customers.
pub(crate) fn gateway_customer(books: &Books, invoice: &Invoice) -> String {
    if invoice.customer_id.starts_with("cus_") {
        return invoice.customer_id.clone();
    }
    let mut customers = books
        .charges
        .iter()
        .filter(|c| c.invoice_ref.as_deref() == Some(invoice.number.as_str()))
        .filter_map(|c| c.customer.as_deref());
    match customers.next() {
        Some(first) if customers.all(|c| c == first) => first.to_string(),
        _ => invoice.customer_id.clone(),
    }
}

/// [`owed_in_ledger`] of an invoice whose ledger says `paid` (minor units).
fn owed_on(invoice: &Invoice, paid: i64) -> Result<Money, String> {
    let number = &invoice.number;
    if invoice.status == InvoiceStatus::Void {
        return Err(format!("invoice {number} is void; nothing is owed"));
    }
    let owed = invoice.amount.minor() - paid;
    if invoice.status == InvoiceStatus::Paid || owed <= 0 {
        return Err(format!(
            "the ledger says invoice {number} is paid; a re-charge would charge the customer twice"
        ));
    }
    Ok(Money::from_minor(owed, invoice.amount.currency()))
}

/// The failed attempts of one invoice of `books`, the way [`candidates_in`] finds them for
/// a chunk of invoices at once (its tests' reference).
#[cfg(test)]
fn failed_attempts(
    books: &Books,
    actions: &[ActionRow],
    invoice_number: &str,
) -> Vec<FailedAttempt> {
    attempts(
        books
            .charges
            .iter()
            .filter(|c| c.invoice_ref.as_deref() == Some(invoice_number)),
        actions
            .iter()
            .filter(|a| a.invoice_number.as_deref() == Some(invoice_number)),
    )
}

/// The failed attempts among one invoice's charges and actions, newest first.
fn attempts<'a>(
    charges: impl Iterator<Item = &'a Charge>,
    actions: impl Iterator<Item = &'a ActionRow>,
) -> Vec<FailedAttempt> {
    let mut out: Vec<FailedAttempt> = charges
        .filter(|c| c.status == ChargeStatus::Failed)
        .map(|c| FailedAttempt {
            at: c.created,
            charge_id: Some(c.id.clone()),
            action_id: None,
            what: format!(
                "charge {} for {} was declined at the gateway",
                c.id, c.amount
            ),
        })
        .collect();
    out.extend(
        actions
            .filter(|a| a.kind == ActionKind::Recharge && a.state == ActionState::Failed)
            .map(|a| FailedAttempt {
                at: jiff::Timestamp::from_second(a.updated_at).unwrap_or_default(),
                charge_id: None,
                action_id: Some(a.id),
                what: format!("re-charge action {} was refused by the gateway", a.id),
            }),
    );
    out.sort_by_key(|a| std::cmp::Reverse(a.at));
    out
}

fn open_action_on(actions: &[ActionRow], invoice_number: &str) -> Option<ActionRow> {
    actions
        .iter()
        .find(|a| a.state.is_open() && a.invoice_number.as_deref() == Some(invoice_number))
        .cloned()
}

/// The candidates among `books`' invoices. Each list is grouped by invoice in one pass, so
/// a chunk of invoices costs its rows, not its rows times its invoices.
fn candidates_in(books: &Books, actions: &[ActionRow]) -> Vec<RechargeCandidate> {
    let mut paid: HashMap<&str, i64> = HashMap::new();
    for entry in &books.ledger {
        *paid.entry(entry.invoice_number.as_str()).or_default() += plan::paid_by(entry);
    }
    let mut charges: HashMap<&str, Vec<&Charge>> = HashMap::new();
    for charge in &books.charges {
        if let Some(invoice) = charge.invoice_ref.as_deref() {
            charges.entry(invoice).or_default().push(charge);
        }
    }
    let mut on_invoice: HashMap<&str, Vec<&ActionRow>> = HashMap::new();
    for action in actions {
        if let Some(invoice) = action.invoice_number.as_deref() {
            on_invoice.entry(invoice).or_default().push(action);
        }
    }
    books
        .invoices
        .iter()
        .filter_map(|invoice| {
            let number = invoice.number.as_str();
            let owed = owed_on(invoice, paid.get(number).copied().unwrap_or(0)).ok()?;
            let mine = on_invoice.get(number).map_or(&[][..], Vec::as_slice);
            let failed = attempts(
                charges.get(number).into_iter().flatten().copied(),
                mine.iter().copied(),
            );
            (!failed.is_empty()).then(|| RechargeCandidate {
                invoice: invoice.clone(),
                owed,
                failed_attempts: failed,
                open_action: mine
                    .iter()
                    .find(|a| a.state.is_open())
                    .map(|a| (*a).clone()),
            })
        })
        .collect()
}

/// Invoices read at a time for the candidates (well under the engine's limit on a
/// statement's parameters).
const CANDIDATE_CHUNK: usize = 500;

/// Unpaid invoices (by the ledger) with at least one failed attempt, oldest invoice first:
/// at most `limit`, those after invoice `after` (the last one a page before showed). Only
/// open invoices a declined charge or a refused re-charge names are read, with their part
/// of the books, so a page costs the invoices read to fill it, not every candidate.
pub fn recharge_candidates_after(
    store: &mut Store,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<RechargeCandidate>, ActionError> {
    candidates_read_by(store, after, limit, CANDIDATE_CHUNK)
}

/// [`recharge_candidates_after`], reading `chunk` invoices at a time.
fn candidates_read_by(
    store: &mut Store,
    after: Option<&str>,
    limit: usize,
    chunk: usize,
) -> Result<Vec<RechargeCandidate>, ActionError> {
    store.read(|tx| {
        let actions = tx.actions(None)?;
        let refused: Vec<&str> = actions
            .iter()
            .filter(|a| a.kind == ActionKind::Recharge && a.state == ActionState::Failed)
            .filter_map(|a| a.invoice_number.as_deref())
            .collect();
        let mut cursor: Option<(i64, String)> = match after {
            Some(number) => tx
                .invoices_numbered(&[number])?
                .first()
                .map(|i| (i.issued_at.as_second(), i.number.clone())),
            None => None,
        };
        let mut out = Vec::new();
        while out.len() < limit {
            let batch = tx.invoices_with_a_failed_attempt(
                cursor.as_ref().map(|(at, n)| (*at, n.as_str())),
                &refused,
                chunk,
            )?;
            let Some((last, at)) = batch.last() else {
                break;
            };
            cursor = Some((*at, last.clone()));
            let numbers: Vec<&str> = batch.iter().map(|(n, _)| n.as_str()).collect();
            let books = reconcile::books_about(tx, &numbers, &[])?;
            let mut found = candidates_in(&books, &actions);
            found.sort_by(|a, b| {
                (a.invoice.issued_at, &a.invoice.number)
                    .cmp(&(b.invoice.issued_at, &b.invoice.number))
            });
            out.extend(found.into_iter().take(limit - out.len()));
            if batch.len() < chunk {
                break;
            }
        }
        Ok::<_, ActionError>(out)
    })
}

/// The guards a re-charge must pass, in the order they are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RechargeGuard {
    /// The ledger says the invoice is unpaid (open, and payments short of its amount).
    UnpaidInLedger,
    /// The gateway holds no succeeded, un-refunded charge for it (asked, not remembered).
    NoSucceededCharge,
    /// No other action holds the invoice (proposed, approved, executing or undecided).
    NothingInFlight,
    /// The customer has a saved card at the gateway to charge.
    CardOnFile,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardOutcome {
    Passed,
    Refused,
    /// The gateway could not be asked; it is not known whether the guard holds.
    Unchecked,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuardCheck {
    pub guard: RechargeGuard,
    pub outcome: GuardOutcome,
    /// Plain words: what was found.
    pub detail: String,
}

/// Every guard of a re-charge of one invoice, each with its result.
#[derive(Debug, Clone, Serialize)]
pub struct RechargeChecks {
    pub invoice: Invoice,
    /// What a re-charge would take (the ledger's balance), when the ledger says it is owed.
    pub amount: Option<Money>,
    /// The attempt a re-charge proposed now would be (moves on only after a decline).
    pub attempt: i64,
    pub checks: Vec<GuardCheck>,
    /// The open action holding the invoice, if any: continue it rather than propose.
    pub open_action: Option<ActionRow>,
}

impl RechargeChecks {
    /// Every guard passed: a re-charge may be proposed.
    pub fn all_passed(&self) -> bool {
        self.checks
            .iter()
            .all(|c| c.outcome == GuardOutcome::Passed)
    }
}

fn check(guard: RechargeGuard, outcome: GuardOutcome, detail: String) -> GuardCheck {
    GuardCheck {
        guard,
        outcome,
        detail,
    }
}

fn unchecked(guard: RechargeGuard, e: Guarded) -> GuardCheck {
    match e {
        Guarded::Refused(reason) => check(guard, GuardOutcome::Refused, reason),
        Guarded::Gateway(e) => check(
            guard,
            GuardOutcome::Unchecked,
            format!("the gateway could not be asked ({e}); check again when it answers"),
        ),
    }
}

/// Runs every guard of a re-charge of `invoice_number` against the store and the gateway,
/// and reports each one's result. Writes nothing.
pub async fn check_recharge(
    store: &mut Store,
    client: &StripeClient,
    invoice_number: &str,
) -> Result<RechargeChecks, ActionError> {
    let (books, actions, attempt) = store.read(|tx| {
        let books = reconcile::books_about(tx, &[invoice_number], &[])?;
        let actions = tx.actions(None)?;
        let attempt = journal::next_attempt(tx, ActionKind::Recharge, |a| {
            a.invoice_number.as_deref() == Some(invoice_number)
        })?;
        Ok::<_, ActionError>((books, actions, attempt))
    })?;
    let invoice = books
        .invoices
        .iter()
        .find(|i| i.number == invoice_number)
        .cloned()
        .ok_or_else(|| ActionError::InvoiceNotFound(invoice_number.to_string()))?;
    let customer = gateway_customer(&books, &invoice);
    let mut checks = Vec::new();

    let owed = owed_in_ledger(&books, invoice_number);
    checks.push(match &owed {
        Ok(owed) => check(
            RechargeGuard::UnpaidInLedger,
            GuardOutcome::Passed,
            format!(
                "the ledger says {owed} of the {} is still owed",
                invoice.amount
            ),
        ),
        Err(why) => check(
            RechargeGuard::UnpaidInLedger,
            GuardOutcome::Refused,
            why.clone(),
        ),
    });

    checks.push(
        match execute::paid_at_gateway(client, &books, invoice_number, &customer).await
        {
            Ok(None) => check(
                RechargeGuard::NoSucceededCharge,
                GuardOutcome::Passed,
                format!(
                    "the gateway holds no succeeded charge for invoice {invoice_number} (asked just now)"
                ),
            ),
            Ok(Some(charge)) => check(
                RechargeGuard::NoSucceededCharge,
                GuardOutcome::Refused,
                format!(
                    "the gateway already holds succeeded charge {charge} for invoice {invoice_number}{}",
                    if owed.is_ok() {
                        "; the ledger has not recorded it: reconcile, and fix the ledger instead"
                    } else {
                        ""
                    }
                ),
            ),
            Err(e) => unchecked(RechargeGuard::NoSucceededCharge, e),
        },
    );

    let open_action = open_action_on(&actions, invoice_number);
    checks.push(match &open_action {
        None => check(
            RechargeGuard::NothingInFlight,
            GuardOutcome::Passed,
            format!("no action holds invoice {invoice_number}"),
        ),
        Some(a) => check(
            RechargeGuard::NothingInFlight,
            GuardOutcome::Refused,
            format!(
                "action {} ({}) is {} on invoice {invoice_number}; finish, recover or cancel it first",
                a.id, a.kind, a.state
            ),
        ),
    });

    checks.push(match execute::saved_card(client, &customer).await {
        Ok(Some(_)) => check(
            RechargeGuard::CardOnFile,
            GuardOutcome::Passed,
            format!("customer {customer} has a saved card at the gateway"),
        ),
        Ok(None) => check(
            RechargeGuard::CardOnFile,
            GuardOutcome::Refused,
            format!("customer {customer} has no saved card at the gateway; ask them to add one"),
        ),
        Err(e) => unchecked(RechargeGuard::CardOnFile, e),
    });

    Ok(RechargeChecks {
        invoice,
        amount: owed.ok(),
        attempt,
        checks,
        open_action,
    })
}

/// Proposes a re-charge of `invoice_number` only if every guard passes now. The same
/// re-charge proposed again (a double click, a second window) returns the open action.
pub async fn propose_checked_recharge(
    store: &mut Store,
    client: &StripeClient,
    invoice_number: &str,
    by: &str,
    now: jiff::Timestamp,
) -> Result<ActionRow, ActionError> {
    let checks = check_recharge(store, client, invoice_number).await?;
    if let Some(open) = &checks.open_action
        && open.kind == ActionKind::Recharge
        && open.state == ActionState::Proposed
    {
        return Ok(open.clone());
    }
    let refused: Vec<&str> = checks
        .checks
        .iter()
        .filter(|c| c.outcome != GuardOutcome::Passed)
        .map(|c| c.detail.as_str())
        .collect();
    if !refused.is_empty() {
        return Err(ActionError::Refused(format!(
            "no re-charge was proposed: {}",
            refused.join("; ")
        )));
    }
    super::propose_recharge(store, invoice_number, by, now)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::money::Currency;
    use crate::records::{Charge, LedgerEntry, LedgerKind};

    fn usd(minor: i64) -> Money {
        Money::from_minor(minor, Currency::from_code("usd").unwrap())
    }

    fn at(s: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_790_000_000 + s).unwrap()
    }

    fn invoice(number: &str, amount: i64, status: InvoiceStatus) -> Invoice {
        Invoice {
            number: number.into(),
            customer_id: "cus_1".into(),
            amount: usd(amount),
            issued_at: at(0),
            due_at: None,
            status,
            order_ref: None,
            gateway_invoice_id: None,
            stated_paid: None,
            paid_at: None,
        }
    }

    fn charge(id: &str, invoice: &str, status: ChargeStatus, s: i64) -> Charge {
        Charge {
            id: id.into(),
            amount: usd(4900),
            amount_refunded: usd(0),
            status,
            captured: status == ChargeStatus::Succeeded,
            created: at(s),
            customer: Some("cus_1".into()),
            customer_email: None,
            payment_intent: None,
            invoice_ref: Some(invoice.into()),
            gateway_invoice_id: None,
            description: None,
            fee: None,
            metadata: BTreeMap::new(),
        }
    }

    fn books() -> Books {
        Books {
            invoices: vec![
                invoice("INV-OPEN", 4900, InvoiceStatus::Open),
                invoice("INV-PART", 4900, InvoiceStatus::Open),
                invoice("INV-PAID", 4900, InvoiceStatus::Paid),
                invoice("INV-VOID", 4900, InvoiceStatus::Void),
            ],
            ledger: vec![LedgerEntry {
                payment_id: "P-1".into(),
                invoice_number: "INV-PART".into(),
                kind: LedgerKind::Payment,
                amount: usd(1900),
                recorded_at: at(5),
                gateway_id: None,
            }],
            charges: vec![
                charge("ch_declined", "INV-OPEN", ChargeStatus::Failed, 10),
                charge("ch_later", "INV-OPEN", ChargeStatus::Failed, 20),
                charge("ch_ok", "INV-PAID", ChargeStatus::Succeeded, 10),
            ],
            refunds: vec![],
            coverage: vec![],
            chargebacks: vec![],
        }
    }

    #[test]
    fn a_recharge_charges_the_customer_the_attempts_were_made_to_not_the_books_contact() {
        let mut books = books();
        let contact = "a3675fc4-f8dd-4f03-ba5b-f1870566bcd7";
        // Synced from Xero: the invoice names Xero's contact, the attempts Stripe's customer.
        books.invoices[0].customer_id = contact.into();
        books.charges[0].customer = Some("cus_9".into());
        books.charges[1].customer = Some("cus_9".into());
        assert_eq!(gateway_customer(&books, &books.invoices[0]), "cus_9");
        // Attempts to two customers: no guess, the invoice's own.
        books.charges[1].customer = Some("cus_2".into());
        assert_eq!(gateway_customer(&books, &books.invoices[0]), contact);
        // An invoice that names a Stripe customer is charged to it, whatever its attempts say.
        books.charges[1].customer = Some("cus_9".into());
        books.invoices[0].customer_id = "cus_1".into();
        assert_eq!(gateway_customer(&books, &books.invoices[0]), "cus_1");
    }

    #[test]
    fn the_ledger_guard_owes_the_balance_and_refuses_paid_and_void_invoices() {
        let books = books();
        assert_eq!(owed_in_ledger(&books, "INV-OPEN"), Ok(usd(4900)));
        assert_eq!(
            owed_in_ledger(&books, "INV-PART"),
            Ok(usd(3000)),
            "a partial cash payment leaves the balance"
        );
        assert!(
            owed_in_ledger(&books, "INV-PAID")
                .unwrap_err()
                .contains("paid")
        );
        assert!(
            owed_in_ledger(&books, "INV-VOID")
                .unwrap_err()
                .contains("void")
        );
        assert!(
            owed_in_ledger(&books, "INV-NONE")
                .unwrap_err()
                .contains("not in the store")
        );
    }

    #[test]
    fn failed_attempts_are_declined_charges_and_refused_recharges_newest_first() {
        let books = books();
        let attempts = failed_attempts(&books, &[], "INV-OPEN");
        let ids: Vec<_> = attempts.iter().map(|a| a.charge_id.clone()).collect();
        assert_eq!(
            ids,
            vec![
                Some("ch_later".to_string()),
                Some("ch_declined".to_string())
            ]
        );
        assert!(
            attempts[0].what.contains("declined"),
            "{}",
            attempts[0].what
        );
        assert!(
            failed_attempts(&books, &[], "INV-PART").is_empty(),
            "an invoice never attempted is not a re-charge candidate"
        );
    }

    /// The candidates read invoice by invoice are the ones the whole books give.
    #[test]
    fn the_candidates_from_their_invoices_are_the_whole_books_candidates() {
        use crate::demo::{self, DemoSpec};
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("demo.db");
        let mut store = Store::open(&db).unwrap();
        demo::build(
            &mut store,
            &db,
            &dir.path().join("files"),
            &DemoSpec::scale(3_000),
            jiff::Timestamp::now(),
        )
        .unwrap();
        // An open re-charge on one unpaid invoice with a decline, and a re-charge the gateway
        // refused on an unpaid invoice without one (a candidate through its action only).
        let now = jiff::Timestamp::now();
        let books = store.read(reconcile::books_in).unwrap();
        let unpaid = |declined: bool| {
            books
                .invoices
                .iter()
                .find(|i| {
                    owed_in_ledger(&books, &i.number).is_ok()
                        && declined
                            == books.charges.iter().any(|c| {
                                c.status == ChargeStatus::Failed
                                    && c.invoice_ref.as_deref() == Some(i.number.as_str())
                            })
                })
                .map(|i| i.number.clone())
                .expect("the generated books have such an invoice")
        };
        let (open_on, refused_on) = (unpaid(true), unpaid(false));
        journal::propose_recharge(&mut store, &open_on, "alice", now).unwrap();
        let refused = journal::propose_recharge(&mut store, &refused_on, "alice", now).unwrap();
        store
            .write(|tx| {
                use crate::store::{MoveWith, Sending};
                let id = refused.id;
                tx.move_action(
                    id,
                    ActionState::Proposed,
                    ActionState::Approved,
                    now,
                    MoveWith::default(),
                )?;
                let sending = Sending {
                    method: "POST".into(),
                    path: "/v1/payment_intents".into(),
                    body: String::new(),
                    first_sent_at: now,
                };
                tx.move_action(
                    id,
                    ActionState::Approved,
                    ActionState::Executing,
                    now,
                    MoveWith {
                        sending: Some(sending),
                        ..MoveWith::default()
                    },
                )?;
                tx.move_action(
                    id,
                    ActionState::Executing,
                    ActionState::Failed,
                    now,
                    MoveWith::default(),
                )
            })
            .unwrap();
        // The reference: each invoice of the whole books, one by one, through the shared
        // guards (the ledger's owed amount, the failed attempts, the open action).
        let mut whole: Vec<RechargeCandidate> = store
            .read(|tx| {
                let books = reconcile::books_in(tx)?;
                let actions = tx.actions(None)?;
                Ok::<_, ActionError>(
                    books
                        .invoices
                        .iter()
                        .filter_map(|invoice| {
                            let owed = owed_in_ledger(&books, &invoice.number).ok()?;
                            let failed = failed_attempts(&books, &actions, &invoice.number);
                            (!failed.is_empty()).then(|| RechargeCandidate {
                                invoice: invoice.clone(),
                                owed,
                                failed_attempts: failed,
                                open_action: open_action_on(&actions, &invoice.number),
                            })
                        })
                        .collect(),
                )
            })
            .unwrap();
        whole.sort_by(|a, b| {
            (a.invoice.issued_at, &a.invoice.number).cmp(&(b.invoice.issued_at, &b.invoice.number))
        });
        assert!(!whole.is_empty(), "the demo declines some charges");
        let on = |n: &str| whole.iter().find(|c| c.invoice.number == n).cloned();
        assert!(on(&open_on).is_some_and(|c| c.open_action.is_some()));
        assert!(on(&refused_on).is_some_and(|c| {
            c.failed_attempts
                .iter()
                .any(|a| a.action_id == Some(refused.id))
        }));
        assert_eq!(
            recharge_candidates_after(&mut store, None, usize::MAX).unwrap(),
            whole
        );
        // Pages of one, each after the last invoice of the one before, read two invoices at
        // a time: the same candidates, in the same order.
        assert!(
            whole.len() > 2,
            "more candidates than one read: {}",
            whole.len()
        );
        let mut paged: Vec<RechargeCandidate> = Vec::new();
        loop {
            let after = paged.last().map(|c| c.invoice.number.clone());
            let page = candidates_read_by(&mut store, after.as_deref(), 1, 2).unwrap();
            assert!(page.len() <= 1);
            if page.is_empty() {
                break;
            }
            paged.extend(page);
        }
        assert_eq!(paged, whole);
    }
}
