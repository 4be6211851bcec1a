//! Stripe's balance in the sandbox: every charge and refund a balance transaction with its
//! fee, payouts that sweep each currency's balance to the bank, and the lists a bookkeeper
//! reconciles a payout with (`balance_transactions?payout=`), adding up to the payout.

use crate::sandbox_support;

use chargeguard::sandbox::balance::Pricing;
use reqwest::StatusCode;
use sandbox_support::{nets, sandbox, sandbox_priced};
use serde_json::{Value, json};

async fn pay(sb: &sandbox_support::Sandbox, amount: &str, currency: &str) -> Value {
    let answer = sb
        .post(
            "/v1/payment_intents",
            &[
                ("amount", amount),
                ("currency", currency),
                ("payment_method", "pm_card_visa"),
                ("confirm", "true"),
                ("expand[]", "latest_charge.balance_transaction"),
            ],
            None,
        )
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    let intent: Value = answer.json().await.unwrap();
    intent["latest_charge"].clone()
}

#[tokio::test]
async fn charges_and_refunds_are_balance_transactions_with_their_fees() {
    let sb = sandbox().await;
    let charge = pay(&sb, "10000", "usd").await;
    let txn = &charge["balance_transaction"];
    assert_eq!(txn["object"], "balance_transaction");
    assert_eq!(txn["type"], "charge");
    assert_eq!(txn["source"], charge["id"]);
    assert_eq!(
        (
            txn["amount"].as_i64(),
            txn["fee"].as_i64(),
            txn["net"].as_i64()
        ),
        (Some(10_000), Some(320), Some(9_680)),
        "2.9% + 30 cents"
    );
    assert_eq!(txn["fee_details"][0]["type"], "stripe_fee");
    assert_eq!(txn["status"], "pending");
    let created = txn["created"].as_i64().unwrap();
    let available = txn["available_on"].as_i64().unwrap();
    assert_eq!(available % 86_400, 0, "midnight UTC");
    assert!(
        (86_400 + 1..=2 * 86_400).contains(&(available - created)),
        "the second midnight after"
    );

    let refund: Value = sb
        .post(
            "/v1/refunds",
            &[
                ("charge", charge["id"].as_str().unwrap()),
                ("amount", "2500"),
                ("expand[]", "balance_transaction.source"),
            ],
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let back = &refund["balance_transaction"];
    assert_eq!(
        (back["amount"].as_i64(), back["fee"].as_i64()),
        (Some(-2_500), Some(0))
    );
    assert_eq!(back["source"]["id"], refund["id"], "a source expands");

    let balance = sb.get_json("/v1/balance").await;
    assert_eq!(balance["object"], "balance");
    assert_eq!(
        (
            balance["available"][0]["amount"].as_i64(),
            balance["pending"][0]["amount"].as_i64(),
            balance["pending"][0]["currency"].as_str()
        ),
        (Some(0), Some(9_680 - 2_500), Some("usd")),
        "not yet available two midnights on: {balance}"
    );

    let charges = sb
        .get_json(&format!(
            "/v1/balance_transactions?type=charge&source={}",
            charge["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(charges["data"].as_array().unwrap().len(), 1);
    let declined = sb
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "700"),
                ("currency", "usd"),
                ("payment_method", "pm_card_chargeDeclined"),
                ("confirm", "true"),
            ],
            None,
        )
        .await;
    assert_eq!(declined.status(), StatusCode::PAYMENT_REQUIRED);
    assert_eq!(
        sb.stats().await["balance_transactions"],
        2,
        "a declined charge moves no money"
    );
}

#[tokio::test]
async fn a_payout_sweeps_each_currency_and_its_transactions_add_up_to_it() {
    let sb = sandbox_priced(Pricing::parse("eur:1.5%+25").unwrap()).await;
    let first = pay(&sb, "10000", "usd").await;
    pay(&sb, "5000", "usd").await;
    let euros = pay(&sb, "2000", "eur").await;
    assert_eq!(
        euros["balance_transaction"]["fee"], 55,
        "the pricing it started with"
    );
    sb.post(
        "/v1/refunds",
        &[
            ("charge", first["id"].as_str().unwrap()),
            ("amount", "1000"),
        ],
        None,
    )
    .await;

    let run = sb.control().payouts(json!({})).await;
    let payouts = run["payouts"].as_array().unwrap();
    assert_eq!(payouts.len(), 2, "one per currency: {run}");
    let swept = sb.get_json("/v1/balance").await;
    for part in ["available", "pending"] {
        for held in swept[part].as_array().unwrap() {
            assert_eq!(held["amount"], 0, "everything paid out: {swept}");
        }
    }
    for payout in payouts {
        assert_eq!(payout["status"], "paid");
        assert_eq!(payout["automatic"], true);
        let id = payout["id"].as_str().unwrap();
        let lines = sb
            .get_json(&format!("/v1/balance_transactions?payout={id}&limit=100"))
            .await;
        assert_eq!(nets(&lines), 0, "a payout's lines cancel out: {lines}");
        let own = lines["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "payout")
            .unwrap();
        assert_eq!(
            own["amount"].as_i64(),
            payout["amount"].as_i64().map(|a| -a)
        );
        assert!(
            lines["data"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["status"] == "available")
        );
    }
    let usd = payouts.iter().find(|p| p["currency"] == "usd").unwrap();
    assert_eq!(usd["amount"], (10_000 - 320) + (5_000 - 175) - 1_000);
    let listed = sb.get_json("/v1/payouts?status=paid").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        sb.control().payouts(json!({})).await["payouts"],
        json!([]),
        "nothing is paid out twice"
    );
}

#[tokio::test]
async fn a_failed_payout_gives_the_money_back_and_a_manual_payout_needs_funds() {
    let sb = sandbox().await;
    pay(&sb, "10000", "usd").await;
    let too_much = sb
        .post(
            "/v1/payouts",
            &[("amount", "9681"), ("currency", "usd")],
            None,
        )
        .await;
    assert_eq!(too_much.status(), StatusCode::BAD_REQUEST);
    let error: Value = too_much.json().await.unwrap();
    assert_eq!(error["error"]["code"], "balance_insufficient");
    let manual: Value = sb
        .post(
            "/v1/payouts",
            &[("amount", "4000"), ("currency", "usd")],
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (manual["automatic"].as_bool(), manual["status"].as_str()),
        (Some(false), Some("pending"))
    );

    let run = sb.control().payouts(json!({"status": "failed"})).await;
    let failed = &run["payouts"][0];
    assert_eq!(
        failed["amount"],
        9_680 - 4_000,
        "the rest after the manual payout"
    );
    assert_eq!(failed["failure_code"], "account_closed");
    let back = sb
        .get_json(&format!(
            "/v1/balance_transactions/{}",
            failed["failure_balance_transaction"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        (back["type"].as_str(), back["amount"].as_i64()),
        (Some("payout_failure"), Some(5_680))
    );
}

#[tokio::test]
async fn a_pending_manual_payout_can_be_canceled_once_and_its_money_returns() {
    let sb = sandbox().await;
    pay(&sb, "10000", "usd").await;
    let manual: Value = sb
        .post(
            "/v1/payouts",
            &[("amount", "4000"), ("currency", "usd")],
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let id = manual["id"].as_str().unwrap();
    let answer = sb
        .post(&format!("/v1/payouts/{id}/cancel"), &[], None)
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    let canceled: Value = answer.json().await.unwrap();
    assert_eq!(canceled["status"], "canceled");
    let back = sb
        .get_json(&format!(
            "/v1/balance_transactions/{}",
            canceled["failure_balance_transaction"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        (
            back["type"].as_str(),
            back["reporting_category"].as_str(),
            back["amount"].as_i64(),
            back["source"].as_str()
        ),
        (
            Some("payout_cancel"),
            Some("payout_reversal"),
            Some(4_000),
            Some(id)
        )
    );
    let balance = sb.get_json("/v1/balance").await;
    let held: i64 = ["available", "pending"]
        .iter()
        .flat_map(|k| balance[k].as_array().unwrap().clone())
        .filter(|b| b["currency"] == "usd")
        .map(|b| b["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(held, 9_680, "the canceled payout's money is back");

    let again = sb
        .post(&format!("/v1/payouts/{id}/cancel"), &[], None)
        .await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    let error: Value = again.json().await.unwrap();
    assert_eq!(error["error"]["type"], "invalid_request_error");

    let run = sb.control().payouts(json!({"status": "pending"})).await;
    let automatic = &run["payouts"][0];
    assert_eq!(
        automatic["amount"], 9_680,
        "the next run pays out what the canceled payout left"
    );
    let refused = sb
        .post(
            &format!("/v1/payouts/{}/cancel", automatic["id"].as_str().unwrap()),
            &[],
            None,
        )
        .await;
    assert_eq!(
        refused.status(),
        StatusCode::BAD_REQUEST,
        "an automatic payout cannot be canceled"
    );
    assert_eq!(
        sb.get_json(&format!(
            "/v1/payouts/{}",
            automatic["id"].as_str().unwrap()
        ))
        .await["status"],
        "pending"
    );
}
