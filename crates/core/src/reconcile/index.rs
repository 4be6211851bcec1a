//! The books, indexed for reconciliation: the big lookups hold row numbers only and read
//! their keys back from the [`Books`](super::Books) ([`RowIndex`]), and rows sharing a key
//! are chained through arrays instead of a `Vec` per key, so a million rows cost a few
//! allocations and a few bytes each, not a million strings.
//!
//! It owns lookups only; it must never decide what is a finding.

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

use crate::records::{Charge, Invoice, InvoiceStatus};

use super::Books;

/// Small maps keyed by ids borrowed from the books. The books are the business's own
/// files, so a fast seeded hash (foldhash) serves; SipHash was a tenth of a million-row run.
pub(super) type IdMap<K, V> = hashbrown::HashMap<K, V>;
pub(super) type IdSet<K> = hashbrown::HashSet<K>;

/// "No row": the end of a chain.
pub(super) const NONE: u32 = u32::MAX;

/// Rows of `rows` found by a text key, holding only their row numbers (a `u32` per slot
/// where a map of `&str` holds 24 bytes): a lookup compares the key it is given with the
/// row's own.
pub(super) struct RowIndex<'b, T> {
    rows: &'b [T],
    key: fn(&T) -> Option<&str>,
    table: HashTable<u32>,
    hashing: DefaultHashBuilder,
}

impl<'b, T> RowIndex<'b, T> {
    /// An empty index over `rows`, keyed by `key` (a row without one is never found).
    pub fn new(rows: &'b [T], key: fn(&T) -> Option<&str>) -> Self {
        assert!(
            rows.len() < NONE as usize,
            "row numbers are u32 and {NONE} means no row: a book this size cannot be indexed"
        );
        RowIndex {
            rows,
            key,
            table: HashTable::with_capacity(rows.len()),
            hashing: DefaultHashBuilder::default(),
        }
    }

    /// Every row by its key; the first row of a key wins.
    pub fn first_of_each(rows: &'b [T], key: fn(&T) -> Option<&str>) -> Self {
        let mut index = RowIndex::new(rows, key);
        for row in 0..rows.len() as u32 {
            index.put(row, false);
        }
        index
    }

    fn key_of(&self, row: u32) -> Option<&'b str> {
        (self.key)(&self.rows[row as usize])
    }

    /// Files `row` under its key; `replace` decides who stays when the key is there.
    /// Returns the row that was there.
    fn put(&mut self, row: u32, replace: bool) -> Option<u32> {
        let key = self.key_of(row)?;
        let hash = self.hashing.hash_one(key);
        let (rows, key_of) = (self.rows, self.key);
        let same = |&r: &u32| key_of(&rows[r as usize]) == Some(key);
        if let Some(slot) = self.table.find_mut(hash, same) {
            let was = *slot;
            if replace {
                *slot = row;
            }
            return Some(was);
        }
        let hashing = &self.hashing;
        self.table.insert_unique(hash, row, |&r| {
            hashing.hash_one(key_of(&rows[r as usize]).unwrap_or_default())
        });
        None
    }

    pub fn get(&self, key: &str) -> Option<u32> {
        let hash = self.hashing.hash_one(key);
        self.table
            .find(hash, |&r| self.key_of(r) == Some(key))
            .copied()
    }
}

/// Rows grouped by a key without a `Vec` per key: the index holds the latest row of each
/// key and `next` chains the rest.
pub(super) struct MultiIndex<'b, T> {
    heads: RowIndex<'b, T>,
    next: Vec<u32>,
}

impl<'b, T> MultiIndex<'b, T> {
    /// Every row of `rows` grouped by `key`.
    pub fn new(rows: &'b [T], key: fn(&T) -> Option<&str>) -> Self {
        let mut heads = RowIndex::new(rows, key);
        let mut next = vec![NONE; rows.len()];
        for row in 0..rows.len() as u32 {
            next[row as usize] = heads.put(row, true).unwrap_or(NONE);
        }
        MultiIndex { heads, next }
    }

    pub fn get<'a>(&'a self, key: &str) -> Chain<'a> {
        Chain {
            at: self.heads.get(key).unwrap_or(NONE),
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

/// A charge carries money only when it succeeded and was captured ([`Charge::counts`]).
pub(super) fn succeeded(charge: &Charge) -> bool {
    charge.counts()
}

/// Saturating conversion of an `i128` sum back to minor units.
pub(super) fn saturate(sum: i128) -> i64 {
    i64::try_from(sum).unwrap_or(if sum < 0 { i64::MIN } else { i64::MAX })
}

pub(super) struct Index<'b> {
    pub books: &'b Books,
    pub invoice_by_number: RowIndex<'b, Invoice>,
    /// Invoices by the gateway's own invoice id (Stripe Billing's `in_…`); `None` when no
    /// invoice has one, as in most books.
    pub invoice_by_gateway_id: Option<RowIndex<'b, Invoice>>,
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
            invoice_by_gateway_id: invoices.invoice_by_gateway_id,
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
    invoice_by_number: RowIndex<'b, Invoice>,
    invoice_by_gateway_id: Option<RowIndex<'b, Invoice>>,
    order_groups: Vec<Vec<u32>>,
    has_order: Vec<bool>,
}

impl<'b> InvoiceMaps<'b> {
    fn new(books: &'b Books) -> InvoiceMaps<'b> {
        let invoice_by_number =
            RowIndex::first_of_each(&books.invoices, |i| Some(i.number.as_str()));
        let invoice_by_gateway_id = books
            .invoices
            .iter()
            .any(|i| i.gateway_invoice_id.is_some())
            .then(|| RowIndex::first_of_each(&books.invoices, |i| i.gateway_invoice_id.as_deref()));
        // Shared order references are rare: hashing each one and sorting the hashes finds
        // them with one sequential pass, where a map would cost a random insert per invoice.
        let hashing = std::hash::RandomState::new();
        let mut order_hashes: Vec<(u64, u32)> = Vec::with_capacity(books.invoices.len());
        let mut has_order = vec![false; books.invoices.len()];
        for (i, invoice) in books.invoices.iter().enumerate() {
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
            invoice_by_gateway_id,
            order_groups,
            has_order,
        }
    }
}

/// The invoice row of each ledger entry, and the entries chained per invoice row.
fn ledger_by_invoice(
    books: &Books,
    invoice_by_number: &RowIndex<'_, Invoice>,
) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
    let mut ledger_invoice = vec![NONE; books.ledger.len()];
    let mut ledger_head = vec![NONE; books.invoices.len()];
    let mut ledger_next = vec![NONE; books.ledger.len()];
    for (i, entry) in books.ledger.iter().enumerate() {
        if let Some(inv) = invoice_by_number.get(entry.invoice_number.as_str()) {
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
    pub charge_by_id: RowIndex<'b, Charge>,
    pub charges_by_intent: MultiIndex<'b, Charge>,
    pub refund_by_id: IdMap<&'b str, u32>,
}

impl<'b> GatewaySide<'b> {
    fn new(books: &'b Books) -> GatewaySide<'b> {
        let charge_by_id = RowIndex::first_of_each(&books.charges, |c| Some(c.id.as_str()));
        let charges_by_intent = MultiIndex::new(&books.charges, |c| c.payment_intent.as_deref());
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
            Some(c) => vec![c],
            None => self.charges_by_intent.get(gateway_id).collect(),
        }
    }

    /// The one charge a ledger entry's gateway id records: the charge itself, or the
    /// payment intent's succeeded charge (the earliest if, against Stripe's rules, there
    /// are several). `None` when no such charge succeeded or exists.
    pub fn recorded_charge(&self, gateway_id: &str) -> Option<u32> {
        if let Some(c) = self.charge_by_id.get(gateway_id) {
            return Some(c);
        }
        self.charges_by_intent
            .get(gateway_id)
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
            self.charge_by_id.get(charge_id)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Row = (&'static str, Option<&'static str>);

    fn key(row: &Row) -> Option<&str> {
        row.1
    }

    #[test]
    fn a_row_index_finds_the_first_row_of_each_key_and_never_a_row_without_one() {
        let rows = [
            ("a", Some("INV-1")),
            ("b", None),
            ("c", Some("INV-2")),
            ("d", Some("INV-1")),
        ];
        let index = RowIndex::first_of_each(&rows, key);
        assert_eq!(index.get("INV-1"), Some(0));
        assert_eq!(index.get("INV-2"), Some(2));
        assert_eq!(index.get(""), None);
        assert_eq!(index.get("INV-3"), None);
    }

    #[test]
    fn a_multi_index_chains_every_row_of_a_key_latest_first() {
        let rows: Vec<Row> = (0..10_000)
            .map(|i| ("row", Some(if i % 3 == 0 { "pi_a" } else { "pi_b" })))
            .chain([("row", None)])
            .collect();
        let index = MultiIndex::new(&rows, key);
        let a: Vec<u32> = index.get("pi_a").collect();
        let b: Vec<u32> = index.get("pi_b").collect();
        assert_eq!(
            a,
            (0..10_000)
                .rev()
                .filter(|i| i % 3 == 0)
                .collect::<Vec<u32>>()
        );
        assert_eq!(b.len(), 10_000 - a.len());
        assert!(b.windows(2).all(|w| w[0] > w[1]));
        assert_eq!(index.get("pi_c").count(), 0);
    }
}
