//! The Stripe client against the sandbox gateway over real loopback HTTP: every call,
//! pagination, search, and each fault armed from outside the client.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chargeguard::gateway::stripe::wire::Charge;
use chargeguard::gateway::stripe::{
    ListParams, NewPaymentIntent, NewRefund, RetryPolicy, StripeClient, StripeError, metadata_query,
};
use chargeguard::money::{Currency, Money};
use chargeguard::sandbox::{self, RunningSandbox, SandboxConfig};
use chargeguard::secret::SecretKey;
use serde_json::{Value, json};

#[path = "harness/mod.rs"]
mod harness;

const KEY: &str = "sk_test_chargeguardClientTests0001";

struct Gateway {
    sandbox: RunningSandbox,
    _dir: tempfile::TempDir,
    control: harness::SandboxControl,
}

impl Gateway {
    async fn start() -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = sandbox::start(SandboxConfig::new(dir.path()))
            .await
            .unwrap();
        Gateway {
            control: harness::SandboxControl::new(&sandbox.base_url()),
            sandbox,
            _dir: dir,
        }
    }

    fn client(&self, timeout: Duration) -> StripeClient {
        StripeClient::new(
            &self.sandbox.base_url(),
            SecretKey::new(KEY).unwrap(),
            timeout,
        )
        .unwrap()
        .with_retry_policy(RetryPolicy {
            max_attempts: 4,
            base: Duration::from_millis(20),
            cap: Duration::from_millis(200),
            max_retry_after: Duration::from_secs(5),
        })
    }

    async fn seed(&self, body: Value) -> Value {
        self.control.seed(body).await
    }

    async fn arm(&self, path: &str, fault: &str, times: u32, hold_ms: Option<u64>) {
        let mut spec = json!({"path": path, "fault": fault, "times": times});
        if let Some(ms) = hold_ms {
            spec["hold_ms"] = json!(ms);
        }
        self.control.arm(spec).await;
    }

    async fn stat(&self, name: &str) -> i64 {
        self.control.stats().await[name].as_i64().unwrap()
    }

    async fn customer_with_card(&self) -> String {
        let seeded = self
            .seed(json!({"customers": [{"email": "ada@example.com", "payment_method": "pm_card_visa"}]}))
            .await;
        seeded["customers"][0].as_str().unwrap().to_string()
    }
}

fn usd(minor: i64) -> Money {
    Money::from_minor(minor, Currency::from_code("usd").unwrap())
}

fn recharge(customer: &str, payment_method: &str, invoice: &str) -> NewPaymentIntent {
    NewPaymentIntent {
        amount: usd(4200),
        customer: customer.to_string(),
        payment_method: payment_method.to_string(),
        off_session: true,
        description: Some(format!("Re-charge of {invoice}")),
        metadata: BTreeMap::from([("invoice_number".to_string(), invoice.to_string())]),
    }
}

#[tokio::test]
async fn listing_follows_starting_after_across_many_pages() {
    let gw = Gateway::start().await;
    let charges: Vec<Value> = (0..250)
        .map(|i| json!({"amount": 100 + i, "currency": "usd", "created": 1_700_000_000 + i}))
        .collect();
    gw.seed(json!({ "charges": charges })).await;
    let client = gw.client(Duration::from_secs(5));

    let mut pages = client.pages::<Charge>(ListParams {
        limit: 100,
        ..ListParams::default()
    });
    let mut sizes = Vec::new();
    let mut created = Vec::new();
    let mut ids = BTreeSet::new();
    while let Some(page) = pages.next_page().await {
        let page = page.unwrap();
        sizes.push(page.data.len());
        for c in page.data {
            created.push(c.created);
            ids.insert(c.id);
        }
    }
    assert_eq!(sizes, vec![100, 100, 50]);
    assert_eq!(ids.len(), 250, "every charge once");
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "newest first");
}

#[tokio::test]
async fn a_created_window_lists_only_its_charges() {
    let gw = Gateway::start().await;
    let charges: Vec<Value> = (0..10)
        .map(|i| json!({"amount": 500, "currency": "usd", "created": 1_700_000_000 + i * 60}))
        .collect();
    gw.seed(json!({ "charges": charges })).await;
    let client = gw.client(Duration::from_secs(5));
    let page = client
        .list_charges(&ListParams {
            created_gte: Some(1_700_000_120),
            created_lt: Some(1_700_000_300),
            ..ListParams::default()
        })
        .await
        .unwrap();
    let created: Vec<i64> = page.data.iter().map(|c| c.created).collect();
    assert_eq!(created, vec![1_700_000_240, 1_700_000_180, 1_700_000_120]);
}

#[tokio::test]
async fn search_finds_charges_by_invoice_metadata() {
    let gw = Gateway::start().await;
    gw.seed(json!({"charges": [
        {"amount": 1000, "currency": "usd", "metadata": {"invoice_number": "INV-7"}},
        {"amount": 1000, "currency": "usd", "metadata": {"invoice_number": "INV-8"}},
        {"amount": 1000, "currency": "usd", "metadata": {"invoice_number": "INV-7"}},
    ]}))
    .await;
    let client = gw.client(Duration::from_secs(5));
    let found = client
        .search_charges(&metadata_query("invoice_number", "INV-7"), None)
        .await
        .unwrap();
    assert_eq!(found.data.len(), 2);
    assert!(
        found
            .data
            .iter()
            .all(|c| c.metadata["invoice_number"] == "INV-7")
    );
}

#[tokio::test]
async fn every_retrieve_call_reads_the_object() {
    let gw = Gateway::start().await;
    let customer = gw.customer_with_card().await;
    let client = gw.client(Duration::from_secs(5));
    let methods = client.list_payment_methods(&customer).await.unwrap();
    assert_eq!(methods.data.len(), 1);
    let pm = &methods.data[0].id;
    assert_eq!(
        client
            .retrieve_customer(&customer)
            .await
            .unwrap()
            .email
            .as_deref(),
        Some("ada@example.com")
    );

    let intent = client
        .create_payment_intent(&recharge(&customer, pm, "INV-1"), "cg-recharge-INV-1-1")
        .await
        .unwrap();
    assert_eq!(intent.status, "succeeded");
    assert_eq!(intent.metadata["idempotency_key"], "cg-recharge-INV-1-1");
    let charge_id = intent.latest_charge.as_ref().unwrap().id().to_string();
    assert_eq!(
        client.retrieve_payment_intent(&intent.id).await.unwrap().id,
        intent.id
    );
    let charge = client.retrieve_charge(&charge_id).await.unwrap();
    assert_eq!(charge.amount, 4200);

    let refund = client
        .create_refund(
            &NewRefund {
                charge: charge_id.clone(),
                amount: Some(usd(1200)),
                reason: None,
                metadata: BTreeMap::new(),
            },
            "cg-refund-1",
        )
        .await
        .unwrap();
    assert_eq!(refund.metadata["idempotency_key"], "cg-refund-1");
    assert_eq!(
        client.retrieve_refund(&refund.id).await.unwrap().amount,
        1200
    );
    assert_eq!(
        client
            .retrieve_charge(&charge_id)
            .await
            .unwrap()
            .amount_refunded,
        1200
    );
    let by_key = client
        .search_payment_intents(
            &metadata_query("idempotency_key", "cg-recharge-INV-1-1"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(by_key.data.len(), 1, "found again by the key in metadata");
    assert!(matches!(
        client.retrieve_charge("ch_does_not_exist").await,
        Err(StripeError::NotFound { .. })
    ));
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_retried_into_exactly_one_payment_intent() {
    let gw = Gateway::start().await;
    let customer = gw.customer_with_card().await;
    let client = gw.client(Duration::from_secs(5));
    gw.arm("/v1/payment_intents", "lose_response_after_commit", 1, None)
        .await;
    let intent = client
        .create_payment_intent(
            &recharge(&customer, "pm_card_visa", "INV-2"),
            "cg-recharge-INV-2-1",
        )
        .await
        .unwrap();
    assert_eq!(intent.status, "succeeded");
    assert_eq!(gw.stat("payment_intents").await, 1);
    assert_eq!(gw.stat("charges").await, 1);
}

#[tokio::test]
async fn an_answer_held_past_the_timeout_is_retried_with_the_same_key() {
    let gw = Gateway::start().await;
    let customer = gw.customer_with_card().await;
    let client = gw.client(Duration::from_millis(400));
    gw.arm(
        "/v1/payment_intents",
        "timeout_after_commit",
        1,
        Some(1_500),
    )
    .await;
    let outcome = client
        .create_payment_intent(
            &recharge(&customer, "pm_card_visa", "INV-3"),
            "cg-recharge-INV-3-1",
        )
        .await;
    // Whether the replay came in time or not, the money moved at most once, and a failure
    // is reported as unknown, never as failed.
    match outcome {
        Ok(intent) => assert_eq!(intent.status, "succeeded"),
        Err(e) => assert!(matches!(e, StripeError::Indeterminate { .. }), "{e}"),
    }
    assert_eq!(gw.stat("payment_intents").await, 1);
}

#[tokio::test]
async fn a_500_after_commit_replays_the_committed_refund() {
    let gw = Gateway::start().await;
    let seeded = gw
        .seed(json!({"charges": [{"amount": 3000, "currency": "usd"}]}))
        .await;
    let charge = seeded["charges"][0].as_str().unwrap().to_string();
    let client = gw.client(Duration::from_secs(5));
    gw.arm("/v1/refunds", "error_500_after_commit", 1, None)
        .await;
    let refund = client
        .create_refund(
            &NewRefund {
                charge: charge.clone(),
                amount: None,
                reason: Some("duplicate".into()),
                metadata: BTreeMap::new(),
            },
            "cg-refund-dup-1",
        )
        .await;
    match refund {
        Ok(r) => assert_eq!(r.amount, 3000),
        Err(e) => assert!(matches!(e, StripeError::Indeterminate { .. }), "{e}"),
    }
    assert_eq!(gw.stat("refunds").await, 1, "refunded once");
}

#[tokio::test]
async fn a_create_that_keeps_failing_after_commit_is_unknown_not_failed() {
    let gw = Gateway::start().await;
    let customer = gw.customer_with_card().await;
    let client = gw.client(Duration::from_secs(5));
    gw.arm(
        "/v1/payment_intents",
        "lose_response_after_commit",
        10,
        None,
    )
    .await;
    let err = client
        .create_payment_intent(
            &recharge(&customer, "pm_card_visa", "INV-4"),
            "cg-recharge-INV-4-1",
        )
        .await
        .unwrap_err();
    match &err {
        StripeError::Indeterminate {
            idempotency_key, ..
        } => assert_eq!(idempotency_key, "cg-recharge-INV-4-1"),
        other => panic!("expected an unknown outcome, got {other}"),
    }
    assert_eq!(
        gw.stat("payment_intents").await,
        1,
        "one intent, whatever the retries"
    );
}

#[tokio::test]
async fn server_errors_before_commit_are_retried_until_the_create_succeeds() {
    let gw = Gateway::start().await;
    let customer = gw.customer_with_card().await;
    let client = gw.client(Duration::from_secs(5));
    gw.arm("/v1/payment_intents", "error_500_before_commit", 1, None)
        .await;
    gw.arm("/v1/payment_intents", "error_503_before_commit", 1, None)
        .await;
    let intent = client
        .create_payment_intent(
            &recharge(&customer, "pm_card_visa", "INV-5"),
            "cg-recharge-INV-5-1",
        )
        .await
        .unwrap();
    assert_eq!(intent.status, "succeeded");
    assert_eq!(gw.stat("payment_intents").await, 1);
}

#[tokio::test]
async fn a_rate_limited_list_waits_as_told_and_succeeds() {
    let gw = Gateway::start().await;
    gw.seed(json!({"charges": [{"amount": 100, "currency": "usd"}]}))
        .await;
    let client = gw.client(Duration::from_secs(5));
    gw.arm("/v1/charges", "rate_limit", 1, None).await;
    let started = std::time::Instant::now();
    let page = client.list_charges(&ListParams::default()).await.unwrap();
    assert_eq!(page.data.len(), 1);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After honoured"
    );
}

#[tokio::test]
async fn a_slow_answer_within_the_timeout_is_just_slow() {
    let gw = Gateway::start().await;
    gw.seed(json!({"charges": [{"amount": 100, "currency": "usd"}]}))
        .await;
    let client = gw.client(Duration::from_secs(5));
    gw.arm("/v1/charges", "slow", 1, Some(200)).await;
    assert_eq!(
        client
            .list_charges(&ListParams::default())
            .await
            .unwrap()
            .data
            .len(),
        1
    );
}

#[tokio::test]
async fn a_read_that_never_answers_ends_in_a_timeout() {
    let gw = Gateway::start().await;
    let client = gw.client(Duration::from_millis(300));
    gw.arm("/v1/charges", "timeout_before_commit", 10, Some(2_000))
        .await;
    let err = client
        .list_charges(&ListParams::default())
        .await
        .unwrap_err();
    assert!(matches!(err, StripeError::Timeout { .. }), "{err}");
}

#[tokio::test]
async fn a_declined_card_is_a_definitive_answer_naming_the_charge() {
    let gw = Gateway::start().await;
    let customer = gw.customer_with_card().await;
    let client = gw.client(Duration::from_secs(5));
    let err = client
        .create_payment_intent(
            &recharge(&customer, "pm_card_chargeDeclined", "INV-6"),
            "cg-recharge-INV-6-1",
        )
        .await
        .unwrap_err();
    match &err {
        StripeError::CardDeclined { code, charge, .. } => {
            assert_eq!(code.as_deref(), Some("card_declined"));
            assert!(
                charge.as_deref().is_some_and(|c| c.starts_with("ch_")),
                "{err}"
            );
        }
        other => panic!("expected a decline, got {other}"),
    }
    assert!(err.is_definite());
}

#[tokio::test]
async fn the_same_key_with_other_parameters_is_refused() {
    let gw = Gateway::start().await;
    let customer = gw.customer_with_card().await;
    let client = gw.client(Duration::from_secs(5));
    client
        .create_payment_intent(&recharge(&customer, "pm_card_visa", "INV-9"), "cg-key-9")
        .await
        .unwrap();
    let mut other = recharge(&customer, "pm_card_visa", "INV-9");
    other.amount = usd(9999);
    let err = client
        .create_payment_intent(&other, "cg-key-9")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StripeError::Idempotency {
                in_flight: false,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(gw.stat("payment_intents").await, 1);
}

#[tokio::test]
async fn a_wrong_key_is_an_authentication_error() {
    let gw = Gateway::start().await;
    let client = StripeClient::new(
        &gw.sandbox.base_url(),
        SecretKey::new("sk_live_notAcceptedBySandbox00").unwrap(),
        Duration::from_secs(5),
    )
    .unwrap();
    let err = client.check_key().await.unwrap_err();
    assert!(matches!(err, StripeError::Authentication { .. }), "{err}");
    assert!(!err.to_string().contains("notAcceptedBySandbox"), "{err}");
}

#[tokio::test]
async fn a_gateway_that_is_not_there_is_a_connection_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = StripeClient::new(
        &format!("http://{addr}"),
        SecretKey::new(KEY).unwrap(),
        Duration::from_secs(2),
    )
    .unwrap()
    .with_retry_policy(RetryPolicy {
        max_attempts: 2,
        base: Duration::from_millis(10),
        cap: Duration::from_millis(10),
        max_retry_after: Duration::from_secs(1),
    });
    let err = client.check_key().await.unwrap_err();
    assert!(matches!(err, StripeError::Connection { .. }), "{err}");
}
