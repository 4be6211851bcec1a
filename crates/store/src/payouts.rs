//! The gateway's payouts and the balance transactions each took to the bank, as a sync
//! stores them: upserted by Stripe's ids like charges, so a sync run twice changes nothing.
//! It never decides whether a payout reached the bank (reconciliation does).

use std::sync::OnceLock;

use jiff::Timestamp;

use serde::Serialize;

use super::upsert::{Field, TableSql, Upserted};
use super::{ExtraColumns, StoreError, StoreTx, currency_from_store, timestamp_from_store};
use crate::money::Money;
use crate::records::{BalanceTransaction, Origin, Payout, PayoutStatus};

fn payouts_sql() -> &'static TableSql {
    static SQL: OnceLock<TableSql> = OnceLock::new();
    SQL.get_or_init(|| {
        TableSql::new(
            "gateway_payouts",
            "payout",
            &["gateway", "payout_id"],
            &[
                "amount_minor",
                "currency",
                "status",
                "automatic",
                "created_at",
                "arrival_date",
                "failure_code",
            ],
        )
    })
}

fn transactions_sql() -> &'static TableSql {
    static SQL: OnceLock<TableSql> = OnceLock::new();
    SQL.get_or_init(|| {
        TableSql::new(
            "gateway_balance_transactions",
            "balance_transaction",
            &["gateway", "txn_id"],
            &[
                "type",
                "amount_minor",
                "fee_minor",
                "net_minor",
                "currency",
                "created_at",
                "available_on",
                "source_object_id",
                "payout_id",
            ],
        )
    })
}

/// A payout as the payouts list shows it: with what its balance transactions add up to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PayoutRow {
    pub payout: Payout,
    /// Its balance transactions stored, its own (the payout's debit) left out.
    pub transactions: u64,
    /// What those transactions add up to: the payout's amount once all are listed.
    pub transactions_net: Money,
    /// Whether every transaction it took to the bank is stored (the sync listed them to
    /// the end once the payout could change no more).
    pub transactions_listed: bool,
    /// The fees of those transactions, together.
    pub transactions_fee: Money,
    /// What disputes took from (or, won, gave back to) this payout: the amounts of its
    /// dispute transactions, their fees counted with the fees.
    pub transactions_disputed: Money,
}

impl StoreTx<'_> {
    pub fn upsert_payout(
        &self,
        gateway: &str,
        payout: &Payout,
        origin: &Origin,
    ) -> Result<Upserted, StoreError> {
        payouts_sql().upsert(
            self,
            &[Field::Text(gateway), Field::Text(&payout.id)],
            &[
                Field::Int(payout.amount.minor()),
                Field::Text(super::ascii(&payout.amount.currency().lower_bytes())),
                Field::Text(payout.status.as_str()),
                Field::Int(i64::from(payout.automatic)),
                Field::Int(payout.created.as_second()),
                Field::Int(payout.arrival_date.as_second()),
                Field::opt_text(payout.failure_code.as_deref()),
            ],
            ExtraColumns::NONE,
            origin,
        )
    }

    pub fn upsert_balance_transaction(
        &self,
        gateway: &str,
        txn: &BalanceTransaction,
        origin: &Origin,
    ) -> Result<Upserted, StoreError> {
        debug_assert_eq!(
            txn.amount.checked_sub(txn.fee).ok(),
            Some(txn.net),
            "a balance transaction's net is its amount less its fee"
        );
        transactions_sql().upsert(
            self,
            &[Field::Text(gateway), Field::Text(&txn.id)],
            &[
                Field::Text(&txn.kind),
                Field::Int(txn.amount.minor()),
                Field::Int(txn.fee.minor()),
                Field::Int(txn.net.minor()),
                Field::Text(super::ascii(&txn.amount.currency().lower_bytes())),
                Field::Int(txn.created.as_second()),
                Field::Int(txn.available_on.as_second()),
                Field::opt_text(txn.source.as_deref()),
                Field::opt_text(txn.payout.as_deref()),
            ],
            ExtraColumns::NONE,
            origin,
        )
    }

    /// Payouts a sync must look at again: those that may still change (pending, in
    /// transit), and automatic ones whose transactions were not listed to the end once
    /// they could change no more. Oldest first. Only payouts a sync brought in: one from
    /// Stripe's files may be another account's, which this gateway would not know.
    pub fn payouts_to_follow(&self, gateway: &str) -> Result<Vec<Payout>, StoreError> {
        self.read_payouts(
            "WHERE p.gateway = ?1
               AND p.source_id IN (SELECT id FROM sources WHERE kind = 'stripe_sync')
               AND (p.status IN ('pending', 'in_transit')
                OR (p.automatic = 1 AND NOT EXISTS (SELECT 1 FROM payout_transactions_listed l
                     WHERE l.gateway = p.gateway AND l.payout_id = p.payout_id)))
             ORDER BY p.created_at, p.payout_id",
            gateway,
        )
        .map(|rows| rows.into_iter().map(|r| r.payout).collect())
    }

    /// Records that every transaction of a settled payout is stored; whether it was news.
    pub fn mark_payout_transactions_listed(
        &self,
        gateway: &str,
        payout_id: &str,
    ) -> Result<bool, StoreError> {
        let added = self.conn().execute(
            "INSERT INTO payout_transactions_listed (gateway, payout_id) VALUES (?1, ?2)
             ON CONFLICT DO NOTHING",
            [gateway, payout_id],
        )?;
        Ok(added == 1)
    }

    /// The kind of source (`stripe_sync`, `stripe_export`) that last stored the payout or
    /// balance transaction (`what`) `id` of `gateway`, if it is stored.
    pub fn stored_from(
        &self,
        gateway: &str,
        what: &str,
        id: &str,
    ) -> Result<Option<String>, StoreError> {
        use rusqlite::OptionalExtension;
        let sql = match what {
            "payout" => {
                "SELECT s.kind FROM gateway_payouts p JOIN sources s ON s.id = p.source_id
                  WHERE p.gateway = ?1 AND p.payout_id = ?2"
            }
            _ => {
                "SELECT s.kind FROM gateway_balance_transactions t JOIN sources s ON s.id = t.source_id
                  WHERE t.gateway = ?1 AND t.txn_id = ?2"
            }
        };
        Ok(self
            .conn()
            .prepare_cached(sql)?
            .query_row([gateway, id], |r| r.get(0))
            .optional()?)
    }

    /// One stored balance transaction of `gateway`.
    pub fn balance_transaction(
        &self,
        gateway: &str,
        id: &str,
    ) -> Result<Option<BalanceTransaction>, StoreError> {
        Ok(self
            .read_balance_transactions("WHERE gateway = ?1 AND txn_id = ?2", &[&gateway, &id])?
            .into_iter()
            .next())
    }

    /// Every payout of `gateway`, newest arrival first, with its transactions' total.
    pub fn payouts(&self, gateway: &str) -> Result<Vec<PayoutRow>, StoreError> {
        self.read_payouts(
            "WHERE p.gateway = ?1 ORDER BY p.arrival_date DESC, p.payout_id DESC",
            gateway,
        )
    }

    fn read_payouts(&self, filter: &str, gateway: &str) -> Result<Vec<PayoutRow>, StoreError> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT p.payout_id, p.amount_minor, p.currency, p.status, p.automatic,
                    p.created_at, p.arrival_date, p.failure_code,
                    (SELECT count(*) FROM gateway_balance_transactions t
                      WHERE t.gateway = p.gateway AND t.payout_id = p.payout_id
                        AND t.source_object_id IS NOT p.payout_id),
                    (SELECT coalesce(sum(t.net_minor), 0) FROM gateway_balance_transactions t
                      WHERE t.gateway = p.gateway AND t.payout_id = p.payout_id
                        AND t.source_object_id IS NOT p.payout_id),
                    EXISTS (SELECT 1 FROM payout_transactions_listed l
                             WHERE l.gateway = p.gateway AND l.payout_id = p.payout_id),
                    (SELECT coalesce(sum(t.fee_minor), 0) FROM gateway_balance_transactions t
                      WHERE t.gateway = p.gateway AND t.payout_id = p.payout_id
                        AND t.source_object_id IS NOT p.payout_id),
                    (SELECT coalesce(sum(t.amount_minor), 0) FROM gateway_balance_transactions t
                      WHERE t.gateway = p.gateway AND t.payout_id = p.payout_id
                        AND (t.type IN ('dispute', 'dispute_reversal')
                             OR t.source_object_id LIKE 'du\\_%' ESCAPE '\\'
                             OR t.source_object_id LIKE 'dp\\_%' ESCAPE '\\'))
               FROM gateway_payouts p {filter}"
        ))?;
        let mut rows = stmt.query([gateway])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let currency = currency_from_store(&r.get::<_, String>(2)?)?;
            let status: String = r.get(3)?;
            let status = PayoutStatus::parse(&status).ok_or_else(|| StoreError::Corrupt {
                what: "payout status".into(),
                detail: status,
            })?;
            out.push(PayoutRow {
                payout: Payout {
                    id: r.get(0)?,
                    amount: Money::from_minor(r.get(1)?, currency),
                    status,
                    automatic: r.get::<_, i64>(4)? == 1,
                    created: timestamp_from_store(r.get(5)?)?,
                    arrival_date: timestamp_from_store(r.get(6)?)?,
                    failure_code: r.get(7)?,
                },
                transactions: r.get::<_, i64>(8)?.try_into().unwrap_or(0),
                transactions_net: Money::from_minor(r.get(9)?, currency),
                transactions_listed: r.get(10)?,
                transactions_fee: Money::from_minor(r.get(11)?, currency),
                transactions_disputed: Money::from_minor(r.get(12)?, currency),
            });
        }
        Ok(out)
    }

    /// For each of Stripe's files that brought payouts of `gateway` in (not a sync), the
    /// first and last creation instants of its payouts.
    pub fn payout_spans_of_files(
        &self,
        gateway: &str,
    ) -> Result<Vec<(Timestamp, Timestamp)>, StoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT min(p.created_at), max(p.created_at) FROM gateway_payouts p
               JOIN sources s ON s.id = p.source_id
              WHERE p.gateway = ?1 AND s.kind = 'stripe_export'
              GROUP BY p.source_id ORDER BY p.source_id",
        )?;
        let mut rows = stmt.query([gateway])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push((
                timestamp_from_store(r.get(0)?)?,
                timestamp_from_store(r.get(1)?)? + jiff::SignedDuration::from_secs(1),
            ));
        }
        Ok(out)
    }

    /// Every balance transaction of `gateway`, oldest first.
    pub fn balance_transactions(
        &self,
        gateway: &str,
    ) -> Result<Vec<BalanceTransaction>, StoreError> {
        self.read_balance_transactions("WHERE gateway = ?1", &[&gateway])
    }

    /// The balance transactions of `gateway` created at or after `from` and before `to`,
    /// oldest first (then by id): one period's movements of the Stripe balance.
    pub fn balance_transactions_created_between(
        &self,
        gateway: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<BalanceTransaction>, StoreError> {
        self.read_balance_transactions(
            "WHERE gateway = ?1 AND created_at >= ?2 AND created_at < ?3",
            &[&gateway, &from.as_second(), &to.as_second()],
        )
    }

    /// Per currency (lower-case code order), what the `net` of `gateway`'s balance
    /// transactions created before `before` adds up to: the Stripe balance at that instant
    /// as its stored transactions tell it. One sum per currency, no row read into memory.
    /// Only currencies with at least one such transaction are listed.
    pub fn balance_net_before(
        &self,
        gateway: &str,
        before: Timestamp,
    ) -> Result<Vec<Money>, StoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT currency, sum(net_minor) FROM gateway_balance_transactions
              WHERE gateway = ?1 AND created_at < ?2
              GROUP BY currency ORDER BY currency",
        )?;
        let mut rows = stmt.query(rusqlite::params![gateway, before.as_second()])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let currency = currency_from_store(&r.get::<_, String>(0)?)?;
            out.push(Money::from_minor(r.get(1)?, currency));
        }
        Ok(out)
    }

    /// What every stored balance transaction of `gateway` adds up to, per currency: where
    /// the gateway's balance stands by the store (a sync checks it against Stripe's).
    pub fn balance_net_by_currency(
        &self,
        gateway: &str,
    ) -> Result<std::collections::BTreeMap<crate::money::Currency, i64>, StoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT currency, SUM(net_minor) FROM gateway_balance_transactions
              WHERE gateway = ?1 GROUP BY currency",
        )?;
        let mut rows = stmt.query([gateway])?;
        let mut out = std::collections::BTreeMap::new();
        while let Some(r) = rows.next()? {
            out.insert(currency_from_store(&r.get::<_, String>(0)?)?, r.get(1)?);
        }
        Ok(out)
    }

    /// The balance transactions of `gateway` that came from these objects (a dispute's
    /// withdrawal and reversal), oldest first.
    pub fn balance_transactions_from(
        &self,
        gateway: &str,
        sources: &[&str],
    ) -> Result<Vec<BalanceTransaction>, StoreError> {
        let sources = serde_json::to_string(sources).map_err(|e| StoreError::Corrupt {
            what: "balance transaction sources".into(),
            detail: e.to_string(),
        })?;
        self.read_balance_transactions(
            "WHERE gateway = ?1 AND source_object_id IN (SELECT value FROM json_each(?2))",
            &[&gateway, &sources],
        )
    }

    /// The balance transactions payout `payout_id` took to the bank (its own debit left
    /// out), oldest first.
    pub fn balance_transactions_of_payout(
        &self,
        gateway: &str,
        payout_id: &str,
    ) -> Result<Vec<BalanceTransaction>, StoreError> {
        self.read_balance_transactions(
            "WHERE gateway = ?1 AND payout_id = ?2 AND source_object_id IS NOT ?2",
            &[&gateway, &payout_id],
        )
    }

    fn read_balance_transactions(
        &self,
        filter: &str,
        params: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<BalanceTransaction>, StoreError> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT txn_id, type, amount_minor, fee_minor, net_minor, currency, created_at,
                    available_on, source_object_id, payout_id
               FROM gateway_balance_transactions {filter}
              ORDER BY created_at, txn_id"
        ))?;
        let mut rows = stmt.query(params)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let currency = currency_from_store(&r.get::<_, String>(5)?)?;
            out.push(BalanceTransaction {
                id: r.get(0)?,
                kind: r.get(1)?,
                amount: Money::from_minor(r.get(2)?, currency),
                fee: Money::from_minor(r.get(3)?, currency),
                net: Money::from_minor(r.get(4)?, currency),
                created: timestamp_from_store(r.get(6)?)?,
                available_on: timestamp_from_store(r.get(7)?)?,
                source: r.get(8)?,
                payout: r.get(9)?,
            });
        }
        Ok(out)
    }
}
