//! The HTTP side of the sandbox: authentication, Stripe's idempotency rules, fault
//! injection, and the `/_sandbox/*` control endpoints, over axum.
//!
//! The order of one API request is the contract the clients are tested against:
//! authenticate; decode parameters; strike a fault; claim the idempotency key (a key still
//! running is a 409) and replay a stored answer if there is one (another endpoint or other
//! parameters is a 400 `idempotency_error`); run the call in one SQLite transaction that
//! also stores the answer under the key, so effect and record commit together or not at
//! all; release the key; then let an after-commit fault lose, delay or replace the answer.
//!
//! Losing an answer means closing the TCP connection under hyper: each connection carries a
//! duplicate of its socket handle, and shutting that down makes the client see a
//! connection error, never an HTTP response.

use std::collections::HashSet;
use std::net::Shutdown;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::header::{AUTHORIZATION, HeaderName, HeaderValue};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::serve::IncomingStream;
use rusqlite::{Connection, TransactionBehavior};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::api::{self, Route};
use super::balance;
use super::faults::{FaultKind, FaultSpec, Faults};
use super::seed::{self, SeedRequest};
use super::state::{self, IdempotencyRecord};
use super::wire::{Answer, ApiError, Params, api_key};

/// Everything a request may touch.
pub struct App {
    db: Mutex<Connection>,
    faults: Faults,
    running_keys: Mutex<HashSet<String>>,
    idempotency_ttl: Duration,
    shutdown: watch::Receiver<bool>,
    request_prefix: String,
    requests: AtomicU64,
    qbo_throttle: super::qbo::http::Throttle,
    xero_limits: super::xero::http::Limits,
}

impl App {
    pub fn new(db: Connection, idempotency_ttl: Duration, shutdown: watch::Receiver<bool>) -> App {
        let started = jiff::Timestamp::now().as_nanosecond();
        App {
            db: Mutex::new(db),
            faults: Faults::default(),
            running_keys: Mutex::new(HashSet::new()),
            idempotency_ttl,
            shutdown,
            request_prefix: format!("req_{:x}", started % 0xffff_ffff_ffff),
            requests: AtomicU64::new(0),
            qbo_throttle: Default::default(),
            xero_limits: Default::default(),
        }
    }

    pub(crate) fn faults(&self) -> &Faults {
        &self.faults
    }

    pub(crate) fn qbo_throttle(&self) -> &super::qbo::http::Throttle {
        &self.qbo_throttle
    }

    pub(crate) fn xero_limits(&self) -> &super::xero::http::Limits {
        &self.xero_limits
    }

    /// Runs `work` on the state file in a blocking thread, in one transaction committed
    /// only when `work` returns `Ok`.
    pub(crate) async fn transaction<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let app = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            // A poisoned lock means a panic mid-transaction; SQLite rolled that transaction
            // back, so the connection itself is still sound.
            let mut conn = app.db.lock().unwrap_or_else(|e| e.into_inner());
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| ApiError::from(state::StateError::from(e)))?;
            let value = work(&tx)?;
            tx.commit()
                .map_err(|e| ApiError::from(state::StateError::from(e)))?;
            Ok(value)
        })
        .await
        .map_err(|e| ApiError::internal(format!("The sandbox's worker failed: {e}")))?
    }

    fn claim_key(self: &Arc<Self>, key: &str) -> Option<KeyClaim> {
        let mut keys = self.running_keys.lock().unwrap_or_else(|e| e.into_inner());
        if !keys.insert(key.to_string()) {
            return None;
        }
        Some(KeyClaim {
            app: Arc::clone(self),
            key: key.to_string(),
        })
    }

    /// Waits `hold`, or less if the sandbox is shutting down. Returns false on shutdown.
    pub(crate) async fn hold(&self, hold: Duration) -> bool {
        let mut shutdown = self.shutdown.clone();
        tokio::select! {
            _ = tokio::time::sleep(hold) => true,
            _ = shutdown.wait_for(|stop| *stop) => false,
        }
    }
}

/// An idempotency key marked as running; released when dropped, on every exit path.
struct KeyClaim {
    app: Arc<App>,
    key: String,
}

impl Drop for KeyClaim {
    fn drop(&mut self) {
        let mut keys = self
            .app
            .running_keys
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        keys.remove(&self.key);
    }
}

/// One accepted connection, as a request sees it: a duplicate handle on its socket so a
/// fault can close it under hyper.
#[derive(Clone, Debug)]
pub struct ClientConnection {
    socket: Option<Arc<std::net::TcpStream>>,
}

impl ClientConnection {
    /// Closes the connection both ways: the client reads end-of-stream before any answer.
    pub(crate) fn drop_connection(&self) {
        if let Some(socket) = &self.socket {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }
}

fn duplicate(stream: &tokio::net::TcpStream) -> std::io::Result<std::net::TcpStream> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        Ok(std::net::TcpStream::from(
            stream.as_fd().try_clone_to_owned()?,
        ))
    }
    #[cfg(windows)]
    {
        use std::os::windows::io::AsSocket;
        Ok(std::net::TcpStream::from(
            stream.as_socket().try_clone_to_owned()?,
        ))
    }
}

impl Connected<IncomingStream<'_, TcpListener>> for ClientConnection {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        ClientConnection {
            socket: duplicate(stream.io()).ok().map(Arc::new),
        }
    }
}

#[derive(Clone, Debug)]
struct RequestId(String);

/// The router: the Stripe subset under `/v1`, the control endpoints under `/_sandbox`.
pub fn router(app: Arc<App>) -> Router {
    let stripe = Router::new()
        .route("/_sandbox/health", get(health))
        .route(
            "/_sandbox/faults",
            post(arm_fault).get(list_faults).delete(disarm_faults),
        )
        .route("/_sandbox/seed", post(seed_objects))
        .route("/_sandbox/payouts", post(run_payouts))
        .route("/_sandbox/stats", get(stats))
        .route("/_sandbox/idempotency_keys", delete(forget_keys));
    super::xero::http::routes(super::qbo::http::routes(stripe))
        .fallback(api_request)
        // Seeding 100,000 charges is one large JSON body.
        .layer(DefaultBodyLimit::max(512 * 1024 * 1024))
        .layer(middleware::from_fn_with_state(Arc::clone(&app), stamp))
        .layer(middleware::from_fn(stripe_clients_only))
        .with_state(app)
}

/// Refuses what a web page in the user's browser could send: a request addressed to a name
/// that is not loopback (DNS rebinding), or one carrying an `Origin` (a browser's fetch or
/// form post; Stripe's clients send none). A page could otherwise post a `text/plain` body
/// to the control routes, which need no key, and plant charges or arm faults.
async fn stripe_clients_only(request: Request, next: Next) -> Response {
    if !crate::loopback::is_loopback_host(request.headers()) {
        return control_error(
            StatusCode::FORBIDDEN,
            "the sandbox answers only to 127.0.0.1 or localhost",
        );
    }
    if request.headers().contains_key(axum::http::header::ORIGIN) {
        return control_error(
            StatusCode::FORBIDDEN,
            "the sandbox answers Stripe clients, not web pages (the request carried an Origin)",
        );
    }
    next.run(request).await
}

/// Gives every request a `Request-Id` and echoes `Stripe-Version`, on every answer.
async fn stamp(State(app): State<Arc<App>>, mut request: Request, next: Next) -> Response {
    let n = app.requests.fetch_add(1, Ordering::Relaxed);
    let id = format!("{}{n:06}", app.request_prefix);
    let version = request.headers().get("stripe-version").cloned();
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert(HeaderName::from_static("request-id"), value);
    }
    if let Some(v) = version {
        headers.insert(HeaderName::from_static("stripe-version"), v);
    }
    response
}

fn respond(answer: Answer) -> Response {
    (answer.status, axum::Json(answer.body)).into_response()
}

fn control_error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(json!({"error": {"message": message.into()}})),
    )
        .into_response()
}

async fn health() -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}

async fn arm_fault(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let spec: FaultSpec = match serde_json::from_slice(&body) {
        Ok(spec) => spec,
        Err(e) => {
            return control_error(
                StatusCode::BAD_REQUEST,
                format!(
                    "cannot read the fault ({e}); send {{\"path\": \"/v1/refunds\", \"fault\": \"lose_response_after_commit\", \"times\": 1}}"
                ),
            );
        }
    };
    match app.faults.arm(spec.clone()) {
        Ok(()) => axum::Json(json!(spec)).into_response(),
        Err(why) => control_error(StatusCode::BAD_REQUEST, why),
    }
}

async fn list_faults(State(app): State<Arc<App>>) -> Response {
    axum::Json(json!({"faults": app.faults.armed()})).into_response()
}

async fn disarm_faults(State(app): State<Arc<App>>) -> Response {
    app.faults.disarm_all();
    axum::Json(json!({"faults": []})).into_response()
}

async fn stats(State(app): State<Arc<App>>) -> Response {
    match app.transaction(|tx| Ok(state::stats(tx)?)).await {
        Ok(mut counts) => {
            let running = app
                .running_keys
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .len();
            counts.insert(
                "idempotency_keys_running".into(),
                i64::try_from(running).unwrap_or(i64::MAX),
            );
            axum::Json(json!(counts)).into_response()
        }
        Err(e) => respond(e.into_answer()),
    }
}

async fn forget_keys(State(app): State<Arc<App>>) -> Response {
    match app
        .transaction(|tx| Ok(state::idempotency_forget_all(tx)?))
        .await
    {
        Ok(n) => axum::Json(json!({"forgotten": n})).into_response(),
        Err(e) => respond(e.into_answer()),
    }
}

async fn seed_objects(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let request: SeedRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return control_error(
                StatusCode::BAD_REQUEST,
                format!("cannot read the seed ({e}); see SeedRequest in src/sandbox/seed.rs"),
            );
        }
    };
    let now = jiff::Timestamp::now().as_second();
    match app
        .transaction(move |tx| seed::apply(tx, &request, now))
        .await
    {
        Ok(created) => axum::Json(created).into_response(),
        Err(e) => respond(e.into_answer()),
    }
}

/// Pays out every currency's balance as Stripe's automatic schedule would: `{}` for payouts
/// that have arrived, or `{"status": "in_transit", "arrival_date": T}`.
async fn run_payouts(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let run: balance::PayoutRun = if body.is_empty() {
        balance::PayoutRun::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(run) => run,
            Err(e) => {
                return control_error(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "cannot read the payout run ({e}); send {{}} or {{\"status\": \"in_transit\", \"arrival_date\": 1767225600}}"
                    ),
                );
            }
        }
    };
    let now = jiff::Timestamp::now().as_second();
    match app
        .transaction(move |tx| balance::run_payouts(tx, &run, now))
        .await
    {
        Ok(payouts) => axum::Json(json!({ "payouts": payouts })).into_response(),
        Err(e) => respond(e.into_answer()),
    }
}

fn masked(key: &str) -> String {
    let visible: String = key.chars().take(8).collect();
    let tail: String = {
        let chars: Vec<char> = key.chars().collect();
        chars[chars.len().saturating_sub(4)..].iter().collect()
    };
    format!("{visible}********{tail}")
}

fn authenticate(headers: &HeaderMap) -> Result<(), ApiError> {
    let header = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    match api_key(header) {
        None => Err(ApiError::unauthorized(
            "You did not provide an API key. Send it in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer sk_test_...').",
        )),
        Some(key) if key.starts_with("sk_test_") && key.len() > "sk_test_".len() => Ok(()),
        Some(key) => Err(ApiError::unauthorized(format!(
            "Invalid API Key provided: {}. The sandbox accepts only test secret keys (sk_test_...).",
            masked(&key)
        ))),
    }
}

/// Headers an answer carries besides `Request-Id`.
#[derive(Default)]
struct Extra {
    replayed_from: Option<String>,
    idempotency_key: Option<String>,
    retry_after: bool,
}

fn finish(answer: Answer, extra: Extra) -> Response {
    let mut response = respond(answer);
    let headers = response.headers_mut();
    if let Some(original) = extra.replayed_from {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
        if let Ok(v) = HeaderValue::from_str(&original) {
            headers.insert("original-request", v);
        }
    }
    if let Some(key) = extra.idempotency_key
        && let Ok(v) = HeaderValue::from_str(&key)
    {
        headers.insert("idempotency-key", v);
    }
    if extra.retry_after {
        headers.insert("retry-after", HeaderValue::from_static("1"));
    }
    response
}

async fn api_request(
    State(app): State<Arc<App>>,
    ConnectInfo(connection): ConnectInfo<ClientConnection>,
    axum::Extension(RequestId(request_id)): axum::Extension<RequestId>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    if !path.starts_with("/v1/") {
        return respond(ApiError::unknown_url(method.as_str(), &path).into_answer());
    }
    if let Err(e) = authenticate(&headers) {
        return respond(e.into_answer());
    }
    let raw = if method == Method::POST {
        String::from_utf8_lossy(&body).into_owned()
    } else {
        uri.query().unwrap_or("").to_string()
    };
    let params = match Params::parse(&raw) {
        Ok(p) => p,
        Err(e) => return respond(e.into_answer()),
    };
    let Some(route) = Route::parse(&method, &path) else {
        return respond(ApiError::unknown_url(method.as_str(), &path).into_answer());
    };
    // At Stripe a request keeps running when its client gives up; hyper drops a handler
    // whose connection closed, so the work runs in its own task, which also keeps a
    // running key claimed until the work is really over.
    let work = tokio::spawn(run_request(
        app, connection, request_id, method, path, headers, params, route,
    ));
    match work.await {
        Ok(response) => response,
        Err(e) => respond(
            ApiError::internal(format!("The request failed inside the sandbox: {e}")).into_answer(),
        ),
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_request(
    app: Arc<App>,
    connection: ClientConnection,
    request_id: String,
    method: Method,
    path: String,
    headers: HeaderMap,
    params: Params,
    route: Route,
) -> Response {
    let key = if method == Method::POST {
        headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .filter(|k| !k.is_empty())
            .map(str::to_string)
    } else {
        None
    };
    let claim = match &key {
        None => None,
        Some(k) => match app.claim_key(k) {
            Some(claim) => Some(claim),
            None => return respond(ApiError::key_in_use(k).into_answer()),
        },
    };
    // The key is claimed before a fault strikes: a request refused as a conflict
    // consumes no fault, and a struck request already holds its key.
    let strike = app.faults.strike(method.as_str(), &path);
    let fault = strike.map(|s| s.kind);
    match fault {
        Some(FaultKind::RateLimit) => {
            let extra = Extra {
                retry_after: true,
                ..Extra::default()
            };
            return finish(ApiError::rate_limited().into_answer(), extra);
        }
        Some(FaultKind::Error500BeforeCommit) => {
            return respond(
                ApiError::internal("An unexpected error occurred (sandbox fault error_500_before_commit; nothing was done).")
                    .into_answer(),
            );
        }
        Some(FaultKind::Error503BeforeCommit) => {
            return respond(
                ApiError::unavailable("The service is temporarily unavailable (sandbox fault error_503_before_commit; nothing was done).")
                    .into_answer(),
            );
        }
        _ => {}
    }

    let fingerprint = params.fingerprint();
    let now = jiff::Timestamp::now().as_second();
    let mut extra = Extra {
        idempotency_key: key.clone(),
        ..Extra::default()
    };

    let stored = match &key {
        None => None,
        Some(k) => {
            let k = k.clone();
            let oldest = now - i64::try_from(app.idempotency_ttl.as_secs()).unwrap_or(i64::MAX);
            match app
                .transaction(move |tx| Ok(state::idempotency_get(tx, &k, oldest)?))
                .await
            {
                Ok(record) => record,
                Err(e) => return respond(e.into_answer()),
            }
        }
    };

    let answer = if let Some(record) = stored {
        drop(claim);
        match replay(&record, method.as_str(), &path, &fingerprint) {
            Ok(answer) => {
                extra.replayed_from = Some(record.request_id.clone());
                answer
            }
            Err(e) => return respond(e.into_answer()),
        }
    } else {
        if let Some(s) = strike {
            match s.kind {
                FaultKind::Slow if !app.hold(s.hold).await => {
                    connection.drop_connection();
                    return respond(
                        ApiError::unavailable("The sandbox is shutting down.").into_answer(),
                    );
                }
                FaultKind::TimeoutBeforeCommit => {
                    app.hold(s.hold).await;
                    connection.drop_connection();
                    return respond(
                        ApiError::internal("sandbox fault timeout_before_commit: nothing was done")
                            .into_answer(),
                    );
                }
                _ => {}
            }
        }
        let record_base = key.clone().map(|k| IdempotencyRecord {
            key: k,
            method: method.as_str().to_string(),
            path: path.clone(),
            fingerprint: fingerprint.clone(),
            status: 0,
            body: String::new(),
            request_id: request_id.clone(),
            created: now,
        });
        let result = app
            .transaction(move |tx| {
                let answer = api::execute(tx, &route, &params, now)?;
                if let Some(mut record) = record_base {
                    record.status = answer.status.as_u16();
                    record.body = answer.body.to_string();
                    state::idempotency_put(tx, &record)?;
                }
                Ok(answer)
            })
            .await;
        drop(claim);
        match result {
            Ok(answer) => answer,
            Err(e) => e.into_answer(),
        }
    };

    match strike {
        Some(s) if s.kind == FaultKind::LoseResponseAfterCommit => {
            connection.drop_connection();
            respond(ApiError::internal("sandbox fault: this answer was lost").into_answer())
        }
        Some(s) if s.kind == FaultKind::TimeoutAfterCommit => {
            if !app.hold(s.hold).await {
                connection.drop_connection();
            }
            finish(answer, extra)
        }
        Some(s) if s.kind == FaultKind::Error500AfterCommit => respond(
            ApiError::internal(
                "An unexpected error occurred (sandbox fault error_500_after_commit: the request was carried out; retry with the same Idempotency-Key to get its answer).",
            )
            .into_answer(),
        ),
        _ => finish(answer, extra),
    }
}

/// Stripe's rule for a key already used: the same endpoint and parameters get the first
/// answer back; anything else is refused.
fn replay(
    record: &IdempotencyRecord,
    method: &str,
    path: &str,
    fingerprint: &str,
) -> Result<Answer, ApiError> {
    if record.method != method || record.path != path {
        return Err(ApiError::idempotency(format!(
            "Keys for idempotent requests can only be used for the same endpoint they were first used for ('{} {}' vs '{method} {path}'). Try using a key other than '{}' if you meant to execute a different request.",
            record.method, record.path, record.key
        )));
    }
    if record.fingerprint != fingerprint {
        return Err(ApiError::idempotency(format!(
            "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{}' if you meant to execute a different request.",
            record.key
        )));
    }
    let body: Value = serde_json::from_str(&record.body).map_err(|e| {
        ApiError::internal(format!(
            "The stored answer for key '{}' is unreadable: {e}",
            record.key
        ))
    })?;
    let status = StatusCode::from_u16(record.status).map_err(|e| {
        ApiError::internal(format!(
            "The stored answer for key '{}' has a bad status: {e}",
            record.key
        ))
    })?;
    Ok(Answer { status, body })
}
