//! How a fault armed on an accounting stand-in's path (`faults`) strikes one call: before
//! its work commits (refused, dropped or held, nothing done) and after (the answer lost,
//! held or replaced by a 500, the work done). Each stand-in words the refusal in its own
//! envelope; the Stripe side has its own order (`server`), with idempotency keys between.

use std::time::Duration;

use axum::http::StatusCode;

use super::faults::{FaultKind, Strike};
use super::server::{App, ClientConnection};

/// A call refused before its work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A 429 in the system's own words.
    Throttled,
    Failed {
        status: StatusCode,
        detail: &'static str,
    },
}

/// Strikes before the work: a refusal to answer with, or `None` to go on (after holding a
/// `slow` call).
pub async fn before(
    app: &App,
    connection: &ClientConnection,
    strike: Option<Strike>,
) -> Option<Refusal> {
    let s = strike?;
    let failed = |status, detail| Some(Refusal::Failed { status, detail });
    match s.kind {
        FaultKind::RateLimit => Some(Refusal::Throttled),
        FaultKind::Error500BeforeCommit => failed(
            StatusCode::INTERNAL_SERVER_ERROR,
            "sandbox fault error_500_before_commit: nothing was done",
        ),
        FaultKind::Error503BeforeCommit => failed(
            StatusCode::SERVICE_UNAVAILABLE,
            "sandbox fault error_503_before_commit: nothing was done",
        ),
        FaultKind::TimeoutBeforeCommit => {
            app.hold(s.hold).await;
            connection.drop_connection();
            failed(
                StatusCode::INTERNAL_SERVER_ERROR,
                "sandbox fault timeout_before_commit: nothing was done",
            )
        }
        FaultKind::Slow => {
            hold(app, connection, s.hold).await;
            None
        }
        _ => None,
    }
}

/// What becomes of an answer whose work committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// Sent (perhaps late).
    Answer,
    /// The connection was dropped: the client sees no answer.
    Lost,
    /// A 500 instead of it.
    Failed,
}

pub async fn after(app: &App, connection: &ClientConnection, strike: Option<Strike>) -> After {
    match strike {
        Some(s) if s.kind == FaultKind::LoseResponseAfterCommit => {
            connection.drop_connection();
            After::Lost
        }
        Some(s) if s.kind == FaultKind::TimeoutAfterCommit => {
            hold(app, connection, s.hold).await;
            After::Answer
        }
        Some(s) if s.kind == FaultKind::Error500AfterCommit => After::Failed,
        _ => After::Answer,
    }
}

/// Runs a call's work in a task of its own: as at the real services, a call keeps running
/// when its client gives up (hyper drops a handler whose connection closed).
pub async fn detached(
    work: impl std::future::Future<Output = axum::response::Response> + Send + 'static,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    tokio::spawn(work).await.unwrap_or_else(|e| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the call failed inside the sandbox: {e}"),
        )
            .into_response()
    })
}

/// Holds the call, dropping its connection if the sandbox shuts down meanwhile.
async fn hold(app: &App, connection: &ClientConnection, hold: Duration) {
    if !app.hold(hold).await {
        connection.drop_connection();
    }
}
