//! Adjustments: the ledger fixes Chargeguard made, each tied to the action (and key) that
//! made it. Reconciliation applies them on top of the imported ledger; the month-end
//! export hands them to the invoicing app, key and all, so a second import is refused there.

use serde::Serialize;

use super::{AnyOf, StoreError, StoreTx, currency_from_store};
use crate::money::Money;

pub use chargeguard_domain::plan::{Adjustment, AdjustmentKind};

/// An adjustment as stored, with the action and key that made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredAdjustment {
    pub id: i64,
    pub action_id: i64,
    pub idempotency_key: String,
    #[serde(flatten)]
    pub adjustment: Adjustment,
    pub created_at: i64,
}

impl StoreTx<'_> {
    pub fn insert_adjustment(
        &self,
        action_id: i64,
        idempotency_key: &str,
        adjustment: &Adjustment,
        at: jiff::Timestamp,
    ) -> Result<i64, StoreError> {
        self.conn().execute(
            "INSERT INTO adjustments (action_id, idempotency_key, invoice_number, kind, payment_id, gateway_id,
                 amount_minor, currency, effective_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            rusqlite::params![
                action_id,
                idempotency_key,
                adjustment.invoice_number,
                adjustment.kind.as_str(),
                adjustment.payment_id,
                adjustment.gateway_id,
                adjustment.amount.minor(),
                adjustment.amount.currency().lower(),
                adjustment.effective_at,
                at.as_second()
            ],
        )?;
        Ok(self.conn().last_insert_rowid())
    }

    /// Every adjustment, oldest first.
    pub fn adjustments(&self) -> Result<Vec<StoredAdjustment>, StoreError> {
        self.read_adjustments(&AnyOf::ALL)
    }

    /// The adjustments on these invoices or recording these gateway ids, oldest first.
    pub fn adjustments_about(
        &self,
        invoice_numbers: &[&str],
        gateway_ids: &[&str],
    ) -> Result<Vec<StoredAdjustment>, StoreError> {
        self.read_adjustments(
            &AnyOf::none()
                .or("invoice_number", invoice_numbers)
                .or("gateway_id", gateway_ids),
        )
    }

    /// The adjustments the last scope walk reached, oldest first.
    pub fn adjustments_in_scope(&self) -> Result<Vec<StoredAdjustment>, StoreError> {
        self.read_adjustments(&AnyOf::none().or_in_scope("scope_adjustment"))
    }

    fn read_adjustments(&self, filter: &AnyOf) -> Result<Vec<StoredAdjustment>, StoreError> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT id, action_id, idempotency_key, invoice_number, kind, payment_id, gateway_id, amount_minor,
                    currency, effective_at, created_at
             FROM adjustments WHERE {} ORDER BY id",
            filter.sql()
        ))?;
        let mut rows = stmt.query(filter.params())?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let kind: String = r.get(4)?;
            out.push(StoredAdjustment {
                id: r.get(0)?,
                action_id: r.get(1)?,
                idempotency_key: r.get(2)?,
                adjustment: Adjustment {
                    kind: AdjustmentKind::parse(&kind).ok_or_else(|| StoreError::Corrupt {
                        what: "adjustment kind".into(),
                        detail: kind.clone(),
                    })?,
                    invoice_number: r.get(3)?,
                    payment_id: r.get(5)?,
                    gateway_id: r.get(6)?,
                    amount: Money::from_minor(
                        r.get(7)?,
                        currency_from_store(&r.get::<_, String>(8)?)?,
                    ),
                    effective_at: r.get(9)?,
                },
                created_at: r.get(10)?,
            });
        }
        Ok(out)
    }
}
