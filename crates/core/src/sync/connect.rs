//! `connect`: ties a store to a gateway account. The key is checked against the gateway
//! first (a cheap authenticated read), and only then is the API base kept in the store and
//! the key in the keyring, under the store's account name. The key itself never enters the
//! store.

use std::time::Duration;

use super::SyncError;
use crate::gateway::stripe::StripeClient;
use crate::secret::{self, Keyring, SecretKey};
use crate::store::Store;

/// The setting holding the gateway's API base.
pub const API_BASE_SETTING: &str = "gateway.stripe.api_base";
/// The setting holding the account name the keyring entry is filed under.
pub const ACCOUNT_SETTING: &str = "gateway.stripe.account";

/// A store's gateway connection: where to call, and whose key to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub api_base: String,
    pub account: String,
}

impl Connection {
    /// A client for this connection, with the key from `CHARGEGUARD_API_KEY` or the keyring.
    /// Blocks on the keyring: call it outside async code, or in `spawn_blocking`.
    pub fn client(&self, timeout: Duration) -> Result<StripeClient, SyncError> {
        let key = secret::resolve_key(&self.account)?;
        Ok(StripeClient::new(&self.api_base, key, timeout)?)
    }
}

/// The store's connection, if `connect` was run on it.
pub fn connection(store: &mut Store) -> Result<Option<Connection>, SyncError> {
    store.read(|tx| {
        let api_base = tx.setting(API_BASE_SETTING)?;
        let account = tx.setting(ACCOUNT_SETTING)?;
        Ok(api_base
            .zip(account)
            .map(|(api_base, account)| Connection { api_base, account }))
    })
}

/// Checks `key` against the gateway at `api_base`, then keeps the key in `keyring` (none:
/// the key came from `CHARGEGUARD_API_KEY` and is not written anywhere) and the API base
/// in the store. A key the gateway refuses changes nothing.
pub async fn connect(
    store: &mut Store,
    api_base: &str,
    key: SecretKey,
    keyring: Option<&Keyring>,
    timeout: Duration,
) -> Result<Connection, SyncError> {
    let client = StripeClient::new(api_base, key.clone(), timeout)?;
    client.check_key().await?;
    let existing = store.read(|tx| tx.setting(ACCOUNT_SETTING).map_err(SyncError::from))?;
    let account = existing.unwrap_or_else(|| format!("store-{:016x}", rand::random::<u64>()));
    if let Some(keyring) = keyring {
        keyring.save(&account, &key)?;
    }
    let api_base = client.api_base().to_string();
    store.write(|tx| {
        tx.set_setting(API_BASE_SETTING, &api_base)?;
        tx.set_setting(ACCOUNT_SETTING, &account)?;
        Ok::<_, SyncError>(())
    })?;
    Ok(Connection { api_base, account })
}
