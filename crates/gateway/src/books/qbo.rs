//! A QuickBooks Online client: Intuit's token endpoint (the code exchange and the refresh,
//! whose rotated refresh token the caller must keep before it uses the new access token,
//! since Intuit forgets the old one a day later) and reads of the Accounting API (`query`
//! paged with STARTPOSITION until a short page, one entity by id). Writes come with the
//! push journal.
//!
//! Errors say what the caller can do: refresh and retry (`Unauthorized`), reconnect
//! (`Reconnect`: the grant is revoked or expired), wait (`Throttled`), or read QBO's
//! `Fault` (its code, e.g. 6210 for a closed period).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use super::BooksSecret;

/// Where a QuickBooks lives: Intuit's hosts, or the sandbox's stand-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QboEndpoints {
    /// Intuit's consent page, where the person chooses the company.
    pub authorize_url: String,
    pub token_url: String,
    pub revoke_url: String,
    /// The Accounting API's base, ending in `/v3`.
    pub api_base: String,
}

impl QboEndpoints {
    pub fn production() -> QboEndpoints {
        QboEndpoints {
            authorize_url: "https://appcenter.intuit.com/connect/oauth2".into(),
            token_url: "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer".into(),
            revoke_url: "https://developer.api.intuit.com/v2/oauth2/tokens/revoke".into(),
            api_base: "https://quickbooks.api.intuit.com/v3".into(),
        }
    }

    /// Where a person sees object `id` (a `payment`, a `refund_receipt` or an `invoice`) in QuickBooks'
    /// own web app, for Intuit's production and development companies (the stand-in has
    /// no web app).
    pub fn page(&self, entity: &str, id: &str) -> Option<String> {
        let app = match self.api_base.trim_end_matches('/') {
            "https://quickbooks.api.intuit.com/v3" => "https://app.qbo.intuit.com",
            "https://sandbox-quickbooks.api.intuit.com/v3" => "https://app.sandbox.qbo.intuit.com",
            _ => return None,
        };
        let screen = match entity {
            "payment" => "recvpayment",
            "refund_receipt" => "refundreceipt",
            "invoice" => "invoice",
            _ => return None,
        };
        let id: String = id.chars().filter(char::is_ascii_alphanumeric).collect();
        Some(format!("{app}/app/{screen}?txnId={id}"))
    }

    /// The sandbox's stand-in at `base` (`http://127.0.0.1:PORT`).
    pub fn at(base: &str) -> QboEndpoints {
        let base = base.trim_end_matches('/');
        QboEndpoints {
            authorize_url: format!("{base}/connect/oauth2"),
            token_url: format!("{base}/oauth2/v1/tokens/bearer"),
            revoke_url: format!("{base}/v2/oauth2/tokens/revoke"),
            api_base: format!("{base}/v3"),
        }
    }
}

/// The accounting scope, the only one Chargeguard asks for.
pub const SCOPE: &str = "com.intuit.quickbooks.accounting";

impl QboEndpoints {
    /// Where to send the person to consent: Intuit's five parameters, `state` to be
    /// checked when the redirect comes back.
    pub fn authorization_url(&self, client_id: &str, redirect_uri: &str, state: &str) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", client_id)
            .append_pair("response_type", "code")
            .append_pair("scope", SCOPE)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", state)
            .finish();
        format!("{}?{query}", self.authorize_url)
    }
}

/// An app's credentials at Intuit.
#[derive(Debug, Clone)]
pub struct AppCredentials {
    pub client_id: String,
    pub client_secret: BooksSecret,
}

/// What the token endpoint gives.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: BooksSecret,
    pub refresh: BooksSecret,
    pub access_expires_in: Duration,
    pub refresh_expires_in: Duration,
}

/// Why a call to QuickBooks did not give its answer.
#[derive(Debug, thiserror::Error)]
pub enum QboError {
    #[error("QuickBooks no longer accepts this connection ({detail}); connect the company again")]
    Reconnect { detail: String },
    #[error("QuickBooks refused the access token ({detail}); refresh it and try again")]
    Unauthorized { detail: String },
    #[error(
        "QuickBooks is limiting calls to this company{}; wait and try again",
        retry_after.map(|d| format!(" (it asked to wait {} s)", d.as_secs())).unwrap_or_default()
    )]
    Throttled { retry_after: Option<Duration> },
    #[error("QuickBooks refused the request (HTTP {status}, code {code}): {message}: {detail}")]
    Fault {
        status: u16,
        code: String,
        message: String,
        detail: String,
    },
    #[error("could not reach QuickBooks: {0}; check the connection and try again")]
    Transport(String),
    #[error("QuickBooks answered something this client cannot read: {0}")]
    Decode(String),
}

impl QboError {
    /// QBO's fault code, for a refusal the caller acts on (6210: the period is closed).
    pub fn fault_code(&self) -> Option<&str> {
        match self {
            QboError::Fault { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether a write that met this error is known not to have happened: QuickBooks
    /// refused it (a validation or business fault, 4xx). No answer, a 5xx, a throttle or an
    /// unreadable answer may follow a write that was carried out.
    pub fn is_definite(&self) -> bool {
        matches!(self, QboError::Fault { status, .. } if (400..500).contains(status))
    }
}

/// QuickBooks remembers a `requestid` of at most 50 characters; a longer key is carried
/// as the first 50 of its SHA-256 in hex, the same for the same key.
pub fn request_id(key: &str) -> String {
    if key.len() <= 50 && key.is_ascii() {
        return key.to_string();
    }
    use sha2::Digest;
    format!(
        "cg-{}",
        &hex::encode(sha2::Sha256::digest(key.as_bytes()))[..47]
    )
}

fn transport(e: reqwest::Error) -> QboError {
    QboError::Transport(e.to_string())
}

/// A plain HTTP client with the timeouts every call here has.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, QboError> {
    super::http_client(timeout).map_err(transport)
}

async fn token_call(
    http: &reqwest::Client,
    endpoints: &QboEndpoints,
    app: &AppCredentials,
    form: &[(&str, &str)],
) -> Result<Tokens, QboError> {
    let answer = http
        .post(&endpoints.token_url)
        .basic_auth(&app.client_id, Some(app.client_secret.expose()))
        .header("Accept", "application/json")
        .form(form)
        .send()
        .await
        .map_err(transport)?;
    let status = answer.status();
    let body: Value = answer
        .json()
        .await
        .map_err(|e| QboError::Decode(e.to_string()))?;
    if status == StatusCode::BAD_REQUEST && body["error"] == "invalid_grant" {
        return Err(QboError::Reconnect {
            detail: "the authorization or refresh token is invalid, expired or revoked".into(),
        });
    }
    if !status.is_success() {
        return Err(QboError::Fault {
            status: status.as_u16(),
            code: body["error"].as_str().unwrap_or("").to_string(),
            message: "the token endpoint refused".into(),
            detail: body.to_string(),
        });
    }
    let text = |k: &str| {
        body[k]
            .as_str()
            .map(BooksSecret::new)
            .ok_or_else(|| QboError::Decode(format!("the token answer has no {k}")))
    };
    let seconds = |k: &str| Duration::from_secs(body[k].as_u64().unwrap_or(0));
    Ok(Tokens {
        access: text("access_token")?,
        refresh: text("refresh_token")?,
        access_expires_in: seconds("expires_in"),
        refresh_expires_in: seconds("x_refresh_token_expires_in"),
    })
}

/// Exchanges the code Intuit's redirect carried.
pub async fn exchange_code(
    http: &reqwest::Client,
    endpoints: &QboEndpoints,
    app: &AppCredentials,
    code: &str,
    redirect_uri: &str,
) -> Result<Tokens, QboError> {
    token_call(
        http,
        endpoints,
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
        ],
    )
    .await
}

/// A new access token, and a new refresh token the caller must keep first.
pub async fn refresh(
    http: &reqwest::Client,
    endpoints: &QboEndpoints,
    app: &AppCredentials,
    refresh_token: &BooksSecret,
) -> Result<Tokens, QboError> {
    token_call(
        http,
        endpoints,
        app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
        ],
    )
    .await
}

/// Revokes the grant `token` (either token) belongs to: Intuit disconnects the app from
/// the company. An answer other than 200 is a refusal.
pub async fn revoke(
    http: &reqwest::Client,
    endpoints: &QboEndpoints,
    app: &AppCredentials,
    token: &BooksSecret,
) -> Result<(), QboError> {
    let answer = http
        .post(&endpoints.revoke_url)
        .basic_auth(&app.client_id, Some(app.client_secret.expose()))
        .header("Accept", "application/json")
        .json(&serde_json::json!({"token": token.expose()}))
        .send()
        .await
        .map_err(transport)?;
    let status = answer.status();
    if status.is_success() {
        return Ok(());
    }
    Err(QboError::Fault {
        status: status.as_u16(),
        code: String::new(),
        message: "the revocation endpoint refused".into(),
        detail: answer.text().await.unwrap_or_default(),
    })
}

/// One page of a query, with QBO's time of the answer.
#[derive(Debug, Clone)]
pub struct Page {
    pub rows: Vec<Value>,
    /// The answer's `time` (QBO's clock, with its offset).
    pub time: Option<String>,
}

/// The Accounting API of one company, with one access token.
#[derive(Debug, Clone)]
pub struct QboClient {
    http: reqwest::Client,
    api_base: String,
    realm: String,
    access: BooksSecret,
}

/// QBO's largest page.
pub const MAX_PAGE: usize = 1000;

impl QboClient {
    pub fn new(
        http: reqwest::Client,
        endpoints: &QboEndpoints,
        realm: &str,
        access: BooksSecret,
    ) -> QboClient {
        QboClient {
            http,
            api_base: endpoints.api_base.trim_end_matches('/').to_string(),
            realm: realm.to_string(),
            access,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/company/{}/{path}", self.api_base, self.realm)
    }

    async fn answer(&self, request: reqwest::RequestBuilder) -> Result<Value, QboError> {
        let answer = request
            .bearer_auth(self.access.expose())
            .header("Accept", "application/json")
            .query(&[("minorversion", "75")])
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
        if status == StatusCode::UNAUTHORIZED {
            // The gateway's own envelope. Its detail carries part of the token, so only
            // its code is read: 3200 is an ended or refused token.
            let code = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["fault"]["error"][0]["code"].as_str().map(str::to_string))
                .unwrap_or_default();
            let detail = if code == "3200" {
                "the access token ended or was refused (3200)".to_string()
            } else {
                format!("HTTP 401, code {code}")
            };
            return Err(QboError::Unauthorized { detail });
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(QboError::Throttled { retry_after });
        }
        let body: Value =
            serde_json::from_str(&text).map_err(|e| QboError::Decode(format!("{e}: {text}")))?;
        if let Some(error) = body["Fault"]["Error"].get(0) {
            let field = |k: &str| error[k].as_str().unwrap_or("").to_string();
            return Err(QboError::Fault {
                status: status.as_u16(),
                code: field("code"),
                message: field("Message"),
                detail: field("Detail"),
            });
        }
        if !status.is_success() {
            return Err(QboError::Fault {
                status: status.as_u16(),
                code: String::new(),
                message: "QuickBooks failed".into(),
                detail: text,
            });
        }
        Ok(body)
    }

    /// One `select` statement's `QueryResponse`.
    pub async fn query(&self, select: &str) -> Result<Value, QboError> {
        Ok(self.query_answer(select).await?["QueryResponse"].take())
    }

    /// The rows of `entity` one `select` statement gives, with the answer's time.
    pub async fn query_page(&self, entity: &str, select: &str) -> Result<Page, QboError> {
        let mut body = self.query_answer(select).await?;
        // A query's own error comes inside its answer; read as an empty page it would
        // look like the end of the list.
        if let Some(error) = body["QueryResponse"]["Fault"]["Error"].get(0) {
            let field = |k: &str| error[k].as_str().unwrap_or("").to_string();
            return Err(QboError::Fault {
                status: 200,
                code: field("code"),
                message: field("Message"),
                detail: field("Detail"),
            });
        }
        let rows = match body["QueryResponse"][entity].take() {
            Value::Array(rows) => rows,
            Value::Null => Vec::new(),
            other => {
                return Err(QboError::Decode(format!(
                    "QueryResponse.{entity} is not a list: {other}"
                )));
            }
        };
        Ok(Page {
            rows,
            time: body["time"].as_str().map(str::to_string),
        })
    }

    /// The objects of `entities` changed since `since` (QBO's change data capture, the
    /// last 30 days at most), deleted ones with `status: "Deleted"`, with the answer's
    /// time: the next call's `since`.
    pub async fn changes(
        &self,
        entities: &[&str],
        since: &str,
    ) -> Result<(Vec<(String, Value)>, Option<String>), QboError> {
        let body = self
            .answer(self.http.get(self.url("cdc")).query(&[
                ("entities", entities.join(",").as_str()),
                ("changedSince", since),
            ]))
            .await?;
        let mut out = Vec::new();
        for response in body["CDCResponse"].as_array().into_iter().flatten() {
            for part in response["QueryResponse"].as_array().into_iter().flatten() {
                for entity in entities {
                    for row in part[*entity].as_array().into_iter().flatten() {
                        out.push((entity.to_string(), row.clone()));
                    }
                }
            }
        }
        Ok((out, body["time"].as_str().map(str::to_string)))
    }

    /// The company's preferences (its home currency, its book close date).
    pub async fn preferences(&self) -> Result<Value, QboError> {
        let body = self.answer(self.http.get(self.url("preferences"))).await?;
        Ok(body["Preferences"].clone())
    }

    async fn query_answer(&self, select: &str) -> Result<Value, QboError> {
        self.answer(
            self.http
                .post(self.url("query"))
                .header("Content-Type", "application/text")
                .body(select.to_string()),
        )
        .await
    }

    /// Every `entity` that `condition` (a WHERE clause, or empty) selects, ordered by
    /// `order_by`, read page by page until a short page.
    pub async fn query_all(
        &self,
        entity: &str,
        condition: &str,
        order_by: &str,
        page: usize,
    ) -> Result<Vec<Value>, QboError> {
        let page = page.clamp(1, MAX_PAGE);
        let filter = if condition.is_empty() {
            String::new()
        } else {
            format!(" WHERE {condition}")
        };
        let mut out = Vec::new();
        loop {
            let select = format!(
                "SELECT * FROM {entity}{filter} ORDERBY {order_by} STARTPOSITION {} MAXRESULTS {page}",
                out.len() + 1
            );
            let response = self.query(&select).await?;
            let rows = response[entity].as_array().cloned().unwrap_or_default();
            let short = rows.len() < page;
            out.extend(rows);
            if short {
                return Ok(out);
            }
        }
    }

    /// Writes one `entity` from `body`, exactly these bytes, under `request_id`, with
    /// `operation` when it is not a create (`[("operation", "update"), ("include",
    /// "void")]` voids a payment): the same request id sent again gets the first answer,
    /// whatever happened to it. The object as QuickBooks answers it.
    pub async fn write(
        &self,
        entity: &str,
        operation: &[(&str, &str)],
        body: &str,
        request_id: &str,
    ) -> Result<Value, QboError> {
        let mut answer = self
            .answer(
                self.http
                    .post(self.url(&entity.to_lowercase()))
                    .query(operation)
                    .query(&[("requestid", request_id)])
                    .header("Content-Type", "application/json")
                    .body(body.to_string()),
            )
            .await?;
        match answer[entity].take() {
            Value::Object(o) => Ok(Value::Object(o)),
            other => Err(QboError::Decode(format!(
                "the answer to a {entity} write holds no {entity}: {other}"
            ))),
        }
    }

    /// One entity by id.
    pub async fn read(&self, entity: &str, id: &str) -> Result<Value, QboError> {
        let body = self
            .answer(
                self.http
                    .get(self.url(&format!("{}/{id}", entity.to_lowercase()))),
            )
            .await?;
        Ok(body[entity].clone())
    }
}

#[cfg(test)]
mod tests {
    use super::request_id;

    #[test]
    fn a_journal_key_becomes_a_request_id_quickbooks_keeps() {
        let key = "cg-ledger_fix-0123456789abcdef0123456789abcdef01234567";
        assert!(key.len() > 50);
        let id = request_id(key);
        assert!(id.len() <= 50 && id.is_ascii(), "{id}");
        assert_eq!(id, request_id(key), "the same key, the same request id");
        assert_ne!(id, request_id("cg-ledger_fix-other"));
        assert_eq!(request_id("cg-short"), "cg-short");
    }

    #[test]
    fn a_pushed_payment_links_to_quickbooks_own_page_only_at_intuit() {
        use super::QboEndpoints;
        assert_eq!(
            QboEndpoints::production().page("payment", "143").as_deref(),
            Some("https://app.qbo.intuit.com/app/recvpayment?txnId=143")
        );
        assert_eq!(
            QboEndpoints::production()
                .page("refund_receipt", "9")
                .as_deref(),
            Some("https://app.qbo.intuit.com/app/refundreceipt?txnId=9")
        );
        assert_eq!(
            QboEndpoints::production().page("invoice", "12").as_deref(),
            Some("https://app.qbo.intuit.com/app/invoice?txnId=12")
        );
        assert_eq!(
            QboEndpoints::at("http://127.0.0.1:9").page("payment", "143"),
            None
        );
    }
}
