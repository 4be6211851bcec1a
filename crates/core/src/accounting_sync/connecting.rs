//! Connecting a store to its accounting system, as both shells do it: the consent to ask
//! for ([`Pending::begin`]), finishing it with the address the browser came back to
//! ([`Pending::finish`]), which company the store keeps and whether it must be connected
//! again ([`status`]), and [`disconnect`]. The command line pastes or listens for the
//! browser's return; the desktop app listens on the loopback redirect. Each system's own
//! steps stay in [`super::qbo_connection`] and [`super::xero_connection`]; this module only
//! says which one to take, so the two shells cannot connect differently.
//!
//! It never keeps a secret anywhere but in memory until `finish` hands it to the keyring,
//! and never shows one: [`Pending`]'s `Debug` names the system and the address only.

use std::time::Duration;

use jiff::Timestamp;

use super::qbo_connection::{self, Session};
use super::xero_connection::{self, XeroSession};
use super::{AccountingError, System};
use crate::books::BooksSecret;
use crate::books::qbo::{AppCredentials, QboEndpoints};
use crate::books::xero::XeroEndpoints;
use crate::secret::Keyring;
use crate::store::Store;

/// The redirect URI registered for the app when none is named: a loopback address, so the
/// desktop app can receive the browser's return itself (RFC 8252 §7.3).
pub fn default_redirect_uri(system: System) -> &'static str {
    match system {
        System::Quickbooks => "http://localhost:8765/callback",
        System::Xero => "http://localhost:8766/callback",
    }
}

/// What the person asked to connect.
pub struct ConnectRequest {
    pub system: System,
    /// The app's client id (Intuit: Keys & credentials; Xero: an "Auth Code with PKCE" app).
    pub client_id: String,
    /// QuickBooks only: the app's client secret (Xero's desktop consent needs none).
    pub client_secret: Option<BooksSecret>,
    /// A redirect URI registered for the app ([`default_redirect_uri`] when `None`).
    pub redirect_uri: Option<String>,
    /// Xero: the organisation to keep (its name or tenant id) when the consent connected
    /// several.
    pub tenant: Option<String>,
    /// The system's own hosts when `None`; a sandbox's `http://127.0.0.1:PORT` for its
    /// stand-in.
    pub base: Option<String>,
}

/// A consent asked for and not yet answered.
pub struct Pending {
    system: System,
    url: String,
    state: String,
    redirect_uri: String,
    finish: Finish,
}

enum Finish {
    Quickbooks {
        endpoints: QboEndpoints,
        app: AppCredentials,
    },
    Xero {
        endpoints: XeroEndpoints,
        client_id: String,
        verifier: BooksSecret,
        tenant: Option<String>,
    },
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("system", &self.system)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

/// A sandbox's address on this computer, the only one that may stand in for the system.
fn is_stand_in(base: &str) -> bool {
    match reqwest::Url::parse(base.trim()) {
        Ok(url) => {
            url.scheme() == "http"
                && matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
        }
        Err(_) => false,
    }
}

fn blank(text: &str) -> bool {
    text.trim().is_empty()
}

impl Pending {
    /// The consent to ask for. Refuses, before anything is shown, a request that could
    /// never connect: no client id, or QuickBooks without its client secret.
    pub fn begin(request: ConnectRequest) -> Result<Pending, AccountingError> {
        let ConnectRequest {
            system,
            client_id,
            client_secret,
            redirect_uri,
            tenant,
            base,
        } = request;
        let client_id = client_id.trim().to_string();
        if client_id.is_empty() {
            return Err(AccountingError::Consent(
                "no client id: copy it from the app's page at the system's developer site".into(),
            ));
        }
        let redirect_uri = redirect_uri
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| default_redirect_uri(system).to_string());
        let base = base.filter(|b| !blank(b));
        if let Some(base) = &base
            && !is_stand_in(base)
        {
            // The client secret and the code go to this address: only a local stand-in may
            // take the system's place.
            return Err(AccountingError::Consent(format!(
                "{base} is not a local stand-in (http://127.0.0.1:PORT or http://localhost:PORT); leave the address out to connect to the real system"
            )));
        }
        let tenant = tenant.filter(|t| !blank(t));
        Ok(match system {
            System::Quickbooks => {
                let client_secret = client_secret
                    .filter(|s| !blank(s.expose()))
                    .ok_or_else(|| {
                        AccountingError::Consent(
                            "no client secret: QuickBooks needs the app's client secret (Keys & credentials) beside its client id".into(),
                        )
                    })?;
                let endpoints = match &base {
                    Some(base) => QboEndpoints::at(base.trim()),
                    None => QboEndpoints::production(),
                };
                let consent = qbo_connection::consent(&endpoints, &client_id, &redirect_uri);
                Pending {
                    system,
                    url: consent.url,
                    state: consent.state,
                    redirect_uri,
                    finish: Finish::Quickbooks {
                        endpoints,
                        app: AppCredentials {
                            client_id,
                            client_secret: BooksSecret::new(client_secret.expose().trim()),
                        },
                    },
                }
            }
            System::Xero => {
                let endpoints = match &base {
                    Some(base) => XeroEndpoints::at(base.trim()),
                    None => XeroEndpoints::production(),
                };
                let consent = xero_connection::consent(&endpoints, &client_id, &redirect_uri);
                Pending {
                    system,
                    url: consent.url,
                    state: consent.state,
                    redirect_uri,
                    finish: Finish::Xero {
                        endpoints,
                        client_id,
                        verifier: consent.verifier,
                        tenant,
                    },
                }
            }
        })
    }

    pub fn system(&self) -> System {
        self.system
    }

    /// The address to open in the person's browser.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// What the browser's return must carry back (the redirect listener waits for it).
    pub fn state(&self) -> &str {
        &self.state
    }

    /// Where the browser comes back to after consent.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Reads the address the browser came back to (its `state` checked), exchanges the
    /// code, and keeps the tokens in `keyring` and the connection in the store.
    pub async fn finish(
        self,
        store: &mut Store,
        redirect: &str,
        keyring: &Keyring,
        timeout: Duration,
        now: Timestamp,
    ) -> Result<Status, AccountingError> {
        match self.finish {
            Finish::Quickbooks { endpoints, app } => {
                let granted = qbo_connection::read_redirect(redirect, &self.state)?;
                let connected = qbo_connection::connect(
                    store,
                    &endpoints,
                    &app,
                    &granted,
                    &self.redirect_uri,
                    keyring,
                    timeout,
                    now,
                )
                .await?;
                Ok(Status {
                    system: System::Quickbooks,
                    company: connected.realm,
                    reconnect: None,
                    payment_account: store.read(qbo_connection::payment_account)?,
                })
            }
            Finish::Xero {
                endpoints,
                client_id,
                verifier,
                tenant,
            } => {
                let code = xero_connection::read_redirect(redirect, &self.state)?;
                let connected = xero_connection::connect(
                    store,
                    &endpoints,
                    &client_id,
                    &code,
                    &verifier,
                    &self.redirect_uri,
                    tenant.as_deref(),
                    keyring,
                    timeout,
                    now,
                )
                .await?;
                Ok(Status {
                    system: System::Xero,
                    company: connected.tenant.name,
                    reconnect: None,
                    payment_account: store.read(xero_connection::payment_account)?,
                })
            }
        }
    }
}

/// Which company the store keeps its books of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub system: System,
    /// QuickBooks' company (realm) id, or the Xero organisation's name.
    pub company: String,
    /// Set when the system refused the grant or dropped the company: connect again.
    pub reconnect: Option<String>,
    /// The account Stripe's money goes through, once chosen ([`set_payment_account`]):
    /// Xero's by its code (payments recorded are paid into it), QuickBooks' by its Id
    /// (refunds recorded are paid from it, payments deposited into it).
    pub payment_account: Option<String>,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.system {
            System::Quickbooks => write!(f, "QuickBooks company {}", self.company),
            System::Xero => write!(f, "Xero organisation {}", self.company),
        }
    }
}

/// The store's connection, if one was made.
pub fn status(store: &mut Store) -> Result<Option<Status>, AccountingError> {
    if let Some(c) = qbo_connection::connection(store)? {
        return Ok(Some(Status {
            system: System::Quickbooks,
            company: c.realm,
            reconnect: c.reconnect,
            payment_account: store.read(qbo_connection::payment_account)?,
        }));
    }
    if let Some(c) = xero_connection::connection(store)? {
        return Ok(Some(Status {
            system: System::Xero,
            company: c.tenant.name,
            reconnect: c.reconnect,
            payment_account: store.read(xero_connection::payment_account)?,
        }));
    }
    Ok(None)
}

/// Chooses the account Stripe's money goes through in the connected system (Xero: its
/// code, the account payments Chargeguard records are paid into; QuickBooks: its Id, the
/// account refunds are paid from and payments deposited into). The connection's status.
pub fn set_payment_account(store: &mut Store, account: &str) -> Result<Status, AccountingError> {
    match super::connected_system(store)? {
        Some(System::Quickbooks) => qbo_connection::set_payment_account(store, account)?,
        Some(System::Xero) => xero_connection::set_payment_account(store, account)?,
        None => return Err(AccountingError::NotConnected),
    }
    status(store)?.ok_or(AccountingError::NotConnected)
}

/// Revokes the grant at the system and forgets the tokens and the connection; the synced
/// invoices and ledger stay. A grant the system already refused is only forgotten here.
/// Refused while a fix pushed through the connection is undecided. `false`: there was no
/// connection.
pub async fn disconnect(
    store: &mut Store,
    keyring: &Keyring,
    timeout: Duration,
    now: Timestamp,
) -> Result<bool, AccountingError> {
    match super::connected_system(store)? {
        None => Ok(false),
        Some(System::Quickbooks) => match Session::open(store, keyring, timeout, now).await {
            Ok(session) => session.disconnect(store, keyring).await.map(|_| true),
            Err(AccountingError::Reconnect { .. }) => {
                qbo_connection::forget_connection(store, keyring)
            }
            Err(e) => Err(e),
        },
        Some(System::Xero) => match XeroSession::open(store, keyring, timeout, now).await {
            Ok(session) => session.disconnect(store, keyring).await.map(|_| true),
            Err(AccountingError::Reconnect { .. }) => {
                xero_connection::forget_connection(store, keyring)
            }
            Err(e) => Err(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(base: &str) -> ConnectRequest {
        ConnectRequest {
            system: System::Xero,
            client_id: "cg-desktop".into(),
            client_secret: None,
            redirect_uri: None,
            tenant: None,
            base: Some(base.into()),
        }
    }

    #[test]
    fn only_a_local_stand_in_may_take_the_systems_place() {
        for base in [
            "http://127.0.0.1:4242",
            "http://localhost:9/",
            "http://[::1]:80",
        ] {
            assert!(Pending::begin(request(base)).is_ok(), "{base}");
        }
        for base in [
            "https://evil.example",
            "http://127.0.0.1.evil.example:80",
            "http://localhost@evil.example",
            "https://127.0.0.1:4242",
            "not an address",
        ] {
            let refused = Pending::begin(request(base)).unwrap_err();
            assert!(
                refused.to_string().contains("stand-in"),
                "{base}: {refused}"
            );
        }
    }
}
