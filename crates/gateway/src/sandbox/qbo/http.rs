//! The stand-in's HTTP side: Intuit's OAuth routes, the Accounting API under
//! `/v3/company/{realmId}/…`, and its `/_sandbox/qbo/*` controls.
//!
//! One API call goes: bearer token (401 in the gateway's own envelope); the company's
//! rate (500 calls a minute, then 429); a fault armed on its path; the `requestid` (a
//! request id already answered gets that answer again, whatever the body, as Intuit's
//! blog describes it); the work in one SQLite transaction that also keeps the answer
//! under the request id; then an after-commit fault may lose, delay or replace the answer.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::header::{AUTHORIZATION, HOST, LOCATION};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::books::{Books, entity_name};
use super::oauth::{self, TokenError};
use super::query;
use super::state::{self, Company};
use super::wire::{Fault, envelope_time, parse_time, unauthorized};
use crate::sandbox::server::{App, ClientConnection};
use crate::sandbox::state::StateError;
use crate::sandbox::strike::{self, After, Refusal};

/// Intuit's documented throttle: 500 calls a minute per company.
const CALLS_PER_MINUTE: usize = 500;

/// Calls per company in the last minute.
#[derive(Debug, Default)]
pub struct Throttle {
    calls: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Throttle {
    fn admit(&self, realm: &str) -> bool {
        let now = Instant::now();
        let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        let seen = calls.entry(realm.to_string()).or_default();
        while seen
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
        {
            seen.pop_front();
        }
        if seen.len() >= CALLS_PER_MINUTE {
            return false;
        }
        seen.push_back(now);
        true
    }
}

/// The routes, added to the sandbox's router.
pub fn routes(router: Router<Arc<App>>) -> Router<Arc<App>> {
    router
        .route("/.well-known/openid_configuration", get(discovery))
        .route("/connect/oauth2", get(authorize))
        .route("/oauth2/v1/tokens/bearer", post(token))
        .route("/v2/oauth2/tokens/revoke", post(revoke))
        .route("/v3/company/{realm}/{*rest}", get(api_call).post(api_call))
        .route("/_sandbox/qbo/companies", post(add_company))
        .route("/_sandbox/qbo/seed", post(seed))
        .route("/_sandbox/qbo/close_books", post(close_books))
        .route("/_sandbox/qbo/expire_tokens", post(expire_tokens))
        .route("/_sandbox/qbo/requests", delete(forget_requests))
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

fn control_error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(json!({"error": {"message": message.into()}})),
    )
        .into_response()
}

fn base_of(headers: &HeaderMap) -> String {
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

async fn discovery(headers: HeaderMap) -> Response {
    axum::Json(oauth::discovery(&base_of(&headers))).into_response()
}

#[derive(Debug, Deserialize)]
struct AuthorizeParams {
    client_id: Option<String>,
    response_type: Option<String>,
    scope: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
}

/// Intuit's consent page, consenting at once: a redirect to the app with the code.
async fn authorize(State(app): State<Arc<App>>, Query(p): Query<AuthorizeParams>) -> Response {
    let (Some(client_id), Some(redirect_uri)) = (p.client_id, p.redirect_uri) else {
        return control_error(
            StatusCode::BAD_REQUEST,
            "client_id and redirect_uri are required",
        );
    };
    if p.response_type.as_deref() != Some("code") {
        return control_error(StatusCode::BAD_REQUEST, "response_type must be code");
    }
    if !p
        .scope
        .as_deref()
        .is_some_and(|s| s.split(' ').any(|x| x == oauth::SCOPE))
    {
        return control_error(
            StatusCode::BAD_REQUEST,
            format!("scope must include {}", oauth::SCOPE),
        );
    }
    let at = now().as_second();
    let uri = redirect_uri.clone();
    let result = app
        .transaction(move |tx| Ok(oauth::authorize(tx, &client_id, &uri, at)?))
        .await;
    match result {
        Ok((code, company)) => {
            let mut location = redirect_uri;
            location.push(if location.contains('?') { '&' } else { '?' });
            let mut query = form_urlencoded::Serializer::new(String::new());
            query.append_pair("code", &code);
            if let Some(s) = &p.state {
                query.append_pair("state", s);
            }
            query.append_pair("realmId", &company.realm);
            location.push_str(&query.finish());
            (StatusCode::FOUND, [(LOCATION, location)]).into_response()
        }
        Err(e) => respond_stripe_error(e),
    }
}

fn respond_stripe_error(e: crate::sandbox::wire::ApiError) -> Response {
    let answer = e.into_answer();
    (answer.status, axum::Json(answer.body)).into_response()
}

fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

async fn token(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let client = oauth::basic_client(headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()));
    let form = form_pairs(&body);
    let at = now().as_second();
    let result = app
        .transaction(move |tx| Ok(oauth::token(tx, client, &form, at)))
        .await;
    let (status, error) = match result {
        Ok(Ok(tokens)) => return axum::Json(tokens).into_response(),
        Ok(Err(TokenError::InvalidClient)) => (StatusCode::UNAUTHORIZED, "invalid_client"),
        Ok(Err(TokenError::InvalidGrant)) => (StatusCode::BAD_REQUEST, "invalid_grant"),
        Ok(Err(TokenError::InvalidRequest(_))) => (StatusCode::BAD_REQUEST, "invalid_request"),
        Ok(Err(TokenError::UnsupportedGrantType)) => {
            (StatusCode::BAD_REQUEST, "unsupported_grant_type")
        }
        Ok(Err(TokenError::State(e))) => {
            return control_error(StatusCode::INTERNAL_SERVER_ERROR, e);
        }
        Err(e) => return respond_stripe_error(e),
    };
    (status, axum::Json(json!({"error": error}))).into_response()
}

/// Revocation takes JSON `{"token": …}` (intuit-oauth) or a form (node-quickbooks).
async fn revoke(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(client) =
        oauth::basic_client(headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()))
    else {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    };
    let token = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["token"].as_str().map(str::to_string))
        .or_else(|| {
            form_pairs(&body)
                .into_iter()
                .find(|(k, _)| k == "token")
                .map(|(_, v)| v)
        });
    let Some(token) = token else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_request"})),
        )
            .into_response();
    };
    match app
        .transaction(move |tx| Ok(oauth::revoke(tx, &client, &token)?))
        .await
    {
        Ok(_) => StatusCode::OK.into_response(),
        Err(e) => respond_stripe_error(e),
    }
}

/// What one API call asks, read from its path, query and body.
#[derive(Debug, Clone)]
enum Call {
    Query(String),
    Cdc {
        entities: Vec<&'static str>,
        since: String,
    },
    Preferences,
    Read(&'static str, String),
    Write {
        entity: &'static str,
        operation: Operation,
        body: Value,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Save,
    Void,
    Delete,
}

fn params_of(uri: &Uri) -> Vec<(String, String)> {
    form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn unsupported(what: &str) -> Fault {
    Fault::validation(
        2010,
        "Request has invalid or unsupported property",
        format!("Unsupported operation: {what}"),
    )
}

fn read_call(
    method: &Method,
    rest: &str,
    params: &[(String, String)],
    body: &[u8],
) -> Result<Call, Fault> {
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        (&Method::GET, ["query"]) => param(params, "query")
            .map(|q| Call::Query(q.to_string()))
            .ok_or_else(|| Fault::query("no query was sent")),
        (&Method::POST, ["query"]) => Ok(Call::Query(String::from_utf8_lossy(body).into_owned())),
        (&Method::GET, ["cdc"]) => {
            let entities = param(params, "entities").ok_or_else(|| Fault::required("entities"))?;
            let entities = entities
                .split(',')
                .map(|e| {
                    entity_name(e.trim())
                        .ok_or_else(|| unsupported(&format!("change data capture of {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let since =
                param(params, "changedSince").ok_or_else(|| Fault::required("changedSince"))?;
            Ok(Call::Cdc {
                entities,
                since: since.to_string(),
            })
        }
        (&Method::GET, ["preferences"]) => Ok(Call::Preferences),
        (&Method::GET, [entity, id]) => {
            let entity = entity_name(entity).ok_or_else(|| unsupported(entity))?;
            Ok(Call::Read(entity, id.to_string()))
        }
        (&Method::POST, [entity]) => {
            let entity = entity_name(entity).ok_or_else(|| unsupported(entity))?;
            let body: Value = serde_json::from_slice(body).map_err(|e| {
                Fault::validation(
                    2010,
                    "Request has invalid or unsupported property",
                    format!("The body is not JSON: {e}"),
                )
            })?;
            let operation = match (param(params, "operation"), param(params, "include")) {
                (Some("void"), _) | (Some("update"), Some("void")) => Operation::Void,
                (Some("delete"), _) => Operation::Delete,
                (None | Some("update"), _) => Operation::Save,
                (Some(other), _) => return Err(unsupported(&format!("operation={other}"))),
            };
            // node-quickbooks marks a void in the body of an update.
            if body["void"] == true && operation == Operation::Save {
                return Ok(Call::Write {
                    entity,
                    operation: Operation::Void,
                    body,
                });
            }
            Ok(Call::Write {
                entity,
                operation,
                body,
            })
        }
        _ => Err(unsupported(&format!("{method} {rest}"))),
    }
}

/// Runs a call on the company's books; the answer's status and body.
fn run_call(books: &Books<'_, '_>, call: &Call) -> Result<Value, Fault> {
    let zone = books.company.zone.clone();
    match call {
        Call::Query(text) => {
            let q = query::parse(text)?;
            let entity = entity_name(&q.entity).ok_or_else(|| {
                Fault::query(format!(
                    "Encountered \"{}\": not an entity the sandbox keeps",
                    q.entity
                ))
            })?;
            let (page, total) = q.select(books.all(entity)?, &zone);
            let response = if q.count {
                json!({"totalCount": total})
            } else if page.is_empty() {
                json!({})
            } else {
                json!({entity: page.clone(), "startPosition": q.start, "maxResults": page.len()})
            };
            Ok(json!({"QueryResponse": response}))
        }
        Call::Cdc { entities, since } => {
            let since = parse_time(since, &zone).ok_or_else(|| {
                Fault::validation(
                    2040,
                    "Invalid Date",
                    format!("changedSince {since} is not a time"),
                )
            })?;
            // "CDC operations can track changes within the last 30 days."
            if books.now.duration_since(since) > jiff::SignedDuration::from_hours(30 * 24) {
                return Err(Fault::validation(
                    2040,
                    "Invalid Date",
                    "changedSince must be within the last 30 days".to_string(),
                ));
            }
            let mut responses = Vec::new();
            for entity in entities {
                let rows = books.changed_since(entity, since)?;
                if rows.is_empty() {
                    responses.push(json!({}));
                } else {
                    responses.push(json!({*entity: rows.clone(), "startPosition": 1, "maxResults": rows.len()}));
                }
            }
            Ok(json!({"CDCResponse": [{"QueryResponse": responses}]}))
        }
        Call::Preferences => Ok(json!({"Preferences": books.preferences()})),
        Call::Read(entity, id) => Ok(json!({*entity: books.read(entity, id)?})),
        Call::Write {
            entity,
            operation,
            body,
        } => {
            let has_id = body.get("Id").is_some_and(|v| !v.is_null());
            let written = match operation {
                Operation::Void => books.void(entity, body)?,
                Operation::Delete => books.delete(entity, body)?,
                Operation::Save if has_id => books.update(entity, body)?,
                Operation::Save => books.create(entity, body)?,
            };
            Ok(json!({*entity: written}))
        }
    }
}

fn fault_response(fault: &Fault, company: Option<&Company>) -> Response {
    let zone = company.map(|c| c.zone.as_str()).unwrap_or("UTC");
    (
        fault.status,
        axum::Json(fault.body(&envelope_time(now(), zone))),
    )
        .into_response()
}

/// One API call, run detached (`strike::detached`): it outlives a client that gives up.
#[allow(clippy::too_many_arguments)]
async fn api_call(
    State(app): State<Arc<App>>,
    ConnectInfo(connection): ConnectInfo<ClientConnection>,
    Path((realm, rest)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    strike::detached(run_api_call(
        app, connection, realm, rest, method, uri, headers, body,
    ))
    .await
}

#[allow(clippy::too_many_arguments)]
async fn run_api_call(
    app: Arc<App>,
    connection: ClientConnection,
    realm: String,
    rest: String,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = now();
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let checked_realm = realm.clone();
    let checked = app
        .transaction(move |tx| {
            let verdict =
                oauth::check_bearer(tx, bearer.as_deref(), &checked_realm, at.as_second())?;
            Ok((verdict, state::company(tx, &checked_realm)?))
        })
        .await;
    let company = match checked {
        Ok((Err(detail), _)) => return unauthorized(&detail, at.as_millisecond()),
        Ok((Ok(()), Some(company))) => company,
        Ok((Ok(()), None)) => return unauthorized("No such company", at.as_millisecond()),
        Err(e) => return respond_stripe_error(e),
    };
    if !app.qbo_throttle().admit(&realm) {
        return fault_response(&Fault::throttled(), Some(&company));
    }
    let params = params_of(&uri);
    let call = match read_call(&method, &rest, &params, &body) {
        Ok(call) => call,
        Err(fault) => return fault_response(&fault, Some(&company)),
    };
    let strike = app.faults().strike(method.as_str(), uri.path());
    match strike::before(&app, &connection, strike).await {
        Some(Refusal::Throttled) => return fault_response(&Fault::throttled(), Some(&company)),
        Some(Refusal::Failed { status, detail }) => {
            let fault = Fault {
                status,
                ..Fault::internal(detail)
            };
            return fault_response(&fault, Some(&company));
        }
        None => {}
    }
    let request_id = (method == Method::POST)
        .then(|| param(&params, "requestid").map(str::to_string))
        .flatten()
        .filter(|r| !r.is_empty());
    // "The RequestID can have a maximum of 50 characters" (Intuit's blog, 2015); what
    // QuickBooks answers to a longer one is not documented: refused here, so a client
    // that sends one finds out.
    if request_id.as_ref().is_some_and(|r| r.chars().count() > 50) {
        let fault = Fault::validation(
            2010,
            "Request has invalid or unsupported property",
            "requestid can have a maximum of 50 characters".to_string(),
        );
        return fault_response(&fault, Some(&company));
    }
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let answered = app
        .transaction(move |tx| {
            // The time, the token and the company (its close date) as of this
            // transaction: a revocation or a close between the checks above and this work
            // counts, and a write is never stamped before a read that committed first.
            let at = now();
            if let Err(detail) = oauth::check_bearer(tx, bearer.as_deref(), &realm, at.as_second())?
            {
                return Ok(Err(detail));
            }
            let Some(work_company) = state::company(tx, &realm)? else {
                return Ok(Err("No such company".to_string()));
            };
            if let Some(r) = &request_id
                && let Some((status, body)) = state::request(tx, &work_company.realm, r)?
            {
                return Ok(Ok((status, body)));
            }
            let books = Books {
                tx,
                company: work_company.clone(),
                now: at,
            };
            // A refused call leaves nothing behind but its answer under the request id:
            // the savepoint undoes its partial writes.
            state::savepoint(tx)?;
            let outcome = run_call(&books, &call);
            state::end_savepoint(tx, outcome.is_ok())?;
            let time = envelope_time(at, &work_company.zone);
            let (status, mut body) = match outcome {
                Ok(body) => (200u16, body),
                Err(fault) => (fault.status.as_u16(), fault.body(&time)),
            };
            body["time"] = json!(time);
            let text = body.to_string();
            if let Some(r) = &request_id {
                state::put_request(tx, &work_company.realm, r, status, &text, at.as_second())?;
            }
            Ok(Ok((status, text)))
        })
        .await;
    let (status, text) = match answered {
        Ok(Ok(answer)) => answer,
        Ok(Err(detail)) => return unauthorized(&detail, now().as_millisecond()),
        Err(e) => return respond_stripe_error(e),
    };
    let answer = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        text,
    )
        .into_response();
    match strike::after(&app, &connection, strike).await {
        After::Answer => answer,
        After::Lost => fault_response(
            &Fault::internal("sandbox fault: this answer was lost"),
            Some(&company),
        ),
        After::Failed => fault_response(
            &Fault::internal(
                "sandbox fault error_500_after_commit: the request was carried out; send it again with the same requestid for its answer",
            ),
            Some(&company),
        ),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCompany {
    realm: Option<String>,
    name: Option<String>,
    currency: Option<String>,
    zone: Option<String>,
}

/// `POST /_sandbox/qbo/companies`: adds a company (the first one made is the one an
/// authorization consents to).
async fn add_company(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let new: NewCompany = match serde_json::from_slice(if body.is_empty() { b"{}" } else { &body })
    {
        Ok(n) => n,
        Err(e) => {
            return control_error(
                StatusCode::BAD_REQUEST,
                format!("cannot read the company ({e})"),
            );
        }
    };
    let default = oauth::default_company();
    let company = Company {
        realm: new.realm.unwrap_or(default.realm),
        name: new.name.unwrap_or(default.name),
        currency: new
            .currency
            .map(|c| c.to_uppercase())
            .unwrap_or(default.currency),
        zone: new.zone.unwrap_or(default.zone),
        book_close_date: None,
    };
    if jiff::tz::TimeZone::get(&company.zone).is_err() {
        return control_error(
            StatusCode::BAD_REQUEST,
            format!("unknown time zone {}", company.zone),
        );
    }
    let c = company.clone();
    match app
        .transaction(move |tx| Ok(state::insert_company(tx, &c)?))
        .await
    {
        Ok(()) => axum::Json(json!({"realm": company.realm})).into_response(),
        Err(e) => respond_stripe_error(e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedBooks {
    realm: String,
    #[serde(default)]
    customers: Vec<Value>,
    #[serde(default)]
    invoices: Vec<Value>,
    #[serde(default)]
    payments: Vec<Value>,
}

/// `POST /_sandbox/qbo/seed`: creates objects as the API would (same rules, same ids),
/// customers first; answers their ids in order.
async fn seed(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let request: SeedBooks = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return control_error(
                StatusCode::BAD_REQUEST,
                format!("cannot read the seed ({e})"),
            );
        }
    };
    let at = now();
    let result = app
        .transaction(move |tx| {
            let company =
                state::company(tx, &request.realm)?.ok_or_else(|| StateError::Corrupt {
                    id: request.realm.clone(),
                    detail: "no such company".into(),
                })?;
            let books = Books {
                tx,
                company,
                now: at,
            };
            let mut made = json!({});
            for (entity, rows) in [
                ("Customer", &request.customers),
                ("Invoice", &request.invoices),
                ("Payment", &request.payments),
            ] {
                made[entity] = crate::sandbox::seed::create_all(entity, rows, "Id", |row| {
                    books.create(entity, row).map_err(|fault| fault.detail)
                })?;
            }
            Ok(made)
        })
        .await;
    match result {
        Ok(made) => axum::Json(made).into_response(),
        Err(e) => respond_stripe_error(e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseBooks {
    realm: String,
    /// `YYYY-MM-DD`, or null to open the books again.
    date: Option<String>,
}

/// `POST /_sandbox/qbo/close_books`: sets the company's book close date.
async fn close_books(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let request: CloseBooks = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return control_error(
                StatusCode::BAD_REQUEST,
                format!("cannot read the close ({e})"),
            );
        }
    };
    if let Some(d) = &request.date
        && d.parse::<jiff::civil::Date>().is_err()
    {
        return control_error(
            StatusCode::BAD_REQUEST,
            format!("{d} is not a date (YYYY-MM-DD)"),
        );
    }
    match app
        .transaction(move |tx| {
            Ok(state::set_book_close_date(
                tx,
                &request.realm,
                request.date.as_deref(),
            )?)
        })
        .await
    {
        Ok(true) => axum::Json(json!({"closed": true})).into_response(),
        Ok(false) => control_error(StatusCode::NOT_FOUND, "no such company"),
        Err(e) => respond_stripe_error(e),
    }
}

/// `POST /_sandbox/qbo/expire_tokens`: every access token ends now.
/// `DELETE /_sandbox/qbo/requests`: forgets every `requestid` answered so far.
async fn forget_requests(State(app): State<Arc<App>>) -> Response {
    match app.transaction(|tx| Ok(state::forget_requests(tx)?)).await {
        Ok(n) => axum::Json(json!({"forgotten": n})).into_response(),
        Err(e) => respond_stripe_error(e),
    }
}

async fn expire_tokens(State(app): State<Arc<App>>) -> Response {
    let at = now().as_second();
    match app
        .transaction(move |tx| Ok(state::expire_access_tokens(tx, at)?))
        .await
    {
        Ok(n) => axum::Json(json!({"expired": n})).into_response(),
        Err(e) => respond_stripe_error(e),
    }
}
