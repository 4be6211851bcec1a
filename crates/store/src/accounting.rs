//! The accounting systems' objects beside the records they became (schema V18), and the
//! removals a sync from them makes.
//!
//! A QuickBooks invoice is stored under its number; its QuickBooks id is kept here, so a
//! payment applied to that id finds the number, and a deletion of that id finds the row.
//! Removing is the one write an upsert cannot do: a payment deleted or voided in the books
//! leaves the ledger, each removal written to `row_changes` (the field `removed`, the old
//! amount and currency as its value) under the sync's source, and V18's triggers take its
//! money off the chart and make the next reconcile whole.
//!
//! It must never remove a row the accounting system did not write: callers name rows by
//! the keys that system's sync gave them.

use std::collections::HashMap;

use rusqlite::OptionalExtension;

use super::{StoreError, StoreTx};

/// Which accounting system, and which of its companies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Books<'a> {
    /// `quickbooks` or `xero`.
    pub system: &'a str,
    /// The QBO realm or Xero tenant.
    pub company: &'a str,
}

/// Keys per `IN (…)` list.
const CHUNK: usize = 500;

impl StoreTx<'_> {
    /// Notes that `object_id` of `entity` (`invoice`, `payment`) in `books` is stored as
    /// `record_key` (the invoice's number, the payment's id).
    pub fn keep_accounting_object(
        &self,
        books: Books<'_>,
        entity: &str,
        object_id: &str,
        record_key: &str,
    ) -> Result<(), StoreError> {
        self.conn()
            .prepare_cached(
                "INSERT INTO accounting_objects (system, company, entity, object_id, record_key)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (system, company, entity, object_id)
                 DO UPDATE SET record_key = excluded.record_key",
            )?
            .execute([books.system, books.company, entity, object_id, record_key])?;
        Ok(())
    }

    /// The record key of each of `object_ids` that is stored, by object id.
    pub fn accounting_record_keys(
        &self,
        books: Books<'_>,
        entity: &str,
        object_ids: &[&str],
    ) -> Result<HashMap<String, String>, StoreError> {
        let mut out = HashMap::with_capacity(object_ids.len());
        for chunk in object_ids.chunks(CHUNK) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let sql = format!(
                "SELECT object_id, record_key FROM accounting_objects
                 WHERE system = ? AND company = ? AND entity = ? AND object_id IN ({marks})"
            );
            let mut stmt = self.conn().prepare(&sql)?;
            let params = [books.system, books.company, entity]
                .into_iter()
                .chain(chunk.iter().copied());
            let rows = stmt.query_map(rusqlite::params_from_iter(params), |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
            for row in rows {
                let (id, key) = row?;
                out.insert(id, key);
            }
        }
        Ok(out)
    }

    /// The object of `entity` stored as `record_key`, in any system and company, if any:
    /// (system, company, object id).
    pub fn accounting_object_holding(
        &self,
        entity: &str,
        record_key: &str,
    ) -> Result<Option<(String, String, String)>, StoreError> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT system, company, object_id FROM accounting_objects
                 WHERE entity = ?1 AND record_key = ?2
                 ORDER BY system, company, object_id LIMIT 1",
            )?
            .query_row([entity, record_key], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?)
    }

    /// The id in `books` of the object of `entity` stored as `record_key`, if it came from
    /// there (an invoice's QuickBooks id by its number).
    pub fn accounting_object_id(
        &self,
        books: Books<'_>,
        entity: &str,
        record_key: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT object_id FROM accounting_objects
                 WHERE system = ?1 AND company = ?2 AND entity = ?3 AND record_key = ?4
                 ORDER BY object_id LIMIT 1",
            )?
            .query_row([books.system, books.company, entity, record_key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Every object of `entity` kept for `books`, as (object id, record key), by id.
    pub fn accounting_objects(
        &self,
        books: Books<'_>,
        entity: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT object_id, record_key FROM accounting_objects
             WHERE system = ?1 AND company = ?2 AND entity = ?3 ORDER BY object_id",
        )?;
        let rows = stmt.query_map([books.system, books.company, entity], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Forgets `object_id`; true when it was kept.
    pub fn forget_accounting_object(
        &self,
        books: Books<'_>,
        entity: &str,
        object_id: &str,
    ) -> Result<bool, StoreError> {
        Ok(self
            .conn()
            .prepare_cached(
                "DELETE FROM accounting_objects
                 WHERE system = ?1 AND company = ?2 AND entity = ?3 AND object_id = ?4",
            )?
            .execute([books.system, books.company, entity, object_id])?
            > 0)
    }

    /// The payment ids of the ledger entries whose id starts with `prefix`, in order.
    pub fn ledger_payment_ids_starting(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT payment_id FROM ledger_entries
             WHERE payment_id >= ?1 AND payment_id < ?1 || char(1114111) ORDER BY payment_id",
        )?;
        let rows = stmt.query_map([prefix], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Removes the ledger entry `payment_id`, noting it under `source_id`; true when it
    /// was stored.
    pub fn remove_ledger_entry(
        &self,
        payment_id: &str,
        source_id: i64,
    ) -> Result<bool, StoreError> {
        self.remove_row(
            "ledger_entry",
            "SELECT amount_minor || ' ' || currency FROM ledger_entries WHERE payment_id = ?1",
            "DELETE FROM ledger_entries WHERE payment_id = ?1",
            payment_id,
            source_id,
        )
    }

    /// Removes the invoice `number`, noting it under `source_id`; true when it was stored.
    /// Its ledger entries stay (another source may have written them).
    pub fn remove_invoice(&self, number: &str, source_id: i64) -> Result<bool, StoreError> {
        self.remove_row(
            "invoice",
            "SELECT amount_minor || ' ' || currency FROM invoices WHERE invoice_number = ?1",
            "DELETE FROM invoices WHERE invoice_number = ?1",
            number,
            source_id,
        )
    }

    /// Moves the invoice `old` to the number `new` (its number changed in the accounting
    /// system), with the ledger entries of that system on it (`ledger_prefix`), noting it
    /// under `source_id`. When `new` is already stored (another source's row), the old row
    /// is removed instead and the caller's upsert takes `new` over.
    pub fn renumber_invoice(
        &self,
        old: &str,
        new: &str,
        ledger_prefix: &str,
        source_id: i64,
    ) -> Result<(), StoreError> {
        let taken: bool = self
            .conn()
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM invoices WHERE invoice_number = ?1)")?
            .query_row([new], |r| r.get(0))?;
        if taken {
            self.remove_invoice(old, source_id)?;
        } else {
            self.conn()
                .prepare_cached(
                    "UPDATE invoices SET invoice_number = ?2 WHERE invoice_number = ?1",
                )?
                .execute([old, new])?;
            self.conn()
                .prepare_cached(
                    "INSERT INTO row_changes (source_id, entity, entity_key, field, old_value, new_value)
                     VALUES (?1, 'invoice', ?3, 'invoice_number', ?2, ?3)",
                )?
                .execute(rusqlite::params![source_id, old, new])?;
        }
        self.conn()
            .prepare_cached(
                "UPDATE ledger_entries SET invoice_number = ?2
                 WHERE invoice_number = ?1 AND payment_id >= ?3 AND payment_id < ?3 || char(1114111)",
            )?
            .execute([old, new, ledger_prefix])?;
        Ok(())
    }

    fn remove_row(
        &self,
        entity: &str,
        read: &str,
        delete: &str,
        key: &str,
        source_id: i64,
    ) -> Result<bool, StoreError> {
        let old: Option<String> = self
            .conn()
            .prepare_cached(read)?
            .query_row([key], |r| r.get(0))
            .optional()?;
        let Some(old) = old else {
            return Ok(false);
        };
        self.conn().prepare_cached(delete)?.execute([key])?;
        self.conn()
            .prepare_cached(
                "INSERT INTO row_changes (source_id, entity, entity_key, field, old_value, new_value)
                 VALUES (?1, ?2, ?3, 'removed', ?4, NULL)",
            )?
            .execute(rusqlite::params![source_id, entity, key, old])?;
        Ok(true)
    }
}
