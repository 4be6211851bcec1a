//! A Xero client: the identity service for a desktop app (authorization code with PKCE, no
//! client secret; refresh with rotation, the new refresh token to be kept before the new
//! access token is used, as Xero forgets the old one 30 minutes later), `/connections`
//! (one consent may connect several organisations; the caller keeps one), and reads of the
//! Accounting API (`Invoices`, `Payments` by `If-Modified-Since`, paged until a short page;
//! `Organisation`). Written after `docs/research/xero.md`; tested against the sandbox's
//! stand-in over HTTP.
//!
//! Errors say what the caller can do: refresh (`Unauthorized`), reconnect (`Reconnect`: the
//! grant or the organisation's connection is gone), wait (`Throttled`), or read Xero's
//! message.

use std::time::Duration;

use base64::Engine;
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::BooksSecret;

/// Where Xero lives: its hosts, or the sandbox's stand-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XeroEndpoints {
    pub authorize_url: String,
    pub token_url: String,
    pub revoke_url: String,
    pub connections_url: String,
    /// The Accounting API's base, ending in `/api.xro/2.0`.
    pub api_base: String,
}

impl XeroEndpoints {
    pub fn production() -> XeroEndpoints {
        XeroEndpoints {
            authorize_url: "https://login.xero.com/identity/connect/authorize".into(),
            token_url: "https://identity.xero.com/connect/token".into(),
            revoke_url: "https://identity.xero.com/connect/revocation".into(),
            connections_url: "https://api.xero.com/connections".into(),
            api_base: "https://api.xero.com/api.xro/2.0".into(),
        }
    }

    /// Where a person sees object `id` (a `payment` or an `invoice`) in Xero's own web app,
    /// in the organisation of short code `short_code` (its `Organisation.ShortCode`): the
    /// deep links Xero's own MCP server makes (XeroAPI/xero-mcp-server, `deeplinks.ts`).
    /// Only for Xero itself (the stand-in has no web app).
    pub fn page(&self, short_code: &str, entity: &str, id: &str) -> Option<String> {
        if self.api_base.trim_end_matches('/') != "https://api.xero.com/api.xro/2.0" {
            return None;
        }
        let code: String = short_code
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '!')
            .collect();
        let id: String = id
            .chars()
            .filter(|c| c.is_ascii_hexdigit() || *c == '-')
            .collect();
        if code.is_empty() || id.is_empty() {
            return None;
        }
        match entity {
            "invoice" => Some(format!(
                "https://go.xero.com/app/{code}/invoicing/view/{id}"
            )),
            "payment" => Some(format!(
                "https://go.xero.com/organisationlogin/default.aspx?shortcode={code}&redirecturl=/Bank/ViewTransaction.aspx?bankTransactionID={id}"
            )),
            _ => None,
        }
    }

    /// The sandbox's stand-in at `base` (`http://127.0.0.1:PORT`).
    pub fn at(base: &str) -> XeroEndpoints {
        let base = base.trim_end_matches('/');
        XeroEndpoints {
            authorize_url: format!("{base}/identity/connect/authorize"),
            token_url: format!("{base}/connect/token"),
            revoke_url: format!("{base}/connect/revocation"),
            connections_url: format!("{base}/connections"),
            api_base: format!("{base}/api.xro/2.0"),
        }
    }

    /// Where to send the person to consent, with PKCE's challenge of `verifier`.
    pub fn authorization_url(
        &self,
        client_id: &str,
        redirect_uri: &str,
        state: &str,
        verifier: &BooksSecret,
    ) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", SCOPES)
            .append_pair("state", state)
            .append_pair("code_challenge", &challenge(verifier))
            .append_pair("code_challenge_method", "S256")
            .finish();
        format!("{}?{query}", self.authorize_url)
    }
}

/// What Chargeguard asks for: a refresh token, the organisation's settings (its base
/// currency and lock dates), and its invoices and payments. Xero's granular scopes: an app
/// made on or after 2 March 2026 must ask for them (older apps have until September 2027;
/// docs/research/xero.md §1b). Both are written, for the fixes a bookkeeper approves: a
/// payment recorded or deleted (`accounting.payments`), a refund's credit note made and a
/// duplicate invoice voided (`accounting.invoices`, which covers credit notes).
pub const SCOPES: &str =
    "offline_access accounting.settings.read accounting.invoices accounting.payments";

/// Whether a grant of `scope` may write to `list` (`Payments`, `Invoices`, `CreditNotes`):
/// its granular scope, not only its `.read`, or the broad `accounting.transactions`.
pub fn may_write(scope: &str, list: &str) -> bool {
    let family = match list {
        "Invoices" | "CreditNotes" => "accounting.invoices",
        _ => "accounting.payments",
    };
    scope
        .split_whitespace()
        .any(|s| s == family || s == "accounting.transactions")
}

/// A PKCE code verifier: 64 characters of `A-Z a-z 0-9 - _`, from 48 random bytes.
pub fn new_verifier() -> BooksSecret {
    let bytes: [u8; 48] = rand::random();
    BooksSecret::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// `S256`: the verifier's SHA-256, base64url without padding.
pub fn challenge(verifier: &BooksSecret) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.expose().as_bytes()))
}

/// What the token endpoint gives.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: BooksSecret,
    pub refresh: BooksSecret,
    pub access_expires_in: Duration,
    /// What the grant allows, as Xero answers it (space-separated scopes).
    pub scope: Option<String>,
}

/// An organisation a consent connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: String,
    pub name: String,
}

/// Why a call to Xero did not give its answer.
#[derive(Debug, thiserror::Error)]
pub enum XeroError {
    #[error("Xero no longer accepts this connection ({detail}); connect the organisation again")]
    Reconnect { detail: String },
    #[error("Xero refused the access token ({detail}); refresh it and try again")]
    Unauthorized { detail: String },
    #[error(
        "Xero is limiting calls to this organisation{}; wait and try again",
        retry_after.map(|d| format!(" (it asked to wait {} s)", d.as_secs())).unwrap_or_default()
    )]
    Throttled { retry_after: Option<Duration> },
    #[error("Xero refused the request (HTTP {status}): {message}")]
    Refused { status: u16, message: String },
    #[error("could not reach Xero: {0}; check the connection and try again")]
    Transport(String),
    #[error("Xero answered something this client cannot read: {0}")]
    Decode(String),
}

impl XeroError {
    /// Whether a write that met this error is known not to have happened: Xero refused it
    /// (a validation error, an object not found: 4xx other than 401, 403 and 429). No
    /// answer, a 5xx, a throttle or an unreadable answer may follow a write that was done.
    pub fn is_definite(&self) -> bool {
        matches!(self, XeroError::Refused { status, .. } if (400..500).contains(status))
    }
}

/// Xero keeps an `Idempotency-Key` of at most 128 characters; a longer journal key is
/// carried as its SHA-256 (the same key, the same idempotency key).
pub fn idempotency_key(key: &str) -> String {
    use sha2::{Digest, Sha256};
    if key.len() <= 128 {
        return key.to_string();
    }
    format!("cg-{}", hex::encode(Sha256::digest(key.as_bytes())))
}

/// A plain HTTP client with the timeouts every call here has.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, XeroError> {
    super::http_client(timeout).map_err(transport)
}

fn transport(e: reqwest::Error) -> XeroError {
    XeroError::Transport(e.to_string())
}

async fn token_call(
    http: &reqwest::Client,
    endpoints: &XeroEndpoints,
    form: &[(&str, &str)],
) -> Result<Tokens, XeroError> {
    let answer = http
        .post(&endpoints.token_url)
        .header("Accept", "application/json")
        .form(form)
        .send()
        .await
        .map_err(transport)?;
    let status = answer.status();
    let text = answer.text().await.map_err(transport)?;
    // An error page may not be JSON: its status still says what happened.
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status == StatusCode::BAD_REQUEST && body["error"] == "invalid_grant" {
        return Err(XeroError::Reconnect {
            detail: "the authorization or refresh token is invalid, expired or revoked".into(),
        });
    }
    if !status.is_success() {
        return Err(XeroError::Refused {
            status: status.as_u16(),
            message: format!(
                "the token endpoint refused ({})",
                body["error"].as_str().unwrap_or("")
            ),
        });
    }
    let secret = |k: &str| {
        body[k]
            .as_str()
            .map(BooksSecret::new)
            .ok_or_else(|| XeroError::Decode(format!("the token answer has no {k}")))
    };
    Ok(Tokens {
        access: secret("access_token")?,
        refresh: secret("refresh_token")?,
        access_expires_in: Duration::from_secs(body["expires_in"].as_u64().unwrap_or(0)),
        scope: body["scope"].as_str().map(str::to_string),
    })
}

/// Exchanges the code the redirect carried, proving the consent was ours with `verifier`.
pub async fn exchange_code(
    http: &reqwest::Client,
    endpoints: &XeroEndpoints,
    client_id: &str,
    code: &str,
    redirect_uri: &str,
    verifier: &BooksSecret,
) -> Result<Tokens, XeroError> {
    token_call(
        http,
        endpoints,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier.expose()),
        ],
    )
    .await
}

/// A new access token, and a new refresh token the caller must keep first.
pub async fn refresh(
    http: &reqwest::Client,
    endpoints: &XeroEndpoints,
    client_id: &str,
    refresh_token: &BooksSecret,
) -> Result<Tokens, XeroError> {
    token_call(
        http,
        endpoints,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", client_id),
            ("refresh_token", refresh_token.expose()),
        ],
    )
    .await
}

/// Revokes the grant (every organisation it connected).
pub async fn revoke(
    http: &reqwest::Client,
    endpoints: &XeroEndpoints,
    client_id: &str,
    refresh_token: &BooksSecret,
) -> Result<(), XeroError> {
    let answer = http
        .post(&endpoints.revoke_url)
        .form(&[("token", refresh_token.expose()), ("client_id", client_id)])
        .send()
        .await
        .map_err(transport)?;
    match answer.status() {
        s if s.is_success() => Ok(()),
        s => Err(XeroError::Refused {
            status: s.as_u16(),
            message: "the revocation endpoint refused".into(),
        }),
    }
}

/// Reads an answer: Xero's 401 and 403 bodies (`{"Title","Status","Detail"}`), its 429,
/// and its validation envelope (`{"Message","Elements":[{"ValidationErrors"}]}`).
async fn answer(request: reqwest::RequestBuilder) -> Result<Value, XeroError> {
    let answer = request
        .header("Accept", "application/json")
        .send()
        .await
        .map_err(transport)?;
    let status = answer.status();
    let retry_after = answer
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .map(Duration::from_secs);
    let text = answer.text().await.map_err(transport)?;
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let detail = || {
        body["Detail"]
            .as_str()
            .or(body["Message"].as_str())
            .unwrap_or("")
            .to_string()
    };
    match status {
        StatusCode::UNAUTHORIZED => Err(XeroError::Unauthorized { detail: detail() }),
        // A valid token for an organisation no longer connected.
        StatusCode::FORBIDDEN => Err(XeroError::Reconnect { detail: detail() }),
        StatusCode::TOO_MANY_REQUESTS => Err(XeroError::Throttled { retry_after }),
        s if s.is_success() => {
            serde_json::from_str(&text).map_err(|e| XeroError::Decode(format!("{e}: {text}")))
        }
        s => {
            let mut message = detail();
            for element in body["Elements"].as_array().into_iter().flatten() {
                for v in element["ValidationErrors"].as_array().into_iter().flatten() {
                    if let Some(m) = v["Message"].as_str() {
                        message.push_str(": ");
                        message.push_str(m);
                    }
                }
            }
            Err(XeroError::Refused {
                status: s.as_u16(),
                message,
            })
        }
    }
}

/// The organisations `access` reaches.
pub async fn connections(
    http: &reqwest::Client,
    endpoints: &XeroEndpoints,
    access: &BooksSecret,
) -> Result<Vec<Tenant>, XeroError> {
    let body = answer(
        http.get(&endpoints.connections_url)
            .bearer_auth(access.expose()),
    )
    .await?;
    Ok(body
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            Some(Tenant {
                id: c["tenantId"].as_str()?.to_string(),
                name: c["tenantName"].as_str().unwrap_or("").to_string(),
            })
        })
        .collect())
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page {
    pub rows: Vec<Value>,
}

/// The Accounting API of one organisation, with one access token.
#[derive(Debug, Clone)]
pub struct XeroClient {
    http: reqwest::Client,
    api_base: String,
    tenant: String,
    access: BooksSecret,
}

/// Xero's largest page.
pub const MAX_PAGE: usize = 1000;

impl XeroClient {
    pub fn new(
        http: reqwest::Client,
        endpoints: &XeroEndpoints,
        tenant: &str,
        access: BooksSecret,
    ) -> XeroClient {
        XeroClient {
            http,
            api_base: endpoints.api_base.trim_end_matches('/').to_string(),
            tenant: tenant.to_string(),
            access,
        }
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}/{path}", self.api_base))
            .bearer_auth(self.access.expose())
            .header("xero-tenant-id", &self.tenant)
    }

    /// Page `page` (1-based) of `list` (`Invoices`, `Payments`) changed since `since`
    /// (ISO 8601, UTC), oldest change first.
    pub async fn list_page(
        &self,
        list: &str,
        since: Option<&str>,
        page: usize,
        page_size: usize,
    ) -> Result<Page, XeroError> {
        let mut request = self.get(list).query(&[
            ("page", page.to_string()),
            ("pageSize", page_size.clamp(1, MAX_PAGE).to_string()),
            ("order", "UpdatedDateUTC ASC".to_string()),
        ]);
        if let Some(since) = since {
            request = request.header("If-Modified-Since", since);
        }
        let mut body = answer(request).await?;
        let rows = match body[list].take() {
            Value::Array(rows) => rows,
            Value::Null => Vec::new(),
            other => {
                return Err(XeroError::Decode(format!("{list} is not a list: {other}")));
            }
        };
        Ok(Page { rows })
    }

    /// The invoices of `ids` (comma-separated `InvoiceID`s).
    pub async fn invoices_by_id(&self, ids: &str) -> Result<Vec<Value>, XeroError> {
        let mut body = answer(self.get("Invoices").query(&[("IDs", ids)])).await?;
        match body["Invoices"].take() {
            Value::Array(rows) => Ok(rows),
            Value::Null => Ok(Vec::new()),
            other => Err(XeroError::Decode(format!(
                "Invoices is not a list: {other}"
            ))),
        }
    }

    /// Every object of `list` (`Payments`, `CreditNotes`) `filter` (a `where` clause)
    /// selects, all pages read.
    pub async fn all_where(&self, list: &str, filter: &str) -> Result<Vec<Value>, XeroError> {
        let mut all = Vec::new();
        for page in 1.. {
            let mut body = answer(self.get(list).query(&[
                ("where", filter.to_string()),
                ("page", page.to_string()),
                ("pageSize", MAX_PAGE.to_string()),
            ]))
            .await?;
            let rows = match body[list].take() {
                Value::Array(rows) => rows,
                Value::Null => Vec::new(),
                other => {
                    return Err(XeroError::Decode(format!("{list} is not a list: {other}")));
                }
            };
            let full = rows.len() == MAX_PAGE;
            all.extend(rows);
            if !full {
                break;
            }
        }
        Ok(all)
    }

    /// One object of `list` (`Payments`, `Invoices`) by its id.
    pub async fn one(&self, list: &str, id: &str) -> Result<Value, XeroError> {
        let mut body = answer(self.get(&format!("{list}/{id}"))).await?;
        match body[list][0].take() {
            Value::Object(o) => Ok(Value::Object(o)),
            other => Err(XeroError::Decode(format!(
                "the answer for {list}/{id} holds none: {other}"
            ))),
        }
    }

    /// Writes to `path` (`Payments` to create one, `Payments/{id}` to change one) exactly
    /// `body`, under `idempotency_key` (see [`idempotency_key`]): the same key within
    /// Xero's six minutes gets the first answer. The object written, as Xero answers it.
    pub async fn write(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &str,
        idempotency_key: &str,
    ) -> Result<Value, XeroError> {
        let list = path.split('/').next().unwrap_or(path).to_string();
        let mut answered = answer(
            self.http
                .request(method, format!("{}/{path}", self.api_base))
                .bearer_auth(self.access.expose())
                .header("xero-tenant-id", &self.tenant)
                .header("Idempotency-Key", idempotency_key)
                .header("Content-Type", "application/json")
                .body(body.to_string()),
        )
        .await?;
        match answered[&list][0].take() {
            Value::Object(o) => Ok(Value::Object(o)),
            other => Err(XeroError::Decode(format!(
                "the answer to a {list} write holds none: {other}"
            ))),
        }
    }

    /// The organisation (its `BaseCurrency`, its lock dates).
    pub async fn organisation(&self) -> Result<Value, XeroError> {
        let mut body = answer(self.get("Organisation")).await?;
        Ok(body["Organisations"][0].take())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pushed_object_links_to_its_page_in_xero_not_in_the_stand_in() {
        let xero = XeroEndpoints::production();
        let id = "0e64a623-c2a1-446a-93ed-eb897f118cbc";
        assert_eq!(
            xero.page("!xkcD", "invoice", id).as_deref(),
            Some(
                "https://go.xero.com/app/!xkcD/invoicing/view/0e64a623-c2a1-446a-93ed-eb897f118cbc"
            )
        );
        assert_eq!(
            xero.page("!xkcD", "payment", id).as_deref(),
            Some(
                "https://go.xero.com/organisationlogin/default.aspx?shortcode=!xkcD&redirecturl=/Bank/ViewTransaction.aspx?bankTransactionID=0e64a623-c2a1-446a-93ed-eb897f118cbc"
            )
        );
        assert_eq!(
            xero.page("!x\"><k", "invoice", "a1\"<b>").as_deref(),
            Some("https://go.xero.com/app/!xk/invoicing/view/a1b"),
            "nothing but the id's own characters"
        );
        assert_eq!(xero.page("", "invoice", id), None);
        assert_eq!(xero.page("!xkcD", "contact", id), None);
        assert_eq!(
            XeroEndpoints::at("http://127.0.0.1:9").page("!xkcD", "invoice", id),
            None
        );
    }

    #[test]
    fn only_a_grant_to_write_a_list_may_push_to_it() {
        for list in ["Payments", "Invoices", "CreditNotes"] {
            assert!(may_write(SCOPES, list), "{list}");
            assert!(may_write("offline_access accounting.transactions", list));
            assert!(!may_write(
                "offline_access accounting.settings.read accounting.invoices.read accounting.payments.read",
                list
            ));
            assert!(!may_write("", list));
        }
        // What Chargeguard asked for before it wrote credit notes and voids.
        let older =
            "offline_access accounting.settings.read accounting.invoices.read accounting.payments";
        assert!(may_write(older, "Payments"));
        assert!(!may_write(older, "Invoices") && !may_write(older, "CreditNotes"));
    }

    #[test]
    fn the_challenge_is_rfc_7636s_for_its_example_verifier() {
        // RFC 7636, appendix B.
        let verifier = BooksSecret::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(
            challenge(&verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let fresh = new_verifier();
        assert_eq!(fresh.expose().len(), 64);
        assert!(
            fresh
                .expose()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }
}
