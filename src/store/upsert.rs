//! Insert-or-compare for imported rows: the mechanism behind idempotent imports.
//!
//! A row is looked up by its natural key. Absent: inserted (new). Present with the same
//! values: left alone, its origin too (unchanged). Present with other values: updated, its
//! origin moved to the new source, and each changed field written to `row_changes` so the
//! bookkeeper can see what the source said before.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params_from_iter};
use serde::Serialize;

use super::StoreError;
use crate::records::Origin;

/// What importing one row did to the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "changes", rename_all = "snake_case")]
pub enum UpsertOutcome {
    New,
    Unchanged,
    Changed(Vec<FieldChange>),
}

/// One field of a stored row that an import changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: &'static str,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// The statements for one table, built once.
pub(super) struct TableSql {
    pub entity: &'static str,
    select: String,
    insert: String,
    update: String,
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
        let select = format!(
            "SELECT {} FROM {table} WHERE {key_match}",
            fields.join(", ")
        );
        let all: Vec<&str> = keys
            .iter()
            .chain(fields.iter())
            .copied()
            .chain(["source_id", "source_line"])
            .collect();
        let placeholders: Vec<String> = (1..=all.len()).map(|i| format!("?{i}")).collect();
        let insert = format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            all.join(", "),
            placeholders.join(", ")
        );
        let sets: Vec<String> = fields
            .iter()
            .chain(["source_id", "source_line"].iter())
            .enumerate()
            .map(|(i, f)| format!("{f} = ?{}", keys.len() + i + 1))
            .collect();
        let update = format!("UPDATE {table} SET {} WHERE {key_match}", sets.join(", "));
        TableSql {
            entity,
            select,
            insert,
            update,
            fields,
        }
    }

    /// Inserts, leaves or updates the row with key `key` and values `values` (in the
    /// order of `fields`).
    pub fn upsert(
        &self,
        conn: &Connection,
        key: &[Value],
        values: Vec<Value>,
        origin: &Origin,
    ) -> Result<UpsertOutcome, StoreError> {
        debug_assert_eq!(values.len(), self.fields.len());
        let existing: Option<Vec<Value>> = conn
            .prepare_cached(&self.select)?
            .query_row(params_from_iter(key.iter()), |row| {
                (0..self.fields.len())
                    .map(|i| row.get::<_, Value>(i))
                    .collect()
            })
            .optional()?;
        let origin_values = [
            Value::Integer(origin.source_id),
            origin
                .line
                .map_or(Value::Null, |l| Value::Integer(l as i64)),
        ];
        let Some(existing) = existing else {
            let all = key.iter().cloned().chain(values).chain(origin_values);
            conn.prepare_cached(&self.insert)?
                .execute(params_from_iter(all))?;
            return Ok(UpsertOutcome::New);
        };
        let changes: Vec<FieldChange> = self
            .fields
            .iter()
            .zip(existing.iter().zip(values.iter()))
            .filter(|(_, (old, new))| old != new)
            .map(|(field, (old, new))| FieldChange {
                field,
                old: value_text(old),
                new: value_text(new),
            })
            .collect();
        if changes.is_empty() {
            return Ok(UpsertOutcome::Unchanged);
        }
        let all = key.iter().cloned().chain(values).chain(origin_values);
        conn.prepare_cached(&self.update)?
            .execute(params_from_iter(all))?;
        let key_text = key
            .iter()
            .filter_map(value_text)
            .collect::<Vec<_>>()
            .join("/");
        let mut record = conn.prepare_cached(
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
        Ok(UpsertOutcome::Changed(changes))
    }
}

fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::Integer(i) => Some(i.to_string()),
        Value::Real(r) => Some(r.to_string()),
        Value::Text(t) => Some(t.clone()),
        Value::Blob(b) => Some(hex::encode(b)),
    }
}

pub(super) fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

pub(super) fn opt_text(s: Option<&str>) -> Value {
    s.map_or(Value::Null, text)
}
