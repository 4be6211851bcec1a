//! What a window opens on: the store in the app's data folder, or — on first launch,
//! before any real books exist — the demo store with its sandbox gateway running inside
//! the app. The desktop shell calls [`open_desktop`] once at start-up and keeps the
//! returned [`Session`] (and so the sandbox) alive as long as the window.
//!
//! It decides nothing about the books: it only chooses the store, starts the demo's
//! gateway and connects the demo store to it and to its books in the gateway's Xero
//! stand-in. The sandbox binds loopback only and uses the demo's test key, which is no
//! secret; a real store's key stays in the OS keyring, read by [`Api`] when needed.

use std::path::Path;
use std::time::Duration;

use chargeguard_core::demo::{self, DemoSpec};
use chargeguard_core::places::{self, DemoPaths};
use chargeguard_core::sandbox::RunningSandbox;
use chargeguard_core::store::Store;

use super::{Api, ApiError};

pub use chargeguard_core::places::REAL_STORE_FILE;

/// An open window's API, and the demo's sandbox when the store is the demo's.
#[derive(Debug)]
pub struct Session {
    pub api: Api,
    pub demo: bool,
    sandbox: Option<RunningSandbox>,
}

impl Session {
    /// The demo sandbox's address, when one runs.
    pub fn sandbox_url(&self) -> Option<String> {
        self.sandbox.as_ref().map(RunningSandbox::base_url)
    }

    /// Stops the demo's sandbox (if any), letting answers in progress finish.
    pub async fn close(self) -> Result<(), ApiError> {
        if let Some(sandbox) = self.sandbox {
            sandbox
                .shutdown()
                .await
                .map_err(|e| ApiError::internal(e.to_string()))?;
        }
        Ok(())
    }
}

/// Opens the real store of `data_dir` if it has one, else the demo (built on first use).
pub async fn open_desktop(data_dir: &Path, timeout: Duration) -> Result<Session, ApiError> {
    let real = places::real_store(data_dir);
    if real.exists() {
        return Ok(Session {
            api: Api::new(real).with_http_timeout(timeout),
            demo: false,
            sandbox: None,
        });
    }
    let DemoPaths {
        store: db,
        files,
        sandbox: sandbox_state,
    } = DemoPaths::in_data_dir(data_dir);
    let running = start_sandbox(&sandbox_state).await?;
    let (build_db, url) = (db.clone(), running.base_url());
    // The build imports and reconciles (blocking work): off the async threads, with the
    // runtime's handle for its calls to the sandbox.
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || -> Result<(), ApiError> {
        if let Some(parent) = build_db.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                ApiError::internal(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let mut store = Store::open(&build_db)?;
        if demo::is_built(&mut store).map_err(|e| ApiError::internal(e.to_string()))? {
            return Ok(());
        }
        let built = handle
            .block_on(demo::build_on_sandbox(
                &mut store,
                &build_db,
                &files,
                &DemoSpec::demo(),
                &url,
                timeout,
                jiff::Timestamp::now(),
            ))
            .map_err(|e| ApiError::internal(e.to_string()))?;
        if !built.answer_key_matches {
            tracing::warn!("the demo's findings differ from what it planted");
        }
        Ok(())
    })
    .await
    .map_err(|e| ApiError::internal(format!("building the demo stopped: {e}")))??;
    let api = connect_demo(
        Api::new(&db)
            .with_http_timeout(timeout)
            .with_own_books(real),
        &running,
    )
    .await?;
    Ok(Session {
        api,
        demo: true,
        sandbox: Some(running),
    })
}

async fn start_sandbox(state_dir: &Path) -> Result<RunningSandbox, ApiError> {
    demo::sandbox::start(state_dir).await.map_err(|e| {
        ApiError::internal(format!(
            "cannot start the demo gateway in {}: {e}",
            state_dir.display()
        ))
    })
}

/// Starts the demo's sandbox with its state in `state_dir` (on its last port when free),
/// seeds it with the store's charges (once) and connects the store to it, and to its Xero
/// stand-in where the demo keeps its books; the API then talks to it with the demo key.
pub async fn with_demo_sandbox(
    api: Api,
    state_dir: &Path,
) -> Result<(Api, RunningSandbox), ApiError> {
    let running = start_sandbox(state_dir).await?;
    let api = connect_demo(api, &running).await?;
    Ok((api, running))
}

/// Points the demo store at the running sandbox: its gateway, and its books in the Xero
/// stand-in (tokens in this process's memory, so every window connects again).
pub async fn connect_demo(api: Api, running: &RunningSandbox) -> Result<Api, ApiError> {
    let db = api.db().to_path_buf();
    let url = running.base_url();
    let timeout = api.http_timeout;
    let mut store = tokio::task::spawn_blocking(move || Store::open(&db))
        .await
        .map_err(|e| ApiError::internal(format!("opening the store stopped: {e}")))??;
    demo::sandbox::seed_and_connect(&mut store, &url, timeout)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    if demo::xero::books_in_stand_in(&mut store).map_err(|e| ApiError::internal(e.to_string()))? {
        demo::xero::connect(&mut store, &url, timeout, jiff::Timestamp::now())
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
    }
    Ok(api.with_gateway_key(demo::sandbox::demo_key()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn first_launch_opens_the_demo_with_its_gateway_and_a_relaunch_reuses_it() {
        let dir = tempfile::tempdir().unwrap();
        let session = open_desktop(dir.path(), Duration::from_secs(10))
            .await
            .unwrap();
        assert!(session.demo);
        assert!(
            session
                .sandbox_url()
                .unwrap()
                .starts_with("http://127.0.0.1:")
        );
        let api = session.api.clone();
        let today = tokio::task::spawn_blocking(move || super::super::today(&api))
            .await
            .unwrap()
            .unwrap();
        assert!(today.demo);
        let open_before = today.open_findings;
        assert!(open_before > 0);
        // Its books are the demo organisation's in the Xero stand-in, connected.
        let books = super::super::books::books_status(&session.api).unwrap();
        let connected = books.connection.expect("the demo keeps its books in Xero");
        assert!(
            connected.name.contains(demo::xero::DEMO_ORGANISATION) && connected.reconnect.is_none(),
            "{connected:?}"
        );
        let url = session.sandbox_url().unwrap();
        let synced = super::super::sync_now(&session.api).await.unwrap();
        assert!(
            synced.new + synced.changed + synced.unchanged > 0,
            "{synced:?}"
        );
        session.close().await.unwrap();

        let again = open_desktop(dir.path(), Duration::from_secs(10))
            .await
            .unwrap();
        let api = again.api.clone();
        let today = tokio::task::spawn_blocking(move || super::super::today(&api))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            today.open_findings, open_before,
            "a relaunch must not rebuild the books"
        );
        // The same address, so what was approved before still goes where it was shown.
        assert_eq!(again.sandbox_url().unwrap(), url);
        let synced = super::super::sync_now(&again.api).await.unwrap();
        // The relaunched window connected the books again: they sync, nothing new.
        assert!(
            synced.message.contains(&format!(
                "books synced: Xero organisation {}: 0 new invoices",
                demo::xero::DEMO_ORGANISATION
            )),
            "{synced:?}"
        );
        again.close().await.unwrap();
    }

    #[tokio::test]
    async fn a_data_folder_with_real_books_opens_them_and_no_demo() {
        let dir = tempfile::tempdir().unwrap();
        Store::open(&dir.path().join(REAL_STORE_FILE)).unwrap();
        let session = open_desktop(dir.path(), Duration::from_secs(10))
            .await
            .unwrap();
        assert!(!session.demo);
        assert!(session.sandbox_url().is_none());
        assert!(!DemoPaths::in_data_dir(dir.path()).store.exists());
    }
}
