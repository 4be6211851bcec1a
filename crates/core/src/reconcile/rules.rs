//! The six finding rules of DESIGN.md, applied in the order that keeps "one charge, one
//! finding": duplicate_invoice, double_charge, orphan_charge, amount_mismatch,
//! unrecorded_refund (worded as the dispute's `dispute_…` finding when a chargeback took
//! the money back) claim charges in that order, and a claimed charge is never reported
//! again. missing_charge is about ledger payments whose charge carries no money, so it
//! never competes for a charge.
//!
//! It owns the rules; it must never read the store, a clock or anything but the books.

use std::hash::BuildHasher;

use chargeguard_domain::evidence::Facts;

use crate::money::{Currency, Money};
use crate::records::{ChargeStatus, Coverage, InvoiceStatus, LedgerKind};

use super::evidence::{self, Subject};
use super::index::{Chain, GatewaySide, IdSet, Index, NONE, saturate, succeeded};
use super::links::{self, Link};
use super::{Books, ChargeLink, Confidence, Finding, FindingKind, LinkBy, Reconciliation};

/// Two invoices of one customer for the same amount issued this close together are
/// probably one order invoiced twice (a double click, a scheduler firing twice).
pub(super) const DUPLICATE_WINDOW_SECONDS: i64 = 10 * 60;

/// Everything the rules share: the index, the ledger and invoice links, and which charge
/// each finding has claimed so far.
pub(super) struct Work<'b> {
    pub ix: Index<'b>,
    /// Ledger payments recording each (succeeded) charge, chained through `payment_next`.
    pub payment_head: Vec<u32>,
    pub payment_next: Vec<u32>,
    /// Ledger refunds naming each charge, chained through `refund_next`.
    pub refund_head: Vec<u32>,
    pub refund_next: Vec<u32>,
    /// Ledger refunds per charge, in the charge's currency.
    pub ledger_refunded: Vec<i128>,
    /// Ledger payments per charge in the charge's currency, and whether any is in another.
    pub ledger_paid: Vec<i128>,
    pub ledger_foreign: Vec<bool>,
    pub links: Vec<Link>,
    /// Charges that carry money towards each invoice (linked, same currency, net > 0).
    pub counted_head: Vec<u32>,
    pub counted_next: Vec<u32>,
    pub gateway_net: Vec<i128>,
    /// Charges the invoice's own record accounts for where no ledger payment does (see
    /// [`accounted_by_invoices`]): never orphans.
    pub accounted: Vec<bool>,
    pub claimed: Vec<Option<FindingKind>>,
}

impl Work<'_> {
    fn counted(&self, inv: u32) -> Vec<u32> {
        Chain::from_heads(self.counted_head[inv as usize], &self.counted_next).collect()
    }

    fn payments_of(&self, c: u32) -> impl Iterator<Item = u32> + '_ {
        Chain::from_heads(self.payment_head[c as usize], &self.payment_next)
    }

    fn is_recorded(&self, c: u32) -> bool {
        self.payment_head[c as usize] != NONE
    }

    fn is_heuristic(&self, c: u32) -> bool {
        matches!(self.links[c as usize], Some((_, LinkBy::Heuristic)))
    }

    fn confidence(&self, charges: impl IntoIterator<Item = u32>) -> Confidence {
        if charges.into_iter().any(|c| self.is_heuristic(c)) {
            Confidence::Heuristic
        } else {
            Confidence::Exact
        }
    }

    fn charge_ids(&self, charges: &[u32]) -> Vec<String> {
        let mut ids: Vec<String> = charges
            .iter()
            .map(|&c| self.ix.charge(c).id.clone())
            .collect();
        ids.sort_unstable();
        ids
    }

    fn payment_ids(&self, entries: impl IntoIterator<Item = u32>) -> Vec<String> {
        let mut ids: Vec<String> = entries
            .into_iter()
            .map(|p| self.ix.books.ledger[p as usize].payment_id.clone())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    fn invoice_number(&self, inv: u32) -> &str {
        &self.ix.books.invoices[inv as usize].number
    }

    fn claim(&mut self, charges: &[u32], kind: FindingKind) {
        for &c in charges {
            debug_assert!(
                self.claimed[c as usize].is_none(),
                "charge {} claimed twice",
                self.ix.charge(c).id
            );
            self.claimed[c as usize] = Some(kind);
        }
    }
}

/// The coverage windows, sorted, with the latest end so far: "is this instant covered?"
/// is one binary search.
struct CoverageIndex {
    starts: Vec<i64>,
    reach: Vec<i64>,
}

impl CoverageIndex {
    fn new(windows: &[Coverage]) -> CoverageIndex {
        let mut sorted: Vec<(i64, i64)> = windows
            .iter()
            .map(|w| (w.from.as_second(), w.to.as_second()))
            .collect();
        sorted.sort_unstable();
        let mut reach = Vec::with_capacity(sorted.len());
        let mut furthest = i64::MIN;
        for &(_, to) in &sorted {
            furthest = furthest.max(to);
            reach.push(furthest);
        }
        CoverageIndex {
            starts: sorted.iter().map(|&(from, _)| from).collect(),
            reach,
        }
    }

    fn contains(&self, at: i64) -> bool {
        let n = self.starts.partition_point(|&from| from <= at);
        n > 0 && self.reach[n - 1] >= at
    }
}

/// What the ledger's gateway ids point at.
struct LedgerRecords {
    payment_head: Vec<u32>,
    payment_next: Vec<u32>,
    refund_head: Vec<u32>,
    refund_next: Vec<u32>,
    ledger_refunded: Vec<i128>,
    ledger_paid: Vec<i128>,
    ledger_foreign: Vec<bool>,
    /// Payments whose charge is absent (inside coverage) or did not succeed, with the
    /// charges their gateway id names.
    missing: Vec<(u32, Vec<u32>)>,
    not_yet_synced: Vec<String>,
}

impl LedgerRecords {
    fn resolve(
        books: &Books,
        gateway: &GatewaySide<'_>,
        coverage: &CoverageIndex,
    ) -> LedgerRecords {
        let n_charges = books.charges.len();
        let n_ledger = books.ledger.len();
        let mut r = LedgerRecords {
            payment_head: vec![NONE; n_charges],
            payment_next: vec![NONE; n_ledger],
            refund_head: vec![NONE; n_charges],
            refund_next: vec![NONE; n_ledger],
            ledger_refunded: vec![0i128; n_charges],
            ledger_paid: vec![0i128; n_charges],
            ledger_foreign: vec![false; n_charges],
            missing: Vec::new(),
            not_yet_synced: Vec::new(),
        };
        for (p, entry) in books.ledger.iter().enumerate() {
            let Some(gateway_id) = entry.gateway_id.as_deref() else {
                continue; // cash, cheque, transfer: outside the gateway's world
            };
            match entry.kind {
                LedgerKind::Payment => match gateway.recorded_charge(gateway_id) {
                    Some(c) if succeeded(gateway.charge(c)) => {
                        r.payment_next[p] = r.payment_head[c as usize];
                        r.payment_head[c as usize] = p as u32;
                        if entry.amount.currency() == gateway.charge(c).amount.currency() {
                            r.ledger_paid[c as usize] += i128::from(entry.amount.minor());
                        } else {
                            r.ledger_foreign[c as usize] = true;
                        }
                    }
                    _ => {
                        let named = gateway.charges_named(gateway_id);
                        if !named.is_empty() || coverage.contains(entry.recorded_at.as_second()) {
                            r.missing.push((p as u32, named));
                        } else {
                            r.not_yet_synced.push(entry.payment_id.clone());
                        }
                    }
                },
                LedgerKind::Refund => {
                    if let Some(c) = gateway.refunded_charge(gateway_id) {
                        r.refund_next[p] = r.refund_head[c as usize];
                        r.refund_head[c as usize] = p as u32;
                        if entry.amount.currency() == gateway.charge(c).amount.currency() {
                            r.ledger_refunded[c as usize] += i128::from(entry.amount.minor());
                        }
                    }
                }
            }
        }
        r
    }
}

/// The books indexed, before any rule runs.
struct Prepared<'b> {
    w: Work<'b>,
    /// Ledger payments whose charge is missing, with the charges their gateway id names.
    missing: Vec<(u32, Vec<u32>)>,
    /// Ledger payments dated outside what the gateway data covers.
    not_yet_synced: Vec<String>,
}

/// The index, the ledger's records of each charge and the links, before any rule runs.
fn work(books: &Books) -> Prepared<'_> {
    let coverage = CoverageIndex::new(&books.coverage);
    let (ix, ledger) = Index::new(books, |gateway| {
        LedgerRecords::resolve(books, gateway, &coverage)
    });
    let n_charges = books.charges.len();
    let LedgerRecords {
        payment_head,
        payment_next,
        refund_head,
        refund_next,
        ledger_refunded,
        ledger_paid,
        ledger_foreign,
        missing,
        not_yet_synced,
    } = ledger;

    let links = links::link_charges(&ix, &payment_head, &payment_next);

    let n_invoices = books.invoices.len();
    let mut counted_head = vec![NONE; n_invoices];
    let mut counted_next = vec![NONE; n_charges];
    let mut gateway_net = vec![0i128; n_invoices];
    for (c, link) in links.iter().enumerate() {
        let Some((inv, _)) = *link else { continue };
        let charge = &books.charges[c];
        let net = charge.net_captured();
        if net > 0 && charge.amount.currency() == books.invoices[inv as usize].amount.currency() {
            counted_next[c] = counted_head[inv as usize];
            counted_head[inv as usize] = c as u32;
            gateway_net[inv as usize] += i128::from(net);
        }
    }

    let accounted = accounted_by_invoices(books, &links, &counted_head, &counted_next);
    let w = Work {
        ix,
        payment_head,
        payment_next,
        refund_head,
        refund_next,
        ledger_refunded,
        ledger_paid,
        ledger_foreign,
        links,
        counted_head,
        counted_next,
        gateway_net,
        accounted,
        claimed: vec![None; n_charges],
    };
    Prepared {
        w,
        missing,
        not_yet_synced,
    }
}

pub(super) fn reconcile(books: &Books) -> Reconciliation<'_> {
    let Prepared {
        mut w,
        missing,
        mut not_yet_synced,
    } = work(books);

    // The links list is a million strings on a big book and needs nothing the rules
    // decide: it is built on the second core meanwhile.
    let links_snapshot = w.links.clone();
    let (findings, charge_links) = std::thread::scope(|scope| {
        let listing = scope.spawn(|| charge_links(books, &links_snapshot));
        let findings = findings_of(&mut w, &missing);
        let links = listing
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (findings, links)
    });
    not_yet_synced.sort_unstable();
    not_yet_synced.dedup();

    Reconciliation {
        findings,
        links: charge_links,
        not_yet_synced,
    }
}

/// Charges an invoice's own record accounts for, with or without a ledger payment: among
/// the charges counted towards a live invoice (linked, in its currency, holding money),
/// one that names the gateway's own invoice (Stripe Billing's invoice records its payment),
/// and, on an invoice whose export states what was paid, the others, oldest first, each
/// that still fits in what is left of that amount. A charge beyond it is not accounted for: the app does not know
/// of it (an orphan), or it over-covers the invoice (a double charge). A charge on a void
/// invoice, or in another currency, is never accounted for by the invoice.
fn accounted_by_invoices(
    books: &Books,
    links: &[Link],
    counted_head: &[u32],
    counted_next: &[u32],
) -> Vec<bool> {
    let mut accounted = vec![false; links.len()];
    for (inv, invoice) in books.invoices.iter().enumerate() {
        // Most books state no payment and have no gateway invoices: nothing to walk, and no
        // allocation per invoice on a million-invoice run.
        let has_own_record = invoice.stated_paid.is_some() || invoice.gateway_invoice_id.is_some();
        if !has_own_record || invoice.status == InvoiceStatus::Void || counted_head[inv] == NONE {
            continue;
        }
        let mut charges: Vec<u32> = Chain::from_heads(counted_head[inv], counted_next).collect();
        charges.sort_unstable_by_key(|&c| {
            let charge = &books.charges[c as usize];
            (charge.created, charge.id.as_str())
        });
        let mut left = invoice.stated_paid.map_or(0, |m| i128::from(m.minor()));
        for c in charges {
            if matches!(links[c as usize], Some((_, LinkBy::GatewayInvoice))) {
                accounted[c as usize] = true;
                continue;
            }
            let net = i128::from(books.charges[c as usize].net_captured());
            if net <= left {
                accounted[c as usize] = true;
                left -= net;
            }
        }
    }
    accounted
}

fn findings_of(w: &mut Work<'_>, missing: &[(u32, Vec<u32>)]) -> Vec<Finding> {
    let mut findings = Vec::new();
    let later_duplicates = duplicate_invoices(w, &mut findings);
    double_charges(w, &later_duplicates, &mut findings);
    charge_findings(w, &mut findings);
    missing_charges(w, missing, &mut findings);
    findings.sort_unstable_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
    debug_assert!(one_charge_one_finding(&findings));
    findings
}

/// Every link, by charge id.
fn charge_links<'b>(books: &'b Books, links: &[Link]) -> Vec<ChargeLink<'b>> {
    let mut rows: Vec<(u32, u32, LinkBy)> = links
        .iter()
        .enumerate()
        .filter_map(|(c, link)| link.map(|(inv, by)| (c as u32, inv, by)))
        .collect();
    let id = |row: &(u32, u32, LinkBy)| books.charges[row.0 as usize].id.as_str();
    // The store hands charges over in id order: checking is one pass, sorting is not.
    if !rows.is_sorted_by(|a, b| id(a) <= id(b)) {
        rows.sort_unstable_by(|a, b| id(a).cmp(id(b)));
    }
    rows.into_iter()
        .map(|(c, inv, by)| ChargeLink {
            charge_id: books.charges[c as usize].id.as_str(),
            invoice_number: books.invoices[inv as usize].number.as_str(),
            by,
        })
        .collect()
}

/// The invariant every run keeps: a charge carrying money is in at most one finding, and a
/// fingerprint names one finding.
pub(super) fn one_charge_one_finding(findings: &[Finding]) -> bool {
    let mut charges = IdSet::default();
    let mut fingerprints = IdSet::default();
    let money_findings_ok = findings
        .iter()
        .filter(|f| f.kind != FindingKind::MissingCharge)
        .flat_map(|f| f.charge_ids.iter())
        .all(|id| charges.insert(id.as_str()));
    let missing_ok = findings
        .iter()
        .filter(|f| f.kind == FindingKind::MissingCharge)
        .flat_map(|f| f.charge_ids.iter())
        .all(|id| !charges.contains(id.as_str()));
    let fingerprints_ok = findings
        .iter()
        .all(|f| fingerprints.insert(f.fingerprint.as_str()));
    money_findings_ok && missing_ok && fingerprints_ok
}

fn money(minor: i128, currency: Currency) -> Money {
    Money::from_minor(saturate(minor), currency)
}

/// Marks, per invoice, whether it is the later invoice of a duplicate pair.
fn duplicate_invoices(w: &mut Work<'_>, out: &mut Vec<Finding>) -> Vec<bool> {
    let books = w.ix.books;
    let n = books.invoices.len();
    let mut later = vec![false; n];
    let charged =
        |i: usize| books.invoices[i].status != InvoiceStatus::Void && w.gateway_net[i] > 0;

    // Only keys seen twice are worth a look: the chains cost no allocation per invoice.
    // Order references were grouped while indexing; the guess groups only invoices
    // without one.
    // Hashed and sorted rather than mapped: a shop without order references has a
    // million of these, and equal keys are what is rare.
    let hashing = std::hash::RandomState::new();
    let guess_key = |i: u32| {
        let invoice = &books.invoices[i as usize];
        (
            invoice.customer_id.as_str(),
            invoice.amount.currency(),
            invoice.amount.minor(),
        )
    };
    let mut guess_hashes: Vec<(u64, u32)> = (0..n as u32)
        .filter(|&i| !w.ix.has_order[i as usize] && charged(i as usize))
        .map(|i| (hashing.hash_one(guess_key(i)), i))
        .collect();
    guess_hashes.sort_unstable();
    let mut guess_groups: Vec<Vec<u32>> = Vec::new();
    for same_hash in guess_hashes.chunk_by(|a, b| a.0 == b.0) {
        if same_hash.len() < 2 {
            continue;
        }
        let mut rows: Vec<u32> = same_hash.iter().map(|&(_, i)| i).collect();
        rows.sort_unstable_by(|&a, &b| guess_key(a).cmp(&guess_key(b)).then(a.cmp(&b)));
        for group in rows.chunk_by(|&a, &b| guess_key(a) == guess_key(b)) {
            if group.len() >= 2 {
                guess_groups.push(group.to_vec());
            }
        }
    }

    let by_issue = |rows: &mut Vec<u32>| {
        rows.sort_unstable_by(|&a, &b| {
            let (a, b) = (&books.invoices[a as usize], &books.invoices[b as usize]);
            (a.issued_at, &a.number).cmp(&(b.issued_at, &b.number))
        });
    };
    let mut pairs: Vec<(u32, u32, bool)> = Vec::new();
    for group in &w.ix.order_groups {
        let mut rows: Vec<u32> = group
            .iter()
            .copied()
            .filter(|&i| charged(i as usize))
            .collect();
        if rows.len() < 2 {
            continue;
        }
        by_issue(&mut rows);
        for &dup in &rows[1..] {
            pairs.push((dup, rows[0], false));
        }
    }
    for mut rows in guess_groups {
        by_issue(&mut rows);
        let mut first = 0;
        for j in 1..rows.len() {
            let at = books.invoices[rows[j] as usize].issued_at.as_second();
            while at - books.invoices[rows[first] as usize].issued_at.as_second()
                > DUPLICATE_WINDOW_SECONDS
            {
                first += 1;
            }
            if first < j {
                pairs.push((rows[j], rows[first], true));
            }
        }
    }

    for (dup, original, guessed) in pairs {
        later[dup as usize] = true;
        let charges = w.counted(dup);
        let original_charges = w.counted(original);
        let confidence = if guessed {
            Confidence::Heuristic
        } else {
            w.confidence(charges.iter().chain(original_charges.iter()).copied())
        };
        let invoice = &books.invoices[dup as usize];
        let earlier = &books.invoices[original as usize];
        let roles: Vec<(u32, &'static str)> = charges
            .iter()
            .map(|&c| (c, "duplicate"))
            .chain(original_charges.iter().map(|&c| (c, "earlier_invoice")))
            .collect();
        let how = if guessed {
            format!(
                "was issued to {} for the same amount {} minutes after {} and has no order reference",
                invoice.customer_id,
                (invoice.issued_at.as_second() - earlier.issued_at.as_second()) / 60,
                earlier.number
            )
        } else {
            format!(
                "bills order {} again, already billed by {}",
                invoice.order_ref.as_deref().unwrap_or_default(),
                earlier.number
            )
        };
        let reason = format!(
            "Invoice {} ({}) {how}, and both were charged. Void {} and refund its charge{}.",
            invoice.number,
            invoice.amount,
            invoice.number,
            if charges.len() > 1 { "s" } else { "" }
        );
        let payment_ids = w.payment_ids(charges.iter().flat_map(|&c| w.payments_of(c)));
        let evidence = evidence::build(
            w,
            Subject {
                invoice: Some(dup),
                other_invoice: Some(original),
                charges: &roles,
                ledger: &[],
                facts: Facts {
                    matched_by: Some(
                        if guessed {
                            "customer_amount_time"
                        } else {
                            "order_ref"
                        }
                        .to_string(),
                    ),
                    ..Facts::default()
                },
            },
        );
        out.push(Finding {
            kind: FindingKind::DuplicateInvoice,
            fingerprint: format!("duplicate_invoice:{}:{}", invoice.number, earlier.number),
            confidence,
            invoice_number: Some(invoice.number.clone()),
            charge_ids: w.charge_ids(&charges),
            payment_ids,
            amount: invoice.amount,
            reason,
            evidence,
        });
        w.claim(&charges, FindingKind::DuplicateInvoice);
    }
    later
}

fn double_charges(w: &mut Work<'_>, later_duplicates: &[bool], out: &mut Vec<Finding>) {
    let books = w.ix.books;
    for (inv, invoice) in books.invoices.iter().enumerate() {
        if w.counted_head[inv] == NONE || later_duplicates[inv] {
            continue;
        }
        let due = if invoice.status == InvoiceStatus::Void {
            0
        } else {
            i128::from(invoice.amount.minor())
        };
        let net = w.gateway_net[inv];
        if net <= due {
            continue;
        }
        let mut charges = w.counted(inv as u32);
        // Keep what the ledger knows first, then the earliest: the surplus is what a
        // refund should undo.
        charges.sort_unstable_by(|&a, &b| {
            let (ca, cb) = (w.ix.charge(a), w.ix.charge(b));
            (!w.is_recorded(a), ca.created, &ca.id).cmp(&(!w.is_recorded(b), cb.created, &cb.id))
        });
        let mut kept = Vec::new();
        let mut surplus = Vec::new();
        let mut kept_sum = 0i128;
        for &c in &charges {
            if kept_sum >= due {
                surplus.push(c);
            } else {
                kept_sum += i128::from(w.ix.charge(c).net_captured());
                kept.push(c);
            }
        }
        if surplus.is_empty() {
            // The last kept charge overshoots by less than itself: it is the one to refund
            // in part.
            if let Some(last) = kept.pop() {
                surplus.push(last);
            }
        }
        let amount = money(net - due, invoice.amount.currency());
        let roles: Vec<(u32, &'static str)> = kept
            .iter()
            .map(|&c| (c, "kept"))
            .chain(surplus.iter().map(|&c| (c, "surplus")))
            .collect();
        let surplus_ids = w.charge_ids(&surplus);
        let reason = format!(
            "Invoice {} is due {} but {} succeeded charges hold {}: {} more than it needs. Refund {} (the surplus{}).",
            invoice.number,
            money(due, invoice.amount.currency()),
            charges.len(),
            money(net, invoice.amount.currency()),
            amount,
            surplus_ids.join(", "),
            if invoice.status == InvoiceStatus::Void {
                "; the invoice is void, so nothing is due"
            } else {
                ""
            }
        );
        let confidence = w.confidence(charges.iter().copied());
        let payment_ids = w.payment_ids(surplus.iter().flat_map(|&c| w.payments_of(c)));
        let evidence = evidence::build(
            w,
            Subject {
                invoice: Some(inv as u32),
                other_invoice: None,
                charges: &roles,
                ledger: &[],
                facts: Facts {
                    due_minor: Some(saturate(due)),
                    ..Facts::default()
                },
            },
        );
        out.push(Finding {
            kind: FindingKind::DoubleCharge,
            fingerprint: format!("double_charge:{}:{}", invoice.number, surplus_ids.join(",")),
            confidence,
            invoice_number: Some(invoice.number.clone()),
            charge_ids: surplus_ids,
            payment_ids,
            amount,
            reason,
            evidence,
        });
        w.claim(&surplus, FindingKind::DoubleCharge);
    }
}

/// The charge-by-charge rules in one pass over the charges (a million charges are a
/// quarter of a gigabyte to stream): orphan for what the ledger does not record; for what
/// it does, amount_mismatch before unrecorded_refund.
fn charge_findings(w: &mut Work<'_>, out: &mut Vec<Finding>) {
    for c in 0..w.ix.books.charges.len() as u32 {
        if w.claimed[c as usize].is_some() {
            continue;
        }
        if !w.is_recorded(c) {
            if !w.accounted[c as usize] {
                orphan_charge(w, c, out);
            }
        } else if !amount_mismatch(w, c, out) {
            unrecorded_refund(w, c, out);
        }
    }
}

fn orphan_charge(w: &mut Work<'_>, c: u32, out: &mut Vec<Finding>) {
    {
        let charge = w.ix.charge(c);
        let net = charge.net_captured();
        if net <= 0 {
            return;
        }
        let invoice = w.links[c as usize].map(|(inv, _)| inv);
        let amount = Money::from_minor(net, charge.amount.currency());
        let reason = match invoice {
            Some(inv) => format!(
                "Charge {} of {} (created {}) is not recorded in the ledger. It {} invoice {}: record the payment there, or refund it if that invoice is already paid.",
                charge.id,
                amount,
                charge.created,
                if w.is_heuristic(c) {
                    "probably pays (same customer, amount and time)"
                } else {
                    "names"
                },
                w.invoice_number(inv)
            ),
            None => format!(
                "Charge {} of {} (created {}) is not recorded in the ledger and matches no invoice. Find the invoice it paid and record the payment, or refund it.",
                charge.id, amount, charge.created
            ),
        };
        let evidence = evidence::build(
            w,
            Subject {
                invoice,
                other_invoice: None,
                charges: &[(c, "orphan")],
                ledger: &[],
                facts: Facts::default(),
            },
        );
        out.push(Finding {
            kind: FindingKind::OrphanCharge,
            fingerprint: format!("orphan_charge:{}", charge.id),
            confidence: w.confidence([c]),
            invoice_number: invoice.map(|inv| w.invoice_number(inv).to_string()),
            charge_ids: vec![charge.id.clone()],
            payment_ids: Vec::new(),
            amount,
            reason,
            evidence,
        });
        w.claim(&[c], FindingKind::OrphanCharge);
    }
}

/// Reports an amount or currency mismatch on a recorded charge; true when it did.
fn amount_mismatch(w: &mut Work<'_>, c: u32, out: &mut Vec<Finding>) -> bool {
    let books = w.ix.books;
    {
        let charge = w.ix.charge(c);
        let currency = charge.amount.currency();
        // The sums were taken while reading the ledger: nothing to fetch for the many
        // charges that agree.
        if !w.ledger_foreign[c as usize]
            && w.ledger_paid[c as usize] == i128::from(charge.amount.minor())
        {
            return false;
        }
        let recorded = w.ledger_paid[c as usize];
        let foreign = w
            .payments_of(c)
            .map(|p| books.ledger[p as usize].amount.currency())
            .filter(|cur| *cur != currency)
            .min();
        let payments: Vec<u32> = w.payments_of(c).collect();
        let foreign = foreign.map(|f| {
            let sum: i128 = payments
                .iter()
                .map(|&p| books.ledger[p as usize].amount)
                .filter(|m| m.currency() == f)
                .map(|m| i128::from(m.minor()))
                .sum();
            (f, sum)
        });
        let (amount, reason) = if let Some((foreign_currency, foreign_sum)) = foreign {
            let amount = money(foreign_sum, foreign_currency);
            (
                amount,
                format!(
                    "The ledger records {amount} for charge {}, but the gateway charged {} in another currency. The amount shown is the ledger's, in {foreign_currency}. Correct the ledger payment's currency and amount.",
                    charge.id, charge.amount
                ),
            )
        } else if recorded != i128::from(charge.amount.minor()) {
            let difference = money(
                (recorded - i128::from(charge.amount.minor())).abs(),
                currency,
            );
            (
                difference,
                format!(
                    "The ledger records {} for charge {}, but the gateway charged {}: a difference of {difference}. Correct the ledger payment to the charged amount.",
                    money(recorded, currency),
                    charge.id,
                    charge.amount
                ),
            )
        } else {
            return false;
        };
        let payment_ids = w.payment_ids(payments.iter().copied());
        let invoice = w.links[c as usize].map(|(inv, _)| inv);
        let invoice_number = match invoice {
            Some(inv) => Some(w.invoice_number(inv).to_string()),
            None => payments
                .iter()
                .map(|&p| books.ledger[p as usize].invoice_number.as_str())
                .min()
                .map(str::to_string),
        };
        let evidence = evidence::build(
            w,
            Subject {
                invoice,
                other_invoice: None,
                charges: &[(c, "recorded")],
                ledger: &payments,
                facts: Facts::default(),
            },
        );
        out.push(Finding {
            kind: FindingKind::AmountMismatch,
            fingerprint: format!("amount_mismatch:{}:{}", charge.id, payment_ids.join(",")),
            confidence: w.confidence([c]),
            invoice_number,
            charge_ids: vec![charge.id.clone()],
            payment_ids,
            amount,
            reason,
            evidence,
        });
        w.claim(&[c], FindingKind::AmountMismatch);
    }
    true
}

fn unrecorded_refund(w: &mut Work<'_>, c: u32, out: &mut Vec<Finding>) {
    {
        let charge = w.ix.charge(c);
        let refunded = i128::from(charge.amount_refunded.minor());
        let known = w.ledger_refunded[c as usize];
        if refunded <= known {
            return;
        }
        let currency = charge.amount.currency();
        let amount = money(refunded - known, currency);
        let entries: Vec<u32> = w
            .payments_of(c)
            .chain(Chain::from_heads(w.refund_head[c as usize], &w.refund_next))
            .collect();
        let invoice = w.links[c as usize].map(|(inv, _)| inv);
        if let Some(dispute) =
            w.ix.books
                .chargebacks
                .iter()
                .find(|d| d.charge_id == charge.id)
        {
            // Taken back through the card network, not refunded: the dispute's finding.
            let invoice_number = invoice.map(|inv| w.invoice_number(inv).to_string());
            let words = super::disputes::words(dispute, amount, invoice_number.as_deref());
            let mut evidence = evidence::build(
                w,
                Subject {
                    invoice,
                    other_invoice: None,
                    charges: &[(c, "disputed")],
                    ledger: &entries,
                    facts: Facts {
                        ledger_refunded_minor: Some(saturate(known)),
                        ..Facts::default()
                    },
                },
            );
            evidence.dispute = Some(words.evidence);
            out.push(Finding {
                kind: words.kind,
                fingerprint: words.fingerprint,
                confidence: w.confidence([c]),
                invoice_number,
                charge_ids: vec![charge.id.clone()],
                payment_ids: w.payment_ids(entries.iter().copied()),
                amount,
                reason: words.reason,
                evidence,
            });
            w.claim(&[c], words.kind);
            return;
        }
        let reason = format!(
            "The gateway refunded {} of charge {}{}, but the ledger records only {} of refunds. Record a refund of {amount} in the ledger.",
            money(refunded, currency),
            charge.id,
            invoice.map_or(String::new(), |inv| format!(
                " (invoice {})",
                w.invoice_number(inv)
            )),
            money(known, currency),
        );
        let evidence = evidence::build(
            w,
            Subject {
                invoice,
                other_invoice: None,
                charges: &[(c, "refunded")],
                ledger: &entries,
                facts: Facts {
                    ledger_refunded_minor: Some(saturate(known)),
                    ..Facts::default()
                },
            },
        );
        out.push(Finding {
            kind: FindingKind::UnrecordedRefund,
            fingerprint: format!(
                "unrecorded_refund:{}:{}",
                charge.id,
                charge.amount_refunded.minor()
            ),
            confidence: w.confidence([c]),
            invoice_number: invoice.map(|inv| w.invoice_number(inv).to_string()),
            charge_ids: vec![charge.id.clone()],
            payment_ids: w.payment_ids(entries.iter().copied()),
            amount,
            reason,
            evidence,
        });
        w.claim(&[c], FindingKind::UnrecordedRefund);
    }
}

fn missing_charges(w: &Work<'_>, missing: &[(u32, Vec<u32>)], out: &mut Vec<Finding>) {
    let books = w.ix.books;
    for (p, named) in missing {
        let entry = &books.ledger[*p as usize];
        let gateway_id = entry.gateway_id.as_deref().unwrap_or_default();
        let invoice = w.ix.invoice_by_number.get(entry.invoice_number.as_str());
        let why = if named.is_empty() {
            "the gateway has no such charge, although the synced data covers that date".to_string()
        } else {
            let states: Vec<String> = named
                .iter()
                .map(|&c| {
                    let charge = w.ix.charge(c);
                    let state = if charge.status == ChargeStatus::Succeeded && !charge.captured {
                        "authorised but never captured"
                    } else {
                        charge.status.as_str()
                    };
                    format!("{} {state}", charge.id)
                })
                .collect();
            format!("that charge did not succeed ({})", states.join(", "))
        };
        let reason = format!(
            "The ledger records payment {} of {} on invoice {} through {gateway_id}, but {why}. Reverse the payment; the invoice goes back to unpaid.",
            entry.payment_id, entry.amount, entry.invoice_number
        );
        let roles: Vec<(u32, &'static str)> = named.iter().map(|&c| (c, "not_succeeded")).collect();
        let evidence = evidence::build(
            w,
            Subject {
                invoice,
                other_invoice: None,
                charges: &roles,
                ledger: &[*p],
                facts: Facts {
                    gateway_id: Some(gateway_id.to_string()),
                    charge_found: Some(!named.is_empty()),
                    ..Facts::default()
                },
            },
        );
        out.push(Finding {
            kind: FindingKind::MissingCharge,
            fingerprint: format!("missing_charge:{}", entry.payment_id),
            confidence: Confidence::Exact,
            invoice_number: Some(entry.invoice_number.clone()),
            // With no such charge at the gateway, the id the ledger claims is still the
            // gateway id this finding is about: the bookkeeper searches for it.
            charge_ids: if named.is_empty() {
                vec![gateway_id.to_string()]
            } else {
                w.charge_ids(named)
            },
            payment_ids: vec![entry.payment_id.clone()],
            amount: entry.amount,
            reason,
            evidence,
        });
    }
}
