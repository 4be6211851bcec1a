//! The rows a period's tie-out reads, found from the period's own rows, so that a month-end
//! costs the month and not the store's whole history.
//!
//! The tie-out groups money movements by the gateway charge they are about. A group with
//! no movement inside the period is never weighed; one whose movements inside it cancel
//! out is matched, or goes to a finding that names it; only the rest (a charge on the 31st
//! recorded on the 1st, a finding's money) is weighed across all time. So
//! [`Books::of_period`] reads, in one transaction:
//! 1. every movement dated inside the period (charges, refunds, ledger entries), every
//!    adjustment and finding and coverage window, the ledger entries a finding or an
//!    adjustment names or that sit on an adjustment's invoice, and every refund of a
//!    charge of the period that shows money refunded;
//! 2. for every gateway id a ledger entry or an adjustment names and that is not a charge
//!    already read, what the tie-out resolves it to: the charge of that id, else the
//!    earliest succeeded charge of that payment intent, else the refund of that id;
//! 3. for every charge whose movements inside the period do not cancel out
//!    ([`tieout::charges_unsettled_in`]), all its movements: the charge, its refunds, the
//!    ledger entries naming it, its payment intent or its refunds (and step 2 for those).
//!
//! Reading more than a group needs is harmless; reading less is not, and a property test
//! holds this read to a read of every row (`tieout_of_the_period.rs` in the core's tests).
//! It owns which rows are read; it must never weigh them.

use std::collections::BTreeSet;

use hashbrown::HashSet;

use super::Reading;
use super::tieout::ChargebackMove;
use super::tieout::{self, Rows};
use crate::period::Period;
use crate::records::{Charge, Coverage, GatewayRefund, Invoice, LedgerEntry};
use crate::store::{
    ActionRow, FindingFilter, StoreError, StoreTx, StoredAdjustment, StoredFinding,
};
use crate::sync::GATEWAY;

/// Keys per `IN (…)` list: well under SQLite's limit on a statement's parameters.
const CHUNK: usize = 500;

/// A period holding more than one in this many of the books' charges and ledger entries
/// is read whole ([`Reading::Cheapest`]).
const READ_WHOLE_ABOVE_ONE_IN: u64 = 5;

/// The rows a tie-out reads, owned.
pub(super) struct Books {
    pub charges: Vec<Charge>,
    pub refunds: Vec<GatewayRefund>,
    pub ledger: Vec<LedgerEntry>,
    pub adjustments: Vec<StoredAdjustment>,
    pub findings: Vec<StoredFinding>,
    pub coverage: Vec<Coverage>,
    /// What every dispute did to its charge's money (a few a year: read whole, whatever
    /// the period).
    pub chargebacks: Vec<ChargebackMove>,
}

/// What the disputes did to their charges' money, dated by their balance transactions: over
/// all time, as reconciliation takes them off their charges.
fn chargebacks_holding_money(tx: &StoreTx<'_>) -> Result<Vec<ChargebackMove>, StoreError> {
    let disputes = tx.disputes(GATEWAY)?;
    if disputes.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = disputes.iter().map(|d| d.id.as_str()).collect();
    let moved = tx.balance_transactions_from(GATEWAY, &ids)?;
    let mut out = Vec::new();
    for d in &disputes {
        let its: Vec<&crate::records::BalanceTransaction> = moved
            .iter()
            .filter(|t| t.source.as_deref() == Some(d.id.as_str()))
            .collect();
        out.extend(ChargebackMove::of(d, &its));
    }
    Ok(out)
}

impl Books {
    /// The rows `reading` says. A package prints the charges' descriptions (`with_text`);
    /// a tie-out alone never reads them, and no month-end reads their metadata: both are
    /// most of a charge's bytes.
    pub fn read(
        tx: &StoreTx<'_>,
        period: &Period,
        reading: Reading,
        with_text: bool,
    ) -> Result<Books, StoreError> {
        let whole = match reading {
            Reading::Whole => true,
            Reading::Period => false,
            Reading::Cheapest => {
                // Through the date indexes a row costs several times what it costs in one
                // pass over the table.
                let (inside, all) = tx.money_rows_between(period.start(), period.end())?;
                inside.saturating_mul(READ_WHOLE_ABOVE_ONE_IN) > all
            }
        };
        if whole {
            Books::whole(tx, with_text)
        } else {
            Books::of_period(tx, period, with_text)
        }
    }

    /// Every row of the store.
    fn whole(tx: &StoreTx<'_>, with_text: bool) -> Result<Books, StoreError> {
        Ok(Books {
            charges: if with_text {
                tx.charges_to_print()?
            } else {
                tx.charges_to_reconcile()?
            },
            refunds: tx.refunds()?,
            ledger: tx.ledger_entries()?,
            adjustments: tx.adjustments()?,
            findings: tx.findings(&FindingFilter::default())?,
            coverage: tx.charge_coverage()?,
            chargebacks: chargebacks_holding_money(tx)?,
        })
    }

    /// What the tie-out of `period` reads (see the module's comment).
    fn of_period(tx: &StoreTx<'_>, period: &Period, with_text: bool) -> Result<Books, StoreError> {
        let (start, end) = (period.start(), period.end());
        let mut read = Read {
            with_text,
            coverage: tx.charge_coverage()?,
            chargebacks: chargebacks_holding_money(tx)?,
            ..Read::default()
        };
        read.charges(if with_text {
            tx.charges_to_print_between(start, end)?
        } else {
            tx.charges_created_between(start, end)?
        });
        read.refunds(tx.refunds_created_between(start, end)?);
        read.ledger(tx.ledger_entries_recorded_between(start, end)?);
        let adjustments = tx.adjustments()?;
        let findings = tx.findings(&FindingFilter::default())?;
        let named: BTreeSet<&str> = findings
            .iter()
            .flat_map(|f| f.payment_ids.iter().map(String::as_str))
            .chain(
                adjustments
                    .iter()
                    .filter_map(|a| a.adjustment.payment_id.as_deref()),
            )
            .collect();
        for keys in chunks(&named) {
            read.ledger(tx.ledger_entries_with_payment_ids(&keys)?);
        }
        let invoices: BTreeSet<&str> = adjustments
            .iter()
            .map(|a| a.adjustment.invoice_number.as_str())
            .collect();
        for keys in chunks(&invoices) {
            read.ledger(tx.ledger_entries_about(&keys, &[])?);
        }
        let refunded: BTreeSet<String> = read
            .charges
            .iter()
            .filter(|c| c.amount_refunded.minor() > 0)
            .map(|c| c.id.clone())
            .collect();
        read.refunds_of(tx, &refunded)?;
        let gateway_ids: Vec<String> = adjustments
            .iter()
            .filter_map(|a| a.adjustment.gateway_id.clone())
            .collect();
        read.resolve(tx, &gateway_ids)?;
        // A recorded refund is held to what its charge gave back: its refunds, all time.
        let adjusted: BTreeSet<String> = read
            .charges
            .iter()
            .filter(|c| gateway_ids.contains(&c.id))
            .map(|c| c.id.clone())
            .collect();
        read.refunds_of(tx, &adjusted)?;
        read.sort();

        let unsettled: BTreeSet<String> =
            tieout::charges_unsettled_in(&read.rows(&adjustments, &findings), period)
                .into_iter()
                .map(str::to_string)
                .collect();
        read.charges_with_ids(tx, &unsettled)?;
        read.refunds_of(tx, &unsettled)?;
        let mut naming: BTreeSet<String> = unsettled.clone();
        naming.extend(
            read.charges
                .iter()
                .filter(|c| unsettled.contains(&c.id))
                .filter_map(|c| c.payment_intent.clone()),
        );
        naming.extend(
            read.refunds
                .iter()
                .filter(|r| unsettled.contains(&r.charge_id))
                .map(|r| r.id.clone()),
        );
        for keys in chunks(&naming) {
            read.ledger(tx.ledger_entries_about(&[], &keys)?);
        }
        read.resolve(tx, &[])?;
        read.sort();

        Ok(Books {
            charges: read.charges,
            refunds: read.refunds,
            ledger: read.ledger,
            adjustments,
            findings,
            coverage: read.coverage,
            chargebacks: read.chargebacks,
        })
    }

    /// Every invoice a package of `period` may show (`tables::select` picks from these):
    /// those issued inside it, and those its money movements, adjustments, findings and
    /// actions name.
    pub fn invoices_shown(
        &self,
        tx: &StoreTx<'_>,
        period: &Period,
        actions: &[ActionRow],
    ) -> Result<Vec<Invoice>, StoreError> {
        let inside = |at: jiff::Timestamp| period.contains(at);
        let mut numbers: BTreeSet<&str> = BTreeSet::new();
        numbers.extend(
            self.ledger
                .iter()
                .filter(|e| inside(e.recorded_at))
                .map(|e| e.invoice_number.as_str()),
        );
        numbers.extend(
            self.charges
                .iter()
                .filter(|c| inside(c.created))
                .filter_map(|c| c.invoice_ref.as_deref()),
        );
        numbers.extend(
            self.adjustments
                .iter()
                .map(|a| a.adjustment.invoice_number.as_str()),
        );
        numbers.extend(
            self.findings
                .iter()
                .filter_map(|f| f.invoice_number.as_deref()),
        );
        numbers.extend(actions.iter().filter_map(|a| a.invoice_number.as_deref()));
        let mut invoices = tx.invoices_issued_between(period.start(), period.end())?;
        for invoice in &invoices {
            numbers.remove(invoice.number.as_str());
        }
        for keys in chunks(&numbers) {
            invoices.extend(tx.invoices_numbered(&keys)?);
        }
        invoices.sort_by(|a, b| a.number.cmp(&b.number));
        Ok(invoices)
    }

    pub fn rows(&self) -> Rows<'_> {
        Rows {
            charges: &self.charges,
            refunds: &self.refunds,
            ledger: &self.ledger,
            adjustments: &self.adjustments,
            findings: &self.findings,
            coverage: &self.coverage,
            chargebacks: &self.chargebacks,
        }
    }
}

/// The rows read so far, each once; sorted as a read of every row gives them (charge id,
/// refund id, payment id), so the tie-out meets them in the same order.
#[derive(Default)]
struct Read {
    with_text: bool,
    charges: Vec<Charge>,
    refunds: Vec<GatewayRefund>,
    ledger: Vec<LedgerEntry>,
    charge_ids: HashSet<String>,
    refund_ids: HashSet<String>,
    payment_ids: HashSet<String>,
    /// Gateway ids already resolved.
    resolved: HashSet<String>,
    coverage: Vec<Coverage>,
    chargebacks: Vec<ChargebackMove>,
}

impl Read {
    fn charges(&mut self, rows: Vec<Charge>) {
        for c in rows {
            if self.charge_ids.insert(c.id.clone()) {
                self.charges.push(c);
            }
        }
    }

    fn refunds(&mut self, rows: Vec<GatewayRefund>) {
        for r in rows {
            if self.refund_ids.insert(r.id.clone()) {
                self.refunds.push(r);
            }
        }
    }

    fn ledger(&mut self, rows: Vec<LedgerEntry>) {
        for e in rows {
            if self.payment_ids.insert(e.payment_id.clone()) {
                self.ledger.push(e);
            }
        }
    }

    /// The charges of these ids, with their descriptions when the read prints them.
    fn charges_with_ids<K: AsRef<str>>(
        &mut self,
        tx: &StoreTx<'_>,
        ids: &BTreeSet<K>,
    ) -> Result<(), StoreError> {
        for keys in chunks(ids) {
            self.charges(if self.with_text {
                tx.charges_to_print_with_ids(GATEWAY, &keys)?
            } else {
                tx.charges_about(GATEWAY, &keys, &[], &[])?
            });
        }
        Ok(())
    }

    fn refunds_of(
        &mut self,
        tx: &StoreTx<'_>,
        charges: &BTreeSet<String>,
    ) -> Result<(), StoreError> {
        for ids in chunks(charges) {
            self.refunds(tx.refunds_of(&ids)?);
        }
        Ok(())
    }

    /// Reads what the tie-out resolves each gateway id named by a ledger entry read so far,
    /// or in `also`, to: the charge of that id; else the earliest succeeded charge of that
    /// payment intent; else the refund of that id. An id that is a charge read already
    /// resolves to it (charge ids are unique).
    fn resolve(&mut self, tx: &StoreTx<'_>, also: &[String]) -> Result<(), StoreError> {
        let wanted: BTreeSet<String> = self
            .ledger
            .iter()
            .filter_map(|e| e.gateway_id.clone())
            .chain(also.iter().cloned())
            .filter(|g| !self.charge_ids.contains(g) && !self.resolved.contains(g))
            .collect();
        self.charges_with_ids(tx, &wanted)?;
        for keys in chunks(&wanted) {
            self.refunds(tx.refunds_with_ids(GATEWAY, &keys)?);
        }
        for g in &wanted {
            if !self.charge_ids.contains(g)
                && let Some(first) = tx.first_succeeded_charge_of_intent(g)?
            {
                self.charges(vec![first]);
            }
        }
        self.resolved.extend(wanted);
        Ok(())
    }

    fn sort(&mut self) {
        self.charges.sort_by(|a, b| a.id.cmp(&b.id));
        self.refunds.sort_by(|a, b| a.id.cmp(&b.id));
        self.ledger.sort_by(|a, b| a.payment_id.cmp(&b.payment_id));
    }

    fn rows<'a>(
        &'a self,
        adjustments: &'a [StoredAdjustment],
        findings: &'a [StoredFinding],
    ) -> Rows<'a> {
        Rows {
            charges: &self.charges,
            refunds: &self.refunds,
            ledger: &self.ledger,
            adjustments,
            findings,
            coverage: &self.coverage,
            chargebacks: &self.chargebacks,
        }
    }
}

/// The keys in lists of at most [`CHUNK`].
fn chunks<K: AsRef<str>>(keys: &BTreeSet<K>) -> Vec<Vec<&str>> {
    let all: Vec<&str> = keys.iter().map(AsRef::as_ref).collect();
    all.chunks(CHUNK).map(<[&str]>::to_vec).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::money::{Currency, Money};
    use crate::records::{ChargeStatus, LedgerKind, Origin};
    use crate::store::{ExtraColumns, SourceKind, Store};

    fn at(text: &str) -> jiff::Timestamp {
        text.parse().unwrap()
    }

    /// A charge at `created` and its ledger payment at `recorded`.
    fn paid(store: &mut Store, id: &str, created: &str, recorded: &str) {
        let usd = Currency::from_code("USD").unwrap();
        store
            .write(|tx| {
                let source =
                    tx.begin_source(SourceKind::StripeSync, "stripe", None, at(created))?;
                let origin = Origin {
                    source_id: source,
                    line: None,
                };
                let charge = Charge {
                    id: format!("ch_{id}"),
                    amount: Money::from_minor(1000, usd),
                    amount_refunded: Money::from_minor(0, usd),
                    status: ChargeStatus::Succeeded,
                    captured: true,
                    created: at(created),
                    customer: None,
                    customer_email: None,
                    payment_intent: None,
                    invoice_ref: Some(format!("INV-{id}")),
                    gateway_invoice_id: None,
                    description: Some("Subscription".into()),
                    fee: None,
                    metadata: BTreeMap::new(),
                };
                tx.upsert_charge(GATEWAY, &charge, ExtraColumns::NONE, &origin)?;
                let entry = LedgerEntry {
                    payment_id: format!("pay_{id}"),
                    invoice_number: format!("INV-{id}"),
                    kind: LedgerKind::Payment,
                    amount: Money::from_minor(1000, usd),
                    recorded_at: at(recorded),
                    gateway_id: Some(format!("ch_{id}")),
                };
                tx.upsert_ledger_entry(&entry, ExtraColumns::NONE, &origin)?;
                Ok::<_, StoreError>(())
            })
            .unwrap();
    }

    fn read(store: &mut Store, month: &str, reading: Reading) -> (Vec<String>, Vec<String>) {
        let period = Period::parse(month, "UTC").unwrap();
        store
            .read(|tx| {
                let books = Books::read(tx, &period, reading, true)?;
                Ok::<_, StoreError>((
                    books.charges.into_iter().map(|c| c.id).collect(),
                    books.ledger.into_iter().map(|e| e.payment_id).collect(),
                ))
            })
            .unwrap()
    }

    /// A month of a long history reads that month and the other side of what crosses its
    /// edges, not the history; a month that is a good part of the books reads them whole.
    #[test]
    fn a_small_month_reads_its_own_rows_and_what_crosses_its_edges() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("cg.db")).unwrap();
        for n in 0..12 {
            paid(
                &mut store,
                &format!("sep{n}"),
                "2026-09-10T10:00:00Z",
                "2026-09-10T11:00:00Z",
            );
            paid(
                &mut store,
                &format!("nov{n}"),
                "2026-11-10T10:00:00Z",
                "2026-11-10T11:00:00Z",
            );
        }
        paid(
            &mut store,
            "oct",
            "2026-10-10T10:00:00Z",
            "2026-10-10T11:00:00Z",
        );
        // Charged on the 31st, recorded on the 1st: October weighs its November side too.
        paid(
            &mut store,
            "edge",
            "2026-10-31T23:30:00Z",
            "2026-11-01T00:30:00Z",
        );

        let expected = (
            vec!["ch_edge".to_string(), "ch_oct".to_string()],
            vec!["pay_edge".to_string(), "pay_oct".to_string()],
        );
        assert_eq!(read(&mut store, "2026-10", Reading::Period), expected);
        assert_eq!(read(&mut store, "2026-10", Reading::Cheapest), expected);
        let (charges, ledger) = read(&mut store, "2026-09", Reading::Cheapest);
        assert_eq!(
            (charges.len(), ledger.len()),
            (26, 26),
            "September is half the books"
        );
    }
}
