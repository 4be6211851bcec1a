//! Saved column mappings: another app's CSV layout, named, so a bookkeeper types
//! `--mapping acme` instead of a path every month.
//!
//! The store keeps a mapping as the TOML text the importer wrote and the layout it is for;
//! it never parses or judges that text (the importer owns what a mapping means), so a
//! mapping saved by one version reads back byte for byte.

use rusqlite::OptionalExtension;

use super::{StoreError, StoreTx};

/// A saved mapping as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedMapping {
    pub name: String,
    /// `invoices` or `payments`.
    pub layout: String,
    /// The mapping's TOML text.
    pub definition: String,
}

impl StoreTx<'_> {
    /// Saves (or replaces) the mapping called `name`.
    pub fn save_mapping(
        &self,
        name: &str,
        definition: &str,
        layout: &str,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO column_mappings (name, layout, definition) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET layout = excluded.layout, definition = excluded.definition",
            [name, layout, definition],
        )?;
        Ok(())
    }

    /// The mapping called `name`, if one was saved.
    pub fn mapping(&self, name: &str) -> Result<Option<SavedMapping>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT name, layout, definition FROM column_mappings WHERE name = ?1",
                [name],
                |r| {
                    Ok(SavedMapping {
                        name: r.get(0)?,
                        layout: r.get(1)?,
                        definition: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// Every saved mapping as `(name, layout)`, by name.
    pub fn mappings(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT name, layout FROM column_mappings ORDER BY name")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
