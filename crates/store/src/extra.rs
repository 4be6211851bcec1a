//! A row's extra columns: the cells of a file that no layout reads, kept with the row.
//!
//! A wide export (Stripe's has some forty columns we do not read) would otherwise repeat
//! every header name on every row. So the header is stored once, as a *column set*: the
//! sorted names of a file's extra columns, one `column_sets` row per distinct list, shared
//! by every import with that header. Each row keeps the set's id and its values as a JSON
//! array in the set's order, `""` for an empty cell, trailing empty cells left off:
//! `["Payment complete.","33.50","","usd"]`. Because the names are sorted, a re-export that
//! only reorders its columns writes the same set and the same text; and where two sets
//! differ, rows are compared by what they say ({name: value}), never by their text.
//! [`StoreTx::extra_columns`] reads a row's extra back as {name: value}.

use std::collections::BTreeMap;

use rusqlite::OptionalExtension;

use super::{StoreError, StoreTx};

/// A row's extra columns as the store keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtraColumns<'a> {
    /// The column set the values are in; `None` when the row has no extra columns.
    pub set: Option<i64>,
    /// A JSON array of strings, in the set's order (see the module's doc).
    pub values: &'a str,
}

impl ExtraColumns<'static> {
    /// No extra columns (a row from a sync, or from a file without extra columns).
    pub const NONE: ExtraColumns<'static> = ExtraColumns {
        set: None,
        values: "[]",
    };
}

/// Which stored row, for [`StoreTx::extra_columns`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredRow<'a> {
    Invoice(&'a str),
    LedgerEntry(&'a str),
    Charge { gateway: &'a str, id: &'a str },
    Refund { gateway: &'a str, id: &'a str },
}

fn corrupt(detail: impl ToString) -> StoreError {
    StoreError::Corrupt {
        what: "extra columns".into(),
        detail: detail.to_string(),
    }
}

impl StoreTx<'_> {
    /// The id of the column set `names` (sorted, as [`ExtraColumns`] needs), added when
    /// the store does not have it yet; `None` for no names.
    pub fn column_set(&self, names: &[String]) -> Result<Option<i64>, StoreError> {
        if names.is_empty() {
            return Ok(None);
        }
        debug_assert!(names.is_sorted(), "a column set is sorted");
        let json = serde_json::to_string(names).map_err(corrupt)?;
        let found: Option<i64> = self
            .conn()
            .prepare_cached("SELECT id FROM column_sets WHERE names = ?1")?
            .query_row([&json], |r| r.get(0))
            .optional()?;
        if let Some(id) = found {
            return Ok(Some(id));
        }
        self.conn()
            .prepare_cached("INSERT INTO column_sets (names) VALUES (?1)")?
            .execute([&json])?;
        Ok(Some(self.conn().last_insert_rowid()))
    }

    /// The names of column set `id`.
    fn column_set_names(&self, id: i64) -> Result<Vec<String>, StoreError> {
        let json: String = self
            .conn()
            .prepare_cached("SELECT names FROM column_sets WHERE id = ?1")?
            .query_row([id], |r| r.get(0))?;
        serde_json::from_str(&json).map_err(corrupt)
    }

    /// Extra columns as {name: value}, non-empty values only.
    fn extra_map(&self, extra: ExtraColumns<'_>) -> Result<BTreeMap<String, String>, StoreError> {
        let values: Vec<String> = serde_json::from_str(extra.values).map_err(corrupt)?;
        let Some(set) = extra.set else {
            return if values.iter().all(String::is_empty) {
                Ok(BTreeMap::new())
            } else {
                Err(corrupt("values without a column set"))
            };
        };
        let names = self.column_set_names(set)?;
        if values.len() > names.len() {
            return Err(corrupt(format!(
                "{} values for the {} columns of set {set}",
                values.len(),
                names.len()
            )));
        }
        Ok(names
            .into_iter()
            .zip(values)
            .filter(|(_, v)| !v.is_empty())
            .collect())
    }

    /// The extra columns of a stored row as {header: value}, non-empty cells only; empty
    /// when the row is not stored or has none.
    pub fn extra_columns(
        &self,
        row: StoredRow<'_>,
    ) -> Result<BTreeMap<String, String>, StoreError> {
        let (sql, keys): (&str, &[&str]) = match &row {
            StoredRow::Invoice(number) => (
                "SELECT extra_columns, extra FROM invoices WHERE invoice_number = ?1",
                std::slice::from_ref(number),
            ),
            StoredRow::LedgerEntry(id) => (
                "SELECT extra_columns, extra FROM ledger_entries WHERE payment_id = ?1",
                std::slice::from_ref(id),
            ),
            StoredRow::Charge { gateway, id } => (
                "SELECT extra_columns, extra FROM gateway_charges WHERE gateway = ?1 AND charge_id = ?2",
                &[*gateway, *id],
            ),
            StoredRow::Refund { gateway, id } => (
                "SELECT extra_columns, extra FROM gateway_refunds WHERE gateway = ?1 AND refund_id = ?2",
                &[*gateway, *id],
            ),
        };
        let stored: Option<(Option<i64>, String)> = self
            .conn()
            .prepare_cached(sql)?
            .query_row(rusqlite::params_from_iter(keys), |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        match stored {
            Some((set, values)) => self.extra_map(ExtraColumns {
                set,
                values: &values,
            }),
            None => Ok(BTreeMap::new()),
        }
    }
}

/// Whether two rows' extra columns say the same, whatever their sets.
pub(super) fn same_extra(
    tx: &StoreTx<'_>,
    a: ExtraColumns<'_>,
    b: ExtraColumns<'_>,
) -> Result<bool, StoreError> {
    if a.set == b.set {
        return Ok(a.values == b.values);
    }
    Ok(tx.extra_map(a)? == tx.extra_map(b)?)
}

/// Extra columns as a JSON object {name: value}, for `row_changes`.
pub(super) fn extra_map_json(
    tx: &StoreTx<'_>,
    extra: ExtraColumns<'_>,
) -> Result<String, StoreError> {
    serde_json::to_string(&tx.extra_map(extra)?).map_err(corrupt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{Invoice, InvoiceStatus, Origin};
    use crate::{SourceKind, Store};

    #[test]
    fn extra_columns_read_back_as_header_and_value() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("cg.db")).unwrap();
        let usd = crate::money::Currency::from_code("USD").unwrap();
        let read = store
            .write(|tx| -> Result<_, StoreError> {
                let at = jiff::Timestamp::from_second(1_790_000_000).unwrap();
                let source = tx.begin_source(SourceKind::Invoices, "i.csv", None, at)?;
                let names = [
                    "Region".to_string(),
                    "Sales \"rep\"".to_string(),
                    "Team".into(),
                ];
                let set = tx.column_set(&names)?;
                assert_eq!(tx.column_set(&names)?, set, "one set per header");
                let invoice = Invoice {
                    number: "INV-1".into(),
                    customer_id: "c1".into(),
                    amount: crate::money::Money::from_minor(500, usd),
                    issued_at: at,
                    due_at: None,
                    status: InvoiceStatus::Open,
                    order_ref: None,
                    gateway_invoice_id: None,
                    stated_paid: None,
                    paid_at: None,
                };
                let extra = ExtraColumns {
                    set,
                    values: r#"["","Maya \"M\" Ö"]"#,
                };
                let origin = Origin {
                    source_id: source,
                    line: Some(2),
                };
                tx.upsert_invoice(&invoice, extra, &origin)?;
                tx.extra_columns(StoredRow::Invoice("INV-1"))
            })
            .unwrap();
        assert_eq!(
            read,
            BTreeMap::from([("Sales \"rep\"".to_string(), "Maya \"M\" Ö".to_string())])
        );
    }
}
