//! Insert-or-compare for imported rows: the mechanism behind idempotent imports.
//!
//! A row is looked up by its natural key. Absent: inserted (new). Present with the same
//! values: left alone, its origin too (unchanged). Present with other values: updated, its
//! origin moved to the new source, and each changed field written to `row_changes` so the
//! bookkeeper can see what the source said before. Either way the caller learns the stored
//! row's origin, which is how an import tells a key repeated within its own file.
//!
//! This runs once per row of a file of millions, so it builds no SQL and no owned value per
//! row: the statements are built once per table and cached, the row's values are borrowed
//! ([`Field`]) and compared with the stored ones in place. Each transaction guesses whether
//! the next row is new from the last one: a first import tries the `INSERT … ON CONFLICT DO
//! NOTHING` first (one index probe when new), a re-import the `SELECT` first.
//!
//! A re-import also guesses where the next row is stored: a file's rows were stored in its
//! order, so the row after the last one found usually sits at the next rowid. That row is
//! read by rowid (its pages are the ones just read) and used only when its key is the
//! row's; otherwise the key's unique index finds it, as it always can. On an unchanged
//! re-import of a million random Stripe ids, this turns a random probe of the index and
//! of the table per row into a walk along the table.

use rusqlite::ToSql;
use rusqlite::types::{ToSqlOutput, ValueRef};
use serde::Serialize;

use super::extra::{ExtraColumns, extra_map_json, same_extra};
use super::{StoreError, StoreTx};
use crate::records::Origin;

/// What importing one row did to the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "changes", rename_all = "snake_case")]
pub enum UpsertOutcome {
    New,
    Unchanged,
    Changed(Vec<FieldChange>),
}

/// What an upsert did, and where the row it found had come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upserted {
    pub outcome: UpsertOutcome,
    /// The stored row's origin before this upsert; `None` when the row is new.
    pub previous: Option<Origin>,
}

/// One field of a stored row that an import changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: &'static str,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// One value of a row, borrowed from the record it describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field<'a> {
    Null,
    Int(i64),
    Text(&'a str),
}

impl<'a> Field<'a> {
    pub fn opt_text(s: Option<&'a str>) -> Field<'a> {
        s.map_or(Field::Null, Field::Text)
    }

    pub fn opt_int(i: Option<i64>) -> Field<'a> {
        i.map_or(Field::Null, Field::Int)
    }

    /// Whether the stored value `stored` is this one.
    fn is(&self, stored: ValueRef<'_>) -> bool {
        match (self, stored) {
            (Field::Null, ValueRef::Null) => true,
            (Field::Int(a), ValueRef::Integer(b)) => *a == b,
            (Field::Text(a), ValueRef::Text(b)) => a.as_bytes() == b,
            _ => false,
        }
    }

    fn text(&self) -> Option<String> {
        match self {
            Field::Null => None,
            Field::Int(i) => Some(i.to_string()),
            Field::Text(t) => Some((*t).to_string()),
        }
    }
}

impl ToSql for Field<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Field::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Field::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Field::Text(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
        })
    }
}

fn stored_text(value: ValueRef<'_>) -> Option<String> {
    match value {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(r) => Some(r.to_string()),
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Some(hex::encode(b)),
    }
}

/// What an upsert found stored under a row's key.
struct Stored {
    previous: Origin,
    /// The fields whose stored value differs (the extra columns are compared apart).
    changes: Vec<FieldChange>,
    /// The stored extra columns, when not byte-for-byte the row's (they may still mean the
    /// same: the column sets are compared by name).
    stored_extra: Option<(Option<i64>, String)>,
    rowid: i64,
}

/// The statements for one table, built once. Every table an import fills ends with the
/// row's extra columns (`extra_columns`, `extra`) and its origin (`source_id`,
/// `source_line`).
pub(super) struct TableSql {
    pub entity: &'static str,
    table: &'static str,
    select: String,
    /// The same columns as `select`, of the row at a given rowid, then its key.
    select_at: String,
    insert: String,
    update: String,
    keys: usize,
    fields: &'static [&'static str],
}

impl TableSql {
    pub fn new(
        table: &'static str,
        entity: &'static str,
        keys: &'static [&'static str],
        fields: &'static [&'static str],
    ) -> TableSql {
        let key_match: Vec<String> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{k} = ?{}", i + 1))
            .collect();
        let key_match = key_match.join(" AND ");
        let tail = ["extra_columns", "extra", "source_id", "source_line"];
        let stored: Vec<&str> = fields.iter().copied().chain(tail).collect();
        // The stored values, then the row's rowid (the next row's guess).
        let select = format!(
            "SELECT {}, rowid FROM {table} WHERE {key_match}",
            stored.join(", ")
        );
        let select_at = format!(
            "SELECT {}, rowid, {} FROM {table} WHERE rowid = ?1",
            stored.join(", "),
            keys.join(", ")
        );
        let all: Vec<&str> = keys.iter().copied().chain(stored.iter().copied()).collect();
        let placeholders: Vec<String> = (1..=all.len()).map(|i| format!("?{i}")).collect();
        let insert = format!(
            "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({}) DO NOTHING",
            all.join(", "),
            placeholders.join(", "),
            keys.join(", ")
        );
        let sets: Vec<String> = stored
            .iter()
            .enumerate()
            .map(|(i, f)| format!("{f} = ?{}", keys.len() + i + 1))
            .collect();
        let update = format!("UPDATE {table} SET {} WHERE {key_match}", sets.join(", "));
        TableSql {
            entity,
            table,
            select,
            select_at,
            insert,
            update,
            keys: keys.len(),
            fields,
        }
    }

    /// Binds key, values, extra and origin in the order of the insert and the update.
    fn bind_all(
        &self,
        stmt: &mut rusqlite::CachedStatement<'_>,
        key: &[Field<'_>],
        values: &[Field<'_>],
        extra: ExtraColumns<'_>,
        origin: &Origin,
    ) -> Result<(), StoreError> {
        let mut i = 1;
        for v in key.iter().chain(values) {
            stmt.raw_bind_parameter(i, v)?;
            i += 1;
        }
        stmt.raw_bind_parameter(i, extra.set)?;
        stmt.raw_bind_parameter(i + 1, extra.values)?;
        stmt.raw_bind_parameter(i + 2, origin.source_id)?;
        stmt.raw_bind_parameter(i + 3, origin.line.map(|l| l as i64))?;
        Ok(())
    }

    fn try_insert(
        &self,
        tx: &StoreTx<'_>,
        key: &[Field<'_>],
        values: &[Field<'_>],
        extra: ExtraColumns<'_>,
        origin: &Origin,
    ) -> Result<bool, StoreError> {
        let mut stmt = tx.conn().prepare_cached(&self.insert)?;
        self.bind_all(&mut stmt, key, values, extra, origin)?;
        Ok(stmt.raw_execute()? == 1)
    }

    /// The stored row with key `key`: at `rowid` when given (and only if its key is `key`),
    /// else found through the key's unique index.
    fn stored(
        &self,
        tx: &StoreTx<'_>,
        rowid: Option<i64>,
        key: &[Field<'_>],
        values: &[Field<'_>],
        extra: ExtraColumns<'_>,
    ) -> Result<Option<Stored>, StoreError> {
        let mut select = tx.conn().prepare_cached(if rowid.is_some() {
            &self.select_at
        } else {
            &self.select
        })?;
        match rowid {
            Some(rowid) => select.raw_bind_parameter(1, rowid)?,
            None => {
                for (i, k) in key.iter().enumerate() {
                    select.raw_bind_parameter(i + 1, k)?;
                }
            }
        }
        let mut rows = select.raw_query();
        let Some(row) = rows.next()? else {
            return Ok(None);
        };
        if rowid.is_some() {
            let key_at = self.fields.len() + 5;
            for (i, k) in key.iter().enumerate() {
                if !k.is(row.get_ref(key_at + i)?) {
                    return Ok(None);
                }
            }
        }
        self.compare(row, values, extra).map(Some)
    }

    /// Compares a stored row (the columns of `select`) with `values` and `extra`.
    fn compare(
        &self,
        row: &rusqlite::Row<'_>,
        values: &[Field<'_>],
        extra: ExtraColumns<'_>,
    ) -> Result<Stored, StoreError> {
        let n = self.fields.len();
        let previous = Origin {
            source_id: row.get(n + 2)?,
            line: row.get::<_, Option<i64>>(n + 3)?.map(|l| l as u64),
        };
        let mut changes = Vec::new();
        for (i, value) in values.iter().enumerate() {
            let stored = row.get_ref(i)?;
            if !value.is(stored) {
                changes.push(FieldChange {
                    field: self.fields[i],
                    old: stored_text(stored),
                    new: value.text(),
                });
            }
        }
        let stored_set: Option<i64> = row.get(n)?;
        let stored_values = row.get_ref(n + 1)?.as_str().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(
                n + 1,
                rusqlite::types::Type::Text,
                Box::new(e),
            )
        })?;
        let extra_same = stored_set == extra.set && stored_values == extra.values;
        Ok(Stored {
            previous,
            changes,
            stored_extra: (!extra_same).then(|| (stored_set, stored_values.to_string())),
            rowid: row.get(n + 4)?,
        })
    }

    /// Inserts, leaves or updates the row with key `key` and values `values` (in the
    /// order of `fields`).
    pub fn upsert(
        &self,
        tx: &StoreTx<'_>,
        key: &[Field<'_>],
        values: &[Field<'_>],
        extra: ExtraColumns<'_>,
        origin: &Origin,
    ) -> Result<Upserted, StoreError> {
        debug_assert_eq!(key.len(), self.keys);
        debug_assert_eq!(values.len(), self.fields.len());
        let new = Upserted {
            outcome: UpsertOutcome::New,
            previous: None,
        };
        if tx.expect_new.get() && self.try_insert(tx, key, values, extra, origin)? {
            return Ok(new);
        }
        let at_next = match tx.next_rowid(self.table) {
            Some(rowid) => self.stored(tx, Some(rowid), key, values, extra)?,
            None => None,
        };
        let stored = match at_next {
            Some(stored) => stored,
            None => match self.stored(tx, None, key, values, extra)? {
                Some(stored) => stored,
                None => {
                    tx.expect_new.set(true);
                    if self.try_insert(tx, key, values, extra, origin)? {
                        return Ok(new);
                    }
                    unreachable!("a key absent a moment ago in this transaction is absent now");
                }
            },
        };
        tx.expect_new.set(false);
        tx.set_next_rowid(self.table, stored.rowid + 1);
        let Stored {
            previous,
            mut changes,
            stored_extra,
            ..
        } = stored;
        if let Some((set, values)) = stored_extra {
            let stored = ExtraColumns {
                set,
                values: &values,
            };
            if !same_extra(tx, stored, extra)? {
                changes.push(FieldChange {
                    field: "extra",
                    old: Some(extra_map_json(tx, stored)?),
                    new: Some(extra_map_json(tx, extra)?),
                });
            }
        }
        if changes.is_empty() {
            return Ok(Upserted {
                outcome: UpsertOutcome::Unchanged,
                previous: Some(previous),
            });
        }
        let mut update = tx.conn().prepare_cached(&self.update)?;
        self.bind_all(&mut update, key, values, extra, origin)?;
        update.raw_execute()?;
        let key_text = key
            .iter()
            .filter_map(Field::text)
            .collect::<Vec<_>>()
            .join("/");
        let mut record = tx.conn().prepare_cached(
            "INSERT INTO row_changes (source_id, entity, entity_key, field, old_value, new_value)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for change in &changes {
            record.execute(rusqlite::params![
                origin.source_id,
                self.entity,
                key_text,
                change.field,
                change.old,
                change.new
            ])?;
        }
        Ok(Upserted {
            outcome: UpsertOutcome::Changed(changes),
            previous: Some(previous),
        })
    }
}
