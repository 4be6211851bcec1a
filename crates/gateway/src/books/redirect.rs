//! The consent's loopback redirect, as a desktop app receives it (RFC 8252 §7.3): after
//! the person consents in their browser, the system sends the browser to
//! `http://127.0.0.1:PORT/callback?code=…&state=…` (or `localhost`), where this listener
//! waits. It answers that one request with a page saying the window can be closed, and
//! hands the address back; checking its `state` and exchanging its code is the caller's.
//!
//! It listens on loopback only, answers only a loopback `Host` (no DNS rebinding), only
//! `GET` of the redirect's path without an `Origin` (a browser's navigation has none; a web
//! page's request made from script does), and only the consent's own `state`: anything
//! else is refused and it goes on waiting, so a page that knows the port can neither end
//! the wait nor slip in a code of its own. It stops after the one answer it waits for.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tokio::sync::oneshot;

use crate::loopback::is_loopback_host;

/// Why no redirect was received.
#[derive(Debug, thiserror::Error)]
pub enum RedirectError {
    #[error(
        "the redirect URI {0} is not a loopback address (http://127.0.0.1:PORT/… or http://localhost:PORT/…); register one like that for the app, or paste the address instead"
    )]
    NotLoopback(String),
    #[error(
        "cannot listen on port {port} for the browser's return ({reason}); close what uses it or choose another registered redirect URI"
    )]
    Bind { port: u16, reason: String },
    #[error("the browser did not come back within {0} minutes; connect again")]
    TimedOut(u64),
}

/// A listener bound to a redirect URI's loopback port, before the consent address is
/// shown (so a fast browser cannot arrive before it).
pub struct RedirectListener {
    /// 127.0.0.1, and for `localhost` also ::1, where a browser may try first: another
    /// local user's listener there would otherwise receive this consent's code.
    listeners: Vec<tokio::net::TcpListener>,
    path: String,
    port: u16,
}

impl RedirectListener {
    /// Binds `redirect_uri`'s port on 127.0.0.1 (and on ::1 for `localhost`, where this
    /// machine has IPv6).
    pub async fn bind(redirect_uri: &str) -> Result<RedirectListener, RedirectError> {
        let not_loopback = || RedirectError::NotLoopback(redirect_uri.to_string());
        let rest = redirect_uri
            .strip_prefix("http://")
            .ok_or_else(not_loopback)?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = authority.rsplit_once(':').ok_or_else(not_loopback)?;
        if !matches!(host, "127.0.0.1" | "localhost") {
            return Err(not_loopback());
        }
        let port: u16 = port.parse().map_err(|_| not_loopback())?;
        let bind_error = |e: std::io::Error| RedirectError::Bind {
            port,
            reason: e.to_string(),
        };
        let v4 = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
            .await
            .map_err(bind_error)?;
        let port = v4.local_addr().map(|a| a.port()).unwrap_or(port);
        let mut listeners = vec![v4];
        if host == "localhost" {
            match tokio::net::TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port))).await
            {
                Ok(v6) => listeners.push(v6),
                // No IPv6 loopback here: nobody can listen there either.
                Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable => {}
                Err(e) => return Err(bind_error(e)),
            }
        }
        Ok(RedirectListener {
            listeners,
            path: path.split('?').next().unwrap_or("/").to_string(),
            port,
        })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Waits up to `within` for the browser's return carrying `state`; the address it
    /// was sent to, whole.
    pub async fn receive(self, state: &str, within: Duration) -> Result<String, RedirectError> {
        let (sent, arrived) = oneshot::channel::<String>();
        let slot = Arc::new(Waiting {
            sent: Mutex::new(Some(sent)),
            port: self.port,
            state: state.to_string(),
        });
        let app = Router::new()
            .route(&self.path, get(returned))
            .with_state(slot);
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let servers: Vec<_> = self
            .listeners
            .into_iter()
            .map(|listener| {
                let (app, mut stopped) = (app.clone(), stopped.clone());
                tokio::spawn(async move {
                    axum::serve(listener, app)
                        .with_graceful_shutdown(async move {
                            let _ = stopped.wait_for(|s| *s).await;
                        })
                        .await
                })
            })
            .collect();
        drop(stopped);
        let result = tokio::time::timeout(within, arrived).await;
        let _ = stop.send(true);
        for server in servers {
            let _ = server.await;
        }
        match result {
            Ok(Ok(address)) => Ok(address),
            _ => Err(RedirectError::TimedOut(within.as_secs().div_ceil(60))),
        }
    }
}

struct Waiting {
    sent: Mutex<Option<oneshot::Sender<String>>>,
    port: u16,
    state: String,
}

async fn returned(State(waiting): State<Arc<Waiting>>, headers: HeaderMap, uri: Uri) -> Response {
    if !is_loopback_host(&headers) || headers.contains_key(axum::http::header::ORIGIN) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let ours = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .any(|(k, v)| k == "state" && v == waiting.state.as_str());
    if !ours {
        return (StatusCode::BAD_REQUEST, "not this consent's answer").into_response();
    }
    let address = format!(
        "http://127.0.0.1:{}{}",
        waiting.port,
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    let sender = waiting
        .sent
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    match sender {
        Some(sender) => {
            let _ = sender.send(address);
            Html(
                "<!doctype html><title>Chargeguard</title><p>Chargeguard has the answer. You can close this window and go back to Chargeguard.</p>",
            )
            .into_response()
        }
        None => StatusCode::GONE.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_a_loopback_redirect_uri_is_listened_on() {
        for uri in [
            "https://127.0.0.1:8765/callback",
            "http://example.com:8765/callback",
            "http://127.0.0.1/callback",
        ] {
            assert!(matches!(
                RedirectListener::bind(uri).await,
                Err(RedirectError::NotLoopback(_))
            ));
        }
    }

    /// A browser may resolve `localhost` to ::1 first: the app listens there too, so no
    /// other local user's listener can take the consent's answer.
    #[tokio::test]
    async fn a_localhost_redirect_is_listened_on_both_loopbacks() {
        if std::net::TcpListener::bind("[::1]:0").is_err() {
            eprintln!("no IPv6 loopback on this machine: only 127.0.0.1 can be checked");
            return;
        }
        let listener = RedirectListener::bind("http://localhost:0/callback")
            .await
            .unwrap();
        let port = listener.port();
        assert!(
            std::net::TcpListener::bind(("::1", port)).is_err(),
            "::1:{port} is the app's"
        );
        let waiting = tokio::spawn(listener.receive("s6", Duration::from_secs(30)));
        let answer = reqwest::Client::new()
            .get(format!("http://[::1]:{port}/callback?code=C&state=s6"))
            .header("Host", format!("localhost:{port}"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        assert!(waiting.await.unwrap().unwrap().contains("code=C"));
    }

    #[tokio::test]
    async fn the_browsers_return_is_received_once_and_answered() {
        let listener = RedirectListener::bind("http://127.0.0.1:0/callback")
            .await
            .unwrap();
        let port = listener.port();
        let waiting = tokio::spawn(listener.receive("s1", Duration::from_secs(30)));
        let http = reqwest::Client::new();
        let stray = http
            .get(format!("http://127.0.0.1:{port}/favicon.ico"))
            .send()
            .await
            .unwrap();
        assert_eq!(stray.status(), 404);
        // A web page that knows the port: its script's request carries an Origin, and a
        // code of its own comes without this consent's state. Neither ends the wait.
        let from_page = http
            .get(format!(
                "http://127.0.0.1:{port}/callback?code=EVIL&state=s1"
            ))
            .header("Origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(from_page.status(), 403);
        let forged = http
            .get(format!(
                "http://127.0.0.1:{port}/callback?code=EVIL&state=guess"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 400);
        let page = http
            .get(format!(
                "http://127.0.0.1:{port}/callback?code=AB1&state=s1"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("close this window"));
        assert_eq!(
            waiting.await.unwrap().unwrap(),
            format!("http://127.0.0.1:{port}/callback?code=AB1&state=s1")
        );
    }
}
