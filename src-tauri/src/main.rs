//! Chargeguard's desktop app: a Tauri 2 window over the core's API. The shell is thin on
//! purpose: at start-up it picks the data folder and opens the session (the real store, or
//! on first launch the demo with its sandbox gateway inside the app), and its one command,
//! `api`, hands `(command, request)` to `chargeguard::api::commands::call` — the same list
//! the HTTP wrapper routes — and returns the answer or the `{code, message}` error.
//!
//! It must never hold a business rule, and never hand the gateway's secret key to the
//! webview: the key stays in the OS keyring and in the core's client.
//!
//! For tests, `CHARGEGUARD_APP_ID` replaces the app identifier (so the webview's own data
//! lands apart from a real install's) and `CHARGEGUARD_DATA_DIR` names the data folder,
//! for this app and the command line alike (`chargeguard::places`).

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::sync::Arc;
use std::time::Duration;

use chargeguard::api::session::{self, Session};
use chargeguard::api::{self, ApiError, ApiErrorCode};
use serde_json::Value;
use tauri::{Manager, State};
use tauri_plugin_opener::OpenerExt;

/// What the window talks to: the open session, or why it could not open.
struct Shell {
    session: Result<Session, ApiError>,
}

#[tauri::command]
async fn api(shell: State<'_, Shell>, command: String, request: Value) -> Result<Value, ApiError> {
    let session = shell.session.as_ref().map_err(Clone::clone)?;
    api::commands::call(&session.api, &command, request).await
}

/// The same data folder the command line uses (`chargeguard::places`), so both open the
/// same books. Real books an older version kept in the app's own data folder move there
/// first (only where the shared folder has none).
fn open_session() -> Result<Session, ApiError> {
    let dir = chargeguard::places::data_dir()
        .map_err(|e| ApiError::new(ApiErrorCode::Internal, e.to_string()))?;
    match chargeguard::places::adopt_legacy_books(&dir) {
        Ok(true) => {
            tracing::info!(to = %dir.display(), "moved the books into the shared data folder")
        }
        Ok(false) => {}
        Err(e) => {
            return Err(ApiError::new(
                ApiErrorCode::Internal,
                format!(
                    "the books an earlier version kept could not be moved to {} ({e}); move chargeguard.db there yourself",
                    dir.display()
                ),
            ));
        }
    }
    let session =
        tauri::async_runtime::block_on(session::open_desktop(&dir, Duration::from_secs(30)))?;
    tracing::info!(
        data_dir = %dir.display(),
        demo = session.demo,
        sandbox = session.sandbox_url().as_deref().unwrap_or("none"),
        "session open"
    );
    Ok(session)
}

#[global_allocator]
static ALLOCATOR: chargeguard::Allocator = chargeguard::Allocator;

fn main() {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .init();
    let mut context = tauri::generate_context!();
    if let Ok(identifier) = std::env::var("CHARGEGUARD_APP_ID") {
        context.config_mut().identifier = identifier;
    }
    tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_opener::init())
        .setup(|app| {
            // A session that cannot open still gets a window: every command then answers
            // with the reason, which the window shows, instead of the app vanishing.
            let handle = app.handle().clone();
            let session = open_session().map(|mut session| {
                // Connecting QuickBooks or Xero opens the consent the core asked for in
                // the system browser (never in this window, never an address the window
                // names).
                let browser: api::books::Browser = Arc::new(move |url: &str| {
                    handle
                        .opener()
                        .open_url(url, None::<&str>)
                        .map_err(|e| e.to_string())
                });
                session.api = session.api.clone().with_browser(browser);
                session
            });
            if let Err(e) = &session {
                tracing::error!("cannot open the books: {e}");
            }
            app.manage(Shell { session });
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![api])
        .run(context)
        .expect("the desktop app stopped with an error");
}
