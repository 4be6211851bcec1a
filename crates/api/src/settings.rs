//! The Settings screen's commands: the gateway connection, the people who approve, the
//! approval threshold, the business's time zone, and where the data lives.
//!
//! **The secret key goes one way.** [`connect_gateway`] takes it once, hands it to the
//! core (`sync::connect` checks it against the gateway, then files it in the OS keyring)
//! and drops it. No answer of this module (or any other) has a field that could carry it,
//! not even its mask: the screen says *that* a key is kept and where, never which. A
//! malformed key is refused without being echoed (`SecretKey::new`). Where
//! `CHARGEGUARD_API_KEY` is set, that key wins and nothing is written to the keyring, as on
//! the command line.
//!
//! **Who may change what** is the core's: a threshold change is an approver's sign-off
//! with their passphrase (`actions::set_approval_threshold`); the time zone must be an
//! IANA zone (`period::set_business_zone`); a person is added with a role and a passphrase
//! of which only a hash is kept, once the store has an approver only with an approver's
//! passphrase (`people::add_user`). Each change is audited by the core.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::json::Amount;
use super::{Api, ApiError, ApiErrorCode, now, required};
use chargeguard_core::actions;
use chargeguard_core::people::{self, Role as CoreRole};
use chargeguard_core::period::{self, PeriodError};
use chargeguard_core::secret::{self, Keyring, SecretKey};
use chargeguard_core::sync;

// ---------------------------------------------------------------- transport types

/// Where the gateway key comes from. Never the key, nor its mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export_to = "KeySource.ts")]
pub enum KeySource {
    /// No gateway is connected.
    None,
    /// The operating system's keyring, filed by `connect`.
    Keyring,
    /// The environment variable `CHARGEGUARD_API_KEY` (scheduled runs, CI).
    Environment,
    /// The app itself: the demo's in-app sandbox, whose test key is no secret.
    App,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "GatewaySettings.ts")]
pub struct GatewaySettings {
    /// The API base the store syncs from, when connected.
    pub api_base: Option<String>,
    pub key_source: KeySource,
    /// Connecting a gateway is possible from this window: always on one's own store; in the
    /// desktop app's demo, until one's own books exist.
    pub can_connect: bool,
    /// In the desktop app's demo: the store file connecting creates for one's own books
    /// (the demo stays as it is; the app opens the new store at its next start). Once it
    /// exists, `can_connect` is false and the window says to reopen the app.
    pub own_books: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export_to = "PersonRole.ts")]
pub enum PersonRole {
    /// May approve actions, close periods and change the threshold.
    Approver,
    /// May propose and execute, not approve.
    Bookkeeper,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "Person.ts")]
pub struct Person {
    pub name: String,
    pub role: PersonRole,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "Settings.ts")]
pub struct Settings {
    pub gateway: GatewaySettings,
    pub people: Vec<Person>,
    /// Per currency, the amount above which a refund or re-charge needs a second
    /// approver: every currency the books hold money in, and every one an approver set.
    pub thresholds: Vec<ThresholdView>,
    /// The business's IANA time zone; `None` until set (months are then not read at all).
    pub time_zone: Option<String>,
    /// The currency of imported files that have no currency column (`USD`); `None` until
    /// set (such a file then needs one named at its import).
    pub default_currency: Option<String>,
    /// The folder holding the store (and uploads waiting for their import).
    pub data_folder: String,
    /// The store file itself.
    pub store_file: String,
}

/// The gateway and its secret key, typed once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "ConnectRequest.ts")]
pub struct ConnectRequest {
    /// Stripe's (`https://api.stripe.com`) or a sandbox's `http://127.0.0.1:PORT`.
    pub api_base: String,
    /// Kept only long enough to check it and hand it to the keyring.
    pub secret_key: String,
}

impl std::fmt::Debug for ConnectRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectRequest")
            .field("api_base", &self.api_base)
            .field("secret_key", &"(not shown)")
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "UserAddRequest.ts")]
pub struct UserAddRequest {
    pub name: String,
    pub role: PersonRole,
    pub passphrase: String,
    /// An approver of this store vouching for the new person (needed once there is one).
    #[ts(optional)]
    pub by: Option<String>,
    /// That approver's passphrase.
    #[ts(optional)]
    pub by_passphrase: Option<String>,
}

/// Where a currency's threshold comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export_to = "ThresholdSource.ts")]
pub enum ThresholdSource {
    /// An approver set it.
    Set,
    /// The built-in default, about 500 US dollars in the currency's own terms.
    Default,
    /// No default and none set: every amount needs two approvers.
    Unset,
}

/// One currency's approval threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "ThresholdView.ts")]
pub struct ThresholdView {
    /// Amounts strictly above it need two different approvers.
    pub amount: Amount,
    pub source: ThresholdSource,
    /// Plain words: "above 75,000 JPY two approvers are needed".
    pub words: String,
}

impl ThresholdView {
    pub fn from_core(t: actions::Threshold) -> ThresholdView {
        ThresholdView {
            amount: Amount::from_money(t.amount),
            source: match t.source {
                actions::ThresholdSource::Set => ThresholdSource::Set,
                actions::ThresholdSource::Default => ThresholdSource::Default,
                actions::ThresholdSource::Unset => ThresholdSource::Unset,
            },
            words: t.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "ThresholdRequest.ts")]
pub struct ThresholdRequest {
    /// The ISO 4217 code of the currency ("JPY").
    pub currency: String,
    /// The amount as people write it ("75,000", "1,250.500").
    pub amount: String,
    /// The approver signing the change off.
    pub by: String,
    pub passphrase: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "DefaultCurrencyRequest.ts")]
pub struct DefaultCurrencyRequest {
    /// An ISO 4217 code: `USD`.
    pub code: String,
    pub by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "TimeZoneRequest.ts")]
pub struct TimeZoneRequest {
    /// An IANA zone: `Europe/Berlin`.
    pub zone: String,
    pub by: String,
}

// ---------------------------------------------------------------- operations

fn role_out(r: CoreRole) -> PersonRole {
    match r {
        CoreRole::Approver => PersonRole::Approver,
        CoreRole::Bookkeeper => PersonRole::Bookkeeper,
    }
}

fn role_in(r: PersonRole) -> CoreRole {
    match r {
        PersonRole::Approver => CoreRole::Approver,
        PersonRole::Bookkeeper => CoreRole::Bookkeeper,
    }
}

fn period_error(e: PeriodError) -> ApiError {
    match e {
        PeriodError::Store(s) => s.into(),
        PeriodError::People(p) => p.into(),
        other => ApiError::invalid(other.to_string()),
    }
}

/// Everything the Settings screen shows; nothing secret.
pub fn settings(api: &Api) -> Result<Settings, ApiError> {
    let mut store = api.open()?;
    let connection = sync::connection(&mut store)?;
    let (people, threshold, zone, currency) = store.read(|tx| {
        let people = tx.users()?;
        let threshold = actions::thresholds(tx)?;
        let zone = tx.setting(period::TIMEZONE_SETTING)?;
        let currency = tx.setting(chargeguard_core::import::defaults::DEFAULT_CURRENCY_SETTING)?;
        Ok::<_, ApiError>((people, threshold, zone, currency))
    })?;
    let key_source = match (&connection, &api.gateway_key) {
        (None, _) => KeySource::None,
        (Some(_), Some(_)) => KeySource::App,
        (Some(_), None) if std::env::var_os(secret::API_KEY_ENV).is_some() => {
            KeySource::Environment
        }
        (Some(_), None) => KeySource::Keyring,
    };
    // From the desktop app's demo window only: where one's own books go (or went).
    let own_books = match (&api.gateway_key, &api.own_books) {
        (Some(_), Some(path)) => Some(path.clone()),
        _ => None,
    };
    let can_connect = match &own_books {
        Some(path) => !path.exists(),
        None => api.gateway_key.is_none(),
    };
    let store_file = std::path::absolute(api.db()).unwrap_or_else(|_| api.db().to_path_buf());
    let data_folder = store_file
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    Ok(Settings {
        gateway: GatewaySettings {
            api_base: connection.map(|c| c.api_base),
            key_source,
            can_connect,
            own_books: own_books.map(|p| p.display().to_string()),
        },
        people: people
            .into_iter()
            .map(|(name, role)| Person {
                name,
                role: role_out(role),
            })
            .collect(),
        thresholds: threshold
            .into_iter()
            .map(ThresholdView::from_core)
            .collect(),
        time_zone: zone,
        default_currency: currency,
        data_folder,
        store_file: store_file.display().to_string(),
    })
}

/// Checks the key against the gateway, files it in the keyring and keeps the API base in
/// the store; answers the settings, which never hold the key.
pub async fn connect_gateway(api: &Api, request: ConnectRequest) -> Result<Settings, ApiError> {
    required("the gateway's address", &request.api_base)?;
    if api.gateway_key.is_some() {
        // The demo's store keeps its sandbox; a real gateway gets a store of its own.
        return match &api.own_books {
            Some(own) if !own.exists() => connect_own_books(api, own, request).await,
            Some(own) => Err(ApiError::new(
                ApiErrorCode::Refused,
                format!(
                    "your own books already exist at {}; close and reopen Chargeguard to work on them",
                    own.display()
                ),
            )),
            None => Err(ApiError::new(
                ApiErrorCode::Refused,
                "this window runs the demo store with its own sandbox gateway; to connect a real gateway, start Chargeguard on your own store (not the demo)",
            )),
        };
    }
    connect_store(api, request).await?;
    settings(api)
}

/// Checks the key against the gateway and connects `api`'s store to it (the key to the
/// keyring, or nowhere when the environment holds it).
async fn connect_store(api: &Api, request: ConnectRequest) -> Result<(), ApiError> {
    let ConnectRequest {
        api_base,
        secret_key,
    } = request;
    let key = SecretKey::new(&secret_key)?;
    drop(secret_key);
    // The keyring blocks on D-Bus: open it off the async threads. With the environment's
    // key in charge, nothing is written to the keyring (as `chargeguard connect` does).
    let keyring = if secret::key_from_env()?.is_some() {
        None
    } else {
        Some(
            tokio::task::spawn_blocking(Keyring::open)
                .await
                .map_err(|e| ApiError::internal(format!("the keyring lookup stopped: {e}")))??,
        )
    };
    let mut store = api.open()?;
    sync::connect(
        &mut store,
        api_base.trim(),
        key,
        keyring.as_ref(),
        api.http_timeout,
    )
    .await
    .map_err(|e| match e {
        sync::SyncError::Gateway(g) => ApiError::new(
            ApiErrorCode::GatewayUnavailable,
            format!(
                "the gateway did not accept the key: {g}. Check the address and paste the key again; nothing was saved"
            ),
        ),
        other => other.into(),
    })?;
    Ok(())
}

/// From the demo window: creates the install's own store at `own`, connected to the real
/// gateway. If the gateway refuses the key (or anything else fails) the new store is
/// removed again, so the next start still opens the demo rather than empty books.
async fn connect_own_books(
    demo: &Api,
    own: &std::path::Path,
    request: ConnectRequest,
) -> Result<Settings, ApiError> {
    let own_api = Api::new(own).with_http_timeout(demo.http_timeout);
    let connected = connect_store(&own_api, request).await;
    if connected.is_err() {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = own.as_os_str().to_owned();
            path.push(suffix);
            let _ = std::fs::remove_file(std::path::PathBuf::from(path));
        }
    }
    connected?;
    let mut settings = settings(&own_api)?;
    settings.gateway.own_books = Some(own.display().to_string());
    Ok(settings)
}

/// Adds a person with a role and a passphrase (only its hash is kept).
pub fn user_add(api: &Api, request: &UserAddRequest) -> Result<Settings, ApiError> {
    let mut store = api.open()?;
    let sponsor = match (&request.by, &request.by_passphrase) {
        (Some(by), Some(passphrase)) if !by.trim().is_empty() => Some(people::Sponsor {
            name: by.trim(),
            passphrase,
        }),
        _ => None,
    };
    people::add_user(
        &mut store,
        request.name.trim(),
        role_in(request.role),
        &request.passphrase,
        sponsor,
        now(),
    )?;
    drop(store);
    settings(api)
}

/// Sets the approval threshold, signed off by an approver.
pub fn threshold_set(api: &Api, request: &ThresholdRequest) -> Result<Settings, ApiError> {
    required("the approver's name", &request.by)?;
    let mut store = api.open()?;
    actions::set_approval_threshold(
        &mut store,
        &request.currency,
        &request.amount,
        request.by.trim(),
        &request.passphrase,
        now(),
    )
    .map_err(|e| match e {
        actions::ActionError::Refused(text) => ApiError::invalid(text),
        other => other.into(),
    })?;
    drop(store);
    settings(api)
}

/// Sets the currency of imported files that have no currency column.
pub fn default_currency_set(
    api: &Api,
    request: &DefaultCurrencyRequest,
) -> Result<Settings, ApiError> {
    required("your name", &request.by)?;
    required("a currency code", &request.code)?;
    let mut store = api.open()?;
    chargeguard_core::import::defaults::set_default_currency(
        &mut store,
        &request.code,
        request.by.trim(),
        now(),
    )
    .map_err(|e| match e {
        chargeguard_core::import::ImportError::Store(s) => s.into(),
        other => ApiError::invalid(other.to_string()),
    })?;
    drop(store);
    settings(api)
}

/// Sets the business's time zone (an IANA zone).
pub fn time_zone_set(api: &Api, request: &TimeZoneRequest) -> Result<Settings, ApiError> {
    required("your name", &request.by)?;
    let mut store = api.open()?;
    period::set_business_zone(&mut store, &request.zone, request.by.trim(), now())
        .map_err(period_error)?;
    drop(store);
    settings(api)
}
