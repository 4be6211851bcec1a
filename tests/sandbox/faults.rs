//! Each fault as a raw client sees it, and what it left behind: whether the effect
//! happened, and what a retry with the same Idempotency-Key gets.

use crate::sandbox_support;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use sandbox_support::{client, header, post_with, sandbox};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PAY: &[(&str, &str)] = &[
    ("amount", "2500"),
    ("currency", "usd"),
    ("payment_method", "pm_card_visa"),
    ("confirm", "true"),
    ("metadata[invoice_number]", "INV-9"),
];

#[tokio::test]
async fn lost_answer_after_commit_charges_once_and_the_retry_replays_it() {
    let sb = sandbox().await;
    sb.arm(
        json!({"path": "/v1/payment_intents", "fault": "lose_response_after_commit", "times": 1}),
    )
    .await;
    let lost = post_with(
        &sb.http,
        &sb.url("/v1/payment_intents"),
        PAY,
        Some("key-lost"),
    )
    .await;
    let err = lost.expect_err("the connection is dropped, no HTTP answer");
    assert!(
        !err.is_timeout(),
        "a dropped connection, not a timeout: {err:?}"
    );
    assert!(err.status().is_none());

    let stats = sb.stats().await;
    assert_eq!(stats["charges"], 1, "the charge happened");
    let found = sb
        .get_json("/v1/charges/search?query=metadata%5B%27invoice_number%27%5D%3A%27INV-9%27")
        .await;
    assert_eq!(found["data"].as_array().unwrap().len(), 1);

    let retry = sb.post("/v1/payment_intents", PAY, Some("key-lost")).await;
    assert_eq!(retry.status(), StatusCode::OK);
    assert_eq!(header(&retry, "idempotent-replayed"), Some("true"));
    let body: Value = retry.json().await.unwrap();
    assert_eq!(body["latest_charge"], found["data"][0]["id"]);
    assert_eq!(sb.stats().await["charges"], 1, "no second charge");
}

#[tokio::test]
async fn a_raw_socket_reads_end_of_stream_and_no_status_line() {
    let sb = sandbox().await;
    sb.arm(json!({"path": "/v1/payment_intents", "fault": "lose_response_after_commit"}))
        .await;
    let body = "amount=100&currency=usd&payment_method=pm_card_visa&confirm=true";
    let request = format!(
        "POST /v1/payment_intents HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer sk_test_raw\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut socket = tokio::net::TcpStream::connect(sb.running.addr())
        .await
        .unwrap();
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    let _ = socket.read_to_end(&mut received).await;
    assert!(
        received.is_empty(),
        "got {:?}",
        String::from_utf8_lossy(&received)
    );
    assert_eq!(sb.stats().await["charges"], 1);
}

#[tokio::test]
async fn timeout_before_commit_leaves_nothing_and_keeps_the_key_running() {
    let sb = sandbox().await;
    sb.arm(
        json!({"path": "/v1/payment_intents", "fault": "timeout_before_commit", "hold_ms": 60000}),
    )
    .await;
    let impatient = client(Duration::from_millis(400));
    let err = post_with(
        &impatient,
        &sb.url("/v1/payment_intents"),
        PAY,
        Some("key-tbc"),
    )
    .await
    .expect_err("held past the client's timeout");
    assert!(err.is_timeout());
    assert_eq!(sb.stats().await["charges"], 0, "nothing committed");
    // The first attempt still holds its key, as at Stripe while a request is running.
    let retry = sb.post("/v1/payment_intents", PAY, Some("key-tbc")).await;
    assert_eq!(retry.status(), StatusCode::CONFLICT);
    // A different key is not blocked.
    let other = sb.post("/v1/payment_intents", PAY, Some("key-tbc-2")).await;
    assert_eq!(other.status(), StatusCode::OK);
    sb.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn timeout_after_commit_charged_and_the_retry_replays() {
    let sb = sandbox().await;
    sb.arm(json!({"path": "/v1/payment_intents", "fault": "timeout_after_commit"}))
        .await;
    let impatient = client(Duration::from_millis(400));
    let err = post_with(
        &impatient,
        &sb.url("/v1/payment_intents"),
        PAY,
        Some("key-tac"),
    )
    .await
    .expect_err("held past the client's timeout");
    assert!(err.is_timeout());
    assert_eq!(sb.stats().await["charges"], 1, "committed before the hold");
    let retry = sb.post("/v1/payment_intents", PAY, Some("key-tac")).await;
    assert_eq!(retry.status(), StatusCode::OK);
    assert_eq!(header(&retry, "idempotent-replayed"), Some("true"));
    assert_eq!(sb.stats().await["charges"], 1);
    sb.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn error_500_after_commit_is_a_500_but_the_retry_gets_the_real_answer() {
    let sb = sandbox().await;
    sb.arm(json!({"path": "/v1/payment_intents", "fault": "error_500_after_commit"}))
        .await;
    let first = sb.post("/v1/payment_intents", PAY, Some("key-500a")).await;
    assert_eq!(first.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: Value = first.json().await.unwrap();
    assert_eq!(body["error"]["type"], "api_error");
    assert_eq!(sb.stats().await["charges"], 1);
    let retry = sb.post("/v1/payment_intents", PAY, Some("key-500a")).await;
    assert_eq!(retry.status(), StatusCode::OK);
    assert_eq!(header(&retry, "idempotent-replayed"), Some("true"));
    let body: Value = retry.json().await.unwrap();
    assert_eq!(body["status"], "succeeded");
}

#[rstest::rstest]
#[case::error_500_before_commit(
    "error_500_before_commit",
    StatusCode::INTERNAL_SERVER_ERROR,
    "api_error"
)]
#[case::error_503_before_commit(
    "error_503_before_commit",
    StatusCode::SERVICE_UNAVAILABLE,
    "api_error"
)]
#[case::rate_limit("rate_limit", StatusCode::TOO_MANY_REQUESTS, "invalid_request_error")]
#[tokio::test]
async fn before_commit_errors_do_nothing_and_the_retry_runs(
    #[case] fault: &str,
    #[case] status: StatusCode,
    #[case] error_type: &str,
) {
    let sb = sandbox().await;
    sb.arm(json!({"path": "/v1/payment_intents", "fault": fault}))
        .await;
    let first = sb
        .post("/v1/payment_intents", PAY, Some("key-before"))
        .await;
    assert_eq!(first.status(), status);
    if fault == "rate_limit" {
        assert_eq!(header(&first, "retry-after"), Some("1"));
    }
    let body: Value = first.json().await.unwrap();
    assert_eq!(body["error"]["type"], error_type);
    assert_eq!(sb.stats().await["charges"], 0);
    let retry = sb
        .post("/v1/payment_intents", PAY, Some("key-before"))
        .await;
    assert_eq!(retry.status(), StatusCode::OK);
    assert_eq!(
        header(&retry, "idempotent-replayed"),
        None,
        "it ran, not replayed"
    );
    assert_eq!(sb.stats().await["charges"], 1);
}

#[tokio::test]
async fn slow_answers_late_but_answers() {
    let sb = sandbox().await;
    sb.arm(json!({"path": "/v1/charges", "fault": "slow", "hold_ms": 300}))
        .await;
    let started = Instant::now();
    let answer = sb.get("/v1/charges").await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn faults_are_listed_count_down_and_disarm() {
    let sb = sandbox().await;
    sb.arm(json!({"path": "/v1/refunds", "fault": "rate_limit", "times": 2}))
        .await;
    let listed = sb.control().armed().await;
    assert_eq!(listed["faults"][0]["times"], 2);
    assert_eq!(
        sb.get("/v1/refunds").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let listed = sb.control().armed().await;
    assert_eq!(listed["faults"][0]["times"], 1);
    sb.control().disarm().await;
    assert_eq!(sb.get("/v1/refunds").await.status(), StatusCode::OK);
    let refused = sb
        .http
        .post(sb.url("/_sandbox/faults"))
        .json(&json!({"path": "/v1/refunds", "fault": "meteor_strike"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
}
