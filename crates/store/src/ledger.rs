//! The business's side in the store: invoices and the app ledger's entries.

use std::sync::OnceLock;

use jiff::Timestamp;

use super::extra::ExtraColumns;
use super::upsert::{Field, TableSql, Upserted};
use super::{AnyOf, StoreError, StoreTx, currency_from_store, timestamp_from_store};
use crate::money::Money;
use crate::records::{Invoice, InvoiceStatus, LedgerEntry, LedgerKind, Origin};

fn invoices_sql() -> &'static TableSql {
    static SQL: OnceLock<TableSql> = OnceLock::new();
    SQL.get_or_init(|| {
        TableSql::new(
            "invoices",
            "invoice",
            &["invoice_number"],
            &[
                "customer_id",
                "amount_minor",
                "currency",
                "issued_at",
                "due_at",
                "status",
                "order_ref",
                "gateway_invoice_id",
                "stated_paid_minor",
                "paid_at",
            ],
        )
    })
}

fn ledger_sql() -> &'static TableSql {
    static SQL: OnceLock<TableSql> = OnceLock::new();
    SQL.get_or_init(|| {
        TableSql::new(
            "ledger_entries",
            "ledger_entry",
            &["payment_id"],
            &[
                "invoice_number",
                "kind",
                "amount_minor",
                "currency",
                "recorded_at",
                "gateway_id",
            ],
        )
    })
}

impl StoreTx<'_> {
    /// Stores an invoice by its number, with the file's columns beyond the layout.
    pub fn upsert_invoice(
        &self,
        invoice: &Invoice,
        extra: ExtraColumns<'_>,
        origin: &Origin,
    ) -> Result<Upserted, StoreError> {
        invoices_sql().upsert(
            self,
            &[Field::Text(&invoice.number)],
            &[
                Field::Text(&invoice.customer_id),
                Field::Int(invoice.amount.minor()),
                Field::Text(super::ascii(&invoice.amount.currency().lower_bytes())),
                Field::Int(invoice.issued_at.as_second()),
                Field::opt_int(invoice.due_at.map(|t| t.as_second())),
                Field::Text(invoice.status.as_str()),
                Field::opt_text(invoice.order_ref.as_deref()),
                Field::opt_text(invoice.gateway_invoice_id.as_deref()),
                Field::opt_int(invoice.stated_paid.map(|m| {
                    assert_eq!(
                        m.currency(),
                        invoice.amount.currency(),
                        "an invoice is paid in its own currency"
                    );
                    m.minor()
                })),
                Field::opt_int(invoice.paid_at.map(|t| t.as_second())),
            ],
            extra,
            origin,
        )
    }

    pub fn upsert_ledger_entry(
        &self,
        entry: &LedgerEntry,
        extra: ExtraColumns<'_>,
        origin: &Origin,
    ) -> Result<Upserted, StoreError> {
        ledger_sql().upsert(
            self,
            &[Field::Text(&entry.payment_id)],
            &[
                Field::Text(&entry.invoice_number),
                Field::Text(entry.kind.as_str()),
                Field::Int(entry.amount.minor()),
                Field::Text(super::ascii(&entry.amount.currency().lower_bytes())),
                Field::Int(entry.recorded_at.as_second()),
                Field::opt_text(entry.gateway_id.as_deref()),
            ],
            extra,
            origin,
        )
    }

    /// Every invoice, in invoice-number order.
    pub fn invoices(&self) -> Result<Vec<Invoice>, StoreError> {
        self.read_invoices(&AnyOf::ALL)
    }

    /// The invoices of these numbers that are stored, in invoice-number order.
    pub fn invoices_numbered(&self, numbers: &[&str]) -> Result<Vec<Invoice>, StoreError> {
        self.read_invoices(&AnyOf::none().or("invoice_number", numbers))
    }

    /// The invoices the last scope walk reached, in invoice-number order.
    pub fn invoices_in_scope(&self) -> Result<Vec<Invoice>, StoreError> {
        self.read_invoices(&AnyOf::none().or_in_scope("scope_invoice"))
    }

    fn read_invoices(&self, filter: &AnyOf) -> Result<Vec<Invoice>, StoreError> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT invoice_number, customer_id, amount_minor, currency, issued_at, due_at, status, order_ref,
                    gateway_invoice_id, stated_paid_minor, paid_at
             FROM invoices WHERE {} ORDER BY invoice_number",
            filter.sql()
        ))?;
        let mut rows = stmt.query(filter.params())?;
        let mut out = Vec::with_capacity(self.capacity_for("invoices", filter)?);
        while let Some(r) = rows.next()? {
            let status: String = r.get(6)?;
            let currency = currency_from_store(&r.get::<_, String>(3)?)?;
            out.push(Invoice {
                number: r.get(0)?,
                customer_id: r.get(1)?,
                amount: Money::from_minor(r.get(2)?, currency),
                issued_at: timestamp_from_store(r.get(4)?)?,
                due_at: r
                    .get::<_, Option<i64>>(5)?
                    .map(timestamp_from_store)
                    .transpose()?,
                status: InvoiceStatus::parse(&status).ok_or_else(|| StoreError::Corrupt {
                    what: "invoice status".into(),
                    detail: status.clone(),
                })?,
                order_ref: r.get(7)?,
                gateway_invoice_id: r.get(8)?,
                stated_paid: r
                    .get::<_, Option<i64>>(9)?
                    .map(|m| Money::from_minor(m, currency)),
                paid_at: r
                    .get::<_, Option<i64>>(10)?
                    .map(timestamp_from_store)
                    .transpose()?,
            });
        }
        Ok(out)
    }

    /// Every ledger entry, in payment-id order.
    pub fn ledger_entries(&self) -> Result<Vec<LedgerEntry>, StoreError> {
        self.read_ledger(&AnyOf::ALL)
    }

    /// The ledger entries the last scope walk reached, in payment-id order.
    pub fn ledger_entries_in_scope(&self) -> Result<Vec<LedgerEntry>, StoreError> {
        self.read_ledger(&AnyOf::none().or_in_scope("scope_ledger"))
    }

    /// The ledger entries with these payment ids, in payment-id order.
    pub fn ledger_entries_with_payment_ids(
        &self,
        payment_ids: &[&str],
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        self.read_ledger(&AnyOf::none().or("payment_id", payment_ids))
    }

    /// How many charges and ledger entries were made in `[from, to)`, and how many there
    /// are: what a month-end weighs to read a period through the date indexes or every row
    /// in one pass. Counted from the indexes alone.
    pub fn money_rows_between(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<(u64, u64), StoreError> {
        let (from, to) = (from.as_second(), to.as_second());
        let inside: i64 = self.conn().prepare_cached(
            "SELECT (SELECT count(*) FROM gateway_charges WHERE created_at >= ?1 AND created_at < ?2)
                  + (SELECT count(*) FROM ledger_entries WHERE recorded_at >= ?1 AND recorded_at < ?2)",
        )?
        .query_row([from, to], |r| r.get(0))?;
        let all = self.row_count("gateway_charges")? + self.row_count("ledger_entries")?;
        Ok((u64::try_from(inside).unwrap_or(0), all as u64))
    }

    /// The invoices issued in `[from, to)`, in invoice-number order.
    pub fn invoices_issued_between(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Invoice>, StoreError> {
        self.read_invoices(&AnyOf::none().or_between("issued_at", from, to))
    }

    /// The ledger entries on these invoices or naming these gateway ids (charges or payment
    /// intents), in payment-id order.
    pub fn ledger_entries_about(
        &self,
        invoice_numbers: &[&str],
        gateway_ids: &[&str],
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        self.read_ledger(
            &AnyOf::none()
                .or("invoice_number", invoice_numbers)
                .or("gateway_id", gateway_ids),
        )
    }

    /// The ledger entries recorded in `[from, to)`, in payment-id order.
    pub fn ledger_entries_recorded_between(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        self.read_ledger(&AnyOf::none().or_between("recorded_at", from, to))
    }

    /// When the newest ledger entry recorded before `before` was recorded.
    pub fn newest_ledger_entry_before(
        &self,
        before: Timestamp,
    ) -> Result<Option<Timestamp>, StoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT recorded_at FROM ledger_entries WHERE recorded_at < ?1
             ORDER BY recorded_at DESC LIMIT 1",
        )?;
        let mut rows = stmt.query([before.as_second()])?;
        rows.next()?
            .map(|r| timestamp_from_store(r.get(0)?))
            .transpose()
    }

    fn read_ledger(&self, filter: &AnyOf) -> Result<Vec<LedgerEntry>, StoreError> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT payment_id, invoice_number, kind, amount_minor, currency, recorded_at, gateway_id
             FROM ledger_entries WHERE {} ORDER BY payment_id",
            filter.sql()
        ))?;
        let mut rows = stmt.query(filter.params())?;
        let mut out = Vec::with_capacity(self.capacity_for("ledger_entries", filter)?);
        while let Some(r) = rows.next()? {
            let kind: String = r.get(2)?;
            out.push(LedgerEntry {
                payment_id: r.get(0)?,
                invoice_number: r.get(1)?,
                kind: LedgerKind::parse(&kind).ok_or_else(|| StoreError::Corrupt {
                    what: "ledger kind".into(),
                    detail: kind.clone(),
                })?,
                amount: Money::from_minor(r.get(3)?, currency_from_store(&r.get::<_, String>(4)?)?),
                recorded_at: timestamp_from_store(r.get(5)?)?,
                gateway_id: r.get(6)?,
            });
        }
        Ok(out)
    }
}
