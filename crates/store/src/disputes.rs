//! The gateway's disputes, as a sync stores them: upserted by Stripe's ids like payouts, so
//! a sync run twice changes nothing. The balance they moved is stored as balance
//! transactions beside the others (`payouts`). It never decides what a dispute means for
//! the books (reconciliation does).

use std::sync::OnceLock;

use super::upsert::{Field, TableSql, UpsertOutcome, Upserted};
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

/// How a dispute read from Stripe's payments export is named: the export states a
/// charge's dispute (a charge has at most one) but not the dispute's id.
const EXPORTED_PREFIX: &str = "export:";

/// The id a dispute stated by the payments export is stored under, until a sync brings
/// the dispute itself (which then takes its place).
pub fn exported_dispute_id(charge_id: &str) -> String {
    format!("{EXPORTED_PREFIX}{charge_id}")
}

/// Whether `dispute_id` names a dispute read from an export (no Stripe id known).
pub fn is_exported_dispute(dispute_id: &str) -> bool {
    dispute_id.starts_with(EXPORTED_PREFIX)
}

impl StoreTx<'_> {
    /// Stores a dispute, as the gateway or an export states it. A charge has one dispute:
    /// the gateway's takes the place of what an export said of it, and an export never
    /// overrides the gateway's (its own row is then left as it was, `Unchanged`).
    pub fn upsert_dispute(
        &self,
        gateway: &str,
        dispute: &Dispute,
        origin: &Origin,
    ) -> Result<Upserted, StoreError> {
        if is_exported_dispute(&dispute.id) {
            let synced: bool = self
                .conn()
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM gateway_disputes
                                 WHERE gateway = ?1 AND charge_id = ?2 AND dispute_id <> ?3)",
                )?
                .query_row(
                    rusqlite::params![gateway, dispute.charge_id, dispute.id],
                    |r| r.get(0),
                )?;
            if synced {
                return Ok(Upserted {
                    outcome: UpsertOutcome::Unchanged,
                    previous: None,
                });
            }
        } else {
            self.conn()
                .prepare_cached(
                    "DELETE FROM gateway_disputes WHERE gateway = ?1 AND dispute_id = ?2",
                )?
                .execute(rusqlite::params![
                    gateway,
                    exported_dispute_id(&dispute.charge_id)
                ])?;
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SourceKind, Store};

    fn dispute(id: &str, status: DisputeStatus) -> Dispute {
        let usd = crate::money::Currency::from_code("USD").unwrap();
        Dispute {
            id: id.to_string(),
            charge_id: "ch_1".into(),
            payment_intent: None,
            amount: Money::from_minor(4_900, usd),
            status,
            reason: "fraudulent".into(),
            created: jiff::Timestamp::from_second(1_790_000_000).unwrap(),
            evidence_due_by: None,
        }
    }

    /// A charge has one dispute: what an export stated of it gives way to the gateway's,
    /// and a later export (read before or after a sync) never brings it back beside it.
    #[test]
    fn the_gateways_dispute_takes_the_place_of_what_an_export_stated() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("cg.db")).unwrap();
        let exported = dispute(&exported_dispute_id("ch_1"), DisputeStatus::NeedsResponse);
        let synced = dispute("du_1", DisputeStatus::Lost);
        let ids = store
            .write(|tx| -> Result<_, StoreError> {
                let at = jiff::Timestamp::from_second(1_790_000_100).unwrap();
                let source = tx.begin_source(SourceKind::StripeExport, "p.csv", None, at)?;
                let origin = Origin {
                    source_id: source,
                    line: Some(2),
                };
                let first = tx.upsert_dispute("stripe", &exported, &origin)?;
                assert_eq!(first.outcome, UpsertOutcome::New);
                assert_eq!(tx.disputes_to_follow("stripe")?.len(), 1);
                tx.upsert_dispute("stripe", &synced, &origin)?;
                let after_sync: Vec<String> =
                    tx.disputes("stripe")?.into_iter().map(|d| d.id).collect();
                let again = tx.upsert_dispute("stripe", &exported, &origin)?;
                assert_eq!(again.outcome, UpsertOutcome::Unchanged);
                let after_export: Vec<String> =
                    tx.disputes("stripe")?.into_iter().map(|d| d.id).collect();
                Ok((after_sync, after_export))
            })
            .unwrap();
        assert_eq!(ids.0, vec!["du_1".to_string()]);
        assert_eq!(ids.1, vec!["du_1".to_string()]);
        assert!(is_exported_dispute(&exported.id) && !is_exported_dispute("du_1"));
    }
}
