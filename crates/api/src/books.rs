//! The Settings screen's accounting system: connect QuickBooks Online or Xero, see which
//! company the store keeps and whether it must be connected again, disconnect.
//!
//! **Connecting waits for a browser.** [`books_connect`] asks the core for the consent
//! (`accounting_sync::connecting`), binds the app's loopback redirect, and answers at once
//! with the consent's address and `waiting`; the desktop shell opens the system browser on
//! it (`Api::with_browser`), the web window shows it as a link. A background task receives
//! the browser's return on the redirect (`books::redirect`: loopback only, the consent's
//! own `state`, nothing a web page can send) and finishes the connection; the window
//! polls [`books_status`], as it polls a sync. One consent per store at a time: connecting
//! again, or [`books_connect_cancel`], stops the one waiting and frees its port.
//!
//! **Secrets go one way.** QuickBooks' client secret is taken once, handed to the core and
//! on to the keyring with the tokens; no answer has a field that could carry it, a token or
//! a code. Errors say what the bookkeeper can do next.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{Api, ApiError, ApiErrorCode, now};
use chargeguard_core::accounting_sync::{self, System, connecting};
use chargeguard_core::books::BooksSecret;
use chargeguard_core::books::redirect::RedirectListener;
use chargeguard_core::secret::Keyring;

// ---------------------------------------------------------------- transport types

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export_to = "BooksSystem.ts")]
pub enum BooksSystem {
    Quickbooks,
    Xero,
}

impl BooksSystem {
    fn core(self) -> System {
        match self {
            BooksSystem::Quickbooks => System::Quickbooks,
            BooksSystem::Xero => System::Xero,
        }
    }

    fn of(system: System) -> BooksSystem {
        match system {
            System::Quickbooks => BooksSystem::Quickbooks,
            System::Xero => BooksSystem::Xero,
        }
    }
}

/// The company the store keeps its books of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "BooksConnection.ts")]
pub struct BooksConnection {
    pub system: BooksSystem,
    /// "QuickBooks company 9130…" or "Xero organisation Demo Company (US)".
    pub name: String,
    /// Set when the system refused the grant or dropped the company: why, and that it
    /// must be connected again.
    pub reconnect: Option<String>,
    /// Xero: the account (its code) the payments Chargeguard records are paid into;
    /// `None` until chosen (a fix recording a payment then waits for it).
    pub payment_account: Option<String>,
    /// The demo's own books, in its sandbox's Xero stand-in: connected by the window each
    /// time it starts, its tokens in the window's memory only; no real system is touched.
    pub demo_stand_in: bool,
}

/// Xero's account for the payments Chargeguard records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "PaymentAccountRequest.ts")]
pub struct PaymentAccountRequest {
    /// Its code in Xero's chart of accounts (like `090`).
    pub code: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export_to = "ConsentState.ts")]
pub enum ConsentState {
    /// The consent's address is open (or to be opened); the app waits for the browser.
    Waiting,
    Connected,
    /// It stopped: `error` says why and what to do.
    Failed,
    Cancelled,
}

/// The latest consent asked for from this window's process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "BooksConsent.ts")]
pub struct BooksConsent {
    pub system: BooksSystem,
    /// The address to open in a browser (the system's consent page).
    pub url: String,
    /// Where the browser comes back to; the app listens there.
    pub redirect_uri: String,
    /// The app opened the system browser on `url` itself (the desktop app).
    pub opened: bool,
    pub state: ConsentState,
    pub error: Option<ApiError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "BooksStatus.ts")]
pub struct BooksStatus {
    /// `None`: the store is not connected to an accounting system.
    pub connection: Option<BooksConnection>,
    pub consent: Option<BooksConsent>,
}

/// What the person typed to connect.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "BooksConnectRequest.ts")]
pub struct BooksConnectRequest {
    pub system: BooksSystem,
    /// The app's client id.
    pub client_id: String,
    /// QuickBooks only: the app's client secret, kept only long enough to reach the keyring.
    #[ts(optional)]
    pub client_secret: Option<String>,
    /// A redirect URI registered for the app (`http://localhost:8765/callback` for
    /// QuickBooks, `:8766` for Xero, when left out); it must be a loopback address.
    #[ts(optional)]
    pub redirect_uri: Option<String>,
    /// Xero: the organisation to keep (its name or id) when the consent allowed several.
    #[ts(optional)]
    pub tenant: Option<String>,
    /// The system's own hosts when left out; a sandbox's `http://127.0.0.1:PORT` for its
    /// stand-in.
    #[ts(optional)]
    pub base: Option<String>,
}

impl std::fmt::Debug for BooksConnectRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BooksConnectRequest")
            .field("system", &self.system)
            .field("client_id", &self.client_id)
            .field("client_secret", &"(not shown)")
            .field("redirect_uri", &self.redirect_uri)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------- the consent

/// How long the app waits for the browser to come back.
const CONSENT_WAIT: Duration = Duration::from_secs(600);

/// Opens the person's browser on an address (the desktop shell's; none in a web window).
pub type Browser = Arc<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

struct Consenting {
    /// Which consent this is: a task settles only its own, never a newer one.
    id: u64,
    view: BooksConsent,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// The latest consent per store file, for this process.
static CONSENTS: LazyLock<Mutex<HashMap<PathBuf, Consenting>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn consents() -> std::sync::MutexGuard<'static, HashMap<PathBuf, Consenting>> {
    CONSENTS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Held from stopping the consent waiting to starting the next (or disconnecting), so two
/// clicks cannot both pass the stop and leave a listener no one can cancel.
static CHANGING: LazyLock<tokio::sync::Mutex<()>> = LazyLock::new(|| tokio::sync::Mutex::new(()));

fn settle(api: &Api, id: u64, outcome: Result<(), ApiError>) {
    if let Some(c) = consents().get_mut(api.db())
        && c.id == id
    {
        c.task = None;
        match outcome {
            Ok(()) => c.view.state = ConsentState::Connected,
            Err(e) => {
                c.view.state = ConsentState::Failed;
                c.view.error = Some(e);
            }
        }
    }
}

/// Stops the consent waiting for `api`'s store, if one is, and waits until its port is free.
async fn stop_waiting(api: &Api) {
    let task = consents().get_mut(api.db()).and_then(|c| {
        if c.view.state == ConsentState::Waiting {
            c.view.state = ConsentState::Cancelled;
        }
        c.task.take()
    });
    if let Some(task) = task {
        task.abort();
        let _ = task.await;
    }
}

async fn keyring() -> Result<Keyring, ApiError> {
    // The keyring blocks on D-Bus: open it off the async threads.
    tokio::task::spawn_blocking(Keyring::open)
        .await
        .map_err(|e| ApiError::internal(format!("the keyring lookup stopped: {e}")))?
        .map_err(Into::into)
}

/// The keyring the store's connection keeps its tokens in.
async fn keyring_of(api: &Api) -> Result<Keyring, ApiError> {
    let api = api.clone();
    tokio::task::spawn_blocking(move || {
        Ok::<_, ApiError>(accounting_sync::keyring(&mut api.open()?)?)
    })
    .await
    .map_err(|e| ApiError::internal(format!("the keyring lookup stopped: {e}")))?
}

/// Asks for a consent and waits for the browser in the background; answers at once with
/// its address. Refused with nothing changed when the request could never connect (no
/// client id, QuickBooks without its secret, a redirect URI that is not loopback, its
/// port taken).
pub async fn books_connect(
    api: &Api,
    request: BooksConnectRequest,
) -> Result<BooksStatus, ApiError> {
    let BooksConnectRequest {
        system,
        client_id,
        client_secret,
        redirect_uri,
        tenant,
        base,
    } = request;
    if api.gateway_key.is_some() && base.as_deref().is_none_or(|b| b.trim().is_empty()) {
        return Err(ApiError::new(
            ApiErrorCode::Refused,
            "this window runs the demo store; connect your own QuickBooks or Xero from your own books, not the demo's",
        ));
    }
    if let Some(kept) = connecting::status(&mut api.open()?)?
        && kept.system != system.core()
    {
        return Err(ApiError::new(
            ApiErrorCode::Refused,
            format!(
                "this store keeps the books of {kept}; one accounting system per store: disconnect it first, or use another store"
            ),
        ));
    }
    // The keyring first: a missing one is said before the person goes to consent.
    let keyring = keyring().await?;
    let pending = connecting::Pending::begin(connecting::ConnectRequest {
        system: system.core(),
        client_id,
        client_secret: client_secret.map(BooksSecret::new),
        redirect_uri,
        tenant,
        base,
    })?;
    let _changing = CHANGING.lock().await;
    stop_waiting(api).await;
    let listener = RedirectListener::bind(pending.redirect_uri())
        .await
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    let opened = match &api.browser {
        Some(open) => match open(pending.url()) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!("the browser did not open: {e}");
                false
            }
        },
        None => false,
    };
    let view = BooksConsent {
        system,
        url: pending.url().to_string(),
        redirect_uri: pending.redirect_uri().to_string(),
        opened,
        state: ConsentState::Waiting,
        error: None,
    };
    let background = api.clone();
    let id = rand::random::<u64>();
    let mut slots = consents();
    let task = tokio::spawn(async move {
        let outcome = receive(&background, pending, listener, keyring).await;
        settle(&background, id, outcome);
    });
    let replaced = slots.insert(
        api.db().to_path_buf(),
        Consenting {
            id,
            view,
            task: Some(task),
        },
    );
    drop(slots);
    // Stopped above; should one still run, it is stopped, never left listening.
    if let Some(task) = replaced.and_then(|c| c.task) {
        task.abort();
    }
    books_status(api)
}

async fn receive(
    api: &Api,
    pending: connecting::Pending,
    listener: RedirectListener,
    keyring: Keyring,
) -> Result<(), ApiError> {
    let redirect = listener
        .receive(pending.state(), CONSENT_WAIT)
        .await
        .map_err(|e| ApiError::new(ApiErrorCode::Refused, e.to_string()))?;
    let mut store = api.open()?;
    pending
        .finish(&mut store, &redirect, &keyring, api.http_timeout, now())
        .await?;
    Ok(())
}

/// Stops waiting for the browser (its port is freed); the connection is as it was.
pub async fn books_connect_cancel(api: &Api) -> Result<BooksStatus, ApiError> {
    let _changing = CHANGING.lock().await;
    stop_waiting(api).await;
    books_status(api)
}

/// The store's accounting system and the latest consent asked for from this process.
pub fn books_status(api: &Api) -> Result<BooksStatus, ApiError> {
    let mut store = api.open()?;
    let demo_stand_in = chargeguard_core::demo::xero::books_in_stand_in(&mut store)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let connection = connecting::status(&mut store)?.map(|s| BooksConnection {
        system: BooksSystem::of(s.system),
        name: s.to_string(),
        reconnect: s.reconnect.clone(),
        payment_account: s.payment_account.clone(),
        demo_stand_in,
    });
    let consent = consents().get(api.db()).map(|c| c.view.clone());
    Ok(BooksStatus {
        connection,
        consent,
    })
}

/// Chooses the account Stripe's money goes through in the connected system.
pub fn books_payment_account(
    api: &Api,
    request: &PaymentAccountRequest,
) -> Result<BooksStatus, ApiError> {
    connecting::set_payment_account(&mut api.open()?, &request.code)?;
    books_status(api)
}

/// Revokes the grant at the system and forgets its tokens; the synced books stay.
pub async fn books_disconnect(api: &Api) -> Result<BooksStatus, ApiError> {
    let _changing = CHANGING.lock().await;
    stop_waiting(api).await;
    let keyring = keyring_of(api).await?;
    let mut store = api.open()?;
    connecting::disconnect(&mut store, &keyring, api.http_timeout, now()).await?;
    drop(store);
    consents().remove(api.db());
    books_status(api)
}
