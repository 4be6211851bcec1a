//! What a file import needs from the store beyond the row upserts: the file's content hash
//! (known only once the last byte has streamed past) and the keys seen so far in the file.
//!
//! The seen keys live in a TEMP table, not in the importer's memory, so a file of ten
//! million rows costs disk pages, not RAM; the table is private to this connection, never
//! part of the store file, and emptied at the start of every import. Nothing here may
//! write to a table other than `sources` and that temp table.

use rusqlite::OptionalExtension;

use super::{StoreError, StoreTx};

impl StoreTx<'_> {
    /// Sets the connection's page cache for the store and for temp tables, in KiB;
    /// returns the previous sizes (in KiB) so they can be restored.
    pub fn set_page_cache_kib(&self, main: i64, temp: i64) -> Result<(i64, i64), StoreError> {
        let size = |schema: &str| -> Result<i64, StoreError> {
            let pages_or_kib: i64 =
                self.conn()
                    .pragma_query_value(Some(schema), "cache_size", |r| r.get(0))?;
            // SQLite reports a positive size in pages, a negative one in KiB.
            Ok(if pages_or_kib < 0 {
                -pages_or_kib
            } else {
                let page: i64 = self
                    .conn()
                    .pragma_query_value(Some(schema), "page_size", |r| r.get(0))?;
                pages_or_kib * page / 1024
            })
        };
        let previous = (size("main")?, size("temp")?);
        self.conn()
            .pragma_update(Some("main"), "cache_size", -main)?;
        self.conn()
            .pragma_update(Some("temp"), "cache_size", -temp)?;
        Ok(previous)
    }

    /// Records the SHA-256 of the source's file, once it has been read to the end.
    pub fn set_source_content_sha256(
        &self,
        source_id: i64,
        sha256: &str,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE sources SET content_sha256 = ?2 WHERE id = ?1",
            rusqlite::params![source_id, sha256],
        )?;
        Ok(())
    }

    /// Starts an empty list of the keys seen in the file being imported.
    pub fn begin_import_keys(&self) -> Result<(), StoreError> {
        self.conn().execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS import_keys (
                 key   TEXT PRIMARY KEY,
                 line  INTEGER NOT NULL
             ) WITHOUT ROWID;
             DELETE FROM temp.import_keys;",
        )?;
        Ok(())
    }

    /// Notes that `key` appears on `line`. Returns the line it first appeared on when the
    /// file has already had it, `None` the first time.
    pub fn note_import_key(&self, key: &str, line: u64) -> Result<Option<u64>, StoreError> {
        let line = i64::try_from(line).unwrap_or(i64::MAX);
        let inserted = self
            .conn()
            .prepare_cached(
                "INSERT INTO temp.import_keys (key, line) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
            )?
            .execute(rusqlite::params![key, line])?;
        if inserted == 1 {
            return Ok(None);
        }
        let first: Option<i64> = self
            .conn()
            .prepare_cached("SELECT line FROM temp.import_keys WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?;
        Ok(first.map(|l| u64::try_from(l).unwrap_or(0)))
    }
}
