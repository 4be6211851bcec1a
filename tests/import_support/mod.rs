//! Shared by the importer tests: fixture paths, a fresh store file, a dump of every table
//! (to prove a refused import left the store byte-for-byte as it was), and a generator of
//! large Stripe exports written straight to disk.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chargeguard::import::{FileKind, ImportOptions, ImportReport, import_file};
use chargeguard::store::{Store, StoredRow};
use jiff::Timestamp;

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(name)
}

pub fn now() -> Timestamp {
    "2026-11-01T08:00:00Z".parse().unwrap()
}

pub struct TestStore {
    pub dir: tempfile::TempDir,
    pub store: Store,
}

impl TestStore {
    pub fn new() -> TestStore {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("cg.db")).unwrap();
        TestStore { dir, store }
    }

    pub fn import(&mut self, kind: FileKind, path: &Path) -> ImportReport {
        import_file(
            &mut self.store,
            kind,
            path,
            &ImportOptions::default(),
            now(),
        )
        .unwrap_or_else(|e| panic!("import of {} failed: {e}", path.display()))
    }

    /// The message of an import that must be refused.
    pub fn refused(&mut self, kind: FileKind, path: &Path) -> String {
        match import_file(
            &mut self.store,
            kind,
            path,
            &ImportOptions::default(),
            now(),
        ) {
            Ok(report) => panic!("the import of {} was not refused: {report}", path.display()),
            Err(e) => e.to_string(),
        }
    }

    /// The extra columns kept with a stored row, as {header: value}.
    pub fn extra(&mut self, row: StoredRow<'_>) -> BTreeMap<String, String> {
        self.store.read(|tx| tx.extra_columns(row)).unwrap()
    }

    /// Writes `content` to a file named `name` beside the store.
    pub fn file(&self, name: &str, content: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    /// Every row of every table of the store file, read through a second connection.
    pub fn dump(&self) -> String {
        let conn = rusqlite::Connection::open(self.store.path()).unwrap();
        let mut tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        tables.sort();
        let mut out = String::new();
        for table in tables {
            out.push_str(&format!("== {table}\n"));
            let mut stmt = conn
                .prepare(&format!("SELECT * FROM \"{table}\" ORDER BY rowid"))
                .or_else(|_| conn.prepare(&format!("SELECT * FROM \"{table}\"")))
                .unwrap();
            let n = stmt.column_count();
            let mut rows = stmt.query([]).unwrap();
            while let Some(row) = rows.next().unwrap() {
                let cells: Vec<String> = (0..n)
                    .map(|i| format!("{:?}", row.get::<_, rusqlite::types::Value>(i).unwrap()))
                    .collect();
                out.push_str(&cells.join(" | "));
                out.push('\n');
            }
        }
        out
    }

    /// Runs one query on the store file and returns its rows as text.
    pub fn query(&self, sql: &str) -> Vec<Vec<String>> {
        let conn = rusqlite::Connection::open(self.store.path()).unwrap();
        let mut stmt = conn.prepare(sql).unwrap();
        let n = stmt.column_count();
        stmt.query_map([], |r| {
            Ok((0..n)
                .map(|i| match r.get::<_, rusqlite::types::Value>(i).unwrap() {
                    rusqlite::types::Value::Null => "NULL".to_string(),
                    rusqlite::types::Value::Integer(v) => v.to_string(),
                    rusqlite::types::Value::Text(t) => t,
                    other => format!("{other:?}"),
                })
                .collect())
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }
}

/// The header of a real Stripe unified payments export (wide), plus metadata columns.
pub const STRIPE_WIDE_HEADER: &str = "id,Description,Seller Message,Created date (UTC),Amount,Amount Refunded,Currency,Converted Amount,Converted Amount Refunded,Fee,Tax,Converted Currency,Mode,Status,Statement Descriptor,Customer ID,Customer Description,Customer Email,Captured,Card ID,Card Last4,Card Brand,Card Funding,Card Exp Month,Card Exp Year,Card Name,Card Address Line1,Card Address Line2,Card Address City,Card Address State,Card Address Country,Card Address Zip,Card Issue Country,Card Fingerprint,Card CVC Status,Card AVS Zip Status,Card AVS Line1 Status,Card Tokenization Method,Disputed Amount,Dispute Status,Dispute Reason,Dispute Date (UTC),Dispute Evidence Due (UTC),Invoice ID,Payment Source Type,Destination,Transfer,Transfer Group,PaymentIntent ID,invoice_number (metadata),order_id (metadata)";

/// A Stripe-looking object id: random-looking base62 (so index inserts land all over the
/// B-tree, as real ids do), the same for the same `n`.
pub fn stripe_id(prefix: &str, n: u64) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut x = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut id = String::from(prefix);
    for _ in 0..2 {
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^= x >> 31;
        let mut y = x;
        for _ in 0..10 {
            id.push(ALPHABET[(y % 62) as usize] as char);
            y /= 62;
        }
    }
    id
}

/// Writes a Stripe export of `rows` realistic wide rows to `path`, streaming; returns its
/// size in bytes. Currencies rotate through USD, JPY and KWD; `padding` lengthens each
/// description to make a file large for its number of rows.
pub fn write_stripe_export(path: &Path, rows: u64, padding: usize) -> u64 {
    let pad = "x".repeat(padding);
    let file = std::fs::File::create(path).unwrap();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    write!(out, "{STRIPE_WIDE_HEADER}\r\n").unwrap();
    let start: i64 = 1_790_000_000;
    for i in 0..rows {
        let (amount, refunded, currency, fee) = match i % 3 {
            0 => (
                format!("{}.{:02}", 10 + i % 990, i % 100),
                "0.00".to_string(),
                "usd",
                "1.23",
            ),
            1 => (
                format!("{}", 500 + i % 9000),
                "0".to_string(),
                "jpy",
                "0.88",
            ),
            _ => (
                format!("{}.{:03}", 1 + i % 90, i % 1000),
                "0.000".to_string(),
                "kwd",
                "0.040",
            ),
        };
        let converted = if currency == "kwd" { "kwd" } else { "usd" };
        let status = if i % 17 == 0 { "Failed" } else { "Paid" };
        let captured = if i % 17 == 0 { "false" } else { "true" };
        let created = Timestamp::from_second(start + i as i64 * 7).unwrap();
        let created = created.strftime("%Y-%m-%d %H:%M:%S");
        write!(
            out,
            "{charge},Invoice INV-{i}{pad},Payment complete.,{created},{amount},{refunded},{currency},{amount},{refunded},{fee},0.00,{converted},Live,{status},ACME SUPPLY,cus_{c:06},Customer {c},customer{c}@example.com,{captured},card_1Pq{i:08},4242,Visa,credit,12,2028,Customer {c},1 Main St,,Springfield,IL,US,62701,US,Xt5EWLLDS7FJjR1c,pass,pass,pass,,,,,,,in_1Pq{i:08},card,,,,{intent},INV-{i},ORD-{i}\r\n",
            c = i % 5000,
            charge = stripe_id("ch_3", i),
            intent = stripe_id("pi_3", i),
        )
        .unwrap();
    }
    out.flush().unwrap();
    std::fs::metadata(path).unwrap().len()
}
