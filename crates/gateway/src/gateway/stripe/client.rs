//! The Stripe REST client: every call Chargeguard makes to Stripe (or to the sandbox, which
//! speaks the same API), with its timeout, retries and idempotency key.
//!
//! Each call is one or more attempts driven by `backon`, the wait between them decided by
//! [`RetryPolicy::decide`]. A create (payment intent, refund) always carries the caller's
//! idempotency key, in the `Idempotency-Key` header and in `metadata[idempotency_key]`, and
//! every retry sends the very same bytes with the same key, so Stripe replays the first
//! answer instead of moving money twice; the key in metadata lets recovery find the object
//! by search once Stripe has forgotten the key (after 24 hours).
//!
//! A create whose attempts left its outcome open (no answer, a 5xx, a conflict) ends in
//! [`StripeError::Indeterminate`], never in a failure. This module never decides what an
//! answer means for the books and never touches the store.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use backon::Retryable;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;

use super::error::StripeError;
use super::form::Form;
use super::retry::{AttemptOutcome, RetryDecision, RetryPolicy, jittered, parse_retry_after};
use super::wire::{
    BalanceTransaction, Charge, Customer, Dispute, DisputeMoves, ErrorEnvelope, ErrorObject, List,
    PaymentIntent, PaymentMethod, Payout, Refund, SearchResult,
};
use crate::money::Money;
use crate::secret::SecretKey;

/// The API version every request pins, so Stripe's answers keep the shape `wire` expects
/// whatever the account's default version is.
pub const STRIPE_VERSION: &str = "2024-06-20";

/// Stripe's own API base.
pub const STRIPE_API_BASE: &str = "https://api.stripe.com";

/// The metadata key that carries a create's idempotency key, for search after Stripe has
/// forgotten the key itself.
pub const IDEMPOTENCY_METADATA_KEY: &str = "idempotency_key";

/// The most a list page may hold (Stripe's limit).
pub const MAX_PAGE: u8 = 100;

/// A list endpoint's object type.
pub trait Listed: DeserializeOwned {
    /// The list endpoint, relative to the API base.
    const PATH: &'static str;
    fn id(&self) -> &str;
    fn created(&self) -> i64;
}

impl Listed for Charge {
    const PATH: &'static str = "v1/charges";
    fn id(&self) -> &str {
        &self.id
    }
    fn created(&self) -> i64 {
        self.created
    }
}

impl Listed for Refund {
    const PATH: &'static str = "v1/refunds";
    fn id(&self) -> &str {
        &self.id
    }
    fn created(&self) -> i64 {
        self.created
    }
}

impl Listed for PaymentIntent {
    const PATH: &'static str = "v1/payment_intents";
    fn id(&self) -> &str {
        &self.id
    }
    fn created(&self) -> i64 {
        self.created
    }
}

/// A record the sync pulls page by page, as the domain has it; the wire object it is read
/// from stays in the gateway.
pub trait ListedRecord: Sized {
    #[doc(hidden)]
    type Wire: Listed;
    #[doc(hidden)]
    fn from_wire(wire: &Self::Wire) -> Result<Self, StripeError>;
}

impl ListedRecord for crate::records::Charge {
    type Wire = Charge;
    fn from_wire(wire: &Charge) -> Result<Self, StripeError> {
        super::wire::charge_record(wire)
    }
}

impl Listed for Payout {
    const PATH: &'static str = "v1/payouts";
    fn id(&self) -> &str {
        &self.id
    }
    fn created(&self) -> i64 {
        self.created
    }
}

impl Listed for BalanceTransaction {
    const PATH: &'static str = "v1/balance_transactions";
    fn id(&self) -> &str {
        &self.id
    }
    fn created(&self) -> i64 {
        self.created
    }
}

impl ListedRecord for crate::records::Payout {
    type Wire = Payout;
    fn from_wire(wire: &Payout) -> Result<Self, StripeError> {
        super::wire::payout_record(wire)
    }
}

impl ListedRecord for crate::records::BalanceTransaction {
    type Wire = BalanceTransaction;
    fn from_wire(wire: &BalanceTransaction) -> Result<Self, StripeError> {
        super::wire::balance_transaction_record(wire)
    }
}

impl Listed for Dispute {
    const PATH: &'static str = "v1/disputes";
    fn id(&self) -> &str {
        &self.id
    }
    fn created(&self) -> i64 {
        self.created
    }
}

impl ListedRecord for DisputeMoves {
    type Wire = Dispute;
    fn from_wire(wire: &Dispute) -> Result<Self, StripeError> {
        super::wire::dispute_record(wire)
    }
}

impl ListedRecord for crate::records::GatewayRefund {
    type Wire = Refund;
    fn from_wire(wire: &Refund) -> Result<Self, StripeError> {
        super::wire::refund_record(wire)
    }
}

/// One page of a list, in the domain's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordPage<R> {
    pub records: Vec<R>,
    /// Whether the list goes on after this page.
    pub has_more: bool,
    /// The id of the page's last object: `starting_after` for the next page.
    pub last_id: Option<String>,
}

/// Filters of a list call. Stripe lists newest first; `starting_after` continues after the
/// given object (towards older ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListParams {
    pub limit: u8,
    /// Created at or after (Unix seconds).
    pub created_gte: Option<i64>,
    /// Created strictly before (Unix seconds).
    pub created_lt: Option<i64>,
    pub starting_after: Option<String>,
    pub customer: Option<String>,
    /// Refunds and disputes only: those of one charge.
    pub charge: Option<String>,
    /// Balance transactions only: those an automatic payout took to the bank.
    pub payout: Option<String>,
}

impl Default for ListParams {
    fn default() -> Self {
        ListParams {
            limit: MAX_PAGE,
            created_gte: None,
            created_lt: None,
            starting_after: None,
            customer: None,
            charge: None,
            payout: None,
        }
    }
}

impl ListParams {
    fn form(&self) -> Form {
        Form::new()
            .set("limit", self.limit.clamp(1, MAX_PAGE))
            .set_opt("created[gte]", self.created_gte)
            .set_opt("created[lt]", self.created_lt)
            .set_opt("starting_after", self.starting_after.as_deref())
            .set_opt("customer", self.customer.as_deref())
            .set_opt("charge", self.charge.as_deref())
            .set_opt("payout", self.payout.as_deref())
    }
}

/// A payment intent to create and confirm at once (an off-session re-charge of a saved card).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPaymentIntent {
    pub amount: Money,
    pub customer: String,
    pub payment_method: String,
    pub off_session: bool,
    pub description: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

/// A refund to create: all that remains of the charge when `amount` is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefund {
    pub charge: String,
    pub amount: Option<Money>,
    pub reason: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

/// A search query matching objects whose metadata `key` equals `value`, in Stripe's search
/// query language (`metadata['key']:'value'`, quotes escaped).
pub fn metadata_query(key: &str, value: &str) -> String {
    let quote = |s: &str| s.replace('\\', "\\\\").replace('\'', "\\'");
    format!("metadata['{}']:'{}'", quote(key), quote(value))
}

/// A client for one API base and one key.
pub struct StripeClient {
    http: reqwest::Client,
    base: Url,
    auth: HeaderValue,
    key_mask: String,
    timeout: Duration,
    policy: RetryPolicy,
}

impl std::fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeClient")
            .field("base", &self.base.as_str())
            .field("key", &self.key_mask)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// One failed attempt: what happened (for the retry decision) and the error to return.
struct Failed {
    outcome: AttemptOutcome,
    error: StripeError,
}

struct Call<'a> {
    method: Method,
    url: Url,
    params: Form,
    /// A body already encoded (a journaled create): sent as is, byte for byte.
    raw_body: Option<&'a str>,
    idempotency_key: Option<&'a str>,
}

/// A create built in full before anything is sent: the journal writes `body` — exactly the
/// bytes that go out — before the first attempt, and recovery replays the very same bytes
/// under the same key, so the gateway can only ever see one request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PreparedCreate {
    /// Relative to the API base: `v1/refunds`, `v1/payment_intents`.
    pub path: String,
    /// `application/x-www-form-urlencoded`.
    pub body: String,
    pub idempotency_key: String,
}

impl PreparedCreate {
    fn new(path: &str, params: &Form, idempotency_key: &str) -> PreparedCreate {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.pairs().iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .finish();
        PreparedCreate {
            path: path.to_string(),
            body,
            idempotency_key: idempotency_key.to_string(),
        }
    }

    /// The refund this create asks for.
    pub fn refund(refund: &NewRefund, idempotency_key: &str) -> PreparedCreate {
        let params = Form::new()
            .set("charge", &refund.charge)
            .set_opt("amount", refund.amount.map(|a| a.minor()))
            .set_opt("reason", refund.reason.as_deref())
            .metadata(&with_key(&refund.metadata, idempotency_key));
        PreparedCreate::new("v1/refunds", &params, idempotency_key)
    }

    /// The payment intent (created and confirmed at once) this create asks for.
    pub fn payment_intent(intent: &NewPaymentIntent, idempotency_key: &str) -> PreparedCreate {
        let params = Form::new()
            .set("amount", intent.amount.minor())
            .set("currency", intent.amount.currency().lower())
            .set("customer", &intent.customer)
            .set("payment_method", &intent.payment_method)
            // A card, confirmed off-session: naming the type keeps Stripe from applying the
            // dashboard's automatic payment methods, which would demand a `return_url` for
            // redirect-based methods and refuse the confirmation.
            .set("payment_method_types[0]", "card")
            .set("confirm", "true")
            .set("off_session", intent.off_session)
            .set_opt("description", intent.description.as_deref())
            .metadata(&with_key(&intent.metadata, idempotency_key));
        PreparedCreate::new("v1/payment_intents", &params, idempotency_key)
    }
}

impl StripeClient {
    /// A client for `api_base` (Stripe's, or the sandbox's `http://127.0.0.1:PORT`), with
    /// `timeout` on every attempt.
    pub fn new(api_base: &str, key: SecretKey, timeout: Duration) -> Result<Self, StripeError> {
        let bad = |detail: String| StripeError::BadApiBase {
            url: api_base.to_string(),
            detail,
        };
        let mut base = Url::parse(api_base.trim()).map_err(|e| bad(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(bad("it must be an http(s) URL".into()));
        }
        if !base.username().is_empty() || base.password().is_some() || base.query().is_some() {
            return Err(bad("it must hold no credentials and no query".into()));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let mut auth =
            HeaderValue::from_str(&format!("Bearer {}", key.expose())).map_err(|_| {
                StripeError::Authentication {
                    message: "the key holds characters an HTTP header cannot carry".into(),
                }
            })?;
        // Keeps the header out of reqwest's and hyper's debug output.
        auth.set_sensitive(true);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("chargeguard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| bad(e.to_string()))?;
        Ok(StripeClient {
            http,
            base,
            auth,
            key_mask: key.masked(),
            timeout,
            policy: RetryPolicy::default(),
        })
    }

    /// Replaces the retry policy (tests use short waits).
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    pub fn api_base(&self) -> &str {
        self.base.as_str()
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn url(&self, segments: &[&str]) -> Result<Url, StripeError> {
        let mut url = self.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|_| StripeError::BadApiBase {
                    url: self.base.to_string(),
                    detail: "it cannot be a base".into(),
                })?;
            path.pop_if_empty();
            for segment in segments {
                // Each segment percent-encoded on its own: an id can never climb the path.
                for part in segment.split('/') {
                    path.push(part);
                }
            }
        }
        Ok(url)
    }

    fn url_with_id(&self, path: &str, id: &str, tail: &[&str]) -> Result<Url, StripeError> {
        if id.is_empty() || id.contains('/') {
            return Err(StripeError::InvalidRequest {
                status: 0,
                param: Some("id".into()),
                code: None,
                message: format!("{id:?} is not a Stripe object id"),
            });
        }
        let mut segments = vec![path, id];
        segments.extend_from_slice(tail);
        self.url(&segments)
    }

    async fn get<T: DeserializeOwned>(&self, url: Url, params: Form) -> Result<T, StripeError> {
        self.call(Call {
            method: Method::GET,
            url,
            params,
            raw_body: None,
            idempotency_key: None,
        })
        .await
    }

    /// Runs `call`, retrying as the policy decides.
    async fn call<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, StripeError> {
        let attempt = AtomicU32::new(0);
        // Whether some attempt may have taken effect without our seeing the answer.
        let uncertain = AtomicBool::new(false);
        let is_create = call.method == Method::POST;
        let result = (|| async {
            attempt.fetch_add(1, Ordering::SeqCst);
            let out = self.attempt::<T>(&call).await;
            if let Err(failed) = &out
                && is_create
                && left_open(&failed.outcome)
            {
                uncertain.store(true, Ordering::SeqCst);
            }
            out
        })
        .retry(std::iter::repeat(Duration::ZERO))
        .sleep(tokio::time::sleep)
        .adjust(|failed: &Failed, _| {
            match self
                .policy
                .decide(attempt.load(Ordering::SeqCst), &failed.outcome)
            {
                RetryDecision::Stop => None,
                RetryDecision::Retry { after, jitter } => Some(if jitter {
                    jittered(after, rand::random::<f64>()) // float-ok: retry jitter
                } else {
                    after
                }),
            }
        })
        .notify(|failed: &Failed, wait: Duration| {
            tracing::debug!(
                url = %call.url.path(),
                attempt = attempt.load(Ordering::SeqCst),
                wait_ms = wait.as_millis() as u64,
                error = %failed.error,
                "retrying gateway call"
            );
        })
        .await;
        match result {
            Ok(value) => Ok(value),
            Err(failed) => match call.idempotency_key {
                Some(key) if uncertain.load(Ordering::SeqCst) && !settles(&failed.error) => {
                    Err(StripeError::Indeterminate {
                        idempotency_key: key.to_string(),
                        cause: Box::new(failed.error),
                    })
                }
                _ => Err(failed.error),
            },
        }
    }

    async fn attempt<T: DeserializeOwned>(&self, call: &Call<'_>) -> Result<T, Failed> {
        let mut request = self
            .http
            .request(call.method.clone(), call.url.clone())
            .header(AUTHORIZATION, self.auth.clone())
            .header("Stripe-Version", STRIPE_VERSION);
        if let Some(body) = call.raw_body {
            request = request
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(body.to_string());
        } else if call.method == Method::GET {
            if !call.params.is_empty() {
                request = request.query(call.params.pairs());
            }
        } else {
            request = request.form(call.params.pairs());
        }
        if let Some(key) = call.idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request
            .send()
            .await
            .map_err(|e| self.transport_failure(e))?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let should_retry = header("stripe-should-retry").and_then(|v| match v.as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        });
        let retry_after = header("retry-after").as_deref().and_then(parse_retry_after);
        let answered = AttemptOutcome::Answered {
            status,
            should_retry,
            retry_after,
        };
        let body = response
            .bytes()
            .await
            .map_err(|e| self.transport_failure(e))?;
        if (200..300).contains(&status) {
            return serde_json::from_slice::<T>(&body).map_err(|e| Failed {
                outcome: answered,
                error: StripeError::Unreadable {
                    what: call.url.path().to_string(),
                    detail: e.to_string(),
                },
            });
        }
        let object = serde_json::from_slice::<ErrorEnvelope>(&body)
            .map(|e| e.error)
            .unwrap_or_else(|_| ErrorObject {
                message: Some(format!(
                    "HTTP {status}, body not a Stripe error: {}",
                    String::from_utf8_lossy(&body[..body.len().min(200)])
                )),
                ..ErrorObject::default()
            });
        Err(Failed {
            outcome: answered,
            error: StripeError::from_answer(status, object, retry_after),
        })
    }

    fn transport_failure(&self, e: reqwest::Error) -> Failed {
        // reqwest's message names the URL (never the key: it travels in a header).
        if e.is_connect() {
            Failed {
                outcome: AttemptOutcome::ConnectFailed,
                error: StripeError::Connection {
                    detail: error_chain(&e),
                },
            }
        } else if e.is_timeout() {
            Failed {
                outcome: AttemptOutcome::NoAnswer,
                error: StripeError::Timeout {
                    after: self.timeout,
                },
            }
        } else {
            Failed {
                outcome: AttemptOutcome::NoAnswer,
                error: StripeError::Connection {
                    detail: error_chain(&e),
                },
            }
        }
    }

    // ---- lists ----

    /// One page of a list endpoint.
    pub async fn list<T: Listed>(&self, params: &ListParams) -> Result<List<T>, StripeError> {
        self.get(self.url(&[T::PATH])?, params.form()).await
    }

    /// One page of a list, converted into records; a wire object the domain cannot read
    /// fails the page (`StripeError::Unreadable`), never drops silently.
    pub async fn list_records<R: ListedRecord>(
        &self,
        params: &ListParams,
    ) -> Result<RecordPage<R>, StripeError> {
        let page = self.list::<R::Wire>(params).await?;
        Ok(RecordPage {
            last_id: page.data.last().map(|o| o.id().to_string()),
            has_more: page.has_more,
            records: page
                .data
                .iter()
                .map(R::from_wire)
                .collect::<Result<_, _>>()?,
        })
    }

    pub async fn list_charges(&self, params: &ListParams) -> Result<List<Charge>, StripeError> {
        self.list(params).await
    }

    pub async fn list_refunds(&self, params: &ListParams) -> Result<List<Refund>, StripeError> {
        self.list(params).await
    }

    pub async fn list_payment_intents(
        &self,
        params: &ListParams,
    ) -> Result<List<PaymentIntent>, StripeError> {
        self.list(params).await
    }

    /// Every page of a list, one at a time, following `starting_after`.
    pub fn pages<T: Listed>(&self, params: ListParams) -> Pages<'_, T> {
        Pages {
            client: self,
            params,
            done: false,
            _object: std::marker::PhantomData,
        }
    }

    // ---- search ----

    pub async fn search_charges(
        &self,
        query: &str,
        page: Option<&str>,
    ) -> Result<SearchResult<Charge>, StripeError> {
        self.search("v1/charges/search", query, page).await
    }

    pub async fn search_payment_intents(
        &self,
        query: &str,
        page: Option<&str>,
    ) -> Result<SearchResult<PaymentIntent>, StripeError> {
        self.search("v1/payment_intents/search", query, page).await
    }

    async fn search<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &str,
        page: Option<&str>,
    ) -> Result<SearchResult<T>, StripeError> {
        let params = Form::new()
            .set("query", query)
            .set("limit", MAX_PAGE)
            .set_opt("page", page);
        self.get(self.url(&[path])?, params).await
    }

    // ---- money-moving creates and their lookups, as the journal settles them ----

    /// Sends a prepared refund create (the journal's exact bytes and key).
    pub async fn send_refund(
        &self,
        prepared: &PreparedCreate,
    ) -> Result<crate::records::GatewayRefund, StripeError> {
        super::wire::refund_record(&self.send_create::<super::wire::Refund>(prepared).await?)
    }

    /// Sends a prepared payment intent create (the journal's exact bytes and key).
    pub async fn send_payment_intent(
        &self,
        prepared: &PreparedCreate,
    ) -> Result<super::wire::Intent, StripeError> {
        super::wire::intent_record(&self.send_create::<PaymentIntent>(prepared).await?)
    }

    /// The refund of `charge` whose metadata `key` is `value`, by list (which reads its
    /// writes). Pages are read until it is found, and only it is converted: an unrelated
    /// object the domain cannot read never hides the one sought.
    pub async fn charge_refund_with(
        &self,
        charge: &str,
        key: &str,
        value: &str,
    ) -> Result<Option<crate::records::GatewayRefund>, StripeError> {
        let params = super::ListParams {
            charge: Some(charge.to_string()),
            ..Default::default()
        };
        self.first_listed::<super::wire::Refund, _>(
            params,
            |r| r.metadata.get(key).map(String::as_str) == Some(value),
            super::wire::refund_record,
        )
        .await
    }

    /// The payment intent of `customer`, created at or after `since` (unix seconds), whose
    /// metadata `key` is `value`, by list; read and converted as [`Self::charge_refund_with`].
    pub async fn customer_intent_with(
        &self,
        customer: &str,
        since: Option<i64>,
        key: &str,
        value: &str,
    ) -> Result<Option<super::wire::Intent>, StripeError> {
        let params = super::ListParams {
            customer: Some(customer.to_string()),
            created_gte: since,
            ..Default::default()
        };
        self.first_listed::<PaymentIntent, _>(
            params,
            |pi| pi.metadata.get(key).map(String::as_str) == Some(value),
            super::wire::intent_record,
        )
        .await
    }

    /// The first object of a list for which `wanted` holds, converted; `None` after the
    /// last page.
    async fn first_listed<W: Listed, R>(
        &self,
        params: super::ListParams,
        wanted: impl Fn(&W) -> bool,
        convert: impl Fn(&W) -> Result<R, StripeError>,
    ) -> Result<Option<R>, StripeError> {
        let mut pages = self.pages::<W>(params);
        while let Some(page) = pages.next_page().await {
            if let Some(found) = page?.data.iter().find(|w| wanted(w)) {
                return convert(found).map(Some);
            }
        }
        Ok(None)
    }

    // ---- charges as the books hold them ----

    /// Charge `id` as the books hold one: typed status, money in its currency.
    pub async fn charge(&self, id: &str) -> Result<crate::records::Charge, StripeError> {
        super::wire::charge_record(&self.retrieve_charge(id).await?)
    }

    /// The first page of charges whose metadata `key` is `value`, by search (which may lag
    /// behind writes: never the only read).
    pub async fn charges_by_metadata(
        &self,
        key: &str,
        value: &str,
    ) -> Result<Vec<crate::records::Charge>, StripeError> {
        let query = super::metadata_query(key, value);
        self.search_charges(&query, None)
            .await?
            .data
            .iter()
            .map(super::wire::charge_record)
            .collect()
    }

    /// The newest charge of `customer` for which `wanted` holds, by list (which reads its
    /// writes); pages are read only until it is found.
    pub async fn customer_charge_where(
        &self,
        customer: &str,
        wanted: impl Fn(&crate::records::Charge) -> bool,
    ) -> Result<Option<crate::records::Charge>, StripeError> {
        let mut pages = self.pages::<Charge>(super::ListParams {
            customer: Some(customer.to_string()),
            ..Default::default()
        });
        while let Some(page) = pages.next_page().await {
            for c in page?.data {
                let charge = super::wire::charge_record(&c)?;
                if wanted(&charge) {
                    return Ok(Some(charge));
                }
            }
        }
        Ok(None)
    }

    // ---- retrieve ----

    pub async fn retrieve_charge(&self, id: &str) -> Result<Charge, StripeError> {
        self.get(self.url_with_id("v1/charges", id, &[])?, Form::new())
            .await
    }

    pub async fn retrieve_payment_intent(&self, id: &str) -> Result<PaymentIntent, StripeError> {
        self.get(
            self.url_with_id("v1/payment_intents", id, &[])?,
            Form::new(),
        )
        .await
    }

    pub async fn retrieve_refund(&self, id: &str) -> Result<Refund, StripeError> {
        self.get(self.url_with_id("v1/refunds", id, &[])?, Form::new())
            .await
    }

    /// A dispute and what it moved (its status moves on until it is decided).
    pub async fn retrieve_dispute(&self, id: &str) -> Result<DisputeMoves, StripeError> {
        let wire: Dispute = self
            .get(self.url_with_id("v1/disputes", id, &[])?, Form::new())
            .await?;
        super::wire::dispute_record(&wire)
    }

    /// What the account's balance holds per currency now (available and pending).
    pub async fn retrieve_balance(
        &self,
    ) -> Result<std::collections::BTreeMap<crate::money::Currency, i64>, StripeError> {
        let wire: super::wire::Balance =
            self.get(self.url(&["v1", "balance"])?, Form::new()).await?;
        super::wire::balance_by_currency(&wire)
    }

    /// A payout as the domain has it (its status moves on until it is paid or failed).
    pub async fn retrieve_payout(&self, id: &str) -> Result<crate::records::Payout, StripeError> {
        let wire: Payout = self
            .get(self.url_with_id("v1/payouts", id, &[])?, Form::new())
            .await?;
        super::wire::payout_record(&wire)
    }

    pub async fn retrieve_customer(&self, id: &str) -> Result<Customer, StripeError> {
        self.get(self.url_with_id("v1/customers", id, &[])?, Form::new())
            .await
    }

    /// A customer's saved cards.
    pub async fn list_payment_methods(
        &self,
        customer: &str,
    ) -> Result<List<PaymentMethod>, StripeError> {
        let url = self.url_with_id("v1/customers", customer, &["payment_methods"])?;
        self.get(url, Form::new().set("type", "card").set("limit", MAX_PAGE))
            .await
    }

    /// A cheap authenticated read that proves the key works against this API base.
    pub async fn check_key(&self) -> Result<(), StripeError> {
        let one = ListParams {
            limit: 1,
            ..ListParams::default()
        };
        self.list_charges(&one).await.map(|_| ())
    }

    // ---- creates ----

    /// Creates and confirms a payment intent under `idempotency_key`.
    pub async fn create_payment_intent(
        &self,
        intent: &NewPaymentIntent,
        idempotency_key: &str,
    ) -> Result<PaymentIntent, StripeError> {
        self.send_create(&PreparedCreate::payment_intent(intent, idempotency_key))
            .await
    }

    /// Refunds (part of) a charge under `idempotency_key`.
    pub async fn create_refund(
        &self,
        refund: &NewRefund,
        idempotency_key: &str,
    ) -> Result<Refund, StripeError> {
        self.send_create(&PreparedCreate::refund(refund, idempotency_key))
            .await
    }

    /// Sends a prepared create (first time or replay): the same bytes, the same key.
    pub async fn send_create<T: DeserializeOwned>(
        &self,
        prepared: &PreparedCreate,
    ) -> Result<T, StripeError> {
        let key = prepared.idempotency_key.as_str();
        if key.trim().is_empty() || key.len() > 255 {
            return Err(StripeError::InvalidRequest {
                status: 0,
                param: Some("Idempotency-Key".into()),
                code: None,
                message: "an idempotency key of 1 to 255 characters is required".into(),
            });
        }
        self.call(Call {
            method: Method::POST,
            url: self.url(&[prepared.path.as_str()])?,
            params: Form::new(),
            raw_body: Some(prepared.body.as_str()),
            idempotency_key: Some(key),
        })
        .await
    }
}

/// An async iterator over the pages of a list.
pub struct Pages<'c, T> {
    client: &'c StripeClient,
    params: ListParams,
    done: bool,
    _object: std::marker::PhantomData<fn() -> T>,
}

impl<T: Listed> Pages<'_, T> {
    /// The next page, or `None` after the last one. After an error, calling again retries
    /// the same page.
    pub async fn next_page(&mut self) -> Option<Result<List<T>, StripeError>> {
        if self.done {
            return None;
        }
        let page = match self.client.list::<T>(&self.params).await {
            Ok(page) => page,
            Err(e) => return Some(Err(e)),
        };
        match page.data.last() {
            Some(last) if page.has_more => self.params.starting_after = Some(last.id().to_string()),
            _ => self.done = true,
        }
        Some(Ok(page))
    }

    /// Where the next page starts (the last object id seen), for resuming later.
    pub fn starting_after(&self) -> Option<&str> {
        self.params.starting_after.as_deref()
    }
}

fn with_key(metadata: &BTreeMap<String, String>, key: &str) -> BTreeMap<String, String> {
    let mut metadata = metadata.clone();
    metadata.insert(IDEMPOTENCY_METADATA_KEY.to_string(), key.to_string());
    metadata
}

/// Whether an attempt may have taken effect at the gateway without our seeing the answer.
fn left_open(outcome: &AttemptOutcome) -> bool {
    match outcome {
        AttemptOutcome::ConnectFailed => false,
        AttemptOutcome::NoAnswer => true,
        // A 2xx we could not read took effect; a 5xx may have.
        AttemptOutcome::Answered { status, .. } => *status < 300 || *status >= 500,
    }
}

/// Whether an answer settles a create whatever earlier attempts did: Stripe's idempotency
/// layer answered it (replaying the first outcome, or refusing the request outright).
fn settles(e: &StripeError) -> bool {
    e.is_definite()
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn client(base: &str) -> StripeClient {
        StripeClient::new(
            base,
            SecretKey::new("sk_test_4eC39HqLyjWDarjtT1zdp7dc").unwrap(),
            Duration::from_secs(5),
        )
        .unwrap()
    }

    #[rstest]
    #[case::bare_host("http://127.0.0.1:4242", "http://127.0.0.1:4242/v1/charges/ch_1")]
    #[case::trailing_slash("http://127.0.0.1:4242/", "http://127.0.0.1:4242/v1/charges/ch_1")]
    #[case::prefix_path(
        "http://proxy.local/stripe",
        "http://proxy.local/stripe/v1/charges/ch_1"
    )]
    fn object_urls_sit_under_the_api_base(#[case] base: &str, #[case] expected: &str) {
        let url = client(base).url_with_id("v1/charges", "ch_1", &[]).unwrap();
        assert_eq!(url.as_str(), expected);
    }

    #[test]
    fn an_id_cannot_climb_the_path() {
        let c = client("http://127.0.0.1:4242");
        assert!(c.url_with_id("v1/charges", "../v1/refunds", &[]).is_err());
        let url = c.url_with_id("v1/charges", "ch_1?x=1", &[]).unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:4242/v1/charges/ch_1%3Fx=1");
    }

    #[rstest]
    #[case::ftp("ftp://example.com")]
    #[case::credentials("https://user:pw@api.stripe.com")]
    #[case::not_a_url("api.stripe.com")]
    fn an_unusable_api_base_is_refused(#[case] base: &str) {
        let err = StripeClient::new(
            base,
            SecretKey::new("sk_test_4eC39HqLyjWDarjtT1zdp7dc").unwrap(),
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(matches!(err, StripeError::BadApiBase { .. }), "{err}");
    }

    #[test]
    fn the_client_debug_shows_only_the_mask() {
        let text = format!("{:?}", client("http://127.0.0.1:4242"));
        assert!(text.contains("sk_test_…p7dc"), "{text}");
        assert!(!text.contains("4eC39HqLyjWDarjtT1zdp7dc"), "{text}");
    }

    #[rstest]
    #[case::plain("invoice_number", "INV-1", "metadata['invoice_number']:'INV-1'")]
    #[case::quote_in_value(
        "invoice_number",
        "O'Brien-7",
        r"metadata['invoice_number']:'O\'Brien-7'"
    )]
    fn metadata_queries_quote_their_values(
        #[case] key: &str,
        #[case] value: &str,
        #[case] expected: &str,
    ) {
        assert_eq!(metadata_query(key, value), expected);
    }

    #[rstest]
    #[case::no_answer(AttemptOutcome::NoAnswer, true)]
    #[case::refused_connection(AttemptOutcome::ConnectFailed, false)]
    #[case::server_error(AttemptOutcome::Answered { status: 500, should_retry: None, retry_after: None }, true)]
    #[case::rate_limited(AttemptOutcome::Answered { status: 429, should_retry: None, retry_after: None }, false)]
    #[case::declined(AttemptOutcome::Answered { status: 402, should_retry: None, retry_after: None }, false)]
    fn which_attempts_leave_a_create_open(#[case] outcome: AttemptOutcome, #[case] open: bool) {
        assert_eq!(left_open(&outcome), open);
    }
}
