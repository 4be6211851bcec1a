//! The payments layout (the app's ledger): `payment_id, invoice_number, kind, amount,
//! currency, recorded_at, gateway_id`, one ledger entry per row, keyed by its payment id.
//!
//! An amount is always above zero and `kind` says which way the money went; a negative
//! amount is refused with that advice rather than read as a refund, because a sign and a
//! kind that disagree would leave the ledger meaning two things. An empty `gateway_id` is
//! cash, cheque or bank transfer: money the gateway never sees.

use jiff::tz::TimeZone;

use super::cells::{Cells, CurrencyCache, Formats};
use super::columns::{Col, ColumnResolver};
use super::mapping::ColumnMapping;
use super::{FileKind, Layout};
use crate::money::{Currency, Sign};
use crate::records::{LedgerEntry, LedgerKind, Origin};
use crate::store::{ExtraColumns, StoreError, StoreTx, Upserted};

/// Our column names, in the documented order.
pub(crate) const COLUMN_NAMES: &[&str] = &[
    "payment_id",
    "invoice_number",
    "kind",
    "amount",
    "currency",
    "recorded_at",
    "gateway_id",
];

pub(crate) struct PaymentsLayout {
    payment_id: Col,
    invoice_number: Col,
    kind: Col,
    amount: Col,
    currency: Col,
    recorded_at: Col,
    gateway_id: Col,
    formats: Formats,
    currencies: CurrencyCache,
}

impl PaymentsLayout {
    pub fn resolve(
        columns: &mut ColumnResolver<'_>,
        mapping: Option<&ColumnMapping>,
        zone: TimeZone,
        currency: Option<Currency>,
    ) -> Self {
        PaymentsLayout {
            payment_id: columns.required("payment_id", &[]),
            invoice_number: columns.required("invoice_number", &[]),
            kind: columns.required("kind", &[]),
            amount: columns.required("amount", &[]),
            currency: columns.required_or(
                "currency",
                currency.map(Currency::code),
                super::NO_CURRENCY,
            ),
            recorded_at: columns.required("recorded_at", &[]),
            gateway_id: columns.required("gateway_id", &[]),
            formats: Formats::new(zone, mapping),
            currencies: CurrencyCache::default(),
        }
    }
}

impl Layout for PaymentsLayout {
    type Row = LedgerEntry;
    const KIND: FileKind = FileKind::Payments;

    fn parse(&mut self, cells: &mut Cells<'_>) -> Option<LedgerEntry> {
        let payment_id = cells.required(self.payment_id, "payment id");
        let invoice_number = cells.required(self.invoice_number, "invoice number");
        let kind_text = cells.text(self.kind);
        let kind = LedgerKind::parse(kind_text);
        if kind.is_none() {
            cells.fail(
                self.kind,
                format!(
                    "`{kind_text}` is not a ledger kind; write payment or refund, or translate it in a mapping's [values.kind]"
                ),
            );
        }
        let currency = cells.currency(self.currency, &mut self.currencies);
        let amount = currency.and_then(|c| self.formats.money(cells, self.amount, c, Sign::Any));
        let amount = match amount {
            Some(m) if m.is_negative() => {
                cells.fail(
                    self.amount,
                    format!(
                        "`{}` is negative; write the amount as a positive number and set kind to refund for money given back",
                        cells.text(self.amount)
                    ),
                );
                None
            }
            Some(m) if m.is_zero() => {
                cells.fail(
                    self.amount,
                    "the amount is zero; a ledger entry records money that moved, so leave the row out",
                );
                None
            }
            other => other,
        };
        let recorded_at = self.formats.instant(cells, self.recorded_at);
        let gateway_id = cells.optional(self.gateway_id);
        if cells.failed() {
            return None;
        }
        Some(LedgerEntry {
            payment_id: payment_id?.to_string(),
            invoice_number: invoice_number?.to_string(),
            kind: kind?,
            amount: amount?,
            recorded_at: recorded_at?,
            gateway_id: gateway_id.map(str::to_string),
        })
    }

    fn key(row: &LedgerEntry) -> &str {
        &row.payment_id
    }

    fn key_column(&self) -> Col {
        self.payment_id
    }

    fn describe(row: &LedgerEntry) -> String {
        format!(
            "{} · invoice {} · {} {} · {} · {}",
            row.payment_id,
            row.invoice_number,
            row.kind.as_str(),
            row.amount,
            row.recorded_at.strftime("%Y-%m-%d"),
            row.gateway_id.as_deref().unwrap_or("no gateway id")
        )
    }

    fn store(
        tx: &StoreTx<'_>,
        row: &LedgerEntry,
        extra: ExtraColumns<'_>,
        origin: &Origin,
    ) -> Result<Upserted, StoreError> {
        tx.upsert_ledger_entry(row, extra, origin)
    }
}
