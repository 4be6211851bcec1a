//! The Xero stand-in's tables in the sandbox's SQLite file: organisations (tenants, with
//! their lock dates), their contacts, invoices and payments as Xero's JSON, OAuth grants,
//! tokens and connections, and the answers kept under each `Idempotency-Key`. Every SQL
//! statement of the Xero stand-in lives here.

use rusqlite::{OptionalExtension, Transaction, params};
use serde_json::Value;

use crate::sandbox::state::StateError;

/// The migration that adds these tables (appended to the sandbox's list).
pub const V4_XERO: &str = r#"
CREATE TABLE xero_tenants (
    tenant                 TEXT PRIMARY KEY,
    name                   TEXT NOT NULL,
    currency               TEXT NOT NULL,
    period_lock_date       TEXT,
    end_of_year_lock_date  TEXT,
    next_number            INTEGER NOT NULL DEFAULT 1
) STRICT;
CREATE TABLE xero_objects (
    tenant   TEXT NOT NULL REFERENCES xero_tenants(tenant),
    kind     TEXT NOT NULL,
    id       TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    body     TEXT NOT NULL,
    PRIMARY KEY (tenant, kind, id)
) STRICT;
CREATE TABLE xero_grants (
    id         INTEGER PRIMARY KEY,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0,
    auth_event TEXT NOT NULL
) STRICT;
CREATE TABLE xero_connections (
    id        TEXT PRIMARY KEY,
    grant_id  INTEGER NOT NULL REFERENCES xero_grants(id),
    tenant    TEXT NOT NULL REFERENCES xero_tenants(tenant),
    created   INTEGER NOT NULL
) STRICT;
CREATE TABLE xero_tokens (
    token           TEXT PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('code', 'access', 'refresh')),
    grant_id        INTEGER NOT NULL REFERENCES xero_grants(id),
    expires         INTEGER NOT NULL,
    redirect_uri    TEXT,
    code_challenge  TEXT,
    used            INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE xero_requests (
    client_id    TEXT NOT NULL,
    key          TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    status       INTEGER NOT NULL,
    body         TEXT NOT NULL,
    created      INTEGER NOT NULL,
    PRIMARY KEY (client_id, key)
) STRICT;
"#;

/// One organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub tenant: String,
    pub name: String,
    pub currency: String,
    pub period_lock_date: Option<String>,
    pub end_of_year_lock_date: Option<String>,
}

fn tenant_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Tenant> {
    Ok(Tenant {
        tenant: r.get(0)?,
        name: r.get(1)?,
        currency: r.get(2)?,
        period_lock_date: r.get(3)?,
        end_of_year_lock_date: r.get(4)?,
    })
}

const TENANT_COLUMNS: &str = "tenant, name, currency, period_lock_date, end_of_year_lock_date";

pub fn tenant(tx: &Transaction<'_>, id: &str) -> Result<Option<Tenant>, StateError> {
    Ok(tx
        .prepare_cached(&format!(
            "SELECT {TENANT_COLUMNS} FROM xero_tenants WHERE tenant = ?1"
        ))?
        .query_row([id], tenant_row)
        .optional()?)
}

pub fn tenants(tx: &Transaction<'_>) -> Result<Vec<Tenant>, StateError> {
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT {TENANT_COLUMNS} FROM xero_tenants ORDER BY rowid"
    ))?;
    let rows = stmt.query_map([], tenant_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn insert_tenant(tx: &Transaction<'_>, t: &Tenant) -> Result<(), StateError> {
    tx.prepare_cached(&format!(
        "INSERT INTO xero_tenants ({TENANT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)"
    ))?
    .execute(params![
        t.tenant,
        t.name,
        t.currency,
        t.period_lock_date,
        t.end_of_year_lock_date
    ])?;
    Ok(())
}

pub fn set_lock_dates(
    tx: &Transaction<'_>,
    tenant: &str,
    period: Option<&str>,
    end_of_year: Option<&str>,
) -> Result<bool, StateError> {
    Ok(tx
        .prepare_cached(
            "UPDATE xero_tenants SET period_lock_date = ?2, end_of_year_lock_date = ?3 WHERE tenant = ?1",
        )?
        .execute(params![tenant, period, end_of_year])?
        == 1)
}

/// The next automatic invoice number of a tenant.
pub fn next_number(tx: &Transaction<'_>, tenant: &str) -> Result<i64, StateError> {
    Ok(tx.query_row(
        "UPDATE xero_tenants SET next_number = next_number + 1 WHERE tenant = ?1 RETURNING next_number - 1",
        [tenant],
        |r| r.get(0),
    )?)
}

fn parse_body(id: &str, text: &str) -> Result<Value, StateError> {
    serde_json::from_str(text).map_err(|e| StateError::Corrupt {
        id: id.to_string(),
        detail: e.to_string(),
    })
}

/// Every object of a kind in a tenant, oldest first.
pub fn objects(tx: &Transaction<'_>, tenant: &str, kind: &str) -> Result<Vec<Value>, StateError> {
    let mut stmt = tx.prepare_cached(
        "SELECT id, body FROM xero_objects WHERE tenant = ?1 AND kind = ?2 ORDER BY seq",
    )?;
    let rows = stmt.query_map(params![tenant, kind], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, text) = row?;
        out.push(parse_body(&id, &text)?);
    }
    Ok(out)
}

pub fn object(
    tx: &Transaction<'_>,
    tenant: &str,
    kind: &str,
    id: &str,
) -> Result<Option<Value>, StateError> {
    let text: Option<String> = tx
        .prepare_cached(
            "SELECT body FROM xero_objects WHERE tenant = ?1 AND kind = ?2 AND id = ?3",
        )?
        .query_row(params![tenant, kind, id], |r| r.get(0))
        .optional()?;
    text.map(|t| parse_body(id, &t)).transpose()
}

pub fn put_object(
    tx: &Transaction<'_>,
    tenant: &str,
    kind: &str,
    id: &str,
    body: &Value,
) -> Result<(), StateError> {
    tx.prepare_cached(
        "INSERT INTO xero_objects (tenant, kind, id, seq, body)
         VALUES (?1, ?2, ?3, (SELECT coalesce(max(seq), 0) + 1 FROM xero_objects), ?4)
         ON CONFLICT (tenant, kind, id) DO UPDATE SET body = excluded.body",
    )?
    .execute(params![tenant, kind, id, body.to_string()])?;
    Ok(())
}

pub fn insert_grant(
    tx: &Transaction<'_>,
    client_id: &str,
    scope: &str,
    auth_event: &str,
) -> Result<i64, StateError> {
    tx.prepare_cached(
        "INSERT INTO xero_grants (client_id, scope, auth_event) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![client_id, scope, auth_event])?;
    Ok(tx.last_insert_rowid())
}

/// The app a grant was given to.
/// The scopes grant `grant` was given, as the consent asked for them.
pub fn grant_scope(tx: &Transaction<'_>, grant: i64) -> Result<String, StateError> {
    Ok(tx
        .prepare_cached("SELECT scope FROM xero_grants WHERE id = ?1")?
        .query_row([grant], |r| r.get(0))?)
}

pub fn grant_client(tx: &Transaction<'_>, grant: i64) -> Result<String, StateError> {
    Ok(tx
        .prepare_cached("SELECT client_id FROM xero_grants WHERE id = ?1")?
        .query_row([grant], |r| r.get(0))?)
}

pub fn revoke_grant(tx: &Transaction<'_>, grant: i64) -> Result<(), StateError> {
    tx.prepare_cached("UPDATE xero_grants SET revoked = 1 WHERE id = ?1")?
        .execute([grant])?;
    tx.prepare_cached("DELETE FROM xero_connections WHERE grant_id = ?1")?
        .execute([grant])?;
    Ok(())
}

pub fn insert_connection(
    tx: &Transaction<'_>,
    id: &str,
    grant: i64,
    tenant: &str,
    created: i64,
) -> Result<(), StateError> {
    tx.prepare_cached(
        "INSERT INTO xero_connections (id, grant_id, tenant, created) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![id, grant, tenant, created])?;
    Ok(())
}

/// One organisation a grant reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub id: String,
    pub tenant: String,
    pub tenant_name: String,
    /// Shared by the connections one consent made.
    pub auth_event: String,
    pub created: i64,
}

/// A grant's connections, in the order they were made.
pub fn connections(tx: &Transaction<'_>, grant: i64) -> Result<Vec<Connection>, StateError> {
    let mut stmt = tx.prepare_cached(
        "SELECT c.id, c.tenant, t.name, g.auth_event, c.created
           FROM xero_connections c JOIN xero_tenants t ON t.tenant = c.tenant
           JOIN xero_grants g ON g.id = c.grant_id
          WHERE c.grant_id = ?1 ORDER BY c.rowid",
    )?;
    let rows = stmt.query_map([grant], |r| {
        Ok(Connection {
            id: r.get(0)?,
            tenant: r.get(1)?,
            tenant_name: r.get(2)?,
            auth_event: r.get(3)?,
            created: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn delete_connection(tx: &Transaction<'_>, grant: i64, id: &str) -> Result<bool, StateError> {
    Ok(tx
        .prepare_cached("DELETE FROM xero_connections WHERE grant_id = ?1 AND id = ?2")?
        .execute(params![grant, id])?
        == 1)
}

/// A token with its grant, as the token endpoint and the API check it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: String,
    pub grant: i64,
    pub expires: i64,
    pub redirect_uri: Option<String>,
    pub code_challenge: Option<String>,
    pub used: bool,
    pub client_id: String,
    pub scope: String,
    pub revoked: bool,
}

pub fn insert_token(
    tx: &Transaction<'_>,
    token: &str,
    kind: &str,
    grant: i64,
    expires: i64,
    redirect_uri: Option<&str>,
    code_challenge: Option<&str>,
) -> Result<(), StateError> {
    tx.prepare_cached(
        "INSERT INTO xero_tokens (token, kind, grant_id, expires, redirect_uri, code_challenge)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        token,
        kind,
        grant,
        expires,
        redirect_uri,
        code_challenge
    ])?;
    Ok(())
}

pub fn token(tx: &Transaction<'_>, token: &str) -> Result<Option<Token>, StateError> {
    Ok(tx
        .prepare_cached(
            "SELECT t.kind, t.grant_id, t.expires, t.redirect_uri, t.code_challenge, t.used,
                    g.client_id, g.scope, g.revoked
               FROM xero_tokens t JOIN xero_grants g ON g.id = t.grant_id WHERE t.token = ?1",
        )?
        .query_row([token], |r| {
            Ok(Token {
                kind: r.get(0)?,
                grant: r.get(1)?,
                expires: r.get(2)?,
                redirect_uri: r.get(3)?,
                code_challenge: r.get(4)?,
                used: r.get(5)?,
                client_id: r.get(6)?,
                scope: r.get(7)?,
                revoked: r.get(8)?,
            })
        })
        .optional()?)
}

/// Marks a code or refresh token used; it keeps working until `expires` at the latest.
pub fn use_token(tx: &Transaction<'_>, token: &str, expires: i64) -> Result<(), StateError> {
    tx.prepare_cached(
        "UPDATE xero_tokens SET used = 1, expires = min(expires, ?2) WHERE token = ?1",
    )?
    .execute(params![token, expires])?;
    Ok(())
}

pub fn expire_access_tokens(tx: &Transaction<'_>, now: i64) -> Result<usize, StateError> {
    Ok(tx
        .prepare_cached("UPDATE xero_tokens SET expires = min(expires, ?1) WHERE kind = 'access'")?
        .execute([now])?)
}

/// The answer kept under an idempotency key of a client, if younger than `oldest`.
pub fn request(
    tx: &Transaction<'_>,
    client_id: &str,
    key: &str,
    oldest: i64,
) -> Result<Option<(String, u16, String)>, StateError> {
    Ok(tx
        .prepare_cached(
            "SELECT fingerprint, status, body FROM xero_requests
              WHERE client_id = ?1 AND key = ?2 AND created >= ?3",
        )?
        .query_row(params![client_id, key, oldest], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?)
}

pub fn put_request(
    tx: &Transaction<'_>,
    client_id: &str,
    key: &str,
    fingerprint: &str,
    status: u16,
    body: &str,
    now: i64,
) -> Result<(), StateError> {
    tx.prepare_cached(
        "INSERT INTO xero_requests (client_id, key, fingerprint, status, body, created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (client_id, key) DO UPDATE SET fingerprint = excluded.fingerprint,
             status = excluded.status, body = excluded.body, created = excluded.created",
    )?
    .execute(params![client_id, key, fingerprint, status, body, now])?;
    Ok(())
}

/// Forgets every idempotency key (`DELETE /_sandbox/xero/idempotency_keys`): as six
/// minutes later at Xero.
pub fn forget_requests(tx: &Transaction<'_>) -> Result<usize, StateError> {
    Ok(tx.execute("DELETE FROM xero_requests", [])?)
}

/// Marks where a call's writes begin (see `qbo::state::savepoint`).
pub fn savepoint(tx: &Transaction<'_>) -> Result<(), StateError> {
    crate::sandbox::qbo::state::savepoint(tx)
}

pub fn end_savepoint(tx: &Transaction<'_>, keep: bool) -> Result<(), StateError> {
    crate::sandbox::qbo::state::end_savepoint(tx, keep)
}
