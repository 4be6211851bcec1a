//! Chargeguard's QuickBooks Online client against the stand-in over real loopback HTTP:
//! the code exchange, reads paged to the end, QBO's faults as errors a caller acts on, an
//! expired token refreshed (the rotated refresh token kept), and a revoked grant asking
//! for a new connection.

use chargeguard::books::BooksSecret;
use chargeguard::books::qbo::{self, AppCredentials, QboClient, QboEndpoints, QboError};
use serde_json::{Value, json};

use crate::sandbox_support::{Sandbox, sandbox};

const REDIRECT: &str = "http://localhost:8765/callback";

fn app() -> AppCredentials {
    AppCredentials {
        client_id: "cg-desktop".into(),
        client_secret: BooksSecret::new("cg-secret"),
    }
}

/// The consent's code and company.
async fn consent(sb: &Sandbox) -> (String, String) {
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = no_redirects
        .get(sb.url("/connect/oauth2"))
        .query(&[
            ("client_id", "cg-desktop"),
            ("response_type", "code"),
            ("scope", "com.intuit.quickbooks.accounting"),
            ("redirect_uri", REDIRECT),
            ("state", "x"),
        ])
        .send()
        .await
        .unwrap();
    let location = answer.headers()["location"].to_str().unwrap().to_string();
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes())
            .into_owned()
            .collect();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).unwrap().1.clone();
    (get("code"), get("realmId"))
}

#[tokio::test]
async fn the_client_connects_reads_every_page_and_refreshes_an_expired_token() {
    let sb = sandbox().await;
    let endpoints = QboEndpoints::at(&sb.running.base_url());
    let http = qbo::http_client(std::time::Duration::from_secs(10)).unwrap();
    let (code, realm) = consent(&sb).await;
    let tokens = qbo::exchange_code(&http, &endpoints, &app(), &code, REDIRECT)
        .await
        .unwrap();
    assert_eq!(tokens.access_expires_in.as_secs(), 3_600);
    assert!(
        !format!("{tokens:?}").contains(tokens.access.expose()),
        "tokens never print whole"
    );
    let replayed = qbo::exchange_code(&http, &endpoints, &app(), &code, REDIRECT).await;
    assert!(
        matches!(replayed, Err(QboError::Reconnect { .. })),
        "{replayed:?}"
    );

    let invoices: Vec<Value> = (1..=5)
        .map(|n| json!({"CustomerRef": {"value": "1"}, "DocNumber": format!("INV-{n}"),
            "Line": [{"Amount": 10 * n, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {}}]}))
        .collect();
    let seeded = sb
        .http
        .post(sb.url("/_sandbox/qbo/seed"))
        .json(
            &json!({"realm": realm, "customers": [{"DisplayName": "Wilma"}], "invoices": invoices}),
        )
        .send()
        .await
        .unwrap();
    assert!(seeded.status().is_success(), "{:?}", seeded.text().await);

    let client = QboClient::new(http.clone(), &endpoints, &realm, tokens.access.clone());
    let all = client
        .query_all("Invoice", "", "DocNumber", 2)
        .await
        .unwrap();
    assert_eq!(
        all.iter()
            .map(|i| i["DocNumber"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["INV-1", "INV-2", "INV-3", "INV-4", "INV-5"],
        "three pages of two, the last short"
    );
    let one = client
        .read("Invoice", all[2]["Id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(one["TotalAmt"], json!(30.0));
    let refused = client
        .query("SELECT * FROM Invoice WHERE Id = '1' OR Id = '2'")
        .await
        .unwrap_err();
    assert_eq!(refused.fault_code(), Some("4000"), "{refused}");

    sb.arm(json!({"path": format!("/v3/company/{realm}/query"), "fault": "rate_limit"}))
        .await;
    let throttled = client.query("SELECT * FROM Invoice").await.unwrap_err();
    assert!(
        matches!(throttled, QboError::Throttled { .. }),
        "{throttled}"
    );

    sb.http
        .post(sb.url("/_sandbox/qbo/expire_tokens"))
        .send()
        .await
        .unwrap();
    let expired = client.query("SELECT * FROM Invoice").await.unwrap_err();
    assert!(
        matches!(expired, QboError::Unauthorized { .. }),
        "{expired}"
    );
    let fresh = qbo::refresh(&http, &endpoints, &app(), &tokens.refresh)
        .await
        .unwrap();
    assert_ne!(fresh.refresh.expose(), tokens.refresh.expose(), "rotated");
    let again = QboClient::new(http.clone(), &endpoints, &realm, fresh.access.clone());
    assert_eq!(
        again.query("SELECT COUNT(*) FROM Invoice").await.unwrap()["totalCount"],
        5
    );

    sb.http
        .post(sb.url("/v2/oauth2/tokens/revoke"))
        .basic_auth("cg-desktop", Some("cg-secret"))
        .json(&json!({"token": fresh.refresh.expose()}))
        .send()
        .await
        .unwrap();
    let gone = qbo::refresh(&http, &endpoints, &app(), &fresh.refresh).await;
    assert!(matches!(gone, Err(QboError::Reconnect { .. })), "{gone:?}");
    let message = gone.unwrap_err().to_string();
    assert!(message.contains("connect the company again"), "{message}");
}
