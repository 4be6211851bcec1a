//! The floor under `import_timing`: how fast SQLite alone stores a Stripe import's rows on
//! this machine. It reads every row of `gateway_charges` from a store an import filled
//! (`import_timing` leaves one), then times inserting the same rows into a fresh store with
//! one prepared statement: no CSV, no parsing, no checks, no upsert logic. Each way is run
//! on a new file, with the store's own settings (WAL, `synchronous = FULL`, the import's
//! page cache) and one transaction:
//!
//! - `store`: the store's own table, with its unique (gateway, charge_id) index;
//! - `16 KiB pages`: the same, in a file with 16 KiB pages instead of 4 KiB;
//! - `no unique index`: the same columns without the unique constraint, to show its cost;
//! - `unique index after`: those rows first, then the unique index built in one sorted pass,
//!   in the same transaction (what a bulk load into an empty table could do).
//!
//! `cargo run --release --example sqlite_floor -- FILLED.db SCRATCH.db`
use std::path::Path;
use std::time::Instant;

mod support;
use support::cpu_seconds;

use chargeguard::store::Store;
use rusqlite::Connection;
use rusqlite::types::Value;

#[global_allocator]
static ALLOCATOR: chargeguard::Allocator = chargeguard::Allocator;

/// Every stored charge's columns, `id` left out so the new rows number themselves.
fn read_rows(filled: &Path) -> (Vec<String>, Vec<Vec<Value>>) {
    let conn = Connection::open(filled).expect("open the filled store");
    let mut stmt = conn
        .prepare("SELECT * FROM gateway_charges ORDER BY id")
        .expect("gateway_charges");
    let names: Vec<String> = stmt
        .column_names()
        .into_iter()
        .filter(|n| *n != "id")
        .map(str::to_string)
        .collect();
    let width = stmt.column_count();
    let rows = stmt
        .query_map([], |r| (1..width).map(|i| r.get::<_, Value>(i)).collect())
        .expect("read")
        .collect::<Result<Vec<Vec<Value>>, _>>()
        .expect("read rows");
    (names, rows)
}

fn remove_store(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// A fresh store at `path` holding the filled store's sources and column sets, which
/// every charge names (the store keeps foreign keys on, and so does this).
fn fresh_store(path: &Path, filled: &Path, page_size: Option<u32>) {
    remove_store(path);
    if let Some(size) = page_size {
        let conn = Connection::open(path).unwrap();
        conn.pragma_update(None, "page_size", size).unwrap();
        // An empty file forgets its page size unless something is written with it.
        conn.execute_batch("CREATE TABLE page_size_set (x); DROP TABLE page_size_set;")
            .unwrap();
        let set: u32 = conn
            .pragma_query_value(None, "page_size", |r| r.get(0))
            .unwrap();
        assert_eq!(set, size, "the scratch store keeps the page size asked for");
    }
    drop(Store::open(path).expect("a fresh store"));
    let conn = Connection::open(path).unwrap();
    conn.execute(
        "ATTACH DATABASE ?1 AS filled",
        [filled.display().to_string()],
    )
    .unwrap();
    conn.execute_batch(
        "INSERT INTO sources SELECT * FROM filled.sources;
         INSERT INTO column_sets SELECT * FROM filled.column_sets;
         DETACH DATABASE filled;",
    )
    .unwrap();
}

fn time_inserts(
    way: &str,
    path: &Path,
    table: &str,
    (names, rows): (&[String], &[Vec<Value>]),
    after: Option<&str>,
) {
    let conn = Connection::open(path).expect("open scratch store");
    conn.pragma_update(None, "foreign_keys", "ON").unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    conn.pragma_update(None, "cache_size", -64 * 1024).unwrap();
    let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        names.join(", "),
        placeholders.join(", ")
    );
    let (wall, cpu) = (Instant::now(), cpu_seconds());
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    {
        let mut stmt = conn.prepare(&sql).unwrap();
        for row in rows {
            stmt.execute(rusqlite::params_from_iter(row)).unwrap();
        }
    }
    if let Some(sql) = after {
        conn.execute_batch(sql).unwrap();
    }
    let inserted = (wall.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    conn.execute_batch("COMMIT").unwrap();
    println!(
        "{way:>20}: {} rows inserted in {:.2} s wall ({:.2} CPU-s); with the commit (WAL, fsync, checkpoint) {:.2} s wall ({:.2} CPU-s)",
        rows.len(),
        inserted.0,
        inserted.1,
        wall.elapsed().as_secs_f64(),
        cpu_seconds() - cpu
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (filled, scratch) = match (args.get(1), args.get(2)) {
        (Some(f), Some(s)) => (Path::new(f), Path::new(s)),
        _ => {
            eprintln!("usage: sqlite_floor FILLED.db SCRATCH.db");
            std::process::exit(2);
        }
    };
    let (names, rows) = read_rows(filled);
    let rows = (names.as_slice(), rows.as_slice());

    fresh_store(scratch, filled, None);
    time_inserts("store", scratch, "gateway_charges", rows, None);

    fresh_store(scratch, filled, Some(16 * 1024));
    time_inserts("16 KiB pages", scratch, "gateway_charges", rows, None);

    let without_key = |scratch: &Path| {
        fresh_store(scratch, filled, None);
        let conn = Connection::open(scratch).unwrap();
        let columns: Vec<String> = names.iter().map(|n| format!("{n} ANY")).collect();
        conn.execute_batch(&format!(
            "CREATE TABLE charges_without_key ({}) STRICT",
            columns.join(", ")
        ))
        .unwrap();
    };
    without_key(scratch);
    time_inserts(
        "no unique index",
        scratch,
        "charges_without_key",
        rows,
        None,
    );

    without_key(scratch);
    time_inserts(
        "unique index after",
        scratch,
        "charges_without_key",
        rows,
        Some("CREATE UNIQUE INDEX charges_key ON charges_without_key (gateway, charge_id)"),
    );
    remove_store(scratch);
}
