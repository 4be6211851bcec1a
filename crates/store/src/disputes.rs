//! The gateway's disputes, as a sync stores them: upserted by Stripe's ids like payouts, so
//! a sync run twice changes nothing. The balance they moved is stored as balance
//! transactions beside the others (`payouts`). It never decides what a dispute means for
//! the books (reconciliation does).

use std::sync::OnceLock;

use super::upsert::{Field, TableSql, Upserted};
use super::{ExtraColumns, StoreError, StoreTx, currency_from_store, timestamp_from_store};
use crate::money::Money;
use crate::records::{Dispute, DisputeStatus, Origin};

fn disputes_sql() -> &'static TableSql {
    static SQL: OnceLock<TableSql> = OnceLock::new();
    SQL.get_or_init(|| {
        TableSql::new(
            "gateway_disputes",
            "dispute",
            &["gateway", "dispute_id"],
            &[
                "charge_id",
                "payment_intent",
                "amount_minor",
                "currency",
                "status",
                "reason",
                "created_at",
                "evidence_due_by",
            ],
        )
    })
}

impl StoreTx<'_> {
    pub fn upsert_dispute(
        &self,
        gateway: &str,
        dispute: &Dispute,
        origin: &Origin,
    ) -> Result<Upserted, StoreError> {
        disputes_sql().upsert(
            self,
            &[Field::Text(gateway), Field::Text(&dispute.id)],
            &[
                Field::Text(&dispute.charge_id),
                Field::opt_text(dispute.payment_intent.as_deref()),
                Field::Int(dispute.amount.minor()),
                Field::Text(super::ascii(&dispute.amount.currency().lower_bytes())),
                Field::Text(dispute.status.as_str()),
                Field::Text(&dispute.reason),
                Field::Int(dispute.created.as_second()),
                Field::opt_int(dispute.evidence_due_by.map(|t| t.as_second())),
            ],
            ExtraColumns::NONE,
            origin,
        )
    }

    /// Every dispute of `gateway`, oldest first.
    pub fn disputes(&self, gateway: &str) -> Result<Vec<Dispute>, StoreError> {
        self.read_disputes("WHERE gateway = ?1", gateway)
    }

    /// Disputes a sync must look at again: those not yet decided, oldest first.
    pub fn disputes_to_follow(&self, gateway: &str) -> Result<Vec<Dispute>, StoreError> {
        self.read_disputes(
            "WHERE gateway = ?1 AND status NOT IN ('won', 'lost', 'warning_closed', 'prevented')",
            gateway,
        )
    }

    fn read_disputes(&self, filter: &str, gateway: &str) -> Result<Vec<Dispute>, StoreError> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT dispute_id, charge_id, payment_intent, amount_minor, currency, status, reason,
                    created_at, evidence_due_by
               FROM gateway_disputes {filter}
              ORDER BY created_at, dispute_id"
        ))?;
        let mut rows = stmt.query([gateway])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let id: String = r.get(0)?;
            let currency = currency_from_store(&r.get::<_, String>(4)?)?;
            let status: String = r.get(5)?;
            let status = DisputeStatus::parse(&status).ok_or_else(|| StoreError::Corrupt {
                what: format!("dispute {id}"),
                detail: format!("unknown status {status:?}"),
            })?;
            out.push(Dispute {
                charge_id: r.get(1)?,
                payment_intent: r.get(2)?,
                amount: Money::from_minor(r.get(3)?, currency),
                status,
                reason: r.get(6)?,
                created: timestamp_from_store(r.get(7)?)?,
                evidence_due_by: r
                    .get::<_, Option<i64>>(8)?
                    .map(timestamp_from_store)
                    .transpose()?,
                id,
            });
        }
        Ok(out)
    }
}
