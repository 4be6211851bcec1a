//! The books, indexed for reconciliation: hash maps keyed by `&str` borrowed from the
//! [`Books`](super::Books), and array-backed chains instead of a `Vec` per key, so a
//! million rows cost a few allocations, not a million.
//!
//! It owns lookups only; it must never decide what is a finding.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hash};

use crate::records::{Charge, ChargeStatus, InvoiceStatus};

use super::Books;

/// Maps keyed by ids borrowed from the books.
pub(super) type IdMap<K, V> = HashMap<K, V>;
pub(super) type IdSet<K> = HashSet<K>;

pub(super) fn id_map<K, V>(capacity: usize) -> IdMap<K, V> {
    HashMap::with_capacity(capacity)
}

/// "No row": the end of a chain.
pub(super) const NONE: u32 = u32::MAX;

/// Rows grouped by a key without a `Vec` per key: the map holds the first row of each
/// key and `next` chains the rest.
pub(super) struct MultiIndex<K> {
    heads: IdMap<K, u32>,
    next: Vec<u32>,
}

impl<K: Hash + Eq> MultiIndex<K> {
    /// Room for `rows` rows, of which up to `keys` distinct keys.
    pub fn new(rows: usize, keys: usize) -> Self {
        MultiIndex {
            heads: id_map(keys),
            next: vec![NONE; rows],
        }
    }

    /// Adds `row` under `key`; returns true when the key already had rows.
    pub fn push(&mut self, key: K, row: u32) -> bool {
        let previous = self.heads.insert(key, row);
        self.next[row as usize] = previous.unwrap_or(NONE);
        previous.is_some()
    }

    pub fn get<'a>(&'a self, key: &K) -> Chain<'a> {
        Chain {
            at: self.heads.get(key).copied().unwrap_or(NONE),
            next: &self.next,
        }
    }
}

/// The rows of one key (latest pushed first).
pub(super) struct Chain<'a> {
    at: u32,
    next: &'a [u32],
}

impl Chain<'_> {
    pub fn from_heads<'a>(head: u32, next: &'a [u32]) -> Chain<'a> {
        Chain { at: head, next }
    }
}

impl Iterator for Chain<'_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        if self.at == NONE {
            return None;
        }
        let row = self.at;
        self.at = self.next[row as usize];
        Some(row)
    }
}

/// A charge carries money only when it succeeded and was captured.
pub(super) fn succeeded(charge: &Charge) -> bool {
    charge.status == ChargeStatus::Succeeded && charge.captured
}

/// Saturating conversion of an `i128` sum back to minor units.
pub(super) fn saturate(sum: i128) -> i64 {
    i64::try_from(sum).unwrap_or(if sum < 0 { i64::MIN } else { i64::MAX })
}

pub(super) struct Index<'b> {
    pub books: &'b Books,
    pub invoice_by_number: IdMap<&'b str, u32>,
    /// The invoice row each ledger entry names (`NONE` when no such invoice exists).
    pub ledger_invoice: Vec<u32>,
    /// Ledger entries per invoice row, chained through `ledger_next`.
    pub ledger_head: Vec<u32>,
    pub ledger_next: Vec<u32>,
    /// Groups of live invoices sharing one order reference (two or more each).
    pub order_groups: Vec<Vec<u32>>,
    /// Whether each invoice row carries a (non-blank) order reference.
    pub has_order: Vec<bool>,
    pub gateway: GatewaySide<'b>,
}

fn joined<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

impl<'b> Index<'b> {
    /// Builds the index on both cores, in two rounds of independent halves: the invoice
    /// maps beside the gateway maps, then the ledger's invoices beside `on_gateway` (the
    /// caller's work that needs only the gateway maps). On a million rows the hash maps
    /// are most of reconciliation's time.
    pub fn new<R: Send>(
        books: &'b Books,
        on_gateway: impl FnOnce(&GatewaySide<'b>) -> R + Send,
    ) -> (Index<'b>, R) {
        let (invoices, gateway) = std::thread::scope(|scope| {
            let gateway = scope.spawn(|| GatewaySide::new(books));
            let invoices = InvoiceMaps::new(books);
            (invoices, joined(gateway))
        });
        let ((ledger_invoice, ledger_head, ledger_next), result) = std::thread::scope(|scope| {
            let ledger = scope.spawn(|| ledger_by_invoice(books, &invoices.invoice_by_number));
            let result = on_gateway(&gateway);
            (joined(ledger), result)
        });
        let index = Index {
            books,
            invoice_by_number: invoices.invoice_by_number,
            ledger_invoice,
            ledger_head,
            ledger_next,
            order_groups: invoices.order_groups,
            has_order: invoices.has_order,
            gateway,
        };
        (index, result)
    }

    pub fn charge(&self, i: u32) -> &'b Charge {
        self.gateway.charge(i)
    }
}

struct InvoiceMaps<'b> {
    invoice_by_number: IdMap<&'b str, u32>,
    order_groups: Vec<Vec<u32>>,
    has_order: Vec<bool>,
}

impl<'b> InvoiceMaps<'b> {
    fn new(books: &'b Books) -> InvoiceMaps<'b> {
        let mut invoice_by_number = id_map(books.invoices.len());
        // Shared order references are rare: hashing each one and sorting the hashes finds
        // them with one sequential pass, where a map would cost a random insert per invoice.
        let hashing = std::hash::RandomState::new();
        let mut order_hashes: Vec<(u64, u32)> = Vec::with_capacity(books.invoices.len());
        let mut has_order = vec![false; books.invoices.len()];
        for (i, invoice) in books.invoices.iter().enumerate() {
            invoice_by_number
                .entry(invoice.number.as_str())
                .or_insert(i as u32);
            let Some(order) = invoice
                .order_ref
                .as_deref()
                .map(str::trim)
                .filter(|r| !r.is_empty())
            else {
                continue;
            };
            has_order[i] = true;
            if invoice.status != InvoiceStatus::Void {
                order_hashes.push((hashing.hash_one(order), i as u32));
            }
        }
        order_hashes.sort_unstable();
        let order_of = |i: u32| {
            books.invoices[i as usize]
                .order_ref
                .as_deref()
                .map(str::trim)
                .unwrap_or_default()
        };
        let mut order_groups = Vec::new();
        for same_hash in order_hashes.chunk_by(|a, b| a.0 == b.0) {
            if same_hash.len() < 2 {
                continue;
            }
            // Equal hashes are almost always equal references; the text decides.
            let mut rows: Vec<u32> = same_hash.iter().map(|&(_, i)| i).collect();
            rows.sort_unstable_by(|&a, &b| order_of(a).cmp(order_of(b)).then(a.cmp(&b)));
            for group in rows.chunk_by(|&a, &b| order_of(a) == order_of(b)) {
                if group.len() >= 2 {
                    order_groups.push(group.to_vec());
                }
            }
        }
        InvoiceMaps {
            invoice_by_number,
            order_groups,
            has_order,
        }
    }
}

/// The invoice row of each ledger entry, and the entries chained per invoice row.
fn ledger_by_invoice(
    books: &Books,
    invoice_by_number: &IdMap<&str, u32>,
) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
    let mut ledger_invoice = vec![NONE; books.ledger.len()];
    let mut ledger_head = vec![NONE; books.invoices.len()];
    let mut ledger_next = vec![NONE; books.ledger.len()];
    for (i, entry) in books.ledger.iter().enumerate() {
        if let Some(&inv) = invoice_by_number.get(entry.invoice_number.as_str()) {
            ledger_invoice[i] = inv;
            ledger_next[i] = ledger_head[inv as usize];
            ledger_head[inv as usize] = i as u32;
        }
    }
    (ledger_invoice, ledger_head, ledger_next)
}

/// The gateway's objects by id.
pub(super) struct GatewaySide<'b> {
    books: &'b Books,
    pub charge_by_id: IdMap<&'b str, u32>,
    pub charges_by_intent: MultiIndex<&'b str>,
    pub refund_by_id: IdMap<&'b str, u32>,
}

impl<'b> GatewaySide<'b> {
    fn new(books: &'b Books) -> GatewaySide<'b> {
        let mut charge_by_id = id_map(books.charges.len());
        let mut charges_by_intent = MultiIndex::new(books.charges.len(), books.charges.len());
        for (i, charge) in books.charges.iter().enumerate() {
            charge_by_id.entry(charge.id.as_str()).or_insert(i as u32);
            if let Some(pi) = charge.payment_intent.as_deref() {
                charges_by_intent.push(pi, i as u32);
            }
        }
        let refund_by_id = books
            .refunds
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.as_str(), i as u32))
            .collect();
        GatewaySide {
            books,
            charge_by_id,
            charges_by_intent,
            refund_by_id,
        }
    }

    pub fn charge(&self, i: u32) -> &'b Charge {
        &self.books.charges[i as usize]
    }

    /// The charges a gateway id names: the charge itself, or every charge of a payment
    /// intent.
    pub fn charges_named(&self, gateway_id: &str) -> Vec<u32> {
        match self.charge_by_id.get(gateway_id) {
            Some(&c) => vec![c],
            None => self.charges_by_intent.get(&gateway_id).collect(),
        }
    }

    /// The one charge a ledger entry's gateway id records: the charge itself, or the
    /// payment intent's succeeded charge (the earliest if, against Stripe's rules, there
    /// are several). `None` when no such charge succeeded or exists.
    pub fn recorded_charge(&self, gateway_id: &str) -> Option<u32> {
        if let Some(&c) = self.charge_by_id.get(gateway_id) {
            return Some(c);
        }
        self.charges_by_intent
            .get(&gateway_id)
            .filter(|&c| succeeded(self.charge(c)))
            .min_by(|&a, &b| {
                let (a, b) = (self.charge(a), self.charge(b));
                (a.created, &a.id).cmp(&(b.created, &b.id))
            })
    }

    /// The charge a ledger refund names: by charge or payment intent like a payment, or
    /// through a gateway refund (`re_…`) of that charge.
    pub fn refunded_charge(&self, gateway_id: &str) -> Option<u32> {
        self.recorded_charge(gateway_id).or_else(|| {
            let refund = *self.refund_by_id.get(gateway_id)?;
            let charge_id = self.books.refunds[refund as usize].charge_id.as_str();
            self.charge_by_id.get(charge_id).copied()
        })
    }
}
