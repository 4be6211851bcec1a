//! A store's connection to its QuickBooks Online company: the consent (Intuit's
//! authorization-code flow, `state` checked), the tokens and the app's client secret in the
//! OS keyring only, refreshed before they expire, and revocation met with a clear
//! "reconnect" state rather than a crash or a silent stop.
//!
//! The store keeps where to call, the company (`realm`), the app's client id, the keyring
//! account and, once QuickBooks refuses the grant, why; never a token or the secret. One
//! company per store: connecting another company's realm is refused until `disconnect`.
//!
//! Rotation: Intuit answers a refresh with a new refresh token and forgets the old one a day
//! later, so the new pair is saved to the keyring before the new access token is used; a
//! crash between the two loses nothing.

use std::time::Duration;

use jiff::Timestamp;

use super::AccountingError;
use super::session::{self, Connected, KeptTokens};
use crate::books::BooksSecret;
use crate::books::qbo::{self, AppCredentials, QboClient, QboEndpoints, QboError, Tokens};
use crate::secret::Keyring;
use crate::store::{Store, StoreTx};

/// The system's name in the store (`accounting_objects.system`, settings).
pub const SYSTEM: &str = "quickbooks";

const AUTHORIZE_URL: &str = "books.quickbooks.authorize_url";
const TOKEN_URL: &str = "books.quickbooks.token_url";
const REVOKE_URL: &str = "books.quickbooks.revoke_url";
const API_BASE: &str = "books.quickbooks.api_base";
const REALM: &str = "books.quickbooks.realm";
const CLIENT_ID: &str = "books.quickbooks.client_id";
const ACCOUNT: &str = "books.quickbooks.account";
/// Why QuickBooks no longer accepts the connection, once it said so.
const RECONNECT: &str = "books.quickbooks.reconnect";
const PAYMENT_ACCOUNT: &str = "books.quickbooks.payment_account";

/// An access token this close to its end is refreshed before a call.
const REFRESH_AHEAD: Duration = Duration::from_secs(300);

/// The store's QuickBooks company and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QboConnection {
    pub endpoints: QboEndpoints,
    pub realm: String,
    pub client_id: String,
    /// The keyring account its tokens are filed under.
    pub account: String,
    /// Set when QuickBooks refused the grant: connect again.
    pub reconnect: Option<String>,
}

/// A consent to ask for: the URL to open, and the `state` its redirect must carry back.
#[derive(Debug, Clone)]
pub struct Consent {
    pub url: String,
    pub state: String,
}

/// The URL that asks the person to choose a company and consent.
pub fn consent(endpoints: &QboEndpoints, client_id: &str, redirect_uri: &str) -> Consent {
    let state = format!("{:032x}", rand::random::<u128>());
    Consent {
        url: endpoints.authorization_url(client_id, redirect_uri, &state),
        state,
    }
}

/// What the redirect after consent carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    pub code: String,
    pub realm: String,
}

/// Reads the redirect (the whole URL, or only its query) after consent: the code and the
/// company, once its `state` is the one this consent sent. A refusal, another consent's
/// redirect or a missing field is refused with what to do.
pub fn read_redirect(redirect: &str, state: &str) -> Result<Granted, AccountingError> {
    let answer = super::redirect_answer(redirect, state, "QuickBooks")?;
    match (answer.get("code"), answer.get("realmId")) {
        (Some(code), Some(realm)) => Ok(Granted {
            code: code.clone(),
            realm: realm.clone(),
        }),
        _ => Err(AccountingError::Consent(
            "the redirect carries no code or realmId; paste the whole address the browser was sent to".into(),
        )),
    }
}

pub(crate) fn read_connection(tx: &StoreTx<'_>) -> Result<Option<QboConnection>, AccountingError> {
    let get = |k: &str| tx.setting(k);
    let (Some(realm), Some(api_base), Some(token_url)) =
        (get(REALM)?, get(API_BASE)?, get(TOKEN_URL)?)
    else {
        return Ok(None);
    };
    Ok(Some(QboConnection {
        endpoints: QboEndpoints {
            authorize_url: get(AUTHORIZE_URL)?.unwrap_or_default(),
            token_url,
            revoke_url: get(REVOKE_URL)?.unwrap_or_default(),
            api_base,
        },
        realm,
        client_id: get(CLIENT_ID)?.unwrap_or_default(),
        account: get(ACCOUNT)?.unwrap_or_default(),
        reconnect: get(RECONNECT)?,
    }))
}

/// The store's QuickBooks connection, if one was made.
pub fn connection(store: &mut Store) -> Result<Option<QboConnection>, AccountingError> {
    store.read(read_connection)
}

/// The account (its `Id` in QuickBooks) Stripe's money goes through: refunds Chargeguard
/// records are paid from it, and payments it records are deposited into it. Once chosen.
pub(crate) fn payment_account(tx: &StoreTx<'_>) -> Result<Option<String>, AccountingError> {
    Ok(tx.setting(PAYMENT_ACCOUNT)?)
}

/// Chooses the account (by its `Id` in QuickBooks) Stripe's money goes through: QuickBooks
/// needs one for every refund receipt. Kept until disconnecting.
pub fn set_payment_account(store: &mut Store, id: &str) -> Result<(), AccountingError> {
    let id = id.trim();
    if id.is_empty() || id.len() > 20 || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(AccountingError::Consent(format!(
            "{id:?} is not an account id: give the account's Id in QuickBooks (a number, shown in the address of its register, like 35)"
        )));
    }
    if connection(store)?.is_none() {
        return Err(AccountingError::NotConnected);
    }
    store.write(|tx| tx.set_setting(PAYMENT_ACCOUNT, id))?;
    Ok(())
}

/// Exchanges the consent's code, checks the token with a read of the company, then keeps
/// the tokens and client secret in `keyring` and the connection in the store. Another
/// company than the one connected is refused, and a refused code changes nothing.
#[allow(clippy::too_many_arguments)]
pub async fn connect(
    store: &mut Store,
    endpoints: &QboEndpoints,
    app: &AppCredentials,
    granted: &Granted,
    redirect_uri: &str,
    keyring: &Keyring,
    timeout: Duration,
    now: Timestamp,
) -> Result<QboConnection, AccountingError> {
    if let Some(x) = super::xero_connection::connection(store)? {
        return Err(AccountingError::OtherCompany {
            connected: format!("Xero organisation {}", x.tenant.name),
            chosen: format!("QuickBooks company {}", granted.realm),
        });
    }
    let existing = connection(store)?;
    if let Some(c) = &existing
        && c.realm != granted.realm
    {
        return Err(AccountingError::OtherCompany {
            connected: format!("QuickBooks company {}", c.realm),
            chosen: format!("QuickBooks company {}", granted.realm),
        });
    }
    let http = qbo::http_client(timeout)?;
    let tokens = qbo::exchange_code(&http, endpoints, app, &granted.code, redirect_uri).await?;
    QboClient::new(http, endpoints, &granted.realm, tokens.access.clone())
        .preferences()
        .await?;
    let account = existing
        .map(|c| c.account)
        .filter(|a| !a.is_empty() && keyring.keeps(a))
        .unwrap_or_else(|| keyring.new_account("quickbooks"));
    kept_of(Some(&app.client_secret), &tokens, now).save(keyring, &account)?;
    let settings = [
        (AUTHORIZE_URL, endpoints.authorize_url.as_str()),
        (TOKEN_URL, endpoints.token_url.as_str()),
        (REVOKE_URL, endpoints.revoke_url.as_str()),
        (API_BASE, endpoints.api_base.as_str()),
        (REALM, granted.realm.as_str()),
        (CLIENT_ID, app.client_id.as_str()),
        (ACCOUNT, account.as_str()),
    ];
    store.write(|tx| {
        for (k, v) in settings {
            tx.set_setting(k, v)?;
        }
        tx.clear_setting(RECONNECT)?;
        Ok::<_, AccountingError>(())
    })?;
    Ok(QboConnection {
        endpoints: endpoints.clone(),
        realm: granted.realm.clone(),
        client_id: app.client_id.clone(),
        account,
        reconnect: None,
    })
}

/// A connected company's API with a live access token, refreshed when needed.
pub struct Session {
    pub connection: QboConnection,
    http: reqwest::Client,
    kept: KeptTokens,
}

impl Session {
    /// Opens the store's connection: refuses when none was made or QuickBooks refused the
    /// grant before, and refreshes an access token that is about to end.
    pub async fn open(
        store: &mut Store,
        keyring: &Keyring,
        timeout: Duration,
        now: Timestamp,
    ) -> Result<Session, AccountingError> {
        let connection = connection(store)?.ok_or(AccountingError::NotConnected)?;
        if let Some(reason) = &connection.reconnect {
            return Err(AccountingError::Reconnect {
                reason: reason.clone(),
            });
        }
        let kept = KeptTokens::load(keyring, &connection.account, "QuickBooks")?;
        let mut session = Session {
            connection,
            http: qbo::http_client(timeout)?,
            kept,
        };
        if session.kept.ends_within(REFRESH_AHEAD, now) {
            session.refresh(store, keyring, now).await?;
        }
        Ok(session)
    }

    /// The API with the current access token.
    pub fn client(&self) -> QboClient {
        QboClient::new(
            self.http.clone(),
            &self.connection.endpoints,
            &self.connection.realm,
            self.kept.access(),
        )
    }

    fn app(&self) -> AppCredentials {
        AppCredentials {
            client_id: self.connection.client_id.clone(),
            client_secret: BooksSecret::new(self.kept.client_secret.clone().unwrap_or_default()),
        }
    }

    /// A new token pair, saved to the keyring before it is used. A refused grant marks
    /// the store "reconnect" and says so.
    pub async fn refresh(
        &mut self,
        store: &mut Store,
        keyring: &Keyring,
        now: Timestamp,
    ) -> Result<(), AccountingError> {
        let refresh = self.kept.refresh();
        match qbo::refresh(
            &self.http,
            &self.connection.endpoints,
            &self.app(),
            &refresh,
        )
        .await
        {
            Ok(tokens) => {
                let kept = kept_of(Some(&self.app().client_secret), &tokens, now);
                kept.save(keyring, &self.connection.account)?;
                self.kept = kept;
                Ok(())
            }
            Err(QboError::Reconnect { detail }) => {
                let reason = format!("QuickBooks refused the connection ({detail})");
                store.write(|tx| tx.set_setting(RECONNECT, &reason))?;
                Err(AccountingError::Reconnect { reason })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Revokes the grant at Intuit, forgets the tokens and the connection. The synced
    /// invoices and ledger stay. A grant Intuit already forgot is not an error.
    pub async fn disconnect(
        self,
        store: &mut Store,
        keyring: &Keyring,
    ) -> Result<(), AccountingError> {
        super::refuse_while_undecided(store)?;
        let refresh = self.kept.refresh();
        let revoked = qbo::revoke(
            &self.http,
            &self.connection.endpoints,
            &self.app(),
            &refresh,
        )
        .await;
        if let Err(e) = revoked
            && !matches!(e, QboError::Fault { status: 400, .. })
        {
            return Err(e.into());
        }
        forget(store, keyring, &self.connection.account)
    }
}

/// Forgets the connection without calling QuickBooks (the grant was already refused, or
/// the tokens are gone).
pub fn forget_connection(store: &mut Store, keyring: &Keyring) -> Result<bool, AccountingError> {
    let Some(c) = connection(store)? else {
        return Ok(false);
    };
    super::refuse_while_undecided(store)?;
    forget(store, keyring, &c.account)?;
    Ok(true)
}

fn forget(store: &mut Store, keyring: &Keyring, account: &str) -> Result<(), AccountingError> {
    session::forget(store, keyring, account, "books.quickbooks.")
}

fn kept_of(client_secret: Option<&BooksSecret>, tokens: &Tokens, now: Timestamp) -> KeptTokens {
    KeptTokens::new(
        client_secret,
        &tokens.access,
        tokens.access_expires_in,
        &tokens.refresh,
        Some(tokens.refresh_expires_in),
        now,
    )
}

impl Connected for Session {
    type Client = QboClient;
    const SYSTEM: &'static str = "QuickBooks";

    fn client(&self) -> QboClient {
        Session::client(self)
    }

    async fn refresh(
        &mut self,
        store: &mut Store,
        keyring: &Keyring,
        now: Timestamp,
    ) -> Result<(), AccountingError> {
        Session::refresh(self, store, keyring, now).await
    }

    fn lost(&self, store: &mut Store, detail: &str) -> AccountingError {
        let reason = format!("QuickBooks no longer connects this company ({detail})");
        if let Err(e) = store.write(|tx| tx.set_setting(RECONNECT, &reason)) {
            return e.into();
        }
        AccountingError::Reconnect { reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redirect_gives_its_code_and_company_only_with_this_consents_state() {
        let ok = read_redirect(
            "http://localhost:8765/callback?code=AB1&state=s1&realmId=4620816365",
            "s1",
        )
        .unwrap();
        assert_eq!(
            ok,
            Granted {
                code: "AB1".into(),
                realm: "4620816365".into()
            }
        );
        assert_eq!(
            read_redirect("code=AB1&state=s1&realmId=9", "s1")
                .unwrap()
                .realm,
            "9"
        );
        for (redirect, says) in [
            (
                "http://x/cb?code=AB1&state=other&realmId=9",
                "state differs",
            ),
            ("http://x/cb?error=access_denied&state=s1", "access_denied"),
            ("http://x/cb?state=s1&realmId=9", "no code"),
        ] {
            let e = read_redirect(redirect, "s1").unwrap_err().to_string();
            assert!(e.contains(says), "{redirect}: {e}");
        }
    }

    #[test]
    fn the_consent_url_asks_intuit_for_the_accounting_scope_and_a_fresh_state() {
        let endpoints = QboEndpoints::production();
        let a = consent(&endpoints, "cid", "http://localhost:8765/callback");
        let b = consent(&endpoints, "cid", "http://localhost:8765/callback");
        assert_ne!(a.state, b.state);
        assert!(a.url.starts_with("https://appcenter.intuit.com/connect/oauth2?client_id=cid&response_type=code&scope=com.intuit.quickbooks.accounting&redirect_uri=http%3A%2F%2Flocalhost%3A8765%2Fcallback&state="), "{}", a.url);
    }
}
