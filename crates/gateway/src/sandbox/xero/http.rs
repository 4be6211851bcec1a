//! The Xero stand-in's HTTP side: the identity routes, `/connections`, the Accounting API
//! under `/api.xro/2.0/`, and its `/_sandbox/xero/*` controls (an organisation added, its
//! books seeded as the API would make them, lock dates, tokens expired, keys forgotten).
//!
//! One API call goes: bearer token (401) and `xero-tenant-id` connected to its grant
//! (403); the tenant's limits (60 calls a minute, 5,000 a day; the remaining counts on
//! every answer, a 429 naming the limit with `Retry-After`); a fault armed on its path;
//! the `Idempotency-Key` (kept six minutes per app, its answer replayed, errors included;
//! another request under it is refused); the work in one SQLite transaction that also
//! keeps the answer under the key; then an after-commit fault.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::header::{AUTHORIZATION, HOST, LOCATION};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::books::Books;
use super::oauth;
use super::state::{self, Tenant};
use super::wire::{XeroError, envelope, ms_of, parse_since};
use crate::sandbox::server::{App, ClientConnection};
use crate::sandbox::strike::{self, After, Refusal};

const PER_MINUTE: u32 = 60;
const PER_DAY: u32 = 5_000;
/// How long Xero keeps an idempotency key.
const KEY_SECONDS: i64 = 6 * 60;

/// Calls per tenant: this minute's and this day's.
#[derive(Debug, Default)]
pub struct Limits {
    calls: Mutex<HashMap<String, (Instant, u32, Instant, u32)>>,
}

/// Where a tenant stands after one more call.
struct Standing {
    minute_left: u32,
    day_left: u32,
    refused: Option<(&'static str, u64)>,
}

impl Limits {
    fn count(&self, tenant: &str) -> Standing {
        let now = Instant::now();
        let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        let c = calls.entry(tenant.to_string()).or_insert((now, 0, now, 0));
        if now.duration_since(c.0) >= Duration::from_secs(60) {
            *c = (now, 0, c.2, c.3);
        }
        if now.duration_since(c.2) >= Duration::from_secs(86_400) {
            *c = (c.0, c.1, now, 0);
        }
        let refused = if c.1 >= PER_MINUTE {
            Some((
                "minute",
                60u64
                    .saturating_sub(now.duration_since(c.0).as_secs())
                    .max(1),
            ))
        } else if c.3 >= PER_DAY {
            Some((
                "day",
                86_400u64
                    .saturating_sub(now.duration_since(c.2).as_secs())
                    .max(1),
            ))
        } else {
            c.1 += 1;
            c.3 += 1;
            None
        };
        Standing {
            minute_left: PER_MINUTE - c.1.min(PER_MINUTE),
            day_left: PER_DAY - c.3.min(PER_DAY),
            refused,
        }
    }
}

pub fn routes(router: Router<Arc<App>>) -> Router<Arc<App>> {
    router
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/identity/connect/authorize", get(authorize))
        .route("/connect/token", post(token))
        .route("/connect/revocation", post(revoke))
        .route("/connections", get(connections))
        .route("/Connections", get(connections))
        .route("/connections/{id}", delete(disconnect))
        .route("/Connections/{id}", delete(disconnect))
        .route(
            "/api.xro/2.0/{*rest}",
            get(api_call).put(api_call).post(api_call),
        )
        .route("/_sandbox/xero/tenants", post(add_tenant))
        .route("/_sandbox/xero/seed", post(seed))
        .route("/_sandbox/xero/lock", post(lock))
        .route("/_sandbox/xero/expire_tokens", post(expire_tokens))
        .route("/_sandbox/xero/idempotency_keys", delete(forget_keys))
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn error_response(e: XeroError) -> Response {
    json_response(e.status, e.body)
}

fn sandbox_error(e: crate::sandbox::wire::ApiError) -> Response {
    let answer = e.into_answer();
    json_response(answer.status, answer.body)
}

async fn discovery(headers: HeaderMap) -> Response {
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    axum::Json(oauth::discovery(&format!("http://{host}"))).into_response()
}

#[derive(Debug, Deserialize)]
struct AuthorizeParams {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

/// Xero's consent, given at once to every organisation: a redirect with the code.
async fn authorize(State(app): State<Arc<App>>, Query(p): Query<AuthorizeParams>) -> Response {
    let refuse = |why: &str| {
        json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_request", "error_description": why}),
        )
    };
    let (Some(client_id), Some(redirect_uri), Some(scope)) = (p.client_id, p.redirect_uri, p.scope)
    else {
        return refuse("client_id, redirect_uri and scope are required");
    };
    if p.response_type.as_deref() != Some("code") {
        return refuse("response_type must be code");
    }
    if p.code_challenge.is_some() && p.code_challenge_method.as_deref() != Some("S256") {
        return refuse("code_challenge_method must be S256");
    }
    let at = now().as_second();
    let uri = redirect_uri.clone();
    let challenge = p.code_challenge.clone();
    match app
        .transaction(move |tx| {
            Ok(oauth::authorize(
                tx,
                &client_id,
                &uri,
                &scope,
                challenge.as_deref(),
                at,
            )?)
        })
        .await
    {
        Ok(code) => {
            let mut query = form_urlencoded::Serializer::new(String::new());
            query.append_pair("code", &code);
            if let Some(s) = &p.state {
                query.append_pair("state", s);
            }
            let sep = if redirect_uri.contains('?') { '&' } else { '?' };
            let location = format!("{redirect_uri}{sep}{}", query.finish());
            (StatusCode::FOUND, [(LOCATION, location)]).into_response()
        }
        Err(e) => sandbox_error(e),
    }
}

fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn basic(headers: &HeaderMap) -> Option<String> {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn token(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let form = form_pairs(&body);
    let client = oauth::client_of(basic(&headers).as_deref(), &form);
    let at = now().as_second();
    match app
        .transaction(move |tx| Ok(oauth::token(tx, client, &form, at)?))
        .await
    {
        Ok(Ok(tokens)) => axum::Json(tokens).into_response(),
        Ok(Err(error)) => json_response(StatusCode::BAD_REQUEST, json!({"error": error})),
        Err(e) => sandbox_error(e),
    }
}

async fn revoke(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let form = form_pairs(&body);
    let Some(client) = oauth::client_of(basic(&headers).as_deref(), &form) else {
        return json_response(StatusCode::BAD_REQUEST, json!({"error": "invalid_client"}));
    };
    let Some(token) = form
        .iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.clone())
    else {
        return json_response(StatusCode::BAD_REQUEST, json!({"error": "invalid_request"}));
    };
    match app
        .transaction(move |tx| Ok(oauth::revoke(tx, &client.id, &token)?))
        .await
    {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => sandbox_error(e),
    }
}

/// The grant of the request's bearer token, or the 401.
async fn grant_of(app: &Arc<App>, headers: &HeaderMap) -> Result<i64, Response> {
    let bearer = basic(headers);
    let at = now().as_second();
    match app
        .transaction(move |tx| Ok(oauth::bearer_grant(tx, bearer.as_deref(), at)?))
        .await
    {
        Ok(Ok(grant)) => Ok(grant),
        Ok(Err(detail)) => Err(error_response(XeroError::identity(
            StatusCode::UNAUTHORIZED,
            detail,
        ))),
        Err(e) => Err(sandbox_error(e)),
    }
}

fn dotnet_time(second: i64) -> String {
    jiff::Timestamp::from_second(second)
        .unwrap_or_default()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%Y-%m-%dT%H:%M:%S.%f")
        .to_string()
        .chars()
        .take(27)
        .collect()
}

async fn connections(State(app): State<Arc<App>>, headers: HeaderMap, uri: Uri) -> Response {
    let grant = match grant_of(&app, &headers).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let event = form_pairs(uri.query().unwrap_or("").as_bytes())
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authEventId"))
        .map(|(_, v)| v);
    match app.transaction(move |tx| Ok(state::connections(tx, grant)?)).await {
        Ok(rows) => axum::Json(
            rows.into_iter()
                .filter(|c| event.as_ref().is_none_or(|e| *e == c.auth_event))
                .map(|c| {
                    json!({
                        "id": c.id, "authEventId": c.auth_event, "tenantId": c.tenant,
                        "tenantType": "ORGANISATION", "tenantName": c.tenant_name,
                        "createdDateUtc": dotnet_time(c.created), "updatedDateUtc": dotnet_time(c.created),
                    })
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => sandbox_error(e),
    }
}

async fn disconnect(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let grant = match grant_of(&app, &headers).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    match app
        .transaction(move |tx| Ok(state::delete_connection(tx, grant, &id)?))
        .await
    {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => sandbox_error(e),
    }
}

/// The resource an API call names, in Xero's spelling.
fn resource(name: &str) -> Option<(&'static str, &'static str, &'static str)> {
    [
        ("Invoices", "Invoice", "InvoiceID"),
        ("Payments", "Payment", "PaymentID"),
        ("CreditNotes", "CreditNote", "CreditNoteID"),
        ("Contacts", "Contact", "ContactID"),
        ("Organisation", "Organisation", "OrganisationID"),
    ]
    .into_iter()
    .find(|(plural, _, _)| plural.eq_ignore_ascii_case(name))
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// One condition of a `where` filter: `Field=="text"`, `Field!="text"`, `Field==Guid("…")`,
/// `Field==true`, `Field==12.5`, or one of the string methods Xero documents,
/// `Field.Contains("text")` and `Field.StartsWith("text")` (case as given).
#[derive(Debug, Clone, PartialEq)]
struct Condition {
    field: String,
    wanted: String,
    negated: bool,
    method: Option<StringMethod>,
}

/// What a condition wants when it is a null guard (no text a filter can hold).
const NULL: &str = "\u{0}null";

#[derive(Debug, Clone, Copy, PartialEq)]
enum StringMethod {
    Contains,
    StartsWith,
}

/// `Field.Contains("text")` or `Field.StartsWith("text")`, when `part` is one.
fn string_method(part: &str) -> Option<Condition> {
    let open = part.find('(')?;
    let (field, method) = part[..open].rsplit_once('.')?;
    let inner = part[open..].strip_prefix("(\"")?.strip_suffix("\")")?;
    let method = match method {
        "Contains" => StringMethod::Contains,
        "StartsWith" => StringMethod::StartsWith,
        _ => return None,
    };
    let plain = !field.is_empty() && field.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
    (plain && !inner.contains('"')).then(|| Condition {
        field: field.to_string(),
        wanted: inner.to_string(),
        negated: false,
        method: Some(method),
    })
}

/// Parses the `where` filters the stand-in answers (equalities joined by `AND` in any
/// case); anything else is refused, never silently ignored.
fn parse_where(filter: &str) -> Result<Vec<Condition>, XeroError> {
    let refuse = |part: &str| {
        XeroError::invalid(format!(
            "The sandbox answers where filters of the form Field==\"value\" (or !=, Guid(\"…\"), a number, true or false) or Field.Contains(\"text\") / Field.StartsWith(\"text\"), joined by AND; it cannot answer {part}"
        ))
    };
    let mut out = Vec::new();
    let mut rest = filter;
    loop {
        let upper = rest.to_ascii_uppercase();
        let (part, next) = match upper.find(" AND ") {
            Some(at) => (&rest[..at], Some(&rest[at + 5..])),
            None => (rest, None),
        };
        let part = part.trim();
        if let Some(condition) = string_method(part) {
            // As Xero: "Operations on optional fields must be preceded by a null guard".
            let guarded = out.iter().any(|c: &Condition| {
                c.negated && c.wanted == NULL && c.field.eq_ignore_ascii_case(&condition.field)
            });
            if !guarded {
                return Err(XeroError::invalid(format!(
                    "Operations on optional fields must be preceded by a null guard: write {0} != null AND {part}",
                    condition.field
                )));
            }
            out.push(condition);
        } else if !part.is_empty() {
            let (field, value, negated) = match (part.split_once("!="), part.split_once("==")) {
                (Some((f, v)), _) => (f, v, true),
                (None, Some((f, v))) => (f, v, false),
                _ => return Err(refuse(part)),
            };
            let value = value.trim();
            let wanted = if value == "null" {
                // A null guard: `Field != null` (or `== null`); a field absent or empty.
                NULL.to_string()
            } else if let Some(inner) = value
                .strip_prefix("Guid(")
                .and_then(|v| v.strip_suffix(')'))
            {
                inner.trim_matches('"').to_lowercase()
            } else if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
                value[1..value.len() - 1].to_string()
            } else if value == "true"
                || value == "false"
                || value.parse::<rust_decimal::Decimal>().is_ok()
            {
                value.to_string()
            } else {
                return Err(refuse(part));
            };
            let field = field.trim();
            if field.is_empty() || !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '.') {
                return Err(refuse(part));
            }
            out.push(Condition {
                field: field.to_string(),
                wanted,
                negated,
                method: None,
            });
        }
        match next {
            Some(n) => rest = n,
            None => return Ok(out),
        }
    }
}

/// The text of a field at a dotted path, names matched in any case.
fn field_text(row: &Value, path: &str) -> String {
    let mut at = row;
    for name in path.split('.') {
        at = at
            .as_object()
            .and_then(|m| {
                m.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            })
            .unwrap_or(&Value::Null);
    }
    match at {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Number(n) => match crate::sandbox::decimal_json::cents_of(at) {
            Some(c) => rust_decimal::Decimal::new(c, 2).normalize().to_string(),
            None => n.to_string(),
        },
        other => other.to_string(),
    }
}

fn holds(row: &Value, conditions: &[Condition]) -> bool {
    conditions.iter().all(|c| {
        let text = field_text(row, &c.field);
        match c.method {
            Some(StringMethod::Contains) => return text.contains(&c.wanted),
            Some(StringMethod::StartsWith) => return text.starts_with(&c.wanted),
            None if c.wanted == NULL => return text.is_empty() != c.negated,
            None => {}
        }
        let same = text.eq_ignore_ascii_case(&c.wanted)
            && (text == c.wanted || uuid_shaped(&c.wanted))
            || (text.parse::<rust_decimal::Decimal>().ok().is_some()
                && text.parse::<rust_decimal::Decimal>().ok()
                    == c.wanted.parse::<rust_decimal::Decimal>().ok());
        same != c.negated
    })
}

fn uuid_shaped(text: &str) -> bool {
    text.len() == 36 && text.chars().filter(|c| *c == '-').count() == 4
}

/// A list: filters, `If-Modified-Since`, order, and a page when one is asked for.
fn list(
    rows: Vec<Value>,
    params: &[(String, String)],
    since: Option<jiff::Timestamp>,
    id_field: &str,
) -> Result<(Vec<Value>, Option<Value>), XeroError> {
    let mut rows: Vec<Value> = rows
        .into_iter()
        .filter(|r| {
            since.is_none_or(|s| {
                r["UpdatedDateUTC"]
                    .as_str()
                    .and_then(ms_of)
                    .is_some_and(|ms| ms >= s.as_millisecond())
            })
        })
        .collect();
    if let Some(filter) = param(params, "where") {
        let conditions = parse_where(filter)?;
        rows.retain(|r| holds(r, &conditions));
    }
    let among = |name: &str, field: &str, rows: &mut Vec<Value>| {
        if let Some(list) = param(params, name) {
            let wanted: Vec<String> = list.split(',').map(|s| s.trim().to_lowercase()).collect();
            rows.retain(|r| {
                r[field]
                    .as_str()
                    .is_some_and(|v| wanted.contains(&v.to_lowercase()))
            });
        }
    };
    among("IDs", id_field, &mut rows);
    among("Statuses", "Status", &mut rows);
    among("InvoiceNumbers", "InvoiceNumber", &mut rows);
    if let Some(list) = param(params, "ContactIDs") {
        let wanted: Vec<String> = list.split(',').map(|s| s.trim().to_lowercase()).collect();
        rows.retain(|r| wanted.contains(&field_text(r, "Contact.ContactID").to_lowercase()));
    }
    if let Some(order) = param(params, "order") {
        let mut words = order.split_whitespace();
        let field = words.next().unwrap_or("UpdatedDateUTC").to_string();
        let descending = words.next().is_some_and(|w| w.eq_ignore_ascii_case("DESC"));
        rows.sort_by(|a, b| {
            let key = |v: &Value| match &v[field.as_str()] {
                Value::String(s) => ms_of(s)
                    .map(|m| format!("{m:020}"))
                    .unwrap_or_else(|| s.clone()),
                other => other.to_string(),
            };
            let o = key(a).cmp(&key(b));
            if descending { o.reverse() } else { o }
        });
    }
    let Some(page) = param(params, "page") else {
        return Ok((rows, None));
    };
    let page: usize = page
        .parse()
        .ok()
        .filter(|p| *p >= 1)
        .ok_or_else(|| XeroError::invalid("page must be 1 or more"))?;
    let size: usize = match param(params, "pageSize") {
        Some(s) => s
            .parse()
            .ok()
            .filter(|s| (1..=1000).contains(s))
            .ok_or_else(|| XeroError::invalid("pageSize must be between 1 and 1000"))?,
        None => 100,
    };
    let count = rows.len();
    let slice: Vec<Value> = rows
        .into_iter()
        .skip((page - 1) * size)
        .take(size)
        .collect();
    let pagination = json!({"page": page, "pageSize": size, "pageCount": count.div_ceil(size), "itemCount": count});
    Ok((slice, Some(pagination)))
}

/// The elements of a write: `{"Plural": […]}`, or a bare object.
fn elements(body: &Value, plural: &str) -> Vec<Value> {
    match body.get(plural).and_then(Value::as_array) {
        Some(list) => list.clone(),
        None => vec![body.clone()],
    }
}

/// Runs one call on the tenant's books.
fn run_call(
    books: &Books<'_, '_>,
    method: &Method,
    rest: &str,
    params: &[(String, String)],
    since: Option<jiff::Timestamp>,
    body: &Value,
) -> Result<Value, XeroError> {
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let Some((plural, kind, id_field)) = segments.first().and_then(|s| resource(s)) else {
        return Err(XeroError::not_found(rest));
    };
    let at = books.now;
    match (method, &segments[1..]) {
        // The path is singular, the envelope's list plural.
        (&Method::GET, []) if kind == "Organisation" => Ok(envelope(
            "Organisations",
            vec![books.organisation()],
            None,
            at,
        )),
        (&Method::GET, []) => {
            let (rows, pagination) = list(books.all(kind)?, params, since, id_field)?;
            Ok(envelope(plural, rows, pagination, at))
        }
        (&Method::GET, [id]) => Ok(envelope(plural, vec![books.one(kind, id)?], None, at)),
        (&Method::PUT | &Method::POST, []) => {
            let mut made = Vec::new();
            for element in elements(body, plural) {
                let existing = element
                    .get(id_field)
                    .and_then(Value::as_str)
                    .map(str::to_string);
                made.push(match (kind, existing) {
                    ("Invoice", Some(id)) if method == Method::POST => {
                        books.update_invoice(&id, &element)?
                    }
                    ("Invoice", _) => books.create_invoice(&element)?,
                    ("Payment", _) => books.create_payment(&element)?,
                    ("CreditNote", None) => books.create_credit_note(&element)?,
                    ("Contact", _) => books.create_contact(&element)?,
                    _ => {
                        return Err(XeroError::invalid(format!(
                            "{plural} cannot be written here"
                        )));
                    }
                });
            }
            Ok(envelope(plural, made, None, at))
        }
        (&Method::POST, [id]) => {
            let element = elements(body, plural)
                .into_iter()
                .next()
                .unwrap_or(Value::Null);
            let written = match kind {
                "Invoice" => books.update_invoice(id, &element)?,
                "Payment" => books.delete_payment(id, &element)?,
                "CreditNote" => books.update_credit_note(id, &element)?,
                _ => {
                    return Err(XeroError::invalid(format!(
                        "{plural} cannot be written here"
                    )));
                }
            };
            Ok(envelope(plural, vec![written], None, at))
        }
        _ => Err(XeroError::not_found(rest)),
    }
}

fn with_limits(mut response: Response, standing: &Standing) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-minlimit-remaining", standing.minute_left),
        ("x-daylimit-remaining", standing.day_left),
        ("x-appminlimit-remaining", 9_999),
    ] {
        headers.insert(name, HeaderValue::from(value));
    }
    response
}

/// Whether a grant of `scope` reaches `rest` (`Invoices/…`, `Payments`, …) with `method`:
/// the list's granular scope (its `.read` for a `GET`), or the broad
/// `accounting.transactions[.read]` for invoices, credit notes and payments, or
/// `accounting.settings[.read]` for the organisation and its accounts (docs/research/
/// xero.md §1b). Contacts are not held to a scope here.
fn scope_allows(scope: &str, method: &Method, rest: &str) -> bool {
    let list = rest.split('/').next().unwrap_or("");
    let (family, broad) = match list {
        "Invoices" | "CreditNotes" | "Items" => ("accounting.invoices", true),
        "Payments" | "Overpayments" | "Prepayments" | "BatchPayments" => {
            ("accounting.payments", true)
        }
        "Organisation" | "Accounts" | "TaxRates" | "Currencies" => ("accounting.settings", false),
        _ => return true,
    };
    let read = *method == Method::GET;
    scope.split_whitespace().any(|s| {
        s == family
            || (read && s == format!("{family}.read"))
            || (broad
                && (s == "accounting.transactions"
                    || (read && s == "accounting.transactions.read")))
    })
}

/// One API call, run detached (`strike::detached`): it outlives a client that gives up.
#[allow(clippy::too_many_arguments)]
async fn api_call(
    State(app): State<Arc<App>>,
    ConnectInfo(connection): ConnectInfo<ClientConnection>,
    Path(rest): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    strike::detached(run_api_call(
        app, connection, rest, method, uri, headers, body,
    ))
    .await
}

#[allow(clippy::too_many_arguments)]
async fn run_api_call(
    app: Arc<App>,
    connection: ClientConnection,
    rest: String,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let grant = match grant_of(&app, &headers).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let scope = match app
        .transaction(move |tx| Ok(state::grant_scope(tx, grant)?))
        .await
    {
        Ok(scope) => scope,
        Err(e) => return sandbox_error(e),
    };
    if !scope_allows(&scope, &method, &rest) {
        return error_response(XeroError::identity(
            StatusCode::UNAUTHORIZED,
            "AuthorizationUnsuccessful",
        ));
    }
    let tenant_id = headers
        .get("xero-tenant-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_lowercase();
    let looked_up = tenant_id.clone();
    let found = app
        .transaction(move |tx| {
            let connected = state::connections(tx, grant)?
                .into_iter()
                .any(|c| c.tenant == looked_up);
            let client = state::grant_client(tx, grant)?;
            Ok((
                connected
                    .then(|| state::tenant(tx, &looked_up))
                    .transpose()?
                    .flatten(),
                client,
            ))
        })
        .await;
    let (tenant, client_id): (Tenant, String) = match found {
        Ok((Some(t), client)) => (t, client),
        Ok((None, _)) => {
            return error_response(XeroError::identity(
                StatusCode::FORBIDDEN,
                "AuthenticationUnsuccessful",
            ));
        }
        Err(e) => return sandbox_error(e),
    };
    let standing = app.xero_limits().count(&tenant.tenant);
    if let Some((problem, retry)) = standing.refused {
        let mut r = with_limits(StatusCode::TOO_MANY_REQUESTS.into_response(), &standing);
        r.headers_mut()
            .insert("x-rate-limit-problem", HeaderValue::from_static(problem));
        r.headers_mut()
            .insert("retry-after", HeaderValue::from(retry));
        return r;
    }
    let strike = app.faults().strike(method.as_str(), uri.path());
    match strike::before(&app, &connection, strike).await {
        Some(Refusal::Throttled) => {
            let mut r = with_limits(StatusCode::TOO_MANY_REQUESTS.into_response(), &standing);
            r.headers_mut()
                .insert("x-rate-limit-problem", HeaderValue::from_static("minute"));
            r.headers_mut()
                .insert("retry-after", HeaderValue::from(1u32));
            return r;
        }
        Some(Refusal::Failed { status, detail }) => {
            let e = XeroError {
                status,
                ..XeroError::internal(detail)
            };
            return with_limits(error_response(e), &standing);
        }
        None => {}
    }
    let params: Vec<(String, String)> = form_pairs(uri.query().unwrap_or("").as_bytes());
    let since = match headers
        .get("if-modified-since")
        .and_then(|v| v.to_str().ok())
    {
        None => None,
        Some(text) => match parse_since(text) {
            Some(t) => Some(t),
            None => {
                return with_limits(
                    error_response(XeroError::invalid(format!(
                        "If-Modified-Since {text} is not a time"
                    ))),
                    &standing,
                );
            }
        },
    };
    let parsed: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                return with_limits(
                    error_response(XeroError::invalid(format!("The body is not JSON: {e}"))),
                    &standing,
                );
            }
        }
    };
    let key = (method != Method::GET)
        .then(|| {
            headers
                .get("idempotency-key")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
        .flatten()
        .filter(|k| !k.is_empty());
    if let Some(k) = &key
        && k.len() > 128
    {
        return with_limits(
            error_response(XeroError::invalid(format!(
                "Idempotency Key: {k} is {} characters; 128 is the most",
                k.len()
            ))),
            &standing,
        );
    }
    let fingerprint = hex::encode(Sha256::digest(
        format!("{method} {uri} {}", String::from_utf8_lossy(&body)).as_bytes(),
    ));
    // Keys are kept per app and organisation: one organisation's answer is never another's.
    let scope = format!("{client_id}/{}", tenant.tenant);
    let answered = app
        .transaction(move |tx| {
            // The time and the connection as of this transaction: a disconnection between
            // the checks above and this work counts, and a write is never stamped before a
            // read that committed first.
            let at = now();
            let still = state::connections(tx, grant)?
                .into_iter()
                .any(|c| c.tenant == tenant.tenant);
            let Some(tenant) = still
                .then(|| state::tenant(tx, &tenant.tenant))
                .transpose()?
                .flatten()
            else {
                let e = XeroError::identity(StatusCode::FORBIDDEN, "AuthenticationUnsuccessful");
                return Ok((e.status.as_u16(), e.body.to_string()));
            };
            if let Some(k) = &key
                && let Some((print, status, body)) =
                    state::request(tx, &scope, k, at.as_second() - KEY_SECONDS)?
            {
                if print != fingerprint {
                    let e = XeroError::invalid(format!(
                        "Idempotency Key: {k} is used with a different request."
                    ));
                    return Ok((e.status.as_u16(), e.body.to_string()));
                }
                return Ok((status, body));
            }
            let books = Books {
                tx,
                tenant,
                now: at,
            };
            state::savepoint(tx)?;
            let outcome = run_call(&books, &method, &rest, &params, since, &parsed);
            state::end_savepoint(tx, outcome.is_ok())?;
            let (status, body) = match outcome {
                Ok(body) => (200u16, body),
                Err(e) => (e.status.as_u16(), e.body),
            };
            let text = body.to_string();
            if let Some(k) = &key {
                state::put_request(tx, &scope, k, &fingerprint, status, &text, at.as_second())?;
            }
            Ok((status, text))
        })
        .await;
    let (status, text) = match answered {
        Ok(a) => a,
        Err(e) => return sandbox_error(e),
    };
    let answer = with_limits(
        (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            [(
                axum::http::header::CONTENT_TYPE,
                "application/json; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        &standing,
    );
    match strike::after(&app, &connection, strike).await {
        After::Answer => answer,
        After::Lost => error_response(XeroError::internal("sandbox fault: this answer was lost")),
        After::Failed => error_response(XeroError::internal(
            "sandbox fault error_500_after_commit: the request was carried out; send it again with the same Idempotency-Key within six minutes for its answer",
        )),
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTenant {
    tenant: Option<String>,
    name: Option<String>,
    currency: Option<String>,
}

/// `POST /_sandbox/xero/tenants`: adds an organisation (a consent connects every one).
async fn add_tenant(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let new: NewTenant = match serde_json::from_slice(if body.is_empty() { b"{}" } else { &body }) {
        Ok(n) => n,
        Err(e) => {
            return json_response(
                StatusCode::BAD_REQUEST,
                json!({"error": {"message": format!("cannot read the tenant ({e})")}}),
            );
        }
    };
    let default = oauth::default_tenant();
    let tenant = Tenant {
        tenant: new
            .tenant
            .map(|t| t.to_lowercase())
            .unwrap_or(default.tenant),
        name: new.name.unwrap_or(default.name),
        currency: new
            .currency
            .map(|c| c.to_uppercase())
            .unwrap_or(default.currency),
        period_lock_date: None,
        end_of_year_lock_date: None,
    };
    let t = tenant.clone();
    match app
        .transaction(move |tx| Ok(state::insert_tenant(tx, &t)?))
        .await
    {
        Ok(()) => axum::Json(json!({"tenant": tenant.tenant})).into_response(),
        Err(e) => sandbox_error(e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedBooks {
    tenant: String,
    /// Made first when the stand-in has no organisation `tenant` yet.
    #[serde(default)]
    organisation: Option<NewTenant>,
    #[serde(default)]
    invoices: Vec<Value>,
    #[serde(default)]
    credit_notes: Vec<Value>,
    /// Each names its `Invoice` or `CreditNote` (by id or number), as the API's do.
    #[serde(default)]
    payments: Vec<Value>,
}

/// `POST /_sandbox/xero/seed`: creates an organisation's objects as the API would (same
/// rules, ids and statuses; no call counted against its limits), invoices, then credit
/// notes, then payments, in one transaction (the organisation first, when `organisation`
/// is given and it is missing); answers their ids in order. An organisation that holds
/// invoices already is seeded once: the answer says `already_seeded` and nothing changes.
async fn seed(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let request: SeedBooks = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return json_response(
                StatusCode::BAD_REQUEST,
                json!({"error": {"message": format!("cannot read the seed ({e})")}}),
            );
        }
    };
    let at = now();
    let result = app
        .transaction(move |tx| {
            let id = request.tenant.to_lowercase();
            if let (None, Some(new)) = (state::tenant(tx, &id)?, &request.organisation) {
                let default = oauth::default_tenant();
                state::insert_tenant(
                    tx,
                    &Tenant {
                        tenant: id.clone(),
                        name: new.name.clone().unwrap_or(default.name),
                        currency: new
                            .currency
                            .as_deref()
                            .map_or(default.currency, str::to_uppercase),
                        period_lock_date: None,
                        end_of_year_lock_date: None,
                    },
                )?;
            }
            let tenant = state::tenant(tx, &id)?.ok_or_else(|| {
                crate::sandbox::wire::ApiError::invalid_request(format!(
                    "no organisation {}",
                    request.tenant
                ))
            })?;
            let books = Books {
                tx,
                tenant,
                now: at,
            };
            if !books
                .all("Invoice")
                .map_err(|e| crate::sandbox::wire::ApiError::invalid_request(e.body.to_string()))?
                .is_empty()
            {
                return Ok(json!({"already_seeded": true}));
            }
            type Create<'b> = &'b dyn Fn(&Value) -> Result<Value, XeroError>;
            let steps: [(&str, &str, &Vec<Value>, Create<'_>); 3] = [
                ("Invoices", "InvoiceID", &request.invoices, &|v| {
                    books.create_invoice(v)
                }),
                ("CreditNotes", "CreditNoteID", &request.credit_notes, &|v| {
                    books.create_credit_note(v)
                }),
                ("Payments", "PaymentID", &request.payments, &|v| {
                    books.create_payment(v)
                }),
            ];
            let mut made = json!({});
            for (kind, id, rows, create) in steps {
                made[kind] = crate::sandbox::seed::create_all(kind, rows, id, |row| {
                    create(row).map_err(|e| e.body.to_string())
                })?;
            }
            Ok(made)
        })
        .await;
    match result {
        Ok(made) => axum::Json(made).into_response(),
        Err(e) => sandbox_error(e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Lock {
    tenant: String,
    period_lock_date: Option<String>,
    end_of_year_lock_date: Option<String>,
}

/// `POST /_sandbox/xero/lock`: sets the organisation's lock dates (`YYYY-MM-DD` or null).
async fn lock(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let request: Lock = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return json_response(
                StatusCode::BAD_REQUEST,
                json!({"error": {"message": format!("cannot read the lock ({e})")}}),
            );
        }
    };
    for d in [&request.period_lock_date, &request.end_of_year_lock_date]
        .into_iter()
        .flatten()
    {
        if d.parse::<jiff::civil::Date>().is_err() {
            return json_response(
                StatusCode::BAD_REQUEST,
                json!({"error": {"message": format!("{d} is not a date (YYYY-MM-DD)")}}),
            );
        }
    }
    match app
        .transaction(move |tx| {
            Ok(state::set_lock_dates(
                tx,
                &request.tenant,
                request.period_lock_date.as_deref(),
                request.end_of_year_lock_date.as_deref(),
            )?)
        })
        .await
    {
        Ok(true) => axum::Json(json!({"locked": true})).into_response(),
        Ok(false) => json_response(
            StatusCode::NOT_FOUND,
            json!({"error": {"message": "no such tenant"}}),
        ),
        Err(e) => sandbox_error(e),
    }
}

async fn expire_tokens(State(app): State<Arc<App>>) -> Response {
    let at = now().as_second();
    match app
        .transaction(move |tx| Ok(state::expire_access_tokens(tx, at)?))
        .await
    {
        Ok(n) => axum::Json(json!({"expired": n})).into_response(),
        Err(e) => sandbox_error(e),
    }
}

async fn forget_keys(State(app): State<Arc<App>>) -> Response {
    match app.transaction(|tx| Ok(state::forget_requests(tx)?)).await {
        Ok(n) => axum::Json(json!({"forgotten": n})).into_response(),
        Err(e) => sandbox_error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_methods_filter_as_xero_documents_them() {
        let row =
            json!({"Reference": "ch_3Oa Chargeguard cg-k1", "Invoice": {"InvoiceNumber": "INV-7"}});
        let ask = |filter: &str| holds(&row, &parse_where(filter).unwrap());
        assert!(ask(r#"Reference != null AND Reference.Contains("cg-k1")"#));
        assert!(!ask(r#"Reference!=null AND Reference.Contains("cg-k2")"#));
        assert!(ask(
            r#"Reference != null AND Reference.StartsWith("ch_3Oa")"#
        ));
        assert!(ask(
            r#"Invoice.InvoiceNumber != null AND Invoice.InvoiceNumber.StartsWith("INV") AND Reference != null AND Reference.Contains("Chargeguard")"#
        ));
        assert!(!ask(r#"Status != null"#), "no Status: null");
        let unguarded = parse_where(r#"Reference.Contains("cg-k1")"#).unwrap_err();
        assert!(
            unguarded.body.to_string().contains("null guard"),
            "{:?}",
            unguarded.body
        );
        assert!(parse_where(r#"Reference.EndsWith("x")"#).is_err());
        assert!(parse_where(r#"Reference.Contains(x)"#).is_err());
    }
}
