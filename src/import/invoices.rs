//! The invoices layout: `invoice_number, customer_id, amount, currency, issued_at, due_at,
//! status` and an optional `order_ref`, one invoice per row, keyed by its number.
//!
//! An invoice amount is never below zero (a credit note is not an invoice); `due_at` and
//! `order_ref` may be empty. It must never guess a status: anything but open, paid or void
//! (after the mapping's value translation) is refused by name.

use jiff::tz::TimeZone;

use super::cells::{Cells, CurrencyCache};
use super::columns::{Col, ColumnResolver};
use super::{FileKind, Layout};
use crate::money::Sign;
use crate::records::{Invoice, InvoiceStatus, Origin};
use crate::store::{ExtraColumns, StoreError, StoreTx, Upserted};

/// Our column names, in the documented order.
pub(crate) const COLUMN_NAMES: &[&str] = &[
    "invoice_number",
    "customer_id",
    "amount",
    "currency",
    "issued_at",
    "due_at",
    "status",
    "order_ref",
];

pub(crate) struct InvoicesLayout {
    number: Col,
    customer: Col,
    amount: Col,
    currency: Col,
    issued_at: Col,
    due_at: Col,
    status: Col,
    order_ref: Option<Col>,
    zone: TimeZone,
    currencies: CurrencyCache,
}

impl InvoicesLayout {
    pub fn resolve(columns: &mut ColumnResolver<'_>, zone: TimeZone) -> Self {
        InvoicesLayout {
            number: columns.required("invoice_number", &[]),
            customer: columns.required("customer_id", &[]),
            amount: columns.required("amount", &[]),
            currency: columns.required("currency", &[]),
            issued_at: columns.required("issued_at", &[]),
            due_at: columns.required("due_at", &[]),
            status: columns.required("status", &[]),
            order_ref: columns.optional("order_ref", &[]),
            zone,
            currencies: CurrencyCache::default(),
        }
    }
}

impl Layout for InvoicesLayout {
    type Row = Invoice;
    const KIND: FileKind = FileKind::Invoices;

    fn parse(&mut self, cells: &mut Cells<'_>) -> Option<Invoice> {
        let number = cells.required(self.number, "invoice number");
        let customer = cells.required(self.customer, "customer id");
        let currency = cells.currency(self.currency, &mut self.currencies);
        let amount = currency.and_then(|c| cells.money(self.amount, c, Sign::NonNegative));
        let issued_at = cells.instant(self.issued_at, &self.zone);
        let due_at = match cells.optional(self.due_at) {
            Some(_) => cells.instant(self.due_at, &self.zone).map(Some),
            None => Some(None),
        };
        let status_text = cells.text(self.status);
        let status = InvoiceStatus::parse(status_text);
        if status.is_none() {
            cells.fail(
                self.status,
                format!(
                    "`{status_text}` is not an invoice status; write open, paid or void, or translate it in a mapping's [values.status]"
                ),
            );
        }
        let order_ref = self.order_ref.and_then(|c| cells.optional(c));
        if cells.failed() {
            return None;
        }
        Some(Invoice {
            number: number?.to_string(),
            customer_id: customer?.to_string(),
            amount: amount?,
            issued_at: issued_at?,
            due_at: due_at?,
            status: status?,
            order_ref: order_ref.map(str::to_string),
        })
    }

    fn key(row: &Invoice) -> &str {
        &row.number
    }

    fn key_column(&self) -> Col {
        self.number
    }

    fn store(
        tx: &StoreTx<'_>,
        row: &Invoice,
        extra: ExtraColumns<'_>,
        origin: &Origin,
    ) -> Result<Upserted, StoreError> {
        tx.upsert_invoice(row, extra, origin)
    }
}
