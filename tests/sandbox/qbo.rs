//! The QuickBooks Online stand-in over real loopback HTTP: Intuit's OAuth flow, the
//! `Fault` and 401 envelopes, and `requestid` holding a payment to one object through a
//! lost answer, a 500 after commit and a retry. (`scripts/test-books-clients.sh` runs
//! python-quickbooks against it.)

use crate::sandbox_support::{Sandbox, sandbox};
use reqwest::StatusCode;
use serde_json::{Value, json};

const REDIRECT: &str = "http://localhost:8765/callback";
const CLIENT: (&str, &str) = ("cg-desktop", "cg-secret");

/// Consents, exchanges the code: the company and an access token.
async fn connect(sb: &Sandbox) -> (String, String, String) {
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let consent = no_redirects
        .get(sb.url("/connect/oauth2"))
        .query(&[
            ("client_id", CLIENT.0),
            ("response_type", "code"),
            ("scope", "com.intuit.quickbooks.accounting"),
            ("redirect_uri", REDIRECT),
            ("state", "s-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(consent.status(), StatusCode::FOUND);
    let location = consent.headers()["location"].to_str().unwrap().to_string();
    let query: Vec<(String, String)> =
        form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes())
            .into_owned()
            .collect();
    let get = |k: &str| query.iter().find(|(n, _)| n == k).unwrap().1.clone();
    assert_eq!(get("state"), "s-1");
    let tokens: Value = sb
        .http
        .post(sb.url("/oauth2/v1/tokens/bearer"))
        .basic_auth(CLIENT.0, Some(CLIENT.1))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &get("code")),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        get("realmId"),
        tokens["access_token"].as_str().unwrap().to_string(),
        tokens["refresh_token"].as_str().unwrap().to_string(),
    )
}

async fn qbo_post(
    sb: &Sandbox,
    realm: &str,
    token: &str,
    entity: &str,
    request_id: Option<&str>,
    body: Value,
) -> Result<reqwest::Response, reqwest::Error> {
    let mut query = vec![("minorversion", "75")];
    if let Some(r) = request_id {
        query.push(("requestid", r));
    }
    sb.http
        .post(sb.url(&format!("/v3/company/{realm}/{entity}")))
        .bearer_auth(token)
        .query(&query)
        .json(&body)
        .send()
        .await
}

async fn qbo_query(sb: &Sandbox, realm: &str, token: &str, select: &str) -> Value {
    sb.http
        .get(sb.url(&format!("/v3/company/{realm}/query")))
        .bearer_auth(token)
        .query(&[("query", select)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_payment_under_one_requestid_is_made_once_through_lost_answers_and_500s() {
    let sb = sandbox().await;
    let (realm, token, _) = connect(&sb).await;
    let seeded: Value = sb
        .http
        .post(sb.url("/_sandbox/qbo/seed"))
        .json(&json!({
            "realm": realm,
            "customers": [{"DisplayName": "Pye's Cakes"}],
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let customer = seeded["Customer"][0].as_str().unwrap().to_string();
    let invoice: Value = qbo_post(
        &sb,
        &realm,
        &token,
        "invoice",
        None,
        json!({"CustomerRef": {"value": customer}, "DocNumber": "INV-7",
               "Line": [{"Amount": 87.5, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {}}]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let invoice_id = invoice["Invoice"]["Id"].as_str().unwrap().to_string();
    assert_eq!(invoice["Invoice"]["Balance"], json!(87.5));
    let payment = json!({"CustomerRef": {"value": customer}, "TotalAmt": "87.50",
        "PrivateNote": "chargeguard:k-1",
        "Line": [{"Amount": "87.50", "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]}]});

    let path = format!("/v3/company/{realm}/payment");
    sb.arm(json!({"path": path, "fault": "lose_response_after_commit"}))
        .await;
    let lost = qbo_post(&sb, &realm, &token, "payment", Some("k-1"), payment.clone()).await;
    assert!(lost.is_err(), "the answer was lost: {lost:?}");
    sb.arm(json!({"path": path, "fault": "error_500_after_commit"}))
        .await;
    let failed = qbo_post(&sb, &realm, &token, "payment", Some("k-1"), payment.clone())
        .await
        .unwrap();
    assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: Value = failed.json().await.unwrap();
    assert_eq!(body["Fault"]["type"], "SystemFault");
    let answered: Value = qbo_post(&sb, &realm, &token, "payment", Some("k-1"), payment.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let payments = qbo_query(&sb, &realm, &token, "select * from Payment").await;
    let listed = payments["QueryResponse"]["Payment"].as_array().unwrap();
    assert_eq!(
        listed.len(),
        1,
        "one payment for one request id: {payments}"
    );
    assert_eq!(listed[0]["Id"], answered["Payment"]["Id"]);
    assert_eq!(payments["QueryResponse"]["maxResults"], 1);
    let invoices = qbo_query(
        &sb,
        &realm,
        &token,
        "select * from invoice where DocNumber = 'INV-7'",
    )
    .await;
    assert_eq!(
        invoices["QueryResponse"]["Invoice"][0]["Balance"],
        json!(0.0)
    );

    // Another request id is another payment: the invoice is paid, so it is refused.
    let second = qbo_post(&sb, &realm, &token, "payment", Some("k-2"), payment)
        .await
        .unwrap();
    assert_eq!(second.status(), StatusCode::BAD_REQUEST);
    let fault: Value = second.json().await.unwrap();
    assert_eq!(fault["Fault"]["Error"][0]["code"], "6000");
    assert!(fault["time"].as_str().is_some());
}

#[tokio::test]
async fn tokens_are_checked_and_the_gateway_answers_in_its_own_envelope() {
    let sb = sandbox().await;
    let (realm, token, refresh) = connect(&sb).await;
    let answer = sb
        .http
        .get(sb.url(&format!("/v3/company/{realm}/preferences")))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    assert!(
        answer.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["fault"]["error"][0]["code"], "3200");
    assert_eq!(body["fault"]["type"], "AUTHENTICATION");

    let other = sb
        .http
        .get(sb.url("/v3/company/123/preferences"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        other.status(),
        StatusCode::UNAUTHORIZED,
        "a token answers only its company"
    );

    sb.http
        .post(sb.url("/_sandbox/qbo/close_books"))
        .json(&json!({"realm": realm, "date": "2026-11-30"}))
        .send()
        .await
        .unwrap();
    let prefs: Value = sb
        .http
        .get(sb.url(&format!("/v3/company/{realm}/preferences")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        prefs["Preferences"]["AccountingInfoPrefs"]["BookCloseDate"],
        "2026-11-30"
    );

    // A refresh token rotates; the old one still works for a while, another client's never.
    let refreshed = |client: (&'static str, &'static str), token: String| {
        let http = sb.http.clone();
        let url = sb.url("/oauth2/v1/tokens/bearer");
        async move {
            http.post(url)
                .basic_auth(client.0, Some(client.1))
                .form(&[("grant_type", "refresh_token"), ("refresh_token", &token)])
                .send()
                .await
                .unwrap()
        }
    };
    let thief = refreshed(("someone-else", "x"), refresh.clone()).await;
    assert_eq!(thief.status(), StatusCode::BAD_REQUEST);
    let first: Value = refreshed(CLIENT, refresh.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(first["refresh_token"].as_str().unwrap(), refresh);
    assert_eq!(refreshed(CLIENT, refresh).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_refused_seed_leaves_nothing_and_a_payment_is_never_negative() {
    let sb = sandbox().await;
    let (realm, token, _) = connect(&sb).await;
    let refused = sb
        .http
        .post(sb.url("/_sandbox/qbo/seed"))
        .json(
            &json!({"realm": realm, "customers": [{"DisplayName": "Dino"}],
            "invoices": [{"CustomerRef": {"value": "404"}, "Line": [{"Amount": 5}]}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let customers = qbo_query(&sb, &realm, &token, "select count(*) from Customer").await;
    assert_eq!(
        customers["QueryResponse"]["totalCount"], 0,
        "nothing of a refused seed stays"
    );

    let seeded: Value = sb
        .http
        .post(sb.url("/_sandbox/qbo/seed"))
        .json(
            &json!({"realm": realm, "customers": [{"DisplayName": "Dino"}],
            "invoices": [{"CustomerRef": {"value": "1"}, "Line": [{"Amount": 5}]}]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let invoice = seeded["Invoice"][0].as_str().unwrap().to_string();
    let negative = qbo_post(
        &sb,
        &realm,
        &token,
        "payment",
        None,
        json!({"CustomerRef": {"value": "1"}, "TotalAmt": 0,
            "Line": [{"Amount": -5, "LinkedTxn": [{"TxnId": invoice, "TxnType": "Invoice"}]}]}),
    )
    .await
    .unwrap();
    assert_eq!(negative.status(), StatusCode::BAD_REQUEST);
    let invoices = qbo_query(&sb, &realm, &token, "select * from Invoice").await;
    assert_eq!(
        invoices["QueryResponse"]["Invoice"][0]["Balance"],
        json!(5.0)
    );
}
