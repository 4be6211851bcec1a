//! The QuickBooks Online stand-in's tables in the sandbox's SQLite file: companies (one
//! realm each, with its book close date), their entities as QBO's JSON, OAuth grants and
//! tokens, and the answers kept under each `requestid`. Every SQL statement of the QBO
//! stand-in lives here; the file and its durability are the Stripe sandbox's (`state`).

use rusqlite::{OptionalExtension, Transaction, params};
use serde_json::Value;

use crate::sandbox::state::StateError;

/// The migration that adds these tables (appended to the sandbox's list).
pub const V3_QBO: &str = r#"
CREATE TABLE qbo_companies (
    realm            TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    currency         TEXT NOT NULL,
    zone             TEXT NOT NULL,
    book_close_date  TEXT,
    next_id          INTEGER NOT NULL DEFAULT 1,
    next_doc         INTEGER NOT NULL DEFAULT 1001
) STRICT;
CREATE TABLE qbo_entities (
    realm   TEXT NOT NULL REFERENCES qbo_companies(realm),
    entity  TEXT NOT NULL,
    id      INTEGER NOT NULL,
    body    TEXT NOT NULL,
    PRIMARY KEY (realm, entity, id)
) STRICT;
CREATE TABLE qbo_grants (
    id         INTEGER PRIMARY KEY,
    realm      TEXT NOT NULL REFERENCES qbo_companies(realm),
    client_id  TEXT NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE qbo_tokens (
    token         TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('code', 'access', 'refresh')),
    grant_id      INTEGER NOT NULL REFERENCES qbo_grants(id),
    expires       INTEGER NOT NULL,
    redirect_uri  TEXT,
    used          INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE qbo_requests (
    realm       TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    status      INTEGER NOT NULL,
    body        TEXT NOT NULL,
    created     INTEGER NOT NULL,
    PRIMARY KEY (realm, request_id)
) STRICT;
"#;

/// One QuickBooks company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Company {
    pub realm: String,
    pub name: String,
    /// Upper-case ISO code of its home currency.
    pub currency: String,
    /// Its time zone (QBO writes times with the company's offset).
    pub zone: String,
    /// `YYYY-MM-DD`: nothing dated on or before it may change.
    pub book_close_date: Option<String>,
}

fn company_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Company> {
    Ok(Company {
        realm: r.get(0)?,
        name: r.get(1)?,
        currency: r.get(2)?,
        zone: r.get(3)?,
        book_close_date: r.get(4)?,
    })
}

pub fn company(tx: &Transaction<'_>, realm: &str) -> Result<Option<Company>, StateError> {
    Ok(tx
        .prepare_cached(
            "SELECT realm, name, currency, zone, book_close_date FROM qbo_companies WHERE realm = ?1",
        )?
        .query_row([realm], company_row)
        .optional()?)
}

/// The company an authorization consents to: the first one made.
pub fn first_company(tx: &Transaction<'_>) -> Result<Option<Company>, StateError> {
    Ok(tx
        .prepare_cached(
            "SELECT realm, name, currency, zone, book_close_date FROM qbo_companies
              ORDER BY rowid LIMIT 1",
        )?
        .query_row([], company_row)
        .optional()?)
}

pub fn insert_company(tx: &Transaction<'_>, c: &Company) -> Result<(), StateError> {
    tx.prepare_cached(
        "INSERT INTO qbo_companies (realm, name, currency, zone, book_close_date)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        c.realm,
        c.name,
        c.currency,
        c.zone,
        c.book_close_date
    ])?;
    Ok(())
}

pub fn set_book_close_date(
    tx: &Transaction<'_>,
    realm: &str,
    date: Option<&str>,
) -> Result<bool, StateError> {
    Ok(tx
        .prepare_cached("UPDATE qbo_companies SET book_close_date = ?2 WHERE realm = ?1")?
        .execute(params![realm, date])?
        == 1)
}

/// The next entity id of a company (one sequence for every entity, as ids are strings
/// unique per entity).
pub fn next_id(tx: &Transaction<'_>, realm: &str) -> Result<i64, StateError> {
    Ok(tx.query_row(
        "UPDATE qbo_companies SET next_id = next_id + 1 WHERE realm = ?1 RETURNING next_id - 1",
        [realm],
        |r| r.get(0),
    )?)
}

/// The next automatic document number of a company.
pub fn next_doc_number(tx: &Transaction<'_>, realm: &str) -> Result<i64, StateError> {
    Ok(tx.query_row(
        "UPDATE qbo_companies SET next_doc = next_doc + 1 WHERE realm = ?1 RETURNING next_doc - 1",
        [realm],
        |r| r.get(0),
    )?)
}

fn parse_body(id: i64, text: &str) -> Result<Value, StateError> {
    serde_json::from_str(text).map_err(|e| StateError::Corrupt {
        id: id.to_string(),
        detail: e.to_string(),
    })
}

/// Every entity of a kind in a company, by id.
pub fn entities(tx: &Transaction<'_>, realm: &str, entity: &str) -> Result<Vec<Value>, StateError> {
    let mut stmt = tx.prepare_cached(
        "SELECT id, body FROM qbo_entities WHERE realm = ?1 AND entity = ?2 ORDER BY id",
    )?;
    let rows = stmt.query_map(params![realm, entity], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, text) = row?;
        out.push(parse_body(id, &text)?);
    }
    Ok(out)
}

pub fn entity(
    tx: &Transaction<'_>,
    realm: &str,
    entity: &str,
    id: i64,
) -> Result<Option<Value>, StateError> {
    let text: Option<String> = tx
        .prepare_cached(
            "SELECT body FROM qbo_entities WHERE realm = ?1 AND entity = ?2 AND id = ?3",
        )?
        .query_row(params![realm, entity, id], |r| r.get(0))
        .optional()?;
    text.map(|t| parse_body(id, &t)).transpose()
}

pub fn put_entity(
    tx: &Transaction<'_>,
    realm: &str,
    entity: &str,
    id: i64,
    body: &Value,
) -> Result<(), StateError> {
    tx.prepare_cached(
        "INSERT INTO qbo_entities (realm, entity, id, body) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (realm, entity, id) DO UPDATE SET body = excluded.body",
    )?
    .execute(params![realm, entity, id, body.to_string()])?;
    Ok(())
}

/// A grant: one app's consent to one company.
pub fn insert_grant(tx: &Transaction<'_>, realm: &str, client_id: &str) -> Result<i64, StateError> {
    tx.prepare_cached("INSERT INTO qbo_grants (realm, client_id) VALUES (?1, ?2)")?
        .execute(params![realm, client_id])?;
    Ok(tx.last_insert_rowid())
}

pub fn revoke_grant(tx: &Transaction<'_>, grant: i64) -> Result<(), StateError> {
    tx.prepare_cached("UPDATE qbo_grants SET revoked = 1 WHERE id = ?1")?
        .execute([grant])?;
    Ok(())
}

/// A token as the token endpoint and the API check it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: String,
    pub grant: i64,
    pub expires: i64,
    pub redirect_uri: Option<String>,
    pub used: bool,
    pub realm: String,
    pub client_id: String,
    pub revoked: bool,
}

pub fn insert_token(
    tx: &Transaction<'_>,
    token: &str,
    kind: &str,
    grant: i64,
    expires: i64,
    redirect_uri: Option<&str>,
) -> Result<(), StateError> {
    tx.prepare_cached(
        "INSERT INTO qbo_tokens (token, kind, grant_id, expires, redirect_uri) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![token, kind, grant, expires, redirect_uri])?;
    Ok(())
}

pub fn token(tx: &Transaction<'_>, token: &str) -> Result<Option<Token>, StateError> {
    Ok(tx
        .prepare_cached(
            "SELECT t.kind, t.grant_id, t.expires, t.redirect_uri, t.used, g.realm, g.client_id, g.revoked
               FROM qbo_tokens t JOIN qbo_grants g ON g.id = t.grant_id WHERE t.token = ?1",
        )?
        .query_row([token], |r| {
            Ok(Token {
                kind: r.get(0)?,
                grant: r.get(1)?,
                expires: r.get(2)?,
                redirect_uri: r.get(3)?,
                used: r.get(4)?,
                realm: r.get(5)?,
                client_id: r.get(6)?,
                revoked: r.get(7)?,
            })
        })
        .optional()?)
}

/// Marks a code or refresh token used; a used refresh token keeps working until `expires`.
pub fn use_token(tx: &Transaction<'_>, token: &str, expires: i64) -> Result<(), StateError> {
    tx.prepare_cached(
        "UPDATE qbo_tokens SET used = 1, expires = min(expires, ?2) WHERE token = ?1",
    )?
    .execute(params![token, expires])?;
    Ok(())
}

/// Ends every access token now (`POST /_sandbox/qbo/expire_tokens`): the next call is a 401
/// and the client must refresh, as an hour later at Intuit.
pub fn expire_access_tokens(tx: &Transaction<'_>, now: i64) -> Result<usize, StateError> {
    Ok(tx
        .prepare_cached("UPDATE qbo_tokens SET expires = min(expires, ?1) WHERE kind = 'access'")?
        .execute([now])?)
}

/// The answer kept under a `requestid`.
pub fn request(
    tx: &Transaction<'_>,
    realm: &str,
    request_id: &str,
) -> Result<Option<(u16, String)>, StateError> {
    Ok(tx
        .prepare_cached(
            "SELECT status, body FROM qbo_requests WHERE realm = ?1 AND request_id = ?2",
        )?
        .query_row(params![realm, request_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// Forgets every kept `requestid` (QuickBooks does not say how long it keeps them): a
/// test's way to a request sent again after it was forgotten.
pub fn forget_requests(tx: &Transaction<'_>) -> Result<usize, StateError> {
    Ok(tx.execute("DELETE FROM qbo_requests", [])?)
}

pub fn put_request(
    tx: &Transaction<'_>,
    realm: &str,
    request_id: &str,
    status: u16,
    body: &str,
    now: i64,
) -> Result<(), StateError> {
    tx.prepare_cached(
        "INSERT INTO qbo_requests (realm, request_id, status, body, created) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![realm, request_id, status, body, now])?;
    Ok(())
}

/// Marks where a call's writes begin, so a refused call can be undone while its answer
/// is still kept under its request id in the same transaction.
pub fn savepoint(tx: &Transaction<'_>) -> Result<(), StateError> {
    tx.execute_batch("SAVEPOINT qbo_call")?;
    Ok(())
}

/// Keeps (`keep`) or undoes the call's writes since [`savepoint`].
pub fn end_savepoint(tx: &Transaction<'_>, keep: bool) -> Result<(), StateError> {
    if keep {
        tx.execute_batch("RELEASE qbo_call")?;
    } else {
        tx.execute_batch("ROLLBACK TO qbo_call; RELEASE qbo_call")?;
    }
    Ok(())
}
