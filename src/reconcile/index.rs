//! The books, indexed for reconciliation: hash maps keyed by `&str` borrowed from the
//! [`Books`](super::Books), and array-backed chains instead of a `Vec` per key, so a
//! million rows cost a few allocations, not a million.
//!
//! It owns lookups only; it must never decide what is a finding.

use std::collections::HashMap;
use std::hash::Hash;

use crate::records::{Charge, ChargeStatus};

use super::Books;

/// "No row": the end of a chain.
pub(super) const NONE: u32 = u32::MAX;

/// Rows grouped by a key without a `Vec` per key: the map holds the first row of each
/// key and `next` chains the rest.
pub(super) struct MultiIndex<K> {
    heads: HashMap<K, u32>,
    next: Vec<u32>,
}

impl<K: Hash + Eq> MultiIndex<K> {
    pub fn new(rows: usize) -> Self {
        MultiIndex {
            heads: HashMap::new(),
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
    pub invoice_by_number: HashMap<&'b str, u32>,
    pub charge_by_id: HashMap<&'b str, u32>,
    pub charges_by_intent: MultiIndex<&'b str>,
    /// Every ledger entry by the invoice it names, for the evidence.
    pub ledger_by_invoice: MultiIndex<&'b str>,
    pub refund_by_id: HashMap<&'b str, u32>,
}

impl<'b> Index<'b> {
    pub fn new(books: &'b Books) -> Index<'b> {
        let mut invoice_by_number = HashMap::with_capacity(books.invoices.len());
        for (i, invoice) in books.invoices.iter().enumerate() {
            invoice_by_number
                .entry(invoice.number.as_str())
                .or_insert(i as u32);
        }
        let mut charge_by_id = HashMap::with_capacity(books.charges.len());
        let mut charges_by_intent = MultiIndex::new(books.charges.len());
        for (i, charge) in books.charges.iter().enumerate() {
            charge_by_id.entry(charge.id.as_str()).or_insert(i as u32);
            if let Some(pi) = charge.payment_intent.as_deref() {
                charges_by_intent.push(pi, i as u32);
            }
        }
        let mut ledger_by_invoice = MultiIndex::new(books.ledger.len());
        for (i, entry) in books.ledger.iter().enumerate() {
            ledger_by_invoice.push(entry.invoice_number.as_str(), i as u32);
        }
        let refund_by_id = books
            .refunds
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.as_str(), i as u32))
            .collect();
        Index {
            books,
            invoice_by_number,
            charge_by_id,
            charges_by_intent,
            ledger_by_invoice,
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
}
