//! A store's connection to its Xero organisation: a desktop consent (authorization code
//! with PKCE, no client secret, `state` checked), the organisation chosen from those the
//! consent connected, the tokens in the OS keyring only, refreshed before they end (the
//! rotated pair saved before use: Xero forgets the old refresh token 30 minutes later), and
//! a refused grant kept as "connect again".
//!
//! The store keeps where to call, the organisation (its tenant id and name), the app's
//! client id and the keyring account; never a token. One organisation per store, and one
//! accounting system: a store connected to QuickBooks refuses Xero until disconnected.

use std::time::Duration;

use jiff::Timestamp;

use super::AccountingError;
use super::session::{self, Connected, KeptTokens};
use crate::books::BooksSecret;
use crate::books::xero::{self, Tenant, Tokens, XeroClient, XeroEndpoints, XeroError};
use crate::secret::Keyring;
use crate::store::{Store, StoreTx};

/// The system's name in the store (`accounting_objects.system`, settings).
pub const SYSTEM: &str = "xero";

const PREFIX: &str = "books.xero.";
const AUTHORIZE_URL: &str = "books.xero.authorize_url";
const TOKEN_URL: &str = "books.xero.token_url";
const REVOKE_URL: &str = "books.xero.revoke_url";
const CONNECTIONS_URL: &str = "books.xero.connections_url";
const API_BASE: &str = "books.xero.api_base";
const TENANT: &str = "books.xero.tenant";
const TENANT_NAME: &str = "books.xero.tenant_name";
const CLIENT_ID: &str = "books.xero.client_id";
const ACCOUNT: &str = "books.xero.account";
const RECONNECT: &str = "books.xero.reconnect";
/// The account (its code) a payment Chargeguard records in Xero is paid into: where
/// Stripe's money lands in the books (a Stripe clearing account, or the bank).
const PAYMENT_ACCOUNT: &str = "books.xero.payment_account";
/// The organisation's `ShortCode`, which Xero's web links name it by.
const SHORT_CODE: &str = "books.xero.short_code";

/// An access token this close to its end (Xero's last 30 minutes) is refreshed first.
const REFRESH_AHEAD: Duration = Duration::from_secs(120);

/// The store's Xero organisation and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XeroConnection {
    pub endpoints: XeroEndpoints,
    pub tenant: Tenant,
    pub client_id: String,
    pub account: String,
    pub reconnect: Option<String>,
    /// The organisation's short code, once read (links to its pages in Xero).
    pub short_code: Option<String>,
}

/// A consent to ask for: the URL to open, the `state` its redirect must carry back, and
/// the PKCE verifier its code is exchanged with (kept in memory only).
pub struct Consent {
    pub url: String,
    pub state: String,
    pub verifier: BooksSecret,
}

/// The URL that asks the person to sign in to Xero and allow access.
pub fn consent(endpoints: &XeroEndpoints, client_id: &str, redirect_uri: &str) -> Consent {
    let state = format!("{:032x}", rand::random::<u128>());
    let verifier = xero::new_verifier();
    Consent {
        url: endpoints.authorization_url(client_id, redirect_uri, &state, &verifier),
        state,
        verifier,
    }
}

/// Reads the redirect after consent: the code, once its `state` is this consent's. (Xero
/// names no organisation on it: the consent's connections do.)
pub fn read_redirect(redirect: &str, state: &str) -> Result<String, AccountingError> {
    let answer = super::redirect_answer(redirect, state, "Xero")?;
    answer.get("code").cloned().ok_or_else(|| {
        AccountingError::Consent(
            "the redirect carries no code; paste the whole address the browser was sent to".into(),
        )
    })
}

pub(crate) fn read_connection(tx: &StoreTx<'_>) -> Result<Option<XeroConnection>, AccountingError> {
    let get = |k: &str| tx.setting(k);
    let (Some(tenant), Some(api_base), Some(token_url)) =
        (get(TENANT)?, get(API_BASE)?, get(TOKEN_URL)?)
    else {
        return Ok(None);
    };
    Ok(Some(XeroConnection {
        endpoints: XeroEndpoints {
            authorize_url: get(AUTHORIZE_URL)?.unwrap_or_default(),
            token_url,
            revoke_url: get(REVOKE_URL)?.unwrap_or_default(),
            connections_url: get(CONNECTIONS_URL)?.unwrap_or_default(),
            api_base,
        },
        tenant: Tenant {
            id: tenant,
            name: get(TENANT_NAME)?.unwrap_or_default(),
        },
        client_id: get(CLIENT_ID)?.unwrap_or_default(),
        account: get(ACCOUNT)?.unwrap_or_default(),
        reconnect: get(RECONNECT)?,
        short_code: get(SHORT_CODE)?,
    }))
}

/// Keeps the organisation's short code, as Xero's `Organisation` says it, for the links to
/// what a push made there.
pub(crate) fn keep_short_code(
    store: &mut Store,
    org: &serde_json::Value,
) -> Result<(), AccountingError> {
    let Some(code) = org["ShortCode"].as_str() else {
        return Ok(());
    };
    if store.read(|tx| tx.setting(SHORT_CODE))?.as_deref() != Some(code) {
        store.write(|tx| tx.set_setting(SHORT_CODE, code))?;
    }
    Ok(())
}

/// The account code payments Chargeguard records in Xero are paid into, once chosen.
pub(crate) fn payment_account(tx: &StoreTx<'_>) -> Result<Option<String>, AccountingError> {
    Ok(tx.setting(PAYMENT_ACCOUNT)?)
}

/// Chooses the account (by its code in Xero's chart of accounts) payments Chargeguard
/// records are paid into; Xero needs one for every payment. Kept until disconnecting.
pub fn set_payment_account(store: &mut Store, code: &str) -> Result<(), AccountingError> {
    let code = code.trim();
    if code.is_empty() || code.len() > 10 {
        return Err(AccountingError::Consent(format!(
            "{code:?} is not an account code: give the code of the account as Xero's chart of accounts shows it (like 090)"
        )));
    }
    if connection(store)?.is_none() {
        return Err(AccountingError::NotConnected);
    }
    store.write(|tx| tx.set_setting(PAYMENT_ACCOUNT, code))?;
    Ok(())
}

/// The store's Xero connection, if one was made.
pub fn connection(store: &mut Store) -> Result<Option<XeroConnection>, AccountingError> {
    store.read(read_connection)
}

/// The organisation to keep among those the consent connected: the one named (its name
/// or tenant id), or the only one.
fn choose(tenants: Vec<Tenant>, wanted: Option<&str>) -> Result<Tenant, AccountingError> {
    let names = || {
        tenants
            .iter()
            .map(|t| format!("{} ({})", t.name, t.id))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match wanted {
        Some(w) => tenants
            .iter()
            .find(|t| t.id == w || t.name == w)
            .cloned()
            .ok_or_else(|| {
                AccountingError::Consent(format!(
                    "the consent connected no organisation named {w}; it connected {}",
                    names()
                ))
            }),
        None if tenants.len() == 1 => Ok(tenants[0].clone()),
        None if tenants.is_empty() => Err(AccountingError::Consent(
            "the consent connected no organisation; connect again and tick one".into(),
        )),
        None => Err(AccountingError::Consent(format!(
            "the consent connected several organisations: {}; say which with --tenant",
            names()
        ))),
    }
}

/// Exchanges the consent's code, chooses the organisation, checks the token with a read
/// of it, then keeps the tokens in `keyring` and the connection in the store. Another
/// organisation, or a store keeping QuickBooks, is refused; a refused code changes nothing.
#[allow(clippy::too_many_arguments)]
pub async fn connect(
    store: &mut Store,
    endpoints: &XeroEndpoints,
    client_id: &str,
    code: &str,
    verifier: &BooksSecret,
    redirect_uri: &str,
    tenant: Option<&str>,
    keyring: &Keyring,
    timeout: Duration,
    now: Timestamp,
) -> Result<XeroConnection, AccountingError> {
    if let Some(q) = super::qbo_connection::connection(store)? {
        return Err(AccountingError::OtherCompany {
            connected: format!("QuickBooks company {}", q.realm),
            chosen: "a Xero organisation".into(),
        });
    }
    let existing = connection(store)?;
    let http = xero::http_client(timeout)?;
    let tokens =
        xero::exchange_code(&http, endpoints, client_id, code, redirect_uri, verifier).await?;
    let chosen = choose(
        xero::connections(&http, endpoints, &tokens.access).await?,
        tenant,
    )?;
    if let Some(c) = &existing
        && c.tenant.id != chosen.id
    {
        return Err(AccountingError::OtherCompany {
            connected: format!("Xero organisation {}", c.tenant.name),
            chosen: format!("Xero organisation {}", chosen.name),
        });
    }
    XeroClient::new(http, endpoints, &chosen.id, tokens.access.clone())
        .organisation()
        .await?;
    let account = existing
        .map(|c| c.account)
        .filter(|a| !a.is_empty() && keyring.keeps(a))
        .unwrap_or_else(|| keyring.new_account("xero"));
    kept_of(&tokens, now).save(keyring, &account)?;
    let settings = [
        (AUTHORIZE_URL, endpoints.authorize_url.as_str()),
        (TOKEN_URL, endpoints.token_url.as_str()),
        (REVOKE_URL, endpoints.revoke_url.as_str()),
        (CONNECTIONS_URL, endpoints.connections_url.as_str()),
        (API_BASE, endpoints.api_base.as_str()),
        (TENANT, chosen.id.as_str()),
        (TENANT_NAME, chosen.name.as_str()),
        (CLIENT_ID, client_id),
        (ACCOUNT, account.as_str()),
    ];
    store.write(|tx| {
        for (k, v) in settings {
            tx.set_setting(k, v)?;
        }
        tx.clear_setting(RECONNECT)?;
        // Another organisation may have been chosen: its own is read at the next call.
        tx.clear_setting(SHORT_CODE)?;
        Ok::<_, AccountingError>(())
    })?;
    Ok(XeroConnection {
        endpoints: endpoints.clone(),
        tenant: chosen,
        client_id: client_id.to_string(),
        account,
        reconnect: None,
        short_code: None,
    })
}

/// A connected organisation's API with a live access token, refreshed when needed.
pub struct XeroSession {
    pub connection: XeroConnection,
    http: reqwest::Client,
    kept: KeptTokens,
}

impl XeroSession {
    /// Refuses, before anything is journaled, a push to `lists` through a grant that may
    /// only read one of them: one made before Chargeguard asked to write it (no scope kept,
    /// or only invoices read before it made credit notes and voids), or one the person
    /// narrowed.
    pub fn refuse_unless_writable(&self, lists: &[&str]) -> Result<(), AccountingError> {
        let scope = self.kept.scope.as_deref().unwrap_or("");
        match lists.iter().find(|list| !xero::may_write(scope, list)) {
            None => Ok(()),
            Some(list) => Err(AccountingError::Reconnect {
                reason: format!(
                    "the connection to Xero organisation {} allows Chargeguard only to read its {}, not to write them",
                    self.connection.tenant.name,
                    match *list {
                        "Invoices" => "invoices",
                        "CreditNotes" => "credit notes",
                        _ => "payments",
                    }
                ),
            }),
        }
    }

    /// Opens the store's connection: refuses when none was made or Xero refused the grant
    /// before, and refreshes an access token about to end.
    pub async fn open(
        store: &mut Store,
        keyring: &Keyring,
        timeout: Duration,
        now: Timestamp,
    ) -> Result<XeroSession, AccountingError> {
        let connection = connection(store)?.ok_or(AccountingError::NotConnected)?;
        if let Some(reason) = &connection.reconnect {
            return Err(AccountingError::Reconnect {
                reason: reason.clone(),
            });
        }
        let kept = KeptTokens::load(keyring, &connection.account, "Xero")?;
        let mut session = XeroSession {
            connection,
            http: xero::http_client(timeout)?,
            kept,
        };
        if session.kept.ends_within(REFRESH_AHEAD, now) {
            session.refresh(store, keyring, now).await?;
        }
        Ok(session)
    }

    /// The API with the current access token.
    pub fn client(&self) -> XeroClient {
        XeroClient::new(
            self.http.clone(),
            &self.connection.endpoints,
            &self.connection.tenant.id,
            self.kept.access(),
        )
    }

    /// A new token pair, saved to the keyring before it is used. A refused grant marks
    /// the store "connect again" and says so.
    pub async fn refresh(
        &mut self,
        store: &mut Store,
        keyring: &Keyring,
        now: Timestamp,
    ) -> Result<(), AccountingError> {
        let refresh = self.kept.refresh();
        match xero::refresh(
            &self.http,
            &self.connection.endpoints,
            &self.connection.client_id,
            &refresh,
        )
        .await
        {
            Ok(tokens) => {
                let mut kept = kept_of(&tokens, now);
                // A refresh answer that names no scope keeps the grant's: the same grant.
                if kept.scope.is_none() {
                    kept.scope = self.kept.scope.clone();
                }
                kept.save(keyring, &self.connection.account)?;
                self.kept = kept;
                Ok(())
            }
            Err(XeroError::Reconnect { detail }) => {
                let reason = format!("Xero refused the connection ({detail})");
                store.write(|tx| tx.set_setting(RECONNECT, &reason))?;
                Err(AccountingError::Reconnect { reason })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Marks the store "connect again" for `detail` (the organisation's connection is gone).
    pub fn lost(&self, store: &mut Store, detail: &str) -> AccountingError {
        let reason = format!("Xero no longer connects this organisation ({detail})");
        if let Err(e) = store.write(|tx| tx.set_setting(RECONNECT, &reason)) {
            return e.into();
        }
        AccountingError::Reconnect { reason }
    }

    /// Revokes the grant at Xero, forgets the tokens and the connection. The synced
    /// invoices and ledger stay.
    pub async fn disconnect(
        self,
        store: &mut Store,
        keyring: &Keyring,
    ) -> Result<(), AccountingError> {
        super::refuse_while_undecided(store)?;
        let refresh = self.kept.refresh();
        let revoked = xero::revoke(
            &self.http,
            &self.connection.endpoints,
            &self.connection.client_id,
            &refresh,
        )
        .await;
        if let Err(e) = revoked
            && !matches!(e, XeroError::Refused { status: 400, .. })
        {
            return Err(e.into());
        }
        forget(store, keyring, &self.connection.account)
    }
}

/// Forgets the connection without calling Xero.
pub fn forget_connection(store: &mut Store, keyring: &Keyring) -> Result<bool, AccountingError> {
    let Some(c) = connection(store)? else {
        return Ok(false);
    };
    super::refuse_while_undecided(store)?;
    forget(store, keyring, &c.account)?;
    Ok(true)
}

fn forget(store: &mut Store, keyring: &Keyring, account: &str) -> Result<(), AccountingError> {
    session::forget(store, keyring, account, PREFIX)
}

fn kept_of(tokens: &Tokens, now: Timestamp) -> KeptTokens {
    KeptTokens::new(
        None,
        &tokens.access,
        tokens.access_expires_in,
        &tokens.refresh,
        None,
        now,
    )
    .with_scope(tokens.scope.clone())
}

impl Connected for XeroSession {
    type Client = XeroClient;
    const SYSTEM: &'static str = "Xero";

    fn client(&self) -> XeroClient {
        XeroSession::client(self)
    }

    async fn refresh(
        &mut self,
        store: &mut Store,
        keyring: &Keyring,
        now: Timestamp,
    ) -> Result<(), AccountingError> {
        XeroSession::refresh(self, store, keyring, now).await
    }

    fn lost(&self, store: &mut Store, detail: &str) -> AccountingError {
        XeroSession::lost(self, store, detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(id: &str, name: &str) -> Tenant {
        Tenant {
            id: id.into(),
            name: name.into(),
        }
    }

    #[test]
    fn the_organisation_is_the_only_one_or_the_one_named() {
        let one = vec![tenant("t1", "Demo Company (NZ)")];
        assert_eq!(choose(one, None).unwrap().id, "t1");
        let two = vec![
            tenant("t1", "Demo Company (NZ)"),
            tenant("t2", "Bedrock Ltd"),
        ];
        assert_eq!(choose(two.clone(), Some("Bedrock Ltd")).unwrap().id, "t2");
        assert_eq!(choose(two.clone(), Some("t1")).unwrap().id, "t1");
        let asked = choose(two.clone(), None).unwrap_err().to_string();
        assert!(
            asked.contains("Bedrock Ltd (t2)") && asked.contains("--tenant"),
            "{asked}"
        );
        assert!(choose(two, Some("Slate")).is_err());
        assert!(choose(Vec::new(), None).is_err());
    }

    #[test]
    fn a_redirect_gives_its_code_only_with_this_consents_state() {
        assert_eq!(
            read_redirect("http://localhost:8766/callback?code=c1&state=s1", "s1").unwrap(),
            "c1"
        );
        let e = read_redirect("http://localhost:8766/callback?code=c1&state=s2", "s1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("state differs"), "{e}");
        let e = read_redirect("http://x/cb?error=access_denied&state=s1", "s1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("Xero answered access_denied"), "{e}");
    }
}
