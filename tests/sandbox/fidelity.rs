//! Where the sandbox must answer as Stripe does for clients other than ours (Stripe's own
//! libraries included): what `expand[]` may name, the amounts a card payment accepts, the
//! update endpoints, `doc_url` on coded errors, and the keys Stripe always sends.

use crate::sandbox_support;

use reqwest::StatusCode;
use sandbox_support::sandbox;
use serde_json::Value;

async fn error_of(answer: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(answer.status(), status);
    let body: Value = answer.json().await.unwrap();
    body["error"].clone()
}

async fn paid_intent(sb: &sandbox_support::Sandbox) -> Value {
    let answer = sb.pay("2500", "pm_card_visa", None).await;
    assert_eq!(answer.status(), StatusCode::OK);
    answer.json().await.unwrap()
}

#[tokio::test]
async fn expand_names_only_what_stripe_expands() {
    let sb = sandbox().await;
    let intent = paid_intent(&sb).await;
    let charge = intent["latest_charge"].as_str().unwrap();

    let error = error_of(
        sb.get(&format!("/v1/charges/{charge}?expand[]=currency"))
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(error["type"], "invalid_request_error");
    assert_eq!(
        error["message"],
        "This property cannot be expanded (currency)."
    );
    assert!(
        error.get("code").is_none() && error.get("doc_url").is_none(),
        "{error}"
    );

    let error = error_of(
        sb.get(&format!(
            "/v1/payment_intents/{}?expand[]=latest_charge.amount.x",
            intent["id"].as_str().unwrap()
        ))
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(
        error["message"],
        "This property cannot be expanded (latest_charge.amount)."
    );

    let error = error_of(
        sb.get("/v1/charges?expand[]=payment_intent").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(
        error["message"],
        "This property cannot be expanded (payment_intent). You may want to try expanding 'data.payment_intent' instead."
    );

    // Stripe's libraries send arrays indexed.
    let listed = sb
        .get_json("/v1/charges?expand[0]=data.payment_intent")
        .await;
    assert_eq!(listed["data"][0]["payment_intent"]["id"], intent["id"]);
    let deep = sb
        .get_json(&format!(
            "/v1/refunds?charge={charge}&expand[]=data.charge.payment_intent"
        ))
        .await;
    assert_eq!(deep["data"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn card_amounts_stripe_refuses_are_refused() {
    let sb = sandbox().await;
    let create = |amount: &'static str, currency: &'static str| {
        let sb = &sb;
        async move {
            sb.post(
                "/v1/payment_intents",
                &[
                    ("amount", amount),
                    ("currency", currency),
                    ("payment_method", "pm_card_visa"),
                    ("confirm", "true"),
                ],
                None,
            )
            .await
        }
    };
    let small = error_of(create("49", "usd").await, StatusCode::BAD_REQUEST).await;
    assert_eq!(small["code"], "amount_too_small");
    assert_eq!(small["param"], "amount");
    assert_eq!(small["message"], "Amount must be at least $0.50 usd");
    assert_eq!(
        small["doc_url"],
        "https://stripe.com/docs/error-codes/amount-too-small"
    );
    let large = error_of(create("100000000", "usd").await, StatusCode::BAD_REQUEST).await;
    assert_eq!(large["code"], "amount_too_large");
    let kwd = error_of(create("1235", "kwd").await, StatusCode::BAD_REQUEST).await;
    assert_eq!(kwd["param"], "amount");
    assert!(
        kwd["message"].as_str().unwrap().contains("1230 or 1240"),
        "{kwd}"
    );

    assert_eq!(create("50", "usd").await.status(), StatusCode::OK);
    assert_eq!(create("1230", "kwd").await.status(), StatusCode::OK);
    assert_eq!(create("99999999", "usd").await.status(), StatusCode::OK);
    assert_eq!(
        sb.stats().await["charges"],
        3,
        "no refused amount was charged"
    );
}

#[tokio::test]
async fn charges_refunds_and_intents_update_as_stripe_allows() {
    let sb = sandbox().await;
    let intent = paid_intent(&sb).await;
    let intent_id = intent["id"].as_str().unwrap();
    let charge = intent["latest_charge"].as_str().unwrap();

    let answer = sb
        .post(
            &format!("/v1/charges/{charge}"),
            &[
                ("description", "Invoice INV-1, paid"),
                ("metadata[order]", "ORD-9"),
                ("metadata[invoice_number]", ""),
                ("shipping[name]", "Ada"),
                ("shipping[address][city]", "Leeds"),
            ],
            None,
        )
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    let updated = sb.get_json(&format!("/v1/charges/{charge}")).await;
    assert_eq!(updated["description"], "Invoice INV-1, paid");
    assert_eq!(
        updated["metadata"],
        serde_json::json!({"order": "ORD-9"}),
        "a key sent empty is removed, the others merged"
    );
    assert_eq!(updated["shipping"]["address"]["city"], "Leeds");
    let unknown = error_of(
        sb.post(&format!("/v1/charges/{charge}"), &[("amount", "1")], None)
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(unknown["code"], "parameter_unknown");
    assert_eq!(
        unknown["doc_url"],
        "https://stripe.com/docs/error-codes/parameter-unknown"
    );

    // A succeeded intent keeps its money fields; its description may still change.
    let refused = error_of(
        sb.post(
            &format!("/v1/payment_intents/{intent_id}"),
            &[("amount", "9900")],
            None,
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(refused["code"], "payment_intent_unexpected_state");
    assert_eq!(refused["param"], "amount");
    assert_eq!(refused["payment_intent"]["amount"], 2500);
    let described = sb
        .post(
            &format!("/v1/payment_intents/{intent_id}"),
            &[("description", "renamed")],
            None,
        )
        .await;
    assert_eq!(described.status(), StatusCode::OK);
    assert_eq!(
        sb.get_json(&format!("/v1/payment_intents/{intent_id}"))
            .await["amount"],
        2500
    );

    // Before confirmation everything may change, and the confirmed charge follows.
    let open: Value = sb
        .post(
            "/v1/payment_intents",
            &[("amount", "1000"), ("currency", "usd")],
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let open_id = open["id"].as_str().unwrap();
    let changed: Value = sb
        .post(
            &format!("/v1/payment_intents/{open_id}"),
            &[("amount", "1500"), ("payment_method", "pm_card_visa")],
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(changed["status"], "requires_confirmation");
    let confirmed: Value = sb
        .post(&format!("/v1/payment_intents/{open_id}/confirm"), &[], None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(confirmed["status"], "succeeded");
    let paid = sb
        .get_json(&format!(
            "/v1/charges/{}",
            confirmed["latest_charge"].as_str().unwrap()
        ))
        .await;
    assert_eq!(paid["amount"], 1500);
    let too_small = error_of(
        sb.post(
            "/v1/payment_intents",
            &[("amount", "10"), ("currency", "usd")],
            None,
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(too_small["code"], "amount_too_small");

    let refund: Value = sb
        .post(
            "/v1/refunds",
            &[("charge", charge), ("amount", "500")],
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let refund_id = refund["id"].as_str().unwrap();
    let noted = sb
        .post(
            &format!("/v1/refunds/{refund_id}"),
            &[("metadata[ticket]", "T-7")],
            None,
        )
        .await;
    assert_eq!(noted.status(), StatusCode::OK);
    let noted: Value = noted.json().await.unwrap();
    assert_eq!(noted["metadata"]["ticket"], "T-7");
    assert_eq!(noted["amount"], 500);
    let refused = error_of(
        sb.post(
            &format!("/v1/refunds/{refund_id}"),
            &[("amount", "100")],
            None,
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(refused["code"], "parameter_unknown");
}

#[tokio::test]
async fn objects_carry_every_key_stripe_always_sends() {
    let sb = sandbox().await;
    let intent = paid_intent(&sb).await;
    let charge = sb
        .get_json(&format!(
            "/v1/charges/{}",
            intent["latest_charge"].as_str().unwrap()
        ))
        .await;
    let refund: Value = sb
        .post(
            "/v1/refunds",
            &[("charge", charge["id"].as_str().unwrap())],
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    // Stripe's own client types these keys as always present (stripe-node's
    // `types/*.d.ts`, fields without `?`); `scripts/test-stripe-clients.sh` checks them
    // against the installed client itself.
    for (object, keys) in [
        (
            &charge,
            &[
                "application",
                "application_fee",
                "application_fee_amount",
                "failure_balance_transaction",
                "fraud_details",
                "on_behalf_of",
                "receipt_email",
                "receipt_number",
                "review",
                "shipping",
                "source",
                "source_transfer",
                "statement_descriptor",
                "statement_descriptor_suffix",
                "transfer_data",
                "transfer_group",
            ][..],
        ),
        (
            &intent,
            &[
                "application",
                "application_fee_amount",
                "automatic_payment_methods",
                "on_behalf_of",
                "payment_method_configuration_details",
                "payment_method_options",
                "processing",
                "review",
                "shipping",
                "source",
                "statement_descriptor",
                "statement_descriptor_suffix",
                "transfer_group",
            ][..],
        ),
        (
            &refund,
            &[
                "balance_transaction",
                "customer",
                "payment_intent",
                "receipt_number",
                "source_transfer_reversal",
                "transfer_reversal",
            ][..],
        ),
    ] {
        for key in keys {
            assert!(
                object.get(*key).is_some(),
                "{} lacks {key}",
                object["object"]
            );
        }
    }
    assert_eq!(charge["fraud_details"], serde_json::json!({}));
    assert!(charge.get("refunds").is_none());

    let missing = sb.get("/v1/charges/ch_nope").await;
    let error = error_of(missing, StatusCode::NOT_FOUND).await;
    assert_eq!(
        error["doc_url"],
        "https://stripe.com/docs/error-codes/resource-missing"
    );
}
