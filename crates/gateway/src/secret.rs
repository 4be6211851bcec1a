//! The gateway's secret API key: the one value that can move a business's money.
//!
//! It owns the [`SecretKey`] type, which prints itself only as a mask (`sk_test_…abcd`)
//! and has no `Serialize`, so the key cannot reach a log, an error message, a panic or a
//! JSON answer by accident; and the [`Keyring`], which keeps the key in the operating
//! system's own credential store under the store's account: the Secret Service on Linux
//! and the BSDs (GNOME Keyring, KWallet, KeePassXC), the login Keychain on macOS, the
//! Credential Manager on Windows. Which one is decided when Chargeguard is built for a
//! target (`native` below); nothing else differs between them.
//!
//! It must never write the key anywhere else: not to SQLite, not to a file, not to the
//! terminal. Where the environment variable `CHARGEGUARD_API_KEY` is set (scheduled runs,
//! CI), that key wins and nothing is written to the keyring.
//!
//! Why `keyring-core` with each platform's store named explicitly, and not the `keyring`
//! crate's defaults: with keyring 3.x and no platform feature, entries silently lived in a
//! mock store that forgot them when the process ended, so `connect` would "succeed" and the
//! next `sync` would find no key. Here the only store linked is the platform's own, built
//! by type; when it does not answer we say so and what to do on that system, and a store
//! that would not outlive the process is refused. The one exception is what is no secret:
//! the demo's own stand-in tokens live in this process's memory ([`Keyring::in_memory`]),
//! under account names apart, and a gateway key is never kept there.
//!
//! Only the Linux store is exercised by the tests here (`tests/secret_keyring.rs`, against
//! a real GNOME Keyring); the macOS and Windows stores are the keyring project's own
//! crates, and `cargo check --target` covers them where that target's standard library is
//! installed (`.ci/run` says when it is not).

use std::fmt;
use std::sync::Arc;

use keyring_core::api::{CredentialPersistence, CredentialStoreApi};

/// The environment variable whose key overrides the keyring (never written to it).
pub const API_KEY_ENV: &str = "CHARGEGUARD_API_KEY";

/// The keyring "service" under which Chargeguard files its keys; the entry's user is the
/// store's account.
pub const KEYRING_SERVICE: &str = "chargeguard";

/// What went wrong with the secret key. No variant ever holds the key itself.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "that is not a Stripe secret key ({reason}); paste the key that starts with sk_test_ or sk_live_ (or a restricted rk_ key) from the Stripe dashboard"
    )]
    Malformed { reason: &'static str },
    #[error(
        "no keyring is available to keep the API key ({detail}); {}, or set {API_KEY_ENV} for scheduled runs",
        native::START
    )]
    NoKeyring { detail: String },
    #[error(
        "the keyring is locked or refused access ({detail}); {} and try again",
        native::UNLOCK
    )]
    Locked { detail: String },
    #[error(
        "no API key is saved for account {account}; run `chargeguard connect --api-base URL` and paste the key, or set {API_KEY_ENV}"
    )]
    NotConnected { account: String },
    #[error("the keyring failed: {detail}; try again, or set {API_KEY_ENV} instead")]
    Keyring { detail: String },
}

/// A gateway secret key. Its `Debug` and `Display` print a mask, never the key.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(String);

impl SecretKey {
    /// Checks the shape of a pasted key (surrounding whitespace and a trailing newline from
    /// stdin are dropped) without ever echoing it back.
    pub fn new(text: &str) -> Result<SecretKey, SecretError> {
        let key = text.trim();
        if key.is_empty() {
            return Err(SecretError::Malformed {
                reason: "it is empty",
            });
        }
        if !(key.starts_with("sk_") || key.starts_with("rk_")) {
            return Err(SecretError::Malformed {
                reason: "it does not start with sk_ or rk_",
            });
        }
        if !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(SecretError::Malformed {
                reason: "it holds characters a key never has",
            });
        }
        if key.len() < 12 {
            return Err(SecretError::Malformed {
                reason: "it is too short",
            });
        }
        Ok(SecretKey(key.to_string()))
    }

    /// The key itself, for the one place that needs it: the `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `sk_test_…abcd`: the kind prefix and the last four characters, enough for a person
    /// to tell two keys apart, never enough to use one.
    pub fn masked(&self) -> String {
        let key = &self.0;
        let prefix_end = key
            .match_indices('_')
            .nth(1)
            .map_or(3, |(i, _)| i + 1)
            .min(8);
        let prefix = &key[..prefix_end];
        // Short keys show no tail: four of eleven characters would be too much of it.
        if key.len() >= 20 {
            format!("{prefix}…{}", &key[key.len() - 4..])
        } else {
            format!("{prefix}…")
        }
    }

    /// Whether this is a live-mode key (moves real money).
    pub fn is_live(&self) -> bool {
        self.0.starts_with("sk_live_") || self.0.starts_with("rk_live_")
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.masked())
    }
}

impl fmt::Display for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// The key from `CHARGEGUARD_API_KEY`, when set (and not empty).
pub fn key_from_env() -> Result<Option<SecretKey>, SecretError> {
    match std::env::var(API_KEY_ENV) {
        Ok(text) if !text.trim().is_empty() => SecretKey::new(&text).map(Some),
        _ => Ok(None),
    }
}

/// Each platform's credential store, and what to tell a person whose store does not answer.
#[cfg(all(unix, not(target_os = "macos")))]
mod native {
    pub type Store = zbus_secret_service_keyring_store::Store;
    pub const START: &str = "start a Secret Service (GNOME Keyring: `gnome-keyring-daemon --start --components=secrets`, or KeePassXC with Secret Service integration) in this session";
    pub const UNLOCK: &str =
        "unlock it (log in to the desktop, or `gnome-keyring-daemon --unlock`)";
}

#[cfg(target_os = "macos")]
mod native {
    pub type Store = apple_native_keyring_store::keychain::Store;
    pub const START: &str = "Chargeguard keeps it in your login keychain: open Keychain Access, check that the login keychain exists and is your default (File > Make Keychain \"login\" Default), and run Chargeguard from your own user session, not over ssh";
    pub const UNLOCK: &str = "unlock the login keychain (Keychain Access > File > Unlock Keychain \"login\"), and click Allow when macOS asks whether Chargeguard may use it";
}

#[cfg(windows)]
mod native {
    pub type Store = windows_native_keyring_store::Store;
    pub const START: &str = "Chargeguard keeps it in Windows Credential Manager: run it as yourself in a desktop session (not as a service or over a remote shell without a profile), and check that Control Panel > Credential Manager opens";
    pub const UNLOCK: &str = "sign in to Windows as the user who connected the gateway (Credential Manager keeps each user's keys apart)";
}

/// The operating system's keyring: the Secret Service on Linux, the login Keychain on
/// macOS, the Credential Manager on Windows.
///
/// Its calls block (on D-Bus, on the Security framework): from async code, call them inside
/// `spawn_blocking`.
pub struct Keyring {
    /// The platform's store; `None` for [`Keyring::in_memory`].
    store: Option<Arc<native::Store>>,
}

/// The accounts of [`Keyring::in_memory`]: their names start with this, so whichever
/// keyring a caller opened finds them ([`Keyring::for_account`]), and no account the OS
/// keyring holds can be one.
const MEMORY_PREFIX: &str = "memory-";

/// What [`Keyring::in_memory`] holds: this process's, gone when it ends.
static MEMORY: std::sync::LazyLock<std::sync::Mutex<std::collections::BTreeMap<String, String>>> =
    std::sync::LazyLock::new(Default::default);

fn memory() -> std::sync::MutexGuard<'static, std::collections::BTreeMap<String, String>> {
    // A panic while holding it left a map, not a torn value: keep using it.
    MEMORY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring").finish_non_exhaustive()
    }
}

impl Keyring {
    /// Connects to the platform's store, or says why there is none and how to get one.
    pub fn open() -> Result<Keyring, SecretError> {
        let store = native::Store::new().map_err(|e| SecretError::NoKeyring {
            detail: describe(&e),
        })?;
        // A store that forgets at exit would make `connect` a lie; refuse it outright.
        if matches!(
            store.persistence(),
            CredentialPersistence::EntryOnly | CredentialPersistence::ProcessOnly
        ) {
            return Err(SecretError::NoKeyring {
                detail: "the only credential store found forgets keys when Chargeguard exits"
                    .into(),
            });
        }
        Ok(Keyring { store: Some(store) })
    }

    /// A keyring in this process's memory, for what is no secret and need not outlive
    /// the process: the tokens of the demo's own stand-in books, which any client of the
    /// loopback stand-in may be granted. Never for a real system's tokens: its accounts
    /// are named apart ([`Keyring::new_account`]) and only it keeps them.
    pub fn in_memory() -> Keyring {
        Keyring { store: None }
    }

    /// The keyring `account` is kept in: the process's memory for an account made by
    /// [`Keyring::in_memory`], else the OS keyring.
    pub fn for_account(account: &str) -> Result<Keyring, SecretError> {
        if Keyring::is_in_memory(account) {
            Ok(Keyring::in_memory())
        } else {
            Keyring::open()
        }
    }

    fn refuse_memory_for_a_key(account: &str) -> Result<(), SecretError> {
        if Keyring::is_in_memory(account) {
            return Err(SecretError::Keyring {
                detail: format!(
                    "{account} names the demo's in-memory keyring, where no gateway key is kept; disconnect and connect the gateway again"
                ),
            });
        }
        Ok(())
    }

    /// Whether `account` is kept in a process's memory ([`Keyring::in_memory`]): gone
    /// with the process that made it.
    pub fn is_in_memory(account: &str) -> bool {
        account.starts_with(MEMORY_PREFIX)
    }

    /// A new account name for `what` (a store's connection to a system), in this keyring.
    pub fn new_account(&self, what: &str) -> String {
        let prefix = if self.store.is_some() {
            "store-"
        } else {
            MEMORY_PREFIX
        };
        format!("{prefix}{:016x}-{what}", rand::random::<u64>())
    }

    /// Whether `account` is one of this keyring's own (a new connection through it may
    /// keep using it).
    pub fn keeps(&self, account: &str) -> bool {
        account.starts_with(MEMORY_PREFIX) == self.store.is_none()
    }

    /// The platform's entry for `account`; `None` where the process's memory keeps it.
    fn entry(&self, account: &str) -> Result<Option<keyring_core::Entry>, SecretError> {
        if account.starts_with(MEMORY_PREFIX) {
            return Ok(None);
        }
        let Some(store) = &self.store else {
            // A real account is never kept where it would be lost at exit.
            return Err(SecretError::Keyring {
                detail: format!("{account} is not an account of the demo's own keyring"),
            });
        };
        store
            .build(KEYRING_SERVICE, account, None)
            .map(Some)
            .map_err(classify)
    }

    /// Saves (or replaces) the key of `account`. A gateway key always goes to the OS
    /// keyring: never to memory, where `connect` would seem to work and lose it at exit.
    pub fn save(&self, account: &str, key: &SecretKey) -> Result<(), SecretError> {
        Keyring::refuse_memory_for_a_key(account)?;
        self.save_text(account, key.expose())
    }

    /// The key saved for `account`, if any.
    pub fn load(&self, account: &str) -> Result<Option<SecretKey>, SecretError> {
        Keyring::refuse_memory_for_a_key(account)?;
        match self.load_text(account)? {
            Some(text) => SecretKey::new(&text).map(Some),
            None => Ok(None),
        }
    }

    /// Saves (or replaces) a secret that is not a gateway key under `account`: the
    /// accounting systems' tokens and client secret, as one JSON text. The caller keeps
    /// it out of every message.
    pub fn save_text(&self, account: &str, text: &str) -> Result<(), SecretError> {
        match self.entry(account)? {
            Some(entry) => entry.set_password(text).map_err(classify),
            None => {
                memory().insert(account.to_string(), text.to_string());
                Ok(())
            }
        }
    }

    /// The text [`Keyring::save_text`] kept under `account`, if any.
    pub fn load_text(&self, account: &str) -> Result<Option<String>, SecretError> {
        let Some(entry) = self.entry(account)? else {
            return Ok(memory().get(account).cloned());
        };
        match entry.get_password() {
            Ok(text) => Ok(Some(text)),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(classify(e)),
        }
    }

    /// Removes the key of `account`; removing an absent key is not an error.
    pub fn forget(&self, account: &str) -> Result<(), SecretError> {
        let Some(entry) = self.entry(account)? else {
            memory().remove(account);
            return Ok(());
        };
        match entry.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(classify(e)),
        }
    }
}

/// The key every command uses: `CHARGEGUARD_API_KEY` when set, else the keyring's entry
/// for `account`.
pub fn resolve_key(account: &str) -> Result<SecretKey, SecretError> {
    if let Some(key) = key_from_env()? {
        return Ok(key);
    }
    Keyring::open()?
        .load(account)?
        .ok_or_else(|| SecretError::NotConnected {
            account: account.to_string(),
        })
}

fn classify(e: keyring_core::Error) -> SecretError {
    match e {
        keyring_core::Error::NoStorageAccess(_) => SecretError::Locked {
            detail: describe(&e),
        },
        keyring_core::Error::NoDefaultStore => SecretError::NoKeyring {
            detail: describe(&e),
        },
        other => SecretError::Keyring {
            detail: describe(&other),
        },
    }
}

/// A keyring error as text that cannot carry secret bytes: the variants that hold the
/// stored blob are described by a fixed sentence.
fn describe(e: &keyring_core::Error) -> String {
    match e {
        keyring_core::Error::BadEncoding(_) => "the stored key is not valid text".into(),
        keyring_core::Error::BadDataFormat(_, _) => "the stored key is malformed".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    const KEY: &str = "sk_test_51Hx9ZqLkT0pSecretTailabcd";

    #[rstest]
    #[case::test_key("sk_test_51Hx9ZqLkT0pSecretTailabcd", "sk_test_…abcd")]
    #[case::live_key("sk_live_51Hx9ZqLkT0pSecretTailwxyz", "sk_live_…wxyz")]
    #[case::restricted_key("rk_live_51Hx9ZqLkT0pSecretTail1234", "rk_live_…1234")]
    #[case::short_key_shows_no_tail("sk_test_abcdefg", "sk_test_…")]
    fn a_key_prints_only_its_mask(#[case] key: &str, #[case] mask: &str) {
        let key = SecretKey::new(key).unwrap();
        assert_eq!(key.to_string(), mask);
        assert_eq!(format!("{key:?}"), format!("SecretKey({mask})"));
        assert_eq!(format!("{key:#?}"), format!("SecretKey({mask})"));
    }

    #[test]
    fn the_key_is_absent_from_every_rendering() {
        let key = SecretKey::new(KEY).unwrap();
        let secret_part = &KEY[8..KEY.len() - 4];
        for rendering in [
            key.to_string(),
            format!("{key:?}"),
            format!("{:?}", Some(&key)),
            format!("{:?}", vec![key.clone()]),
        ] {
            assert!(!rendering.contains(secret_part), "{rendering}");
        }
    }

    #[rstest]
    #[case::empty("")]
    #[case::publishable_key("pk_test_51Hx9ZqLkT0pSecretTailabcd")]
    #[case::inner_space("sk_test_51Hx9 ZqLkT0pSecretTailabcd")]
    #[case::too_short("sk_test_abc")]
    fn a_malformed_key_is_refused_without_echoing_it(#[case] text: &str) {
        let err = SecretKey::new(text).unwrap_err();
        assert!(matches!(err, SecretError::Malformed { .. }));
        if !text.is_empty() {
            assert!(!err.to_string().contains(text));
        }
    }

    #[test]
    fn the_memory_keyring_keeps_only_its_own_accounts() {
        let memory = Keyring::in_memory();
        let account = memory.new_account("xero");
        assert!(account.starts_with(MEMORY_PREFIX), "{account}");
        memory.save_text(&account, "tokens").unwrap();
        // Found again through whichever keyring its name leads to.
        let again = Keyring::for_account(&account).unwrap();
        assert_eq!(
            again.load_text(&account).unwrap().as_deref(),
            Some("tokens")
        );
        again.forget(&account).unwrap();
        assert_eq!(memory.load_text(&account).unwrap(), None);
        // A real account is never kept in memory, where it would be lost at exit.
        let refused = memory.save_text("store-0123456789abcdef-xero", "tokens");
        assert!(
            matches!(refused, Err(SecretError::Keyring { .. })),
            "{refused:?}"
        );
        // Nor is a gateway key, whatever account it is given.
        let key = SecretKey::new(KEY).unwrap();
        let refused = memory.save(&account, &key);
        assert!(
            matches!(refused, Err(SecretError::Keyring { .. })),
            "{refused:?}"
        );
        assert!(memory.load_text(&account).unwrap().is_none());
    }

    #[test]
    fn a_pasted_key_loses_its_newline() {
        let key = SecretKey::new(&format!("  {KEY}\n")).unwrap();
        assert_eq!(key.expose(), KEY);
        assert!(!key.is_live());
    }
}
