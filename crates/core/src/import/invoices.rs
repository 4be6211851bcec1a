//! The invoices layout: `invoice_number, customer_id, amount, currency, issued_at, due_at,
//! status` and an optional `order_ref`, one invoice per row, keyed by its number; read
//! through a mapping, also another app's export (see `layouts/`): its line-item rows grouped
//! into one invoice, its own date and number formats, what it says was paid.
//!
//! An invoice amount is never below zero (a credit note is not an invoice); `due_at` and
//! `order_ref` may be empty. It must never guess a status: anything but open, paid or void
//! (after the mapping's value translation) is refused by name, and a `draft` is never due,
//! so drafts are counted and left out, with or without a number.
//!
//! What the app says was paid (`amount_paid`, else `amount` less `balance_due`) is kept
//! with the invoice as its stated payment: the ledger of a business that has no payments
//! export. It is never more than the invoice's amount and never below zero.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::cells::{Cells, CurrencyCache, Formats};
use super::columns::{Col, ColumnResolver};
use super::mapping::ColumnMapping;
use super::{FileKind, Layout, SkippedRows};
use crate::money::{Currency, Money, Sign};
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
    "amount_paid",
    "balance_due",
    "paid_at",
    "gateway_invoice_id",
];

/// The columns a file must have (or a mapping must give): the first seven.
pub(crate) const REQUIRED: &[&str] = COLUMN_NAMES.split_at(7).0;

/// The status a mapping translates an app's drafts to.
const DRAFT: &str = "draft";

/// Where an invoice's amount comes from.
enum Amount {
    /// A column holding the invoice's total (repeated on each line of a line-item file).
    Total(Col),
    /// The sum over the invoice's lines of these columns (line total, tax).
    SumOfLines(Vec<Col>),
}

pub(crate) struct InvoicesLayout {
    number: Col,
    customer: Col,
    amount: Amount,
    currency: Col,
    issued_at: Col,
    due_at: Col,
    status: Col,
    order_ref: Option<Col>,
    amount_paid: Option<Col>,
    balance_due: Option<Col>,
    paid_at: Option<Col>,
    gateway_id: Option<Col>,
    /// Rows are line items: consecutive rows of one number are one invoice.
    lines: bool,
    /// A paid invoice states it was paid in full (an app that writes no amount paid).
    paid_in_full_by_status: bool,
    formats: Formats,
    currencies: CurrencyCache,
    drafts: u64,
    /// The number of the draft on the row before, to count a draft's lines once.
    last_draft: Option<String>,
}

/// One row read, before its invoice's lines are all in.
pub(crate) struct InvoiceRow {
    invoice: Invoice,
    /// What the app says is still owed, when it says that rather than what was paid.
    balance_due: Option<Money>,
}

impl InvoicesLayout {
    pub fn resolve(
        columns: &mut ColumnResolver<'_>,
        mapping: Option<&ColumnMapping>,
        zone: TimeZone,
        currency: Option<Currency>,
    ) -> Self {
        let lines = mapping.and_then(|m| m.lines.as_ref());
        let amount = match lines.filter(|l| !l.sum.is_empty()) {
            Some(l) => Amount::SumOfLines(
                l.sum
                    .iter()
                    .filter_map(|h| match h.strip_suffix('?') {
                        Some(optional) => columns.header_if_any(optional),
                        None => Some(columns.header(h)),
                    })
                    .collect(),
            ),
            None => Amount::Total(columns.required("amount", &[])),
        };
        InvoicesLayout {
            number: columns.required("invoice_number", &[]),
            customer: columns.required("customer_id", &[]),
            amount,
            currency: columns.required_or(
                "currency",
                currency.map(Currency::code),
                super::NO_CURRENCY,
            ),
            issued_at: columns.required("issued_at", &[]),
            due_at: columns.required("due_at", &[]),
            status: columns.required("status", &[]),
            order_ref: columns.optional("order_ref", &[]),
            amount_paid: columns.optional("amount_paid", &[]),
            balance_due: columns.optional("balance_due", &[]),
            paid_at: columns.optional("paid_at", &[]),
            gateway_id: columns.optional("gateway_invoice_id", &[]),
            lines: lines.is_some(),
            paid_in_full_by_status: mapping.is_some_and(|m| m.paid_in_full_by_status),
            formats: Formats::new(zone, mapping),
            currencies: CurrencyCache::default(),
            drafts: 0,
            last_draft: None,
        }
    }

    /// A date that may be empty: `Some(None)` when it is.
    fn optional_instant(
        &self,
        cells: &mut Cells<'_>,
        col: Option<Col>,
    ) -> Option<Option<Timestamp>> {
        match col.filter(|&c| cells.optional(c).is_some()) {
            Some(c) => self.formats.instant(cells, c).map(Some),
            None => Some(None),
        }
    }

    /// An amount that may be empty: `Some(None)` when it is.
    fn optional_money(
        &self,
        cells: &mut Cells<'_>,
        col: Option<Col>,
        currency: Currency,
    ) -> Option<Option<Money>> {
        match col.filter(|&c| cells.optional(c).is_some()) {
            Some(c) => self
                .formats
                .money(cells, c, currency, Sign::NonNegative)
                .map(Some),
            None => Some(None),
        }
    }

    /// The row's amount: the total column, or the sum of its line columns.
    fn amount(&self, cells: &mut Cells<'_>, currency: Currency) -> Option<Money> {
        match &self.amount {
            Amount::Total(col) => self.formats.money(cells, *col, currency, Sign::NonNegative),
            Amount::SumOfLines(cols) => {
                let mut sum = Some(Money::zero(currency));
                for &col in cols {
                    // An empty tax cell is no tax.
                    let line = match cells.optional(col) {
                        None => Some(Money::zero(currency)),
                        Some(_) => self.formats.money(cells, col, currency, Sign::Any),
                    };
                    sum = match (sum, line) {
                        (Some(s), Some(l)) => s.checked_add(l).ok(),
                        _ => None,
                    };
                }
                sum
            }
        }
    }

    /// Says where two lines of one invoice disagree on an invoice-level field.
    fn disagree(&self, cells: &mut Cells<'_>, col: Col, first_line: u64, number: &str) {
        let first = cells.text(col).to_string();
        cells.fail(
            col,
            format!(
                "invoice {number}: differs from its line {first_line}; the lines of one invoice must agree on it (`{first}` here)"
            ),
        );
    }
}

impl Layout for InvoicesLayout {
    type Row = InvoiceRow;
    const KIND: FileKind = FileKind::Invoices;

    fn parse(&mut self, cells: &mut Cells<'_>) -> Option<InvoiceRow> {
        let status_text = cells.text(self.status);
        if status_text.eq_ignore_ascii_case(DRAFT) {
            // Counted once per invoice: a draft's lines follow one another.
            let number = cells.text(self.number);
            if !self.lines || self.last_draft.as_deref() != Some(number) || number.is_empty() {
                self.drafts += 1;
            }
            self.last_draft = Some(number.to_string());
            return None;
        }
        self.last_draft = None;
        let number = cells.required(self.number, "invoice number");
        let customer = cells.required(self.customer, "customer id");
        let currency = cells.currency(self.currency, &mut self.currencies);
        let amount = currency.and_then(|c| self.amount(cells, c));
        let issued_at = self.formats.instant(cells, self.issued_at);
        let due_at = self.optional_instant(cells, Some(self.due_at));
        let status = InvoiceStatus::parse(status_text);
        if status.is_none() {
            cells.fail(
                self.status,
                format!(
                    "`{status_text}` is not an invoice status; write open, paid, void or draft, or translate it in a mapping's [values.status]"
                ),
            );
        }
        let order_ref = self.order_ref.and_then(|c| cells.optional(c));
        let amount_paid = currency.and_then(|c| self.optional_money(cells, self.amount_paid, c));
        let balance_due = currency.and_then(|c| self.optional_money(cells, self.balance_due, c));
        let paid_at = self.optional_instant(cells, self.paid_at);
        let gateway_id = self.gateway_id.and_then(|c| cells.optional(c));
        if cells.failed() {
            return None;
        }
        Some(InvoiceRow {
            invoice: Invoice {
                number: number?.to_string(),
                customer_id: customer?.to_string(),
                amount: amount?,
                issued_at: issued_at?,
                due_at: due_at?,
                status: status?,
                order_ref: order_ref.map(str::to_string),
                gateway_invoice_id: gateway_id.map(str::to_string),
                stated_paid: amount_paid?,
                paid_at: paid_at?,
            },
            balance_due: balance_due?,
        })
    }

    fn key(row: &InvoiceRow) -> &str {
        &row.invoice.number
    }

    fn key_column(&self) -> Col {
        self.number
    }

    fn describe(row: &InvoiceRow) -> String {
        let i = &row.invoice;
        let mut text = format!(
            "{} · {} · {} · {} · issued {}",
            i.number,
            i.customer_id,
            i.amount,
            i.status.as_str(),
            i.issued_at.strftime("%Y-%m-%d")
        );
        if let Some(paid) = i.stated_paid {
            text.push_str(&format!(" · paid {paid}"));
        }
        text
    }

    fn groups(&self) -> bool {
        self.lines
    }

    fn merge(
        &mut self,
        into: &mut InvoiceRow,
        first_line: u64,
        next: InvoiceRow,
        cells: &mut Cells<'_>,
    ) {
        let (a, b) = (&mut into.invoice, &next.invoice);
        let number = a.number.clone();
        let checks: [(bool, Option<Col>); 9] = [
            (a.customer_id == b.customer_id, Some(self.customer)),
            (
                a.amount.currency() == b.amount.currency(),
                Some(self.currency),
            ),
            (a.issued_at == b.issued_at, Some(self.issued_at)),
            (a.due_at == b.due_at, Some(self.due_at)),
            (a.status == b.status, Some(self.status)),
            (a.order_ref == b.order_ref, self.order_ref),
            (a.stated_paid == b.stated_paid, self.amount_paid),
            (into.balance_due == next.balance_due, self.balance_due),
            (a.paid_at == b.paid_at, self.paid_at),
        ];
        for (same, col) in checks {
            if let (false, Some(col)) = (same, col) {
                self.disagree(cells, col, first_line, &number);
                return;
            }
        }
        match &self.amount {
            Amount::Total(col) => {
                if a.amount != b.amount {
                    self.disagree(cells, *col, first_line, &number);
                }
            }
            Amount::SumOfLines(cols) => match a.amount.checked_add(b.amount) {
                Ok(sum) => a.amount = sum,
                Err(e) => cells.fail(cols[0], e.to_string()),
            },
        }
    }

    fn complete(&self, row: &mut InvoiceRow) -> Result<(), String> {
        let invoice = &mut row.invoice;
        if invoice.amount.minor() < 0 {
            return Err(format!(
                "invoice {}: its lines add up to {}, below zero; a credit note is not an invoice",
                invoice.number, invoice.amount
            ));
        }
        if invoice.stated_paid.is_none() {
            invoice.stated_paid = match (invoice.status, row.balance_due) {
                // A void invoice owes nothing, and was not paid for it (Zoho writes 0 due).
                (InvoiceStatus::Void, Some(_)) => Some(Money::zero(invoice.amount.currency())),
                (_, Some(balance)) => invoice.amount.checked_sub(balance).ok(),
                (InvoiceStatus::Paid, None) if self.paid_in_full_by_status => Some(invoice.amount),
                _ => None,
            };
        }
        match invoice.stated_paid {
            Some(paid) if paid.minor() < 0 => Err(format!(
                "invoice {}: its balance due {} is more than its amount {}; check both in the app",
                invoice.number,
                row.balance_due.unwrap_or(paid),
                invoice.amount
            )),
            Some(paid) if paid.minor() > invoice.amount.minor() => Err(format!(
                "invoice {}: the export says {paid} was paid on an invoice of {}; check its amount paid in the app",
                invoice.number, invoice.amount
            )),
            _ => Ok(()),
        }
    }

    fn skipped(&self) -> Vec<SkippedRows> {
        SkippedRows::some(self.drafts, "draft (never due)", "drafts (never due)")
    }

    fn store(
        tx: &StoreTx<'_>,
        row: &InvoiceRow,
        extra: ExtraColumns<'_>,
        origin: &Origin,
    ) -> Result<Upserted, StoreError> {
        tx.upsert_invoice(&row.invoice, extra, origin)
    }
}
