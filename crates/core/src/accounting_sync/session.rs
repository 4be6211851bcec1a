//! What both accounting systems' connections share: the tokens as the keyring keeps them
//! (one JSON text per store, never printed), a call made again after a refresh or a
//! throttle, and forgetting a connection with its reading positions.
//!
//! It must never put a token anywhere but the keyring and the one header that carries it.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{AccountingError, BooksSyncOptions};
use crate::books::BooksSecret;
use crate::secret::Keyring;
use crate::store::Store;

/// What the keyring keeps for a connection. No `Debug`: it is never printed.
#[derive(Serialize, Deserialize)]
pub(crate) struct KeptTokens {
    /// QuickBooks' app secret; a Xero desktop app (PKCE) has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    pub access: String,
    pub access_expires_at: i64,
    pub refresh: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_expires_at: Option<i64>,
    /// What the grant allows, where the system says (Xero); none kept before it was asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl KeptTokens {
    pub fn new(
        client_secret: Option<&BooksSecret>,
        access: &BooksSecret,
        access_expires_in: Duration,
        refresh: &BooksSecret,
        refresh_expires_in: Option<Duration>,
        now: Timestamp,
    ) -> KeptTokens {
        let at = |d: Duration| now.as_second().saturating_add(d.as_secs() as i64);
        KeptTokens {
            client_secret: client_secret.map(|s| s.expose().to_string()),
            access: access.expose().to_string(),
            access_expires_at: at(access_expires_in),
            refresh: refresh.expose().to_string(),
            refresh_expires_at: refresh_expires_in.map(at),
            scope: None,
        }
    }

    /// The same, keeping what the grant allows.
    pub fn with_scope(mut self, scope: Option<String>) -> KeptTokens {
        self.scope = scope;
        self
    }

    /// The tokens kept under `account`; none, or unreadable, is "connect again".
    pub fn load(
        keyring: &Keyring,
        account: &str,
        system: &str,
    ) -> Result<KeptTokens, AccountingError> {
        let text = keyring
            .load_text(account)?
            .ok_or_else(|| AccountingError::Reconnect {
                reason: if Keyring::is_in_memory(account) {
                    format!(
                        "the demo's {system} stand-in is connected only while its window runs (the desktop app, or `ui-server --sandbox-state`); work on the demo there"
                    )
                } else {
                    format!("no {system} tokens are in this computer's keyring")
                },
            })?;
        serde_json::from_str(&text).map_err(|_| AccountingError::Reconnect {
            reason: format!("the {system} tokens in the keyring are unreadable"),
        })
    }

    pub fn save(&self, keyring: &Keyring, account: &str) -> Result<(), AccountingError> {
        let text = serde_json::to_string(self).expect("plain strings and numbers serialize");
        Ok(keyring.save_text(account, &text)?)
    }

    /// Whether the access token ends within `ahead` of `now`.
    pub fn ends_within(&self, ahead: Duration, now: Timestamp) -> bool {
        self.access_expires_at - (ahead.as_secs() as i64) <= now.as_second()
    }

    pub fn access(&self) -> BooksSecret {
        BooksSecret::new(self.access.clone())
    }

    pub fn refresh(&self) -> BooksSecret {
        BooksSecret::new(self.refresh.clone())
    }
}

/// Forgets a connection: its tokens in the keyring, and every setting under `prefix` (the
/// reading positions too, so a company connected next is read from its start).
pub(crate) fn forget(
    store: &mut Store,
    keyring: &Keyring,
    account: &str,
    prefix: &str,
) -> Result<(), AccountingError> {
    if !account.is_empty() {
        keyring.forget(account)?;
    }
    store.write(|tx| {
        for (key, _) in tx.settings_with_prefix(prefix)? {
            tx.clear_setting(&key)?;
        }
        Ok::<_, AccountingError>(())
    })
}

/// How a failed call is met.
pub(crate) enum Failure {
    /// The access token was refused: refresh once, then call again.
    Refused(String),
    /// Throttled: wait (as long as asked, when it says), then call again.
    Throttled(Option<Duration>),
    /// The company's connection is gone: connect again.
    Lost(String),
    /// Anything else: the call's own error.
    Other,
}

/// A system's error, read as a [`Failure`].
pub(crate) trait CallError: Into<AccountingError> {
    fn failure(&self) -> Failure;
}

impl CallError for crate::books::qbo::QboError {
    fn failure(&self) -> Failure {
        use crate::books::qbo::QboError;
        match self {
            QboError::Unauthorized { detail } => Failure::Refused(detail.clone()),
            QboError::Throttled { retry_after } => Failure::Throttled(*retry_after),
            _ => Failure::Other,
        }
    }
}

impl CallError for crate::books::xero::XeroError {
    fn failure(&self) -> Failure {
        use crate::books::xero::XeroError;
        match self {
            XeroError::Unauthorized { detail } => Failure::Refused(detail.clone()),
            XeroError::Throttled { retry_after } => Failure::Throttled(*retry_after),
            XeroError::Reconnect { detail } => Failure::Lost(detail.clone()),
            _ => Failure::Other,
        }
    }
}

/// A connection a sync calls through.
pub(crate) trait Connected {
    type Client;
    /// The system's name, for messages.
    const SYSTEM: &'static str;
    /// The API with the current access token.
    fn client(&self) -> Self::Client;
    /// A new token pair, saved to the keyring before it is used.
    fn refresh(
        &mut self,
        store: &mut Store,
        keyring: &Keyring,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), AccountingError>> + Send;
    /// Marks the store "connect again" for `detail`.
    fn lost(&self, store: &mut Store, detail: &str) -> AccountingError;
}

/// One call's future.
pub(crate) type Call<'c, T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>;

/// Calls a system through its connection: a refused access token is refreshed once and the
/// call made again; a throttled call waits as asked and is made again; a connection the
/// system no longer has marks the store "connect again".
pub(crate) struct Caller<'a, S> {
    pub session: &'a mut S,
    pub keyring: &'a Keyring,
    pub options: BooksSyncOptions,
}

impl<S: Connected + Send> Caller<'_, S> {
    pub async fn call<T, E: CallError>(
        &mut self,
        store: &mut Store,
        make: impl for<'c> Fn(&'c S::Client) -> Call<'c, T, E>,
    ) -> Result<T, AccountingError> {
        let mut refreshed = false;
        let mut throttled = 0;
        loop {
            let client = self.session.client();
            let error = match make(&client).await {
                Ok(answer) => return Ok(answer),
                Err(e) => e,
            };
            match error.failure() {
                Failure::Refused(_) if !refreshed => {
                    refreshed = true;
                    // The new token's life counts from now, not from the sync's start.
                    self.session
                        .refresh(store, self.keyring, Timestamp::now())
                        .await?;
                }
                Failure::Refused(detail) => {
                    return Err(AccountingError::Reconnect {
                        reason: format!("{} refused a fresh access token ({detail})", S::SYSTEM),
                    });
                }
                Failure::Throttled(retry_after) if throttled < self.options.throttle_retries => {
                    throttled += 1;
                    let wait = retry_after.unwrap_or(Duration::from_secs(1 << throttled));
                    tokio::time::sleep(wait.min(Duration::from_secs(60))).await;
                }
                Failure::Lost(detail) => return Err(self.session.lost(store, &detail)),
                Failure::Throttled(_) | Failure::Other => return Err(error.into()),
            }
        }
    }
}
