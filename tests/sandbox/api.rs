//! The Stripe subset as a client uses it: test cards deciding outcomes, refund limits,
//! lists that page without skipping or repeating, `created` windows, search by metadata,
//! customers with saved cards, and keys that are refused.

use crate::sandbox_support;

use std::collections::HashSet;

use reqwest::StatusCode;
use rstest::rstest;
use sandbox_support::{header, sandbox};
use serde_json::{Value, json};

#[rstest]
#[case::generic_decline("pm_card_chargeDeclined", "card_declined", "generic_decline")]
#[case::insufficient_funds(
    "pm_card_chargeDeclinedInsufficientFunds",
    "card_declined",
    "insufficient_funds"
)]
#[case::expired_card("pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card")]
#[tokio::test]
async fn declined_cards_answer_402_and_leave_a_failed_charge(
    #[case] card: &str,
    #[case] code: &str,
    #[case] decline_code: &str,
) {
    let sb = sandbox().await;
    let answer = sb.pay("4200", card, None).await;
    assert_eq!(answer.status(), StatusCode::PAYMENT_REQUIRED);
    assert!(header(&answer, "request-id").unwrap().starts_with("req_"));
    let body: Value = answer.json().await.unwrap();
    let error = &body["error"];
    assert_eq!(error["type"], "card_error");
    assert_eq!(error["code"], code);
    assert_eq!(error["decline_code"], decline_code);
    assert_eq!(error["payment_intent"]["status"], "requires_payment_method");

    let charge_id = error["charge"].as_str().unwrap();
    let charge = sb.get_json(&format!("/v1/charges/{charge_id}")).await;
    assert_eq!(charge["status"], "failed");
    assert_eq!(charge["paid"], false);
    assert_eq!(charge["failure_code"], code);
    assert_eq!(charge["outcome"]["reason"], decline_code);
    assert_eq!(charge["metadata"]["invoice_number"], "INV-1");

    let intent_id = error["payment_intent"]["id"].as_str().unwrap();
    let intent = sb
        .get_json(&format!("/v1/payment_intents/{intent_id}"))
        .await;
    assert_eq!(intent["latest_charge"], charge_id);
    assert_eq!(intent["last_payment_error"]["code"], code);
}

#[tokio::test]
async fn a_succeeded_payment_intent_has_its_charge() {
    let sb = sandbox().await;
    let answer = sb.pay("1999", "pm_card_mastercard", None).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let intent: Value = answer.json().await.unwrap();
    assert_eq!(intent["object"], "payment_intent");
    assert_eq!(intent["status"], "succeeded");
    assert_eq!(intent["livemode"], false);
    let expanded = sb
        .get_json(&format!(
            "/v1/payment_intents/{}?expand[]=latest_charge",
            intent["id"].as_str().unwrap()
        ))
        .await;
    let charge = &expanded["latest_charge"];
    assert_eq!(charge["object"], "charge");
    assert_eq!(charge["amount"], 1999);
    assert_eq!(charge["currency"], "usd");
    assert_eq!(charge["paid"], true);
    assert_eq!(charge["captured"], true);
    assert_eq!(charge["payment_intent"], intent["id"]);
    assert_eq!(
        charge["payment_method_details"]["card"]["brand"],
        "mastercard"
    );
    assert!(
        charge["balance_transaction"]
            .as_str()
            .unwrap()
            .starts_with("txn_")
    );
}

#[tokio::test]
async fn refunds_never_exceed_what_remains() {
    let sb = sandbox().await;
    let intent: Value = sb
        .pay("1000", "pm_card_visa", None)
        .await
        .json()
        .await
        .unwrap();
    let charge = intent["latest_charge"].as_str().unwrap();

    let first = sb
        .post(
            "/v1/refunds",
            &[("charge", charge), ("amount", "600")],
            None,
        )
        .await;
    assert_eq!(first.status(), StatusCode::OK);
    let over = sb
        .post(
            "/v1/refunds",
            &[("charge", charge), ("amount", "500")],
            None,
        )
        .await;
    assert_eq!(over.status(), StatusCode::BAD_REQUEST);
    let body: Value = over.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error"]["param"], "amount");

    // No amount: the rest, here through the payment intent.
    let rest = sb
        .post(
            "/v1/refunds",
            &[
                ("payment_intent", intent["id"].as_str().unwrap()),
                ("reason", "duplicate"),
            ],
            None,
        )
        .await;
    assert_eq!(rest.status(), StatusCode::OK);
    let rest: Value = rest.json().await.unwrap();
    assert_eq!(rest["amount"], 400);

    let done = sb.post("/v1/refunds", &[("charge", charge)], None).await;
    assert_eq!(done.status(), StatusCode::BAD_REQUEST);
    let body: Value = done.json().await.unwrap();
    assert_eq!(body["error"]["code"], "charge_already_refunded");

    let charge = sb.get_json(&format!("/v1/charges/{charge}")).await;
    assert_eq!(charge["amount_refunded"], 1000);
    assert_eq!(charge["refunded"], true);
    // Since API version 2022-11-15 a charge carries its refunds only when asked to.
    assert!(charge.get("refunds").is_none(), "{charge}");
    let expanded = sb
        .get_json(&format!(
            "/v1/charges/{}?expand[]=refunds",
            charge["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(expanded["refunds"]["total_count"], 2);
    assert_eq!(
        expanded["refunds"]["data"][0]["amount"], 400,
        "newest first"
    );
    let listed = sb
        .get_json(&format!(
            "/v1/refunds?charge={}",
            charge["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
}

/// 250 charges over 5 seconds, 50 sharing each second: only the insertion order can
/// tell them apart, so this proves the tie-break.
async fn seed_250(sb: &sandbox_support::Sandbox) -> Vec<String> {
    let charges: Vec<Value> = (0..250)
        .map(|i| {
            json!({
                "amount": 100 + i,
                "currency": "usd",
                "created": 1_790_000_000 + (i % 5),
                "metadata": {"invoice_number": format!("INV-{}", i % 7)},
            })
        })
        .collect();
    let seeded = sb.seed(json!({"charges": charges})).await;
    seeded["charges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn pagination_visits_every_charge_once_newest_first_both_ways() {
    let sb = sandbox().await;
    let seeded = seed_250(&sb).await;

    let mut forward: Vec<Value> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            None => "/v1/charges?limit=7".to_string(),
            Some(id) => format!("/v1/charges?limit=7&starting_after={id}"),
        };
        let page = sb.get_json(&path).await;
        let data = page["data"].as_array().unwrap().clone();
        assert!(data.len() <= 7);
        after = data.last().map(|c| c["id"].as_str().unwrap().to_string());
        forward.extend(data);
        if page["has_more"] == false {
            break;
        }
    }
    let ids: Vec<String> = forward
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 250);
    assert_eq!(
        ids.iter().collect::<HashSet<_>>(),
        seeded.iter().collect::<HashSet<_>>()
    );
    let created: Vec<i64> = forward
        .iter()
        .map(|c| c["created"].as_i64().unwrap())
        .collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "newest first");

    let mut backward: Vec<String> = Vec::new();
    let mut before = ids.last().cloned();
    backward.push(before.clone().unwrap());
    loop {
        let page = sb
            .get_json(&format!(
                "/v1/charges?limit=9&ending_before={}",
                before.as_ref().unwrap()
            ))
            .await;
        let data: Vec<String> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
        before = data.first().cloned();
        let mut chunk = data;
        chunk.extend(backward);
        backward = chunk;
        if page["has_more"] == false {
            break;
        }
    }
    assert_eq!(backward, ids, "paging back gives the same order");
}

#[tokio::test]
async fn created_windows_bound_the_list() {
    let sb = sandbox().await;
    seed_250(&sb).await;
    let window = sb
        .get_json("/v1/charges?limit=100&created[gte]=1790000001&created[lt]=1790000003")
        .await;
    let data = window["data"].as_array().unwrap();
    assert_eq!(data.len(), 100);
    assert!(data.iter().all(|c| {
        let t = c["created"].as_i64().unwrap();
        (1_790_000_001..1_790_000_003).contains(&t)
    }));
    let exact = sb
        .get_json("/v1/charges?limit=100&created=1790000004")
        .await;
    assert_eq!(exact["data"].as_array().unwrap().len(), 50);
    let encoded = sb
        .get_json("/v1/charges?limit=100&created%5Bgt%5D=1790000003")
        .await;
    assert_eq!(encoded["data"].as_array().unwrap().len(), 50);
}

#[rstest]
#[case::zero("0")]
#[case::above_one_hundred("101")]
#[case::not_a_number("ten")]
#[tokio::test]
async fn limits_outside_1_to_100_are_refused_naming_the_parameter(#[case] limit: &str) {
    let sb = sandbox().await;
    let answer = sb.get(&format!("/v1/charges?limit={limit}")).await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["error"]["param"], "limit");
}

#[tokio::test]
async fn search_by_metadata_finds_exactly_the_invoice_and_pages() {
    let sb = sandbox().await;
    seed_250(&sb).await;
    // 250 charges, i % 7 == 3: 36 of them.
    let mut found = Vec::new();
    let mut page: Option<String> = None;
    loop {
        let mut path =
            "/v1/charges/search?limit=10&query=metadata%5B%27invoice_number%27%5D%3A%27INV-3%27"
                .to_string();
        if let Some(p) = &page {
            path.push_str(&format!("&page={p}"));
        }
        let result = sb.get_json(&path).await;
        assert_eq!(result["object"], "search_result");
        found.extend(result["data"].as_array().unwrap().iter().map(|c| {
            assert_eq!(c["metadata"]["invoice_number"], "INV-3");
            c["id"].as_str().unwrap().to_string()
        }));
        match result["next_page"].as_str() {
            Some(next) => page = Some(next.to_string()),
            None => {
                assert_eq!(result["has_more"], false);
                break;
            }
        }
    }
    assert_eq!(found.len(), 36);
    assert_eq!(found.iter().collect::<HashSet<_>>().len(), 36);

    let narrowed = sb
        .get_json("/v1/charges/search?limit=100&query=metadata%5B%27invoice_number%27%5D%3A%27INV-3%27%20AND%20amount%3E300%20AND%20status%3A%27succeeded%27")
        .await;
    let data = narrowed["data"].as_array().unwrap();
    assert!(!data.is_empty());
    assert!(data.iter().all(|c| c["amount"].as_i64().unwrap() > 300));

    let intents = sb
        .get_json("/v1/payment_intents/search?query=metadata%5B%27invoice_number%27%5D%3A%27INV-3%27&limit=100")
        .await;
    assert_eq!(intents["data"].as_array().unwrap().len(), 36);
}

#[tokio::test]
async fn a_customers_saved_card_pays_off_session() {
    let sb = sandbox().await;
    let customer: Value = sb
        .post(
            "/v1/customers",
            &[
                ("email", "ada@example.com"),
                ("payment_method", "pm_card_visa"),
            ],
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let cus = customer["id"].as_str().unwrap();
    assert!(cus.starts_with("cus_"));
    let methods = sb
        .get_json(&format!("/v1/customers/{cus}/payment_methods?type=card"))
        .await;
    let pm = methods["data"][0]["id"].as_str().unwrap().to_string();
    let same = sb
        .get_json(&format!("/v1/payment_methods?customer={cus}&type=card"))
        .await;
    assert_eq!(same["data"][0]["id"], pm.as_str());

    let paid = sb
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "5000"),
                ("currency", "eur"),
                ("customer", cus),
                ("payment_method", &pm),
                ("confirm", "true"),
                ("off_session", "true"),
                ("description", "Invoice INV-77"),
            ],
            None,
        )
        .await;
    assert_eq!(paid.status(), StatusCode::OK);
    let charges = sb.get_json(&format!("/v1/charges?customer={cus}")).await;
    assert_eq!(charges["data"].as_array().unwrap().len(), 1);
    assert_eq!(charges["data"][0]["currency"], "eur");
    let missing = sb.get("/v1/customers/cus_nobody").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "resource_missing");
}

#[rstest]
#[case::no_header(None)]
#[case::live_key(Some("Bearer sk_live_123"))]
#[case::publishable_key(Some("Bearer pk_test_123"))]
#[case::bare_prefix(Some("Bearer sk_test_"))]
#[tokio::test]
async fn keys_other_than_test_secret_keys_are_refused(#[case] authorization: Option<&str>) {
    let sb = sandbox().await;
    let mut request = sb.http.get(sb.url("/v1/charges"));
    if let Some(a) = authorization {
        request = request.header("Authorization", a);
    }
    let answer = request.send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    assert!(header(&answer, "request-id").is_some());
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn basic_auth_with_the_key_as_user_is_accepted_and_stripe_version_echoed() {
    let sb = sandbox().await;
    let answer = sb
        .http
        .get(sb.url("/v1/charges"))
        .basic_auth("sk_test_basic", Some(""))
        .header("Stripe-Version", "2024-06-20")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(header(&answer, "stripe-version"), Some("2024-06-20"));
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["object"], "list");
    assert_eq!(body["url"], "/v1/charges");
}

#[tokio::test]
async fn unknown_parameters_and_urls_are_refused_like_stripe() {
    let sb = sandbox().await;
    let answer = sb
        .post(
            "/v1/payment_intents",
            &[("amount", "100"), ("currency", "usd"), ("colour", "red")],
            None,
        )
        .await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["error"]["param"], "colour");
    assert_eq!(sb.get("/v1/invoices").await.status(), StatusCode::NOT_FOUND);
}

/// A web page in the user's browser may post a `text/plain` body to loopback without a
/// preflight, or reach it under its own name by DNS rebinding: neither gets an answer, and
/// nothing is planted.
#[tokio::test]
async fn a_web_page_cannot_seed_arm_or_call_the_sandbox() {
    let sb = sandbox().await;
    let before = sb.stats().await;
    let seed = r#"{"charges": [{"amount": 100, "currency": "usd"}]}"#;
    let from_a_page = sb
        .http
        .post(sb.url("/_sandbox/seed"))
        .header("Origin", "https://evil.example")
        .header("Content-Type", "text/plain")
        .body(seed)
        .send()
        .await
        .unwrap();
    assert_eq!(from_a_page.status(), StatusCode::FORBIDDEN);
    let rebound = sb
        .http
        .post(sb.url("/_sandbox/faults"))
        .header("Host", "evil.example")
        .body(r#"{"path": "/v1/refunds", "fault": "error_500_after_commit"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), StatusCode::FORBIDDEN);
    let api_from_a_page = sb
        .http
        .get(sb.url("/v1/charges"))
        .bearer_auth(sandbox_support::KEY)
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(api_from_a_page.status(), StatusCode::FORBIDDEN);
    assert_eq!(sb.stats().await["charges"], before["charges"]);
    assert_eq!(sb.control().armed().await["faults"], json!([]));
    // The same seed from a Stripe-like client (no Origin, a loopback Host) is taken.
    sb.seed(serde_json::from_str(seed).unwrap()).await;
    assert_ne!(sb.stats().await["charges"], before["charges"]);
}
