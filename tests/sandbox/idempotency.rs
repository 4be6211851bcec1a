//! Stripe's idempotency rules, as a client sees them over real loopback HTTP: the same key
//! and parameters replay the first answer; other parameters or another endpoint are a 400
//! `idempotency_error`; a key whose first request still runs is a 409.

use crate::sandbox_support;

use reqwest::StatusCode;
use sandbox_support::{header, sandbox};
use serde_json::{Value, json};

#[tokio::test]
async fn same_key_and_parameters_replay_the_first_answer_without_a_second_charge() {
    let sb = sandbox().await;
    let first = sb.pay("1500", "pm_card_visa", Some("key-replay")).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(header(&first, "idempotent-replayed"), None);
    let first_id = header(&first, "request-id").unwrap().to_string();
    let first_body: Value = first.json().await.unwrap();

    let again = sb.pay("1500", "pm_card_visa", Some("key-replay")).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(header(&again, "idempotent-replayed"), Some("true"));
    assert_eq!(header(&again, "original-request"), Some(first_id.as_str()));
    assert_ne!(header(&again, "request-id"), Some(first_id.as_str()));
    let again_body: Value = again.json().await.unwrap();
    assert_eq!(again_body, first_body);

    let stats = sb.stats().await;
    assert_eq!(stats["charges"], 1);
    assert_eq!(stats["payment_intents"], 1);
}

#[tokio::test]
async fn a_decline_is_replayed_too_with_its_402() {
    let sb = sandbox().await;
    let first = sb
        .pay("900", "pm_card_chargeDeclined", Some("key-decline"))
        .await;
    assert_eq!(first.status(), StatusCode::PAYMENT_REQUIRED);
    let again = sb
        .pay("900", "pm_card_chargeDeclined", Some("key-decline"))
        .await;
    assert_eq!(again.status(), StatusCode::PAYMENT_REQUIRED);
    assert_eq!(header(&again, "idempotent-replayed"), Some("true"));
    assert_eq!(sb.stats().await["charges"], 1);
}

#[tokio::test]
async fn same_key_with_other_parameters_is_an_idempotency_error() {
    let sb = sandbox().await;
    assert_eq!(
        sb.pay("1500", "pm_card_visa", Some("key-params"))
            .await
            .status(),
        StatusCode::OK
    );
    let other = sb.pay("1600", "pm_card_visa", Some("key-params")).await;
    assert_eq!(other.status(), StatusCode::BAD_REQUEST);
    let body: Value = other.json().await.unwrap();
    assert_eq!(body["error"]["type"], "idempotency_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("same parameters")
    );
    assert_eq!(sb.stats().await["charges"], 1);
}

#[tokio::test]
async fn same_key_on_another_endpoint_is_an_idempotency_error() {
    let sb = sandbox().await;
    let paid: Value = sb
        .pay("1500", "pm_card_visa", Some("key-endpoint"))
        .await
        .json()
        .await
        .unwrap();
    let charge = paid["latest_charge"].as_str().unwrap();
    let refund = sb
        .post("/v1/refunds", &[("charge", charge)], Some("key-endpoint"))
        .await;
    assert_eq!(refund.status(), StatusCode::BAD_REQUEST);
    let body: Value = refund.json().await.unwrap();
    assert_eq!(body["error"]["type"], "idempotency_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("same endpoint")
    );
    assert_eq!(sb.stats().await["refunds"], 0);
}

#[tokio::test]
async fn a_key_still_running_is_a_409_conflict() {
    let sb = sandbox().await;
    sb.arm(json!({"path": "/v1/payment_intents", "fault": "slow", "hold_ms": 3000}))
        .await;
    let http = sb.http.clone();
    let url = sb.url("/v1/payment_intents");
    let first = tokio::spawn(async move {
        sandbox_support::post_with(
            &http,
            &url,
            &[
                ("amount", "700"),
                ("currency", "usd"),
                ("payment_method", "pm_card_visa"),
                ("confirm", "true"),
            ],
            Some("key-running"),
        )
        .await
        .unwrap()
    });
    // The first request holds its key from before the fault strikes it; wait for that.
    loop {
        if sb.stats().await["idempotency_keys_running"] == 1 {
            break;
        }
        tokio::task::yield_now().await;
    }
    let second = sb
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "700"),
                ("currency", "usd"),
                ("payment_method", "pm_card_visa"),
                ("confirm", "true"),
            ],
            Some("key-running"),
        )
        .await;
    assert_eq!(second.status(), StatusCode::CONFLICT);
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["error"]["code"], "idempotency_key_in_use");

    let first = first.await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let third = sb
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "700"),
                ("currency", "usd"),
                ("payment_method", "pm_card_visa"),
                ("confirm", "true"),
            ],
            Some("key-running"),
        )
        .await;
    assert_eq!(header(&third, "idempotent-replayed"), Some("true"));
    assert_eq!(sb.stats().await["charges"], 1);
}

#[tokio::test]
async fn a_request_refused_for_its_parameters_is_not_remembered() {
    let sb = sandbox().await;
    let bad = sb
        .post(
            "/v1/payment_intents",
            &[("amount", "12.50"), ("currency", "usd")],
            Some("key-bad"),
        )
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["error"]["param"], "amount");
    // Stripe saves nothing for a request that never started executing: the corrected
    // request runs under the same key.
    let good = sb
        .post(
            "/v1/payment_intents",
            &[("amount", "1250"), ("currency", "usd")],
            Some("key-bad"),
        )
        .await;
    assert_eq!(good.status(), StatusCode::OK);
    assert_eq!(header(&good, "idempotent-replayed"), None);
}

#[tokio::test]
async fn forgotten_keys_run_again_as_after_stripes_24_hours() {
    let sb = sandbox().await;
    sb.pay("1500", "pm_card_visa", Some("key-forgotten")).await;
    let forgot = sb
        .http
        .delete(sb.url("/_sandbox/idempotency_keys"))
        .send()
        .await
        .unwrap();
    assert_eq!(forgot.status(), StatusCode::OK);
    let again = sb.pay("1500", "pm_card_visa", Some("key-forgotten")).await;
    assert_eq!(header(&again, "idempotent-replayed"), None);
    assert_eq!(sb.stats().await["charges"], 2);
}
