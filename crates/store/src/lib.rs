//! The store: one SQLite file holding everything Chargeguard knows.
//!
//! Every SQL statement of the program lives in this crate, so that the rest of the code
//! speaks in records and the day a team moves to PostgreSQL only this crate moves. It
//! stands on the domain floor (`chargeguard-domain`) and on nothing else of ours.
//! The file is opened in WAL mode with `synchronous=FULL` (a committed write survives a
//! power cut before any request leaves for a gateway) and foreign keys on; migrations run
//! at open, and a file written by a newer version is refused untouched.
//!
//! Writes happen inside [`Store::write`]: one SQLite transaction that commits only when the
//! closure returns `Ok`, so an import that fails on its 3,000th row leaves nothing behind.

// The floor's modules under their usual names, so `crate::money::Money` reads as it does
// everywhere else.
use chargeguard_domain::{money, records};

mod accounting;
pub use accounting::Books as AccountingBooks;
mod actions;
mod adjustments;
mod audit;
mod bank;
mod chart;
mod disputes;
pub use chart::{QUARTER_SECONDS, QuarterMoney};
pub use disputes::{exported_dispute_id, is_exported_dispute};
mod extra;
mod findings;
mod gateway;
mod gateway_sync;
mod imports;
pub use imports::{BULK_WRITE_CACHE_BYTES, DeferredIndexes};
mod lease;
mod ledger;
mod mappings;
mod payouts;
mod people;
mod period;
mod schema;
mod scope;
pub use scope::{ScopeSize, ScopeWindows};
mod sources;
mod upsert;

use std::cell::Cell;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

pub use actions::{ActionRow, MoveWith, NewAction, Sending};
pub use adjustments::{Adjustment, AdjustmentKind, StoredAdjustment};
pub use audit::AuditFilter;
pub use bank::{StatementCoverage, StoredBankLine};
pub use extra::{ExtraColumns, StoredRow};
pub use findings::{
    FindingFilter, FindingState, FindingStatus, OpenTotal, Page, ReconcileRun, Resolution,
    StoredFinding,
};
pub use gateway_sync::StoredChargeExtras;
pub use lease::Lease;
pub use mappings::SavedMapping;
pub use payouts::PayoutRow;
pub use period::PeriodClose;
pub use sources::{SourceCounts, SourceKind, SourceRow};
pub use upsert::{FieldChange, UpsertOutcome, Upserted};

/// What went wrong in the store. Callers act on the variant: a newer file means "upgrade
/// Chargeguard", a busy file means "another window is writing, try again".
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: DatabaseError,
    },
    #[error(
        "the store at {path} was written by a newer version of Chargeguard; upgrade Chargeguard to open it (nothing was changed)"
    )]
    TooNew { path: PathBuf },
    #[error("cannot bring the store at {path} up to date: {detail}")]
    Migration { path: PathBuf, detail: String },
    #[error("the store is busy: another Chargeguard process is writing; try again")]
    Busy,
    #[error("the store holds a value it cannot read ({what}): {detail}")]
    Corrupt { what: String, detail: String },
    #[error("{0} already has an open action; finish or cancel it first")]
    TargetBusy(String),
    #[error(
        "action {id} is no longer `{expected}`: another window or process moved it; look again"
    )]
    StateMoved { id: i64, expected: &'static str },
    #[error(
        "{0} is already closed; reopen it first (`chargeguard reopen {0} --by NAME --reason TEXT`)"
    )]
    PeriodAlreadyClosed(String),
    #[error(
        "cannot take the lease file {path}: {source}; check that the store's folder is writable"
    )]
    Lease {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("store error: {0}")]
    Database(#[source] DatabaseError),
}

/// An error of the database engine underneath, kept opaque: callers act on
/// [`StoreError`]'s variants, never on one engine's error codes, so another engine
/// (PostgreSQL, for a team) can stand behind the same interface.
#[derive(Debug)]
pub struct DatabaseError(rusqlite::Error);

impl std::fmt::Display for DatabaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for DatabaseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                StoreError::Busy
            }
            Some(rusqlite::ErrorCode::ConstraintViolation) => {
                let text = e.to_string();
                if text.contains("actions.invoice_number") {
                    StoreError::TargetBusy("this invoice".into())
                } else if text.contains("actions.charge_id") {
                    StoreError::TargetBusy("this charge".into())
                } else {
                    StoreError::Database(DatabaseError(e))
                }
            }
            _ => StoreError::Database(DatabaseError(e)),
        }
    }
}

/// An open store file.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if needed) the store at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Open {
                path: path.to_path_buf(),
                source: DatabaseError(rusqlite::Error::InvalidPath(
                    format!("{}: {e}", parent.display()).into(),
                )),
            })?;
        }
        let open_err = |source| StoreError::Open {
            path: path.to_path_buf(),
            source: DatabaseError(source),
        };
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        // Off while migrating, as SQLite's own procedure for rebuilding a table asks (a
        // rebuilt table that others reference would otherwise fail its drop); a migration
        // that rebuilds one checks the foreign keys before it commits.
        conn.pragma_update(None, "foreign_keys", "OFF")
            .map_err(open_err)?;
        let migrations = schema::migrations();
        migrations.to_latest(&mut conn).map_err(|e| match e {
            rusqlite_migration::Error::MigrationDefinition(
                rusqlite_migration::MigrationDefinitionError::DatabaseTooFarAhead,
            ) => StoreError::TooNew {
                path: path.to_path_buf(),
            },
            other => StoreError::Migration {
                path: path.to_path_buf(),
                detail: other.to_string(),
            },
        })?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of this file (the number of migrations applied).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// Runs `work` in one transaction and commits it when `work` returns `Ok`.
    /// On `Err` (or a panic) nothing it wrote remains.
    pub fn write<T, E>(&mut self, work: impl FnOnce(&StoreTx<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        self.in_transaction(TransactionBehavior::Immediate, true, work)
    }

    /// Runs `work` in a transaction that is always rolled back: what it would do, unwritten.
    pub fn dry_run<T, E>(&mut self, work: impl FnOnce(&StoreTx<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        self.in_transaction(TransactionBehavior::Immediate, false, work)
    }

    /// Reads inside one transaction, so every table is seen at the same moment.
    pub fn read<T, E>(&mut self, work: impl FnOnce(&StoreTx<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        self.in_transaction(TransactionBehavior::Deferred, false, work)
    }

    /// Writes take the write lock up front (`Immediate`), so two processes never both read
    /// a state and then race to change it; only a successful write commits.
    fn in_transaction<T, E>(
        &mut self,
        behavior: TransactionBehavior,
        commit: bool,
        work: impl FnOnce(&StoreTx<'_>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let tx = self
            .conn
            .transaction_with_behavior(behavior)
            .map_err(StoreError::from)?;
        let store_tx = StoreTx::new(tx);
        let value = work(&store_tx);
        match (&value, commit) {
            (Ok(_), true) => {
                store_tx
                    .tx
                    .prepare_cached("UPDATE store_generation SET n = n + 1")
                    .and_then(|mut bump| bump.execute([]))
                    .map_err(StoreError::from)?;
                store_tx.tx.commit().map_err(StoreError::from)?
            }
            _ => store_tx.tx.rollback().map_err(StoreError::from)?,
        }
        value
    }
}

/// Where the store stands: its file's random name and how many writes it has committed.
/// Equal generations saw the same books.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation {
    pub store: String,
    pub n: i64,
}

/// A transaction on the store. All reads and writes of records go through its methods.
pub struct StoreTx<'c> {
    tx: Transaction<'c>,
    /// Whether the last upserted row was new: the next is tried as an insert first.
    expect_new: Cell<bool>,
    /// The table an upsert last found a stored row in, and the rowid after that row:
    /// where a re-import's next row probably is.
    next_rowid: Cell<Option<(&'static str, i64)>>,
}

impl<'c> StoreTx<'c> {
    /// The store's generation as this transaction sees it: it moves on with every
    /// committed write, so two reads at one generation saw the same books.
    pub fn generation(&self) -> Result<Generation, StoreError> {
        Ok(self
            .tx
            .prepare_cached("SELECT store, n FROM store_generation")?
            .query_row([], |r| {
                Ok(Generation {
                    store: r.get(0)?,
                    n: r.get(1)?,
                })
            })?)
    }

    fn new(tx: Transaction<'c>) -> Self {
        StoreTx {
            tx,
            expect_new: Cell::new(true),
            next_rowid: Cell::new(None),
        }
    }

    /// Where the next row of `table` an upsert looks for probably is (see `upsert`).
    fn next_rowid(&self, table: &'static str) -> Option<i64> {
        self.next_rowid
            .get()
            .and_then(|(t, rowid)| (t == table).then_some(rowid))
    }

    fn set_next_rowid(&self, table: &'static str, rowid: i64) {
        self.next_rowid.set(Some((table, rowid)));
    }
}

impl StoreTx<'_> {
    fn conn(&self) -> &Connection {
        &self.tx
    }

    /// How many rows `table` holds, to size a `Vec` that reads them all exactly.
    /// How many rows a whole-table read will return, to size its vector once; a targeted
    /// read (a `filter` other than [`AnyOf::ALL`]) starts empty.
    fn capacity_for(&self, table: &'static str, filter: &AnyOf) -> Result<usize, StoreError> {
        if filter.is_all() {
            self.row_count(table)
        } else {
            Ok(0)
        }
    }

    fn row_count(&self, table: &'static str) -> Result<usize, StoreError> {
        let n: i64 = self
            .conn()
            .prepare_cached(&format!("SELECT count(*) FROM {table}"))?
            .query_row([], |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// A setting by key (`None` when unset).
    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn()
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Every setting whose key starts with `prefix`, by key.
    pub fn settings_with_prefix(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT key, value FROM settings WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key",
        )?;
        let rows = stmt.query_map([prefix], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The currencies the books hold money in (charges, invoices, ledger), upper case.
    pub fn currencies_in_use(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT code FROM currencies_in_use ORDER BY code")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }
}

/// Bytes known to be ASCII (a currency code) as text.
fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or("")
}

/// Decodes a lower-case currency code read back from the store.
fn currency_from_store(code: &str) -> Result<crate::money::Currency, StoreError> {
    crate::money::Currency::from_code(code).map_err(|e| StoreError::Corrupt {
        what: "currency".into(),
        detail: e.to_string(),
    })
}

fn timestamp_from_store(seconds: i64) -> Result<jiff::Timestamp, StoreError> {
    jiff::Timestamp::from_second(seconds).map_err(|e| StoreError::Corrupt {
        what: "timestamp".into(),
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What is computed at one generation holds until a write commits: reads, dry runs and
    /// refused writes leave it; a commit, here or through another connection, moves it.
    #[test]
    fn the_generation_moves_with_every_committed_write_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cg.db");
        let mut store = Store::open(&path).unwrap();
        let mut other = Store::open(&path).unwrap();
        let now = |s: &mut Store| s.read(|tx| tx.generation()).unwrap();
        let start = now(&mut store);
        store.read(|tx| tx.setting("x")).unwrap();
        store.dry_run(|tx| tx.set_setting("x", "1")).unwrap();
        let refused: Result<(), StoreError> = store.write(|tx| {
            tx.set_setting("x", "2")?;
            Err(StoreError::PeriodAlreadyClosed("2026-10".into()))
        });
        assert!(refused.is_err());
        assert_eq!(now(&mut store), start);
        other.write(|tx| tx.set_setting("x", "3")).unwrap();
        let moved = now(&mut store);
        assert_eq!(
            (moved.store.as_str(), moved.n),
            (start.store.as_str(), start.n + 1)
        );
        let elsewhere = Store::open(&dir.path().join("other.db"))
            .unwrap()
            .read(|tx| tx.generation())
            .unwrap();
        assert_ne!(
            elsewhere.store, start.store,
            "each store file has its own name"
        );
    }

    #[test]
    fn a_store_from_a_newer_version_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cg.db");
        drop(Store::open(&path).unwrap());
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", 99).unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        let err = Store::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::TooNew { .. }), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn opening_twice_keeps_the_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cg.db");
        let v1 = Store::open(&path).unwrap().schema_version().unwrap();
        let v2 = Store::open(&path).unwrap().schema_version().unwrap();
        assert_eq!(v1, v2);
        assert!(v1 >= 1);
    }
}

/// The rows a targeted read wants: those whose `column` is one of some keys, or falls in a
/// range, for each clause given (`a IN (?, …) OR b >= ? AND b < ?`). No clause at all
/// matches no row; [`AnyOf::ALL`] matches every row (a whole-table read).
#[derive(Debug, Clone, Default)]
pub(crate) struct AnyOf {
    all: bool,
    clauses: Vec<String>,
    params: Vec<rusqlite::types::Value>,
}

impl AnyOf {
    pub(crate) const ALL: AnyOf = AnyOf {
        all: true,
        clauses: Vec::new(),
        params: Vec::new(),
    };

    pub(crate) fn none() -> AnyOf {
        AnyOf::default()
    }

    /// Also rows whose `column` is one of `keys`.
    pub(crate) fn or(mut self, column: &'static str, keys: &[&str]) -> AnyOf {
        if keys.is_empty() {
            return self;
        }
        let first = self.params.len() + 1;
        let marks: Vec<String> = (first..first + keys.len())
            .map(|i| format!("?{i}"))
            .collect();
        self.clauses
            .push(format!("{column} IN ({})", marks.join(", ")));
        self.params.extend(
            keys.iter()
                .map(|k| rusqlite::types::Value::Text(k.to_string())),
        );
        self
    }

    /// Also rows of `gateway` whose `column` is one of `keys` (a key unique per gateway,
    /// found through the `(gateway, key)` index).
    pub(crate) fn or_of_gateway(
        mut self,
        gateway: &str,
        column: &'static str,
        keys: &[&str],
    ) -> AnyOf {
        if keys.is_empty() {
            return self;
        }
        let first = self.params.len() + 1;
        let marks: Vec<String> = (first + 1..first + 1 + keys.len())
            .map(|i| format!("?{i}"))
            .collect();
        self.clauses.push(format!(
            "(gateway = ?{first} AND {column} IN ({}))",
            marks.join(", ")
        ));
        self.params
            .push(rusqlite::types::Value::Text(gateway.to_string()));
        self.params.extend(
            keys.iter()
                .map(|k| rusqlite::types::Value::Text(k.to_string())),
        );
        self
    }

    /// Also rows whose instant `column` is in `[from, to)`.
    pub(crate) fn or_between(
        mut self,
        column: &'static str,
        from: jiff::Timestamp,
        to: jiff::Timestamp,
    ) -> AnyOf {
        let n = self.params.len();
        self.clauses.push(format!(
            "({column} >= ?{} AND {column} < ?{})",
            n + 1,
            n + 2
        ));
        self.params.push(from.as_second().into());
        self.params.push(to.as_second().into());
        self
    }

    /// Also rows whose `column` is among `select`'s rows whose instant `range_column` is in
    /// `[from, to)` (`charge_id FROM gateway_charges`, `created_at`).
    pub(crate) fn or_in_made_between(
        mut self,
        column: &'static str,
        select: &'static str,
        range_column: &'static str,
        from: jiff::Timestamp,
        to: jiff::Timestamp,
    ) -> AnyOf {
        let n = self.params.len();
        self.clauses.push(format!(
            "{column} IN (SELECT {select} WHERE {range_column} >= ?{} AND {range_column} < ?{})",
            n + 1,
            n + 2
        ));
        self.params.push(from.as_second().into());
        self.params.push(to.as_second().into());
        self
    }

    /// Also rows a scope walk reached ([`StoreTx::walk_changed_scope`]), listed by id in
    /// the temporary `table`.
    pub(crate) fn or_in_scope(mut self, table: &'static str) -> AnyOf {
        self.clauses
            .push(format!("id IN (SELECT id FROM temp.{table})"));
        self
    }

    pub(crate) fn is_all(&self) -> bool {
        self.all
    }

    /// The clause to put after `WHERE`.
    pub(crate) fn sql(&self) -> String {
        match (self.all, self.clauses.is_empty()) {
            (true, _) => "1".into(),
            (false, true) => "0".into(),
            (false, false) => format!("({})", self.clauses.join(" OR ")),
        }
    }

    pub(crate) fn params(&self) -> impl rusqlite::Params + '_ {
        rusqlite::params_from_iter(self.params.iter())
    }
}
