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

use super::tieout::{self, Rows};
use crate::period::Period;
use crate::records::{Charge, Coverage, GatewayRefund, LedgerEntry};
use crate::store::{FindingFilter, StoreError, StoreTx, StoredAdjustment, StoredFinding};
use crate::sync::GATEWAY;

/// Keys per `IN (…)` list: well under SQLite's limit on a statement's parameters.
const CHUNK: usize = 500;

/// The rows a tie-out reads, owned.
pub(super) struct Books {
    pub charges: Vec<Charge>,
    pub refunds: Vec<GatewayRefund>,
    pub ledger: Vec<LedgerEntry>,
    pub adjustments: Vec<StoredAdjustment>,
    pub findings: Vec<StoredFinding>,
    pub coverage: Vec<Coverage>,
}

impl Books {
    /// Every row of the store.
    pub fn whole(tx: &StoreTx<'_>) -> Result<Books, StoreError> {
        Ok(Books {
            charges: tx.charges_to_print()?,
            refunds: tx.refunds()?,
            ledger: tx.ledger_entries()?,
            adjustments: tx.adjustments()?,
            findings: tx.findings(&FindingFilter::default())?,
            coverage: tx.charge_coverage()?,
        })
    }

    /// What the tie-out of `period` reads (see the module's comment). A package prints
    /// the charges' descriptions (`with_text`); a tie-out alone never reads them, nor
    /// their metadata, which are most of a charge's bytes.
    pub fn of_period(
        tx: &StoreTx<'_>,
        period: &Period,
        with_text: bool,
    ) -> Result<Books, StoreError> {
        let (start, end) = (period.start(), period.end());
        let mut read = Reading {
            coverage: tx.charge_coverage()?,
            ..Reading::default()
        };
        read.charges(if with_text {
            tx.charges_made_between(start, end)?
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
        read.sort();

        let unsettled: BTreeSet<String> =
            tieout::charges_unsettled_in(&read.rows(&adjustments, &findings), period)
                .into_iter()
                .map(str::to_string)
                .collect();
        for ids in chunks(&unsettled) {
            read.charges(tx.charges_to_print_about(GATEWAY, &ids, &[])?);
        }
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
        })
    }

    pub fn rows(&self) -> Rows<'_> {
        Rows {
            charges: &self.charges,
            refunds: &self.refunds,
            ledger: &self.ledger,
            adjustments: &self.adjustments,
            findings: &self.findings,
            coverage: &self.coverage,
        }
    }
}

/// The rows read so far, each once; sorted as a read of every row gives them (charge id,
/// refund id, payment id), so the tie-out meets them in the same order.
#[derive(Default)]
struct Reading {
    charges: Vec<Charge>,
    refunds: Vec<GatewayRefund>,
    ledger: Vec<LedgerEntry>,
    seen: hashbrown::HashSet<(Table, String)>,
    /// Gateway ids already resolved.
    resolved: hashbrown::HashSet<String>,
    coverage: Vec<Coverage>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Table {
    Charge,
    Refund,
    Ledger,
}

impl Reading {
    fn charges(&mut self, rows: Vec<Charge>) {
        for c in rows {
            if self.seen.insert((Table::Charge, c.id.clone())) {
                self.charges.push(c);
            }
        }
    }

    fn refunds(&mut self, rows: Vec<GatewayRefund>) {
        for r in rows {
            if self.seen.insert((Table::Refund, r.id.clone())) {
                self.refunds.push(r);
            }
        }
    }

    fn ledger(&mut self, rows: Vec<LedgerEntry>) {
        for e in rows {
            if self.seen.insert((Table::Ledger, e.payment_id.clone())) {
                self.ledger.push(e);
            }
        }
    }

    fn has_charge(&self, id: &str) -> bool {
        self.seen.contains(&(Table::Charge, id.to_string()))
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
            .filter(|g| !self.has_charge(g) && !self.resolved.contains(g))
            .collect();
        for keys in chunks(&wanted) {
            self.charges(tx.charges_to_print_about(GATEWAY, &keys, &[])?);
            self.refunds(tx.refunds_with_ids(GATEWAY, &keys)?);
        }
        for g in &wanted {
            if !self.has_charge(g)
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
        }
    }
}

/// The keys in lists of at most [`CHUNK`].
fn chunks<K: AsRef<str>>(keys: &BTreeSet<K>) -> Vec<Vec<&str>> {
    let all: Vec<&str> = keys.iter().map(AsRef::as_ref).collect();
    all.chunks(CHUNK).map(<[&str]>::to_vec).collect()
}
