//! Disputes in the sandbox as Stripe's test mode makes them: the dispute cards open a
//! chargeback or an inquiry when the charge succeeds, the chargeback takes the amount and a
//! 15.00 fee from the balance, evidence decides it (`winning_evidence`, `losing_evidence`,
//! `escalate_inquiry_evidence`), and a charged-back charge cannot be refunded.

use crate::sandbox_support;

use reqwest::StatusCode;
use sandbox_support::{Sandbox, nets, sandbox};
use serde_json::{Value, json};

/// Charges `amount` cents on `card` and returns the charge's dispute (the only one).
async fn disputed_charge(sb: &Sandbox, amount: &str, card: &str) -> (Value, Value) {
    let answer = sb
        .post(
            "/v1/payment_intents",
            &[
                ("amount", amount),
                ("currency", "usd"),
                ("payment_method", card),
                ("confirm", "true"),
                ("expand[]", "latest_charge"),
            ],
            None,
        )
        .await;
    assert_eq!(
        answer.status(),
        StatusCode::OK,
        "a dispute card's charge succeeds"
    );
    let intent: Value = answer.json().await.unwrap();
    let charge = intent["latest_charge"].clone();
    let disputes = sb
        .get_json(&format!(
            "/v1/disputes?charge={}",
            charge["id"].as_str().unwrap()
        ))
        .await;
    let data = disputes["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "one dispute on the charge: {disputes}");
    assert_eq!(disputes["url"], "/v1/disputes");
    (charge, data[0].clone())
}

/// Asks to refund what remains of `charge`.
async fn refund_all(sb: &Sandbox, charge: &Value) -> reqwest::Response {
    sb.post(
        "/v1/refunds",
        &[("charge", charge["id"].as_str().unwrap())],
        None,
    )
    .await
}

async fn update(sb: &Sandbox, dispute: &Value, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let id = dispute["id"].as_str().unwrap();
    let answer = sb.post(&format!("/v1/disputes/{id}"), form, None).await;
    let status = answer.status();
    (status, answer.json().await.unwrap())
}

#[tokio::test]
async fn a_chargeback_takes_the_amount_and_a_fee_and_a_win_gives_back_the_amount_only() {
    let sb = sandbox().await;
    let (charge, dispute) = disputed_charge(&sb, "6000", "pm_card_createDispute").await;
    assert_eq!(charge["disputed"], true);
    assert!(dispute["id"].as_str().unwrap().starts_with("du_"));
    assert_eq!(dispute["object"], "dispute");
    assert_eq!(dispute["amount"], 6000);
    assert_eq!(dispute["status"], "needs_response");
    assert_eq!(dispute["reason"], "fraudulent");
    assert_eq!(dispute["is_charge_refundable"], false);
    assert_eq!(dispute["payment_intent"], charge["payment_intent"]);
    assert_eq!(
        dispute["payment_method_details"]["card"]["case_type"],
        "chargeback"
    );
    let due_by = dispute["evidence_details"]["due_by"].as_i64().unwrap();
    assert_eq!(due_by % 86_400, 86_399, "the end of a UTC day");
    let withdrawals = dispute["balance_transactions"].as_array().unwrap();
    assert_eq!(withdrawals.len(), 1, "the withdrawal, embedded whole");
    let withdrawal = &withdrawals[0];
    assert_eq!(withdrawal["object"], "balance_transaction");
    assert_eq!(withdrawal["type"], "adjustment");
    assert_eq!(withdrawal["reporting_category"], "dispute");
    assert_eq!(withdrawal["source"], dispute["id"]);
    assert_eq!(
        (
            withdrawal["amount"].as_i64(),
            withdrawal["fee"].as_i64(),
            withdrawal["net"].as_i64()
        ),
        (Some(-6000), Some(1500), Some(-7500))
    );
    assert_eq!(withdrawal["fee_details"][0]["description"], "Dispute fee");
    assert_eq!(
        withdrawal["description"],
        format!(
            "Chargeback withdrawal for {}",
            charge["id"].as_str().unwrap()
        )
    );

    // A charged-back charge cannot be refunded: that would pay the customer twice.
    let refund = refund_all(&sb, &charge).await;
    assert_eq!(refund.status(), StatusCode::BAD_REQUEST);
    let refused: Value = refund.json().await.unwrap();
    assert_eq!(refused["error"]["code"], "charge_disputed", "{refused}");
    assert!(refused["error"]["doc_url"].is_string());

    // Evidence without a magic string: under review, submitted once.
    let (status, reviewed) = update(
        &sb,
        &dispute,
        &[
            ("evidence[product_description]", "A year of widgets"),
            ("metadata[case]", "41"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reviewed}");
    assert_eq!(reviewed["status"], "under_review");
    assert_eq!(reviewed["evidence_details"]["submission_count"], 1);
    assert_eq!(reviewed["evidence_details"]["has_evidence"], true);
    assert_eq!(reviewed["metadata"]["case"], "41");

    let (_, won) = update(
        &sb,
        &dispute,
        &[("evidence[uncategorized_text]", "winning_evidence")],
    )
    .await;
    assert_eq!(won["status"], "won");
    assert_eq!(won["is_charge_refundable"], true);
    assert_eq!(won["evidence"]["product_description"], "A year of widgets");
    let moves = won["balance_transactions"].as_array().unwrap();
    assert_eq!(moves.len(), 2, "withdrawal, then reversal");
    assert_eq!(moves[1]["reporting_category"], "dispute_reversal");
    assert_eq!(
        (moves[1]["amount"].as_i64(), moves[1]["fee"].as_i64()),
        (Some(6000), Some(0)),
        "the amount comes back, the fee is kept"
    );
    let of_dispute = sb
        .get_json("/v1/balance_transactions?type=adjustment&limit=100")
        .await;
    assert_eq!(nets(&of_dispute), -1500, "only the fee is lost");

    // Decided: evidence and close are refused in Stripe's words; metadata still changes.
    let (status, refused) = update(
        &sb,
        &dispute,
        &[("evidence[uncategorized_text]", "losing_evidence")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        refused["error"]["message"],
        "This dispute is already closed"
    );
    let id = dispute["id"].as_str().unwrap();
    let close = sb
        .post(&format!("/v1/disputes/{id}/close"), &[], None)
        .await;
    assert_eq!(close.status(), StatusCode::BAD_REQUEST);
    let (status, _) = update(&sb, &dispute, &[("metadata[note]", "filed")]).await;
    assert_eq!(status, StatusCode::OK);

    // Won: the charge can be refunded again.
    let refund = refund_all(&sb, &charge).await;
    assert_eq!(refund.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_closed_chargeback_is_lost_and_the_next_payout_carries_it() {
    let sb = sandbox().await;
    let pay = |card: &'static str, amount: &'static str| {
        let sb = &sb;
        async move {
            let answer = sb
                .post(
                    "/v1/payment_intents",
                    &[
                        ("amount", amount),
                        ("currency", "usd"),
                        ("payment_method", card),
                        ("confirm", "true"),
                    ],
                    None,
                )
                .await;
            assert_eq!(answer.status(), StatusCode::OK);
        }
    };
    pay("pm_card_visa", "20000").await;
    let (_, dispute) =
        disputed_charge(&sb, "5000", "pm_card_createDisputeProductNotReceived").await;
    assert_eq!(dispute["reason"], "product_not_received");
    let id = dispute["id"].as_str().unwrap();
    let closed: Value = sb
        .post(
            &format!("/v1/disputes/{id}/close"),
            &[("expand[]", "charge")],
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(closed["status"], "lost");
    assert_eq!(closed["charge"]["disputed"], true, "the charge expands");
    assert_eq!(
        closed["balance_transactions"].as_array().unwrap().len(),
        1,
        "losing moves no more money"
    );

    let run = sb.control().payouts(json!({})).await;
    let payout = &run["payouts"][0];
    let fee = |amount: i64| (amount * 290 + 5_000) / 10_000 + 30;
    assert_eq!(
        payout["amount"].as_i64().unwrap(),
        20_000 - fee(20_000) + 5_000 - fee(5_000) - 5_000 - 1_500,
        "the payout is the charges less their fees, the chargeback and its fee"
    );
    let lines = sb
        .get_json(&format!(
            "/v1/balance_transactions?payout={}&limit=100",
            payout["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(nets(&lines), 0, "a payout's lines still cancel out");
    let fetched = sb.get_json(&format!("/v1/disputes/{id}")).await;
    assert_eq!(
        fetched["balance_transactions"][0]["status"], "available",
        "the embedded transaction shows what the payout did to it"
    );
}

#[tokio::test]
async fn an_inquiry_moves_no_money_until_it_escalates() {
    let sb = sandbox().await;
    let (charge, inquiry) = disputed_charge(&sb, "3000", "pm_card_createDisputeInquiry").await;
    assert_eq!(inquiry["status"], "warning_needs_response");
    assert_eq!(inquiry["is_charge_refundable"], true);
    assert_eq!(inquiry["balance_transactions"], json!([]));
    let (status, staged) = update(
        &sb,
        &inquiry,
        &[
            ("evidence[uncategorized_text]", "escalate_inquiry_evidence"),
            ("submit", "false"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(staged["status"], "warning_needs_response", "only staged");
    assert_eq!(staged["evidence_details"]["submission_count"], 0);
    let (_, escalated) = update(&sb, &inquiry, &[("submit", "true")]).await;
    assert_eq!(escalated["status"], "needs_response");
    assert_eq!(escalated["is_charge_refundable"], false);
    let moved = &escalated["balance_transactions"][0];
    assert_eq!(
        (moved["amount"].as_i64(), moved["fee"].as_i64()),
        (Some(-3000), Some(1500))
    );
    let (status, refused) = update(&sb, &inquiry, &[("evidence[colour]", "red")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(refused["error"]["code"], "parameter_unknown");
    assert_eq!(refused["error"]["param"], "evidence[colour]");
    let missing = sb.post("/v1/disputes/du_nope", &[], None).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let by_intent = sb
        .get_json(&format!(
            "/v1/disputes?payment_intent={}",
            charge["payment_intent"].as_str().unwrap()
        ))
        .await;
    assert_eq!(by_intent["data"][0]["id"], inquiry["id"]);
}
