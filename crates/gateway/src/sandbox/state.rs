//! The sandbox's own SQLite file: the gateway's objects, its idempotency records and its
//! id counters. Every SQL statement of the Stripe sandbox lives here (the QuickBooks
//! stand-in's, in the same file, in `qbo::state`).
//!
//! It is a separate program's state, not the Chargeguard store, and must never share a
//! file or a table with it. The file is opened in WAL mode with `synchronous=FULL`, so an
//! answer the sandbox sent was durable first and survives `kill -9`.
//!
//! Objects are kept as Stripe's JSON beside a few indexed columns derived from it
//! (customer, payment intent, charge, status, amount, currency, metadata) that lists and
//! search filter on. Order is `created` then insertion `seq`, newest first, so objects
//! created in the same second still page in one stable order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, ToSql, Transaction, params};
use rusqlite_migration::{M, Migrations};
use serde_json::Value;

use super::wire::CreatedRange;

const V1_OBJECTS: &str = r#"
CREATE TABLE objects (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    created         INTEGER NOT NULL,
    customer        TEXT,
    payment_intent  TEXT,
    charge          TEXT,
    status          TEXT,
    amount          INTEGER,
    currency        TEXT,
    test_token      TEXT,
    body            TEXT NOT NULL
) STRICT;
CREATE INDEX objects_by_kind_created ON objects(kind, created, seq);
CREATE INDEX objects_by_customer ON objects(customer, kind);
CREATE INDEX objects_by_payment_intent ON objects(payment_intent, kind);
CREATE INDEX objects_by_charge ON objects(charge, kind);

CREATE TABLE metadata (
    seq    INTEGER NOT NULL REFERENCES objects(seq),
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (seq, key)
) STRICT, WITHOUT ROWID;
CREATE INDEX metadata_by_key_value ON metadata(key, value);

CREATE TABLE idempotency (
    key          TEXT PRIMARY KEY,
    method       TEXT NOT NULL,
    path         TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    status       INTEGER NOT NULL,
    body         TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    created      INTEGER NOT NULL
) STRICT;

CREATE TABLE counters (
    kind  TEXT PRIMARY KEY,
    next  INTEGER NOT NULL
) STRICT;
"#;

/// Balance transactions and payouts: what a transaction came from (`source`) and which
/// payout took it to the bank (`payout`); and settings such as the pricing.
const V2_BALANCE: &str = r#"
ALTER TABLE objects ADD COLUMN source TEXT;
ALTER TABLE objects ADD COLUMN payout TEXT;
CREATE INDEX objects_by_source ON objects(source, kind);
CREATE INDEX objects_by_payout ON objects(payout, kind);
CREATE TABLE settings (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) STRICT;
"#;

/// What can go wrong with the sandbox's state file.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(
        "cannot open the sandbox state at {path}: {detail}; check the --state folder is writable"
    )]
    Open { path: PathBuf, detail: String },
    #[error("sandbox state error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the sandbox state holds an object it cannot read ({id}): {detail}")]
    Corrupt { id: String, detail: String },
}

/// The kinds of object the sandbox keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Customer,
    PaymentMethod,
    PaymentIntent,
    Charge,
    Refund,
    BalanceTransaction,
    Payout,
    Dispute,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Customer,
        Kind::PaymentMethod,
        Kind::PaymentIntent,
        Kind::Charge,
        Kind::Refund,
        Kind::BalanceTransaction,
        Kind::Payout,
        Kind::Dispute,
    ];

    /// Stripe's `object` value.
    pub fn object_name(self) -> &'static str {
        match self {
            Kind::Customer => "customer",
            Kind::PaymentMethod => "payment_method",
            Kind::PaymentIntent => "payment_intent",
            Kind::Charge => "charge",
            Kind::Refund => "refund",
            Kind::BalanceTransaction => "balance_transaction",
            Kind::Payout => "payout",
            Kind::Dispute => "dispute",
        }
    }

    /// How Stripe names the kind in "No such ..." messages.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Customer => "customer",
            Kind::PaymentMethod => "PaymentMethod",
            Kind::PaymentIntent => "payment_intent",
            Kind::Charge => "charge",
            Kind::Refund => "refund",
            Kind::BalanceTransaction => "balance transaction",
            Kind::Payout => "payout",
            Kind::Dispute => "dispute",
        }
    }

    pub fn prefix(self) -> &'static str {
        match self {
            Kind::Customer => "cus",
            Kind::PaymentMethod => "pm",
            Kind::PaymentIntent => "pi",
            Kind::Charge => "ch",
            Kind::Refund => "re",
            Kind::BalanceTransaction => "txn",
            Kind::Payout => "po",
            Kind::Dispute => "du",
        }
    }

    fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.object_name() == name)
    }
}

/// One stored object.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub seq: i64,
    pub kind: Kind,
    pub body: Value,
    /// For payment methods: the test token (`pm_card_visa`, ...) it was made from,
    /// which decides the outcome of every charge on it. Never shown to clients.
    pub test_token: Option<String>,
}

impl Stored {
    pub fn id(&self) -> &str {
        self.body["id"].as_str().unwrap_or("")
    }
    pub fn created(&self) -> i64 {
        self.body["created"].as_i64().unwrap_or(0)
    }
}

/// A column lists may filter on by equality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Customer,
    PaymentIntent,
    Charge,
    Status,
    Currency,
    /// What a balance transaction came from.
    Source,
    /// The payout that took a balance transaction to the bank.
    Payout,
    /// A balance transaction's `type`.
    Type,
}

impl Column {
    fn sql(self) -> &'static str {
        match self {
            Column::Source => "source",
            Column::Payout => "payout",
            Column::Type => "json_extract(body, '$.type')",
            Column::Customer => "customer",
            Column::PaymentIntent => "payment_intent",
            Column::Charge => "charge",
            Column::Status => "status",
            Column::Currency => "currency",
        }
    }
}

/// Where a page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// The newest objects.
    Start,
    /// Objects older than this one (Stripe's `starting_after`).
    After { created: i64, seq: i64 },
    /// Objects newer than this one (Stripe's `ending_before`).
    Before { created: i64, seq: i64 },
}

/// A list request, already validated.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub kind: Kind,
    pub limit: i64,
    pub cursor: Cursor,
    pub created: CreatedRange,
    pub equal: Vec<(Column, String)>,
    pub conditions: Vec<Condition>,
}

/// One search condition, as the search parser compiles it.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Equals {
        column: SearchColumn,
        value: SqlValue,
        negated: bool,
    },
    Compare {
        column: SearchColumn,
        op: CompareOp,
        value: i64,
    },
    Metadata {
        key: String,
        value: String,
        negated: bool,
    },
    /// Text contains (Stripe's `~` operator).
    Contains { column: SearchColumn, text: String },
    /// Conditions of which any may hold (Stripe's `OR`).
    AnyOf(Vec<Condition>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchColumn {
    Amount,
    Created,
    Currency,
    Customer,
    Status,
    PaymentIntent,
    Refunded,
    Description,
}

impl SearchColumn {
    fn sql(self) -> &'static str {
        match self {
            SearchColumn::Amount => "amount",
            SearchColumn::Created => "created",
            SearchColumn::Currency => "currency",
            SearchColumn::Customer => "customer",
            SearchColumn::Status => "status",
            SearchColumn::PaymentIntent => "payment_intent",
            SearchColumn::Refunded => "json_extract(body, '$.refunded')",
            SearchColumn::Description => "json_extract(body, '$.description')",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Text(String),
    Integer(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Gt,
    Gte,
    Lt,
    Lte,
}

impl CompareOp {
    fn sql(self) -> &'static str {
        match self {
            CompareOp::Gt => ">",
            CompareOp::Gte => ">=",
            CompareOp::Lt => "<",
            CompareOp::Lte => "<=",
        }
    }
}

/// A stored idempotent answer.
#[derive(Debug, Clone, PartialEq)]
pub struct IdempotencyRecord {
    pub key: String,
    pub method: String,
    pub path: String,
    pub fingerprint: String,
    pub status: u16,
    pub body: String,
    pub request_id: String,
    pub created: i64,
}

/// Opens (creating) `state.sqlite3` under `dir`.
pub fn open(dir: &Path) -> Result<Connection, StateError> {
    let path = dir.join("sandbox.sqlite3");
    let fail = |detail: String| StateError::Open {
        path: path.clone(),
        detail,
    };
    std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
    let mut conn = Connection::open(&path).map_err(|e| fail(e.to_string()))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(|e| fail(e.to_string()))?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(|e| fail(e.to_string()))?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(|e| fail(e.to_string()))?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(|e| fail(e.to_string()))?;
    // 64 MiB of page cache: seeding 100,000 charges inserts into five indexes at once,
    // and the default 2 MiB turns that into disk reads.
    conn.pragma_update(None, "cache_size", -65_536)
        .map_err(|e| fail(e.to_string()))?;
    Migrations::new(vec![
        M::up(V1_OBJECTS),
        M::up(V2_BALANCE),
        M::up(super::qbo::state::V3_QBO),
        M::up(super::xero::state::V4_XERO),
    ])
    .to_latest(&mut conn)
    .map_err(|e| fail(e.to_string()))?;
    Ok(conn)
}

/// The next id of a kind: the prefix, then a counter kept in the file (so ids never repeat
/// across restarts), then a fixed tag that says where the object came from.
pub fn next_id(tx: &Transaction<'_>, kind: Kind) -> Result<String, StateError> {
    let n: i64 = tx.query_row(
        "INSERT INTO counters (kind, next) VALUES (?1, 1)
         ON CONFLICT (kind) DO UPDATE SET next = next + 1
         RETURNING next",
        [kind.object_name()],
        |r| r.get(0),
    )?;
    Ok(format_id(kind, n))
}

/// Reserves `count` ids of a kind in one statement (for seeding in bulk).
pub fn reserve_ids(
    tx: &Transaction<'_>,
    kind: Kind,
    count: usize,
) -> Result<std::vec::IntoIter<String>, StateError> {
    let count = i64::try_from(count).unwrap_or(i64::MAX);
    if count == 0 {
        return Ok(Vec::new().into_iter());
    }
    let last: i64 = tx.query_row(
        "INSERT INTO counters (kind, next) VALUES (?1, ?2)
         ON CONFLICT (kind) DO UPDATE SET next = next + ?2
         RETURNING next",
        params![kind.object_name(), count],
        |r| r.get(0),
    )?;
    Ok((last - count + 1..=last)
        .map(|n| format_id(kind, n))
        .collect::<Vec<_>>()
        .into_iter())
}

fn format_id(kind: Kind, n: i64) -> String {
    format!("{}_1Sbx{:0>14}", kind.prefix(), n)
}

fn text_field(body: &Value, field: &str) -> Option<String> {
    body.get(field).and_then(Value::as_str).map(str::to_string)
}

fn metadata_of(body: &Value) -> Vec<(String, String)> {
    body.get("metadata")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let text = v
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string());
                    (k.clone(), text)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Inserts a new object; its columns are derived from its JSON.
pub fn insert(
    tx: &Transaction<'_>,
    kind: Kind,
    body: &Value,
    test_token: Option<&str>,
) -> Result<i64, StateError> {
    let id = text_field(body, "id").unwrap_or_default();
    let mut stmt = tx.prepare_cached(
        "INSERT INTO objects (id, kind, created, customer, payment_intent, charge, status, amount, currency, test_token, body, source)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    stmt.execute(params![
        id,
        kind.object_name(),
        body["created"].as_i64().unwrap_or(0),
        text_field(body, "customer"),
        text_field(body, "payment_intent"),
        text_field(body, "charge"),
        text_field(body, "status"),
        body["amount"].as_i64(),
        text_field(body, "currency"),
        test_token,
        body.to_string(),
        text_field(body, "source"),
    ])?;
    let seq = tx.last_insert_rowid();
    let mut meta =
        tx.prepare_cached("INSERT INTO metadata (seq, key, value) VALUES (?1, ?2, ?3)")?;
    for (k, v) in metadata_of(body) {
        meta.execute(params![seq, k, v])?;
    }
    Ok(seq)
}

/// Rewrites an object (same id), keeping its place in the order.
pub fn update(tx: &Transaction<'_>, stored: &Stored) -> Result<(), StateError> {
    let body = &stored.body;
    tx.prepare_cached(
        "UPDATE objects SET customer = ?2, payment_intent = ?3, charge = ?4, status = ?5,
                amount = ?6, currency = ?7, body = ?8
         WHERE seq = ?1",
    )?
    .execute(params![
        stored.seq,
        text_field(body, "customer"),
        text_field(body, "payment_intent"),
        text_field(body, "charge"),
        text_field(body, "status"),
        body["amount"].as_i64(),
        text_field(body, "currency"),
        body.to_string(),
    ])?;
    tx.prepare_cached("DELETE FROM metadata WHERE seq = ?1")?
        .execute([stored.seq])?;
    let mut meta =
        tx.prepare_cached("INSERT INTO metadata (seq, key, value) VALUES (?1, ?2, ?3)")?;
    for (k, v) in metadata_of(body) {
        meta.execute(params![stored.seq, k, v])?;
    }
    Ok(())
}

fn read_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, String, String, Option<String>)> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

fn decode(
    (seq, kind, body, test_token): (i64, String, String, Option<String>),
) -> Result<Stored, StateError> {
    let kind = Kind::from_name(&kind).ok_or_else(|| StateError::Corrupt {
        id: seq.to_string(),
        detail: format!("unknown kind {kind}"),
    })?;
    let body = serde_json::from_str(&body).map_err(|e| StateError::Corrupt {
        id: seq.to_string(),
        detail: e.to_string(),
    })?;
    Ok(Stored {
        seq,
        kind,
        body,
        test_token,
    })
}

/// An object by id, whatever its kind.
pub fn get(tx: &Transaction<'_>, id: &str) -> Result<Option<Stored>, StateError> {
    let row = tx
        .prepare_cached("SELECT seq, kind, body, test_token FROM objects WHERE id = ?1")?
        .query_row([id], read_row)
        .optional()?;
    row.map(decode).transpose()
}

/// An object by id, only if it is of `kind`.
pub fn get_kind(tx: &Transaction<'_>, kind: Kind, id: &str) -> Result<Option<Stored>, StateError> {
    Ok(get(tx, id)?.filter(|s| s.kind == kind))
}

/// Objects of `kind` whose `column` equals `value`, oldest first.
pub fn related(
    tx: &Transaction<'_>,
    kind: Kind,
    column: Column,
    value: &str,
) -> Result<Vec<Stored>, StateError> {
    let sql = format!(
        "SELECT seq, kind, body, test_token FROM objects WHERE {} = ?1 AND kind = ?2 ORDER BY created, seq",
        column.sql()
    );
    let mut stmt = tx.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(params![value, kind.object_name()], read_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(decode).collect()
}

/// One page of a list or search, newest first, and whether more follow in that direction.
pub fn page(tx: &Transaction<'_>, query: &ListQuery) -> Result<(Vec<Stored>, bool), StateError> {
    let mut sql = String::from("SELECT seq, kind, body, test_token FROM objects WHERE kind = ?");
    let mut values: Vec<Box<dyn ToSql>> = vec![Box::new(query.kind.object_name())];
    let range = query.created;
    for (bound, op) in [
        (range.gt, ">"),
        (range.gte, ">="),
        (range.lt, "<"),
        (range.lte, "<="),
    ] {
        if let Some(v) = bound {
            sql.push_str(&format!(" AND created {op} ?"));
            values.push(Box::new(v));
        }
    }
    for (column, value) in &query.equal {
        sql.push_str(&format!(" AND {} = ?", column.sql()));
        values.push(Box::new(value.clone()));
    }
    for condition in &query.conditions {
        sql.push_str(" AND ");
        push_condition(&mut sql, &mut values, condition);
    }
    let ascending = match query.cursor {
        Cursor::Start => false,
        Cursor::After { created, seq } => {
            sql.push_str(" AND (created < ? OR (created = ? AND seq < ?))");
            values.extend([
                Box::new(created) as Box<dyn ToSql>,
                Box::new(created),
                Box::new(seq),
            ]);
            false
        }
        Cursor::Before { created, seq } => {
            sql.push_str(" AND (created > ? OR (created = ? AND seq > ?))");
            values.extend([
                Box::new(created) as Box<dyn ToSql>,
                Box::new(created),
                Box::new(seq),
            ]);
            true
        }
    };
    sql.push_str(if ascending {
        " ORDER BY created ASC, seq ASC LIMIT ?"
    } else {
        " ORDER BY created DESC, seq DESC LIMIT ?"
    });
    values.push(Box::new(query.limit + 1));
    let mut stmt = tx.prepare_cached(&sql)?;
    let refs: Vec<&dyn ToSql> = values.iter().map(|b| b.as_ref()).collect();
    let rows = stmt
        .query_map(refs.as_slice(), read_row)?
        .collect::<Result<Vec<_>, _>>()?;
    let mut objects = rows
        .into_iter()
        .map(decode)
        .collect::<Result<Vec<_>, _>>()?;
    let more = objects.len() as i64 > query.limit;
    objects.truncate(usize::try_from(query.limit).unwrap_or(0));
    if ascending {
        objects.reverse();
    }
    Ok((objects, more))
}

fn push_condition(sql: &mut String, values: &mut Vec<Box<dyn ToSql>>, condition: &Condition) {
    match condition {
        Condition::Equals {
            column,
            value,
            negated,
        } => {
            let op = if *negated { "IS NOT" } else { "IS" };
            sql.push_str(&format!("({} {op} ?)", column.sql()));
            match value {
                SqlValue::Text(t) => values.push(Box::new(t.clone())),
                SqlValue::Integer(i) => values.push(Box::new(*i)),
            }
        }
        Condition::Compare { column, op, value } => {
            sql.push_str(&format!("({} {} ?)", column.sql(), op.sql()));
            values.push(Box::new(*value));
        }
        Condition::Metadata {
            key,
            value,
            negated,
        } => {
            let not = if *negated { "NOT " } else { "" };
            sql.push_str(&format!(
                "({not}EXISTS (SELECT 1 FROM metadata m WHERE m.seq = objects.seq AND m.key = ? AND m.value = ?))"
            ));
            values.push(Box::new(key.clone()));
            values.push(Box::new(value.clone()));
        }
        Condition::Contains { column, text } => {
            sql.push_str(&format!("(instr({}, ?) > 0)", column.sql()));
            values.push(Box::new(text.clone()));
        }
        Condition::AnyOf(conditions) => {
            sql.push('(');
            for (i, c) in conditions.iter().enumerate() {
                if i > 0 {
                    sql.push_str(" OR ");
                }
                push_condition(sql, values, c);
            }
            sql.push(')');
        }
    }
}

/// The stored answer for `key`, if one younger than `oldest` exists.
pub fn idempotency_get(
    tx: &Transaction<'_>,
    key: &str,
    oldest: i64,
) -> Result<Option<IdempotencyRecord>, StateError> {
    Ok(tx
        .prepare_cached(
            "SELECT key, method, path, fingerprint, status, body, request_id, created
             FROM idempotency WHERE key = ?1 AND created >= ?2",
        )?
        .query_row(params![key, oldest], |r| {
            Ok(IdempotencyRecord {
                key: r.get(0)?,
                method: r.get(1)?,
                path: r.get(2)?,
                fingerprint: r.get(3)?,
                status: r.get(4)?,
                body: r.get(5)?,
                request_id: r.get(6)?,
                created: r.get(7)?,
            })
        })
        .optional()?)
}

/// Stores an answer under its key, replacing an expired one.
pub fn idempotency_put(tx: &Transaction<'_>, record: &IdempotencyRecord) -> Result<(), StateError> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO idempotency (key, method, path, fingerprint, status, body, request_id, created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        record.key,
        record.method,
        record.path,
        record.fingerprint,
        record.status,
        record.body,
        record.request_id,
        record.created,
    ])?;
    Ok(())
}

/// Forgets every idempotency key, as Stripe does after 24 hours. Returns how many.
pub fn idempotency_forget_all(tx: &Transaction<'_>) -> Result<usize, StateError> {
    Ok(tx.execute("DELETE FROM idempotency", [])?)
}

/// Counts per object kind, plus stored idempotency keys.
pub fn stats(tx: &Transaction<'_>) -> Result<BTreeMap<String, i64>, StateError> {
    let mut out = BTreeMap::new();
    for kind in Kind::ALL {
        out.insert(format!("{}s", kind.object_name()), 0);
    }
    let mut stmt = tx.prepare("SELECT kind, count(*) FROM objects GROUP BY kind")?;
    for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
        let (kind, n) = row?;
        out.insert(format!("{kind}s"), n);
    }
    let keys: i64 = tx.query_row("SELECT count(*) FROM idempotency", [], |r| r.get(0))?;
    out.insert("idempotency_keys".into(), keys);
    Ok(out)
}

/// Per currency, the net of every balance transaction whose funds are available at `now`
/// (or that a payout already swept, and every payout's own, which leaves at once) and of
/// those still pending.
pub fn balance_at(
    tx: &Transaction<'_>,
    now: i64,
) -> Result<BTreeMap<String, (i64, i64)>, StateError> {
    let mut stmt = tx.prepare_cached(
        "SELECT currency,
                sum(CASE WHEN json_extract(body, '$.available_on') <= ?1 OR payout IS NOT NULL
                             OR json_extract(body, '$.type') IN ('payout', 'payout_failure', 'payout_cancel')
                           THEN json_extract(body, '$.net') ELSE 0 END),
                sum(CASE WHEN json_extract(body, '$.available_on') <= ?1 OR payout IS NOT NULL
                             OR json_extract(body, '$.type') IN ('payout', 'payout_failure', 'payout_cancel')
                           THEN 0 ELSE json_extract(body, '$.net') END)
           FROM objects WHERE kind = 'balance_transaction'
          GROUP BY currency ORDER BY currency",
    )?;
    let rows = stmt.query_map([now], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    let mut out = BTreeMap::new();
    for row in rows {
        let (currency, available, pending) = row?;
        out.insert(currency, (available, pending));
    }
    Ok(out)
}

/// Balance transactions no payout has taken to the bank yet, oldest first.
pub fn unpaid_out(tx: &Transaction<'_>) -> Result<Vec<Stored>, StateError> {
    let mut stmt = tx.prepare_cached(
        "SELECT seq, kind, body, test_token FROM objects
         WHERE kind = 'balance_transaction' AND payout IS NULL ORDER BY seq",
    )?;
    let rows = stmt.query_map([], read_row)?;
    rows.map(|r| decode(r?)).collect()
}

/// Payouts still pending or in transit whose arrival date is `now` or earlier.
pub fn payouts_arrived(tx: &Transaction<'_>, now: i64) -> Result<Vec<Stored>, StateError> {
    let mut stmt = tx.prepare_cached(
        "SELECT seq, kind, body, test_token FROM objects
         WHERE kind = 'payout' AND status IN ('pending', 'in_transit')
           AND json_extract(body, '$.arrival_date') <= ?1
         ORDER BY seq",
    )?;
    let rows = stmt.query_map([now], read_row)?;
    rows.map(|r| decode(r?)).collect()
}

/// Ties balance transactions to the payout that took them to the bank; their funds were
/// available by then.
pub fn mark_paid_out(tx: &Transaction<'_>, ids: &[String], payout: &str) -> Result<(), StateError> {
    let mut stmt = tx.prepare_cached(
        "UPDATE objects SET payout = ?2,
                body = json_set(body, '$.status', 'available')
         WHERE id = ?1 AND kind = 'balance_transaction'",
    )?;
    for id in ids {
        stmt.execute(params![id, payout])?;
    }
    Ok(())
}

pub fn setting(tx: &Transaction<'_>, key: &str) -> Result<Option<String>, StateError> {
    Ok(tx
        .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?)
}

pub fn set_setting(tx: &Transaction<'_>, key: &str, value: &str) -> Result<(), StateError> {
    tx.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, value],
    )?;
    Ok(())
}
