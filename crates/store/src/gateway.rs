//! The gateway's side in the store: charges and refunds, keyed by the gateway's own object
//! ids, so a charge seen in a CSV export and again in a sync is one row.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use jiff::Timestamp;

use super::extra::ExtraColumns;
use super::upsert::{Field, TableSql, Upserted};
use super::{AnyOf, StoreError, StoreTx, currency_from_store, timestamp_from_store};
use crate::money::Money;
use crate::records::{Charge, ChargeStatus, GatewayRefund, Origin, RefundStatus};

fn charges_sql() -> &'static TableSql {
    static SQL: OnceLock<TableSql> = OnceLock::new();
    SQL.get_or_init(|| {
        TableSql::new(
            "gateway_charges",
            "charge",
            &["gateway", "charge_id"],
            &[
                "amount_minor",
                "amount_refunded_minor",
                "currency",
                "status",
                "captured",
                "created_at",
                "customer_id",
                "customer_email",
                "payment_intent_id",
                "invoice_ref",
                "description",
                "fee_minor",
                "metadata",
                "gateway_invoice_id",
            ],
        )
    })
}

fn refunds_sql() -> &'static TableSql {
    static SQL: OnceLock<TableSql> = OnceLock::new();
    SQL.get_or_init(|| {
        TableSql::new(
            "gateway_refunds",
            "refund",
            &["gateway", "refund_id"],
            &[
                "charge_id",
                "amount_minor",
                "currency",
                "status",
                "created_at",
                "metadata",
            ],
        )
    })
}

fn metadata_json(metadata: &BTreeMap<String, String>) -> String {
    if metadata.is_empty() {
        return "{}".into();
    }
    serde_json::to_string(metadata).unwrap_or_else(|_| "{}".into())
}

fn metadata_from_store(json: &str) -> Result<BTreeMap<String, String>, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
        what: "metadata".into(),
        detail: e.to_string(),
    })
}

/// The columns [`charge_from_row`] reads, in its order.
const CHARGE_COLUMNS: &str =
    "charge_id, amount_minor, amount_refunded_minor, currency, status, captured, created_at,
    customer_id, customer_email, payment_intent_id, invoice_ref, description, fee_minor, metadata,
    gateway_invoice_id";
/// The same with the description but without the metadata, which no month-end prints
/// and which was a tenth of a month-end's memory.
const CHARGE_COLUMNS_TO_PRINT: &str =
    "charge_id, amount_minor, amount_refunded_minor, currency, status, captured, created_at,
    customer_id, customer_email, payment_intent_id, invoice_ref, description, fee_minor, '{}',
    gateway_invoice_id";
/// The same, without the text reconciliation never reads.
const CHARGE_COLUMNS_TO_RECONCILE: &str =
    "charge_id, amount_minor, amount_refunded_minor, currency, status, captured, created_at,
    customer_id, customer_email, payment_intent_id, invoice_ref, NULL, fee_minor, '{}',
    gateway_invoice_id";

fn charge_from_row(r: &rusqlite::Row<'_>) -> Result<Charge, StoreError> {
    let currency = currency_from_store(r.get_ref(3)?.as_str().map_err(rusqlite::Error::from)?)?;
    let status = r.get_ref(4)?.as_str().map_err(rusqlite::Error::from)?;
    let metadata = r.get_ref(13)?.as_str().map_err(rusqlite::Error::from)?;
    Ok(Charge {
        id: r.get(0)?,
        amount: Money::from_minor(r.get(1)?, currency),
        amount_refunded: Money::from_minor(r.get(2)?, currency),
        status: ChargeStatus::parse(status).ok_or_else(|| StoreError::Corrupt {
            what: "charge status".into(),
            detail: status.to_string(),
        })?,
        captured: r.get::<_, i64>(5)? == 1,
        created: timestamp_from_store(r.get(6)?)?,
        customer: r.get(7)?,
        customer_email: r.get(8)?,
        payment_intent: r.get(9)?,
        invoice_ref: r.get(10)?,
        gateway_invoice_id: r.get(14)?,
        description: r.get(11)?,
        fee: r
            .get::<_, Option<i64>>(12)?
            .map(|f| Money::from_minor(f, currency)),
        metadata: if metadata == "{}" {
            BTreeMap::new()
        } else {
            metadata_from_store(metadata)?
        },
    })
}

impl StoreTx<'_> {
    pub fn upsert_charge(
        &self,
        gateway: &str,
        charge: &Charge,
        extra: ExtraColumns<'_>,
        origin: &Origin,
    ) -> Result<Upserted, StoreError> {
        assert_eq!(
            charge.amount.currency(),
            charge.amount_refunded.currency(),
            "a charge is refunded in its own currency"
        );
        let metadata = metadata_json(&charge.metadata);
        charges_sql().upsert(
            self,
            &[Field::Text(gateway), Field::Text(&charge.id)],
            &[
                Field::Int(charge.amount.minor()),
                Field::Int(charge.amount_refunded.minor()),
                Field::Text(super::ascii(&charge.amount.currency().lower_bytes())),
                Field::Text(charge.status.as_str()),
                Field::Int(i64::from(charge.captured)),
                Field::Int(charge.created.as_second()),
                Field::opt_text(charge.customer.as_deref()),
                Field::opt_text(charge.customer_email.as_deref()),
                Field::opt_text(charge.payment_intent.as_deref()),
                Field::opt_text(charge.invoice_ref.as_deref()),
                Field::opt_text(charge.description.as_deref()),
                Field::opt_int(charge.fee.map(|f| f.minor())),
                Field::Text(&metadata),
                Field::opt_text(charge.gateway_invoice_id.as_deref()),
            ],
            extra,
            origin,
        )
    }

    pub fn upsert_refund(
        &self,
        gateway: &str,
        refund: &GatewayRefund,
        extra: ExtraColumns<'_>,
        origin: &Origin,
    ) -> Result<Upserted, StoreError> {
        let metadata = metadata_json(&refund.metadata);
        refunds_sql().upsert(
            self,
            &[Field::Text(gateway), Field::Text(&refund.id)],
            &[
                Field::Text(&refund.charge_id),
                Field::Int(refund.amount.minor()),
                Field::Text(super::ascii(&refund.amount.currency().lower_bytes())),
                Field::Text(refund.status.as_str()),
                Field::Int(refund.created.as_second()),
                Field::Text(&metadata),
            ],
            extra,
            origin,
        )
    }

    /// Every gateway charge, in charge-id order.
    pub fn charges(&self) -> Result<Vec<Charge>, StoreError> {
        self.read_charges(&format!(
            "SELECT {CHARGE_COLUMNS} FROM gateway_charges ORDER BY charge_id"
        ))
    }

    /// Every gateway charge as reconciliation reads it, in charge-id order: without its
    /// description and metadata (empty), which no rule reads — the invoice reference is
    /// a field of its own — and which were most of the memory of a million charges.
    /// Write back to the store only what [`StoreTx::charge`] read whole.
    pub fn charges_to_reconcile(&self) -> Result<Vec<Charge>, StoreError> {
        self.read_charges(&format!(
            "SELECT {CHARGE_COLUMNS_TO_RECONCILE} FROM gateway_charges ORDER BY charge_id"
        ))
    }

    /// The charges, as [`StoreTx::charges_to_reconcile`] reads them, that are `gateway`'s
    /// with one of these ids, name one of these invoices, or were made by one of these
    /// payment intents; in charge-id order.
    pub fn charges_about(
        &self,
        gateway: &str,
        ids: &[&str],
        invoice_refs: &[&str],
        payment_intents: &[&str],
    ) -> Result<Vec<Charge>, StoreError> {
        self.charges_to_reconcile_where(
            &AnyOf::none()
                .or_of_gateway(gateway, "charge_id", ids)
                .or("invoice_ref", invoice_refs)
                .or("payment_intent_id", payment_intents),
        )
    }

    /// The charges the last scope walk reached, as [`StoreTx::charges_to_reconcile`]
    /// reads them, in charge-id order.
    pub fn charges_in_scope(&self) -> Result<Vec<Charge>, StoreError> {
        self.charges_to_reconcile_where(&AnyOf::none().or_in_scope("scope_charge"))
    }

    fn charges_to_reconcile_where(&self, filter: &AnyOf) -> Result<Vec<Charge>, StoreError> {
        self.charges_where(CHARGE_COLUMNS_TO_RECONCILE, filter)
    }

    /// The charges `filter` picks, with `columns` (whole, or as reconciliation reads
    /// them), in charge-id order.
    fn charges_where(&self, columns: &str, filter: &AnyOf) -> Result<Vec<Charge>, StoreError> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {columns} FROM gateway_charges WHERE {} ORDER BY charge_id",
            filter.sql()
        ))?;
        let mut rows = stmt.query(filter.params())?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(charge_from_row(r)?);
        }
        Ok(out)
    }

    /// Up to `limit` open invoices that a declined charge names or that are among `also`,
    /// in issue order (issue instant, then number) after `after` (an issue instant in Unix
    /// seconds and a number), with their issue instants. A paid or void invoice is owed
    /// nothing, so it is never read.
    pub fn invoices_with_a_failed_attempt(
        &self,
        after: Option<(i64, &str)>,
        also: &[&str],
        limit: usize,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let (at, number) = after.unwrap_or((i64::MIN, ""));
        let also = serde_json::to_string(also).map_err(|e| StoreError::Corrupt {
            what: "invoice numbers".into(),
            detail: e.to_string(),
        })?;
        let mut stmt = self.conn().prepare_cached(
            "SELECT i.invoice_number, i.issued_at FROM invoices i
              WHERE i.status = 'open' AND (i.issued_at, i.invoice_number) > (?1, ?2)
                AND (EXISTS (SELECT 1 FROM gateway_charges c
                              WHERE c.status = 'failed' AND c.invoice_ref = i.invoice_number)
                     OR i.invoice_number IN (SELECT value FROM json_each(?3)))
              ORDER BY i.issued_at, i.invoice_number LIMIT ?4",
        )?;
        let rows = stmt.query_map(
            rusqlite::params![at, number, also, i64::try_from(limit).unwrap_or(i64::MAX)],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The charges made in `[from, to)`, as [`StoreTx::charges_to_reconcile`] reads them,
    /// oldest first.
    pub fn charges_created_between(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Charge>, StoreError> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {CHARGE_COLUMNS_TO_RECONCILE} FROM gateway_charges
             WHERE created_at >= ?1 AND created_at < ?2 ORDER BY created_at, charge_id"
        ))?;
        let mut rows = stmt.query([from.as_second(), to.as_second()])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(charge_from_row(r)?);
        }
        Ok(out)
    }

    /// The newest charge made before `before` for which `wanted` holds, reading newest
    /// first and stopping at the first.
    pub fn newest_charge_before(
        &self,
        before: Timestamp,
        wanted: impl Fn(&Charge) -> bool,
    ) -> Result<Option<Charge>, StoreError> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {CHARGE_COLUMNS_TO_RECONCILE} FROM gateway_charges
             WHERE created_at < ?1 ORDER BY created_at DESC"
        ))?;
        let mut rows = stmt.query([before.as_second()])?;
        while let Some(r) = rows.next()? {
            let charge = charge_from_row(r)?;
            if wanted(&charge) {
                return Ok(Some(charge));
            }
        }
        Ok(None)
    }

    /// Charge `charge_id` of `gateway`, whole, if it is stored.
    pub fn charge(&self, gateway: &str, charge_id: &str) -> Result<Option<Charge>, StoreError> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {CHARGE_COLUMNS} FROM gateway_charges WHERE gateway = ?1 AND charge_id = ?2"
        ))?;
        let mut rows = stmt.query([gateway, charge_id])?;
        rows.next()?.map(charge_from_row).transpose()
    }

    /// Every charge as a month-end prints it: whole but for its metadata (empty), in
    /// charge-id order.
    pub fn charges_to_print(&self) -> Result<Vec<Charge>, StoreError> {
        self.read_charges(&format!(
            "SELECT {CHARGE_COLUMNS_TO_PRINT} FROM gateway_charges ORDER BY charge_id"
        ))
    }

    /// The charges made in `[from, to)`, as [`StoreTx::charges_to_print`] reads them, in
    /// charge-id order.
    pub fn charges_to_print_between(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Charge>, StoreError> {
        self.charges_where(
            CHARGE_COLUMNS_TO_PRINT,
            &AnyOf::none().or_between("created_at", from, to),
        )
    }

    /// `gateway`'s charges with these ids, as [`StoreTx::charges_to_print`] reads them, in
    /// charge-id order.
    pub fn charges_to_print_with_ids(
        &self,
        gateway: &str,
        ids: &[&str],
    ) -> Result<Vec<Charge>, StoreError> {
        self.charges_where(
            CHARGE_COLUMNS_TO_PRINT,
            &AnyOf::none().or_of_gateway(gateway, "charge_id", ids),
        )
    }

    /// The earliest succeeded charge (by creation, then id) that `payment_intent` made, as
    /// [`StoreTx::charges_to_print`] reads it: the charge a ledger entry naming the intent
    /// is about.
    pub fn first_succeeded_charge_of_intent(
        &self,
        payment_intent: &str,
    ) -> Result<Option<Charge>, StoreError> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {CHARGE_COLUMNS_TO_PRINT} FROM gateway_charges
             WHERE payment_intent_id = ?1 AND status = 'succeeded'
             ORDER BY created_at, charge_id LIMIT 1"
        ))?;
        let mut rows = stmt.query([payment_intent])?;
        rows.next()?.map(charge_from_row).transpose()
    }

    fn read_charges(&self, sql: &str) -> Result<Vec<Charge>, StoreError> {
        // Sized once: a Vec grown by doubling holds up to twice the rows, and both its
        // old and new buffers while it moves.
        let count = self.row_count("gateway_charges")?;
        let mut stmt = self.conn().prepare_cached(sql)?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::with_capacity(count);
        while let Some(r) = rows.next()? {
            out.push(charge_from_row(r)?);
        }
        Ok(out)
    }

    /// Every gateway refund, in refund-id order.
    pub fn refunds(&self) -> Result<Vec<GatewayRefund>, StoreError> {
        self.read_refunds(&AnyOf::ALL)
    }

    /// The refunds made in `[from, to)`, in refund-id order.
    pub fn refunds_created_between(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<GatewayRefund>, StoreError> {
        self.read_refunds(&AnyOf::none().or_between("created_at", from, to))
    }

    /// The refunds of the charges made in `[from, to)`, whenever the refunds were made, in
    /// refund-id order.
    pub fn refunds_of_charges_created_between(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<GatewayRefund>, StoreError> {
        self.read_refunds(&AnyOf::none().or_in_made_between(
            "charge_id",
            "charge_id FROM gateway_charges",
            "created_at",
            from,
            to,
        ))
    }

    /// `gateway`'s refunds with these ids, in refund-id order.
    pub fn refunds_with_ids(
        &self,
        gateway: &str,
        ids: &[&str],
    ) -> Result<Vec<GatewayRefund>, StoreError> {
        self.read_refunds(&AnyOf::none().or_of_gateway(gateway, "refund_id", ids))
    }

    /// The refunds of these charges, in refund-id order.
    pub fn refunds_of(&self, charge_ids: &[&str]) -> Result<Vec<GatewayRefund>, StoreError> {
        self.read_refunds(&AnyOf::none().or("charge_id", charge_ids))
    }

    /// The refunds the last scope walk reached, in refund-id order.
    pub fn refunds_in_scope(&self) -> Result<Vec<GatewayRefund>, StoreError> {
        self.read_refunds(&AnyOf::none().or_in_scope("scope_refund"))
    }

    fn read_refunds(&self, filter: &AnyOf) -> Result<Vec<GatewayRefund>, StoreError> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT refund_id, charge_id, amount_minor, currency, status, created_at, metadata
             FROM gateway_refunds WHERE {} ORDER BY refund_id",
            filter.sql()
        ))?;
        let mut rows = stmt.query(filter.params())?;
        let mut out = Vec::with_capacity(self.capacity_for("gateway_refunds", filter)?);
        while let Some(r) = rows.next()? {
            let currency = currency_from_store(&r.get::<_, String>(3)?)?;
            let status: String = r.get(4)?;
            out.push(GatewayRefund {
                id: r.get(0)?,
                charge_id: r.get(1)?,
                amount: Money::from_minor(r.get(2)?, currency),
                status: RefundStatus::parse(&status).ok_or_else(|| StoreError::Corrupt {
                    what: "refund status".into(),
                    detail: status.clone(),
                })?,
                created: timestamp_from_store(r.get(5)?)?,
                metadata: metadata_from_store(&r.get::<_, String>(6)?)?,
            });
        }
        Ok(out)
    }
}
