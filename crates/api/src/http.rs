//! The HTTP wrapper of the API, for the front end built for the web (browser tests, and a
//! window-less machine): `POST /api/COMMAND` with the command's argument as a JSON body,
//! exactly what the desktop shell's `invoke(COMMAND, args)` takes, and the built front
//! end's static files for everything else.
//!
//! It holds no rule: each route hands the command to [`super::commands::call`] (the list
//! the desktop shell routes through too) and writes its answer — the value with 200, or the `ApiError` with a status that matches
//! its code. It binds loopback only (the API can move money), and refuses requests whose
//! `Host` is not a loopback name, so a web page elsewhere cannot reach it by DNS rebinding.
//!
//! **Only its own window reaches the API.** Any page the bookkeeper opens in a browser can
//! send a "simple" cross-site `POST` to loopback (a form's `text/plain` body needs no
//! preflight), so each start makes a secret ([`ApiSecret`], printed in the window's address
//! as `#token=…`, which a browser never sends anywhere), and every `POST /api/COMMAND` must
//! carry it as `Authorization: Bearer …` (a header no cross-site page can set without a
//! preflight this server never answers), a JSON body, and no `Origin` but the server's own.
//! Otherwise the answer is 401, 415 or 403 and nothing is done. No CORS header is ever sent.

use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::{Api, ApiError, ApiErrorCode};

#[derive(Clone)]
struct Shared {
    api: Api,
    static_dir: Option<PathBuf>,
    secret: ApiSecret,
}

/// The secret a `ui-server` makes at each start: only a window opened with it (or a client
/// it was given to) drives the API. It shows itself only through [`ApiSecret::reveal`].
#[derive(Clone)]
pub struct ApiSecret(std::sync::Arc<str>);

impl ApiSecret {
    /// 32 random bytes from the operating system's generator, hex.
    pub fn generate() -> ApiSecret {
        let bytes: [u8; 32] = rand::random();
        ApiSecret(hex::encode(bytes).into())
    }

    /// The secret itself, for the one address the server prints.
    pub fn reveal(&self) -> &str {
        &self.0
    }

    /// Whether `offered` is the secret, compared in constant time.
    fn matches(&self, offered: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), offered.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl std::fmt::Debug for ApiSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiSecret(…)")
    }
}

/// Refuses an API call that did not come from the server's own window (see the module
/// documentation); nothing is done for a refused call.
async fn own_window_only(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let refuse = |status: StatusCode, message: &str| {
        (status, axum::Json(ApiError::invalid(message.to_string()))).into_response()
    };
    if let Some(origin) = headers.get(header::ORIGIN) {
        let own = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|host| format!("http://{host}"));
        if origin.to_str().ok() != own.as_deref() {
            return refuse(
                StatusCode::FORBIDDEN,
                "this API answers only its own window, not another site's page",
            );
        }
    }
    let offered = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "));
    if !offered.is_some_and(|t| shared.secret.matches(t.trim())) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "this API needs the secret from the address `chargeguard ui-server` printed; open the window from that address",
        );
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|h| h.to_str().ok())
        .and_then(|t| t.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "an API call's body is JSON (Content-Type: application/json)",
        );
    }
    next.run(request).await
}

fn status_for(code: ApiErrorCode) -> StatusCode {
    match code {
        ApiErrorCode::NotFound => StatusCode::NOT_FOUND,
        ApiErrorCode::InvalidInput | ApiErrorCode::HeuristicUnchecked => StatusCode::BAD_REQUEST,
        ApiErrorCode::WrongPassphrase => StatusCode::FORBIDDEN,
        ApiErrorCode::AlreadyInProgress | ApiErrorCode::Stale => StatusCode::CONFLICT,
        ApiErrorCode::Refused => StatusCode::UNPROCESSABLE_ENTITY,
        ApiErrorCode::NotConnected | ApiErrorCode::GatewayUnavailable => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        ApiErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn answer(result: Result<serde_json::Value, ApiError>) -> Response {
    match result {
        Ok(value) => axum::Json(value).into_response(),
        Err(e) => (status_for(e.code), axum::Json(e)).into_response(),
    }
}

async fn command(
    State(shared): State<Shared>,
    UrlPath(name): UrlPath<String>,
    body: Bytes,
) -> Response {
    let body: &[u8] = if body.is_empty() { b"null" } else { &body };
    let request = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(e) => {
            return answer(Err(ApiError::invalid(format!(
                "the request for `{name}` is not JSON: {e}"
            ))));
        }
    };
    answer(super::commands::call(&shared.api, &name, request).await)
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// The built front end: a file under the static folder, else its `index.html` (the app
/// routes on the client side).
async fn static_file(State(shared): State<Shared>, request: Request) -> Response {
    let Some(dir) = shared.static_dir else {
        return (
            StatusCode::NOT_FOUND,
            "no front end is served: build it (`npm run build` in ui/) and pass --static ui/dist",
        )
            .into_response();
    };
    let wanted = request.uri().path().trim_start_matches('/');
    let relative = Path::new(wanted);
    let safe = relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    let mut path = dir.join(if safe && !wanted.is_empty() {
        relative
    } else {
        Path::new("index.html")
    });
    if !path.is_file() {
        path = dir.join("index.html");
    }
    let read = path.clone();
    match tokio::task::spawn_blocking(move || std::fs::read(read))
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, content_type(&path)),
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => (
            StatusCode::NOT_FOUND,
            format!("cannot read {}: {e}", path.display()),
        )
            .into_response(),
    }
}

async fn only_loopback_hosts(request: Request, next: Next) -> Response {
    if !chargeguard_core::loopback::is_loopback_host(request.headers()) {
        return (
            StatusCode::FORBIDDEN,
            "this server answers only to 127.0.0.1 or localhost",
        )
            .into_response();
    }
    next.run(request).await
}

/// The wrapper's routes over `api`, serving the front end from `static_dir`; API calls
/// must carry `secret`.
pub fn router(api: Api, static_dir: Option<PathBuf>, secret: ApiSecret) -> Router {
    let shared = Shared {
        api,
        static_dir,
        secret,
    };
    Router::new()
        .route(
            "/api/{command}",
            post(command).route_layer(middleware::from_fn_with_state(
                shared.clone(),
                own_window_only,
            )),
        )
        // An upload's bytes travel as base64 (4 characters per 3 bytes) inside JSON.
        .layer(DefaultBodyLimit::max(
            super::imports::MAX_UPLOAD_BYTES / 3 * 4 + 64 * 1024,
        ))
        .fallback(static_file)
        .layer(middleware::from_fn(only_loopback_hosts))
        .with_state(shared)
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "refusing to listen on {0}: the API can move money, so it listens on loopback only (127.0.0.1)"
    )]
    NonLoopback(SocketAddr),
    #[error("cannot listen on {addr}: {source}; pick another port (port 0 picks a free one)")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Binds `addr` (loopback only) and returns the listener with the address it got.
pub async fn bind(addr: SocketAddr) -> Result<(tokio::net::TcpListener, SocketAddr), ServeError> {
    if !addr.ip().is_loopback() {
        return Err(ServeError::NonLoopback(addr));
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    Ok((listener, bound))
}
