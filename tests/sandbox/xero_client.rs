//! Chargeguard's Xero client against the stand-in over real loopback HTTP: a desktop
//! consent with PKCE (no client secret; a wrong verifier refused), the organisation chosen
//! from `/connections`, invoices and payments read by `If-Modified-Since` page by page and
//! read as records, an expired token refreshed (the rotated refresh token the one that
//! works next), and a revoked grant asking for a new connection.

use chargeguard::accounting::xero::{self as mapping, Organisation, Read};
use chargeguard::books::BooksSecret;
use chargeguard::books::xero::{self, XeroClient, XeroEndpoints, XeroError};
use chargeguard::money::Currency;
use serde_json::{Value, json};

use crate::sandbox_support::{Sandbox, sandbox};

const REDIRECT: &str = "http://localhost:8766/callback";
const CLIENT: &str = "cg-desktop";

/// What the consent page does when the person allows access: the redirect's code.
async fn consent(url: &str) -> String {
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = no_redirects.get(url).send().await.unwrap();
    assert_eq!(answer.status(), 302, "{:?}", answer.text().await);
    let location = answer.headers()["location"].to_str().unwrap().to_string();
    form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned()
}

async fn put(sb: &Sandbox, token: &BooksSecret, tenant: &str, list: &str, body: Value) -> Value {
    let answer = sb
        .http
        .put(sb.url(&format!("/api.xro/2.0/{list}")))
        .bearer_auth(token.expose())
        .header("xero-tenant-id", tenant)
        .header("accept", "application/json")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{:?}", answer.text().await);
    answer.json().await.unwrap()
}

#[tokio::test]
async fn a_desktop_consent_reads_every_page_as_records_and_survives_expiry_but_not_revocation() {
    let sb = sandbox().await;
    let endpoints = XeroEndpoints::at(&sb.running.base_url());
    let http = reqwest::Client::new();

    // A consent whose code is exchanged with another verifier is refused.
    let verifier = xero::new_verifier();
    let url = endpoints.authorization_url(CLIENT, REDIRECT, "s1", &verifier);
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    let code = consent(&url).await;
    let wrong = xero::exchange_code(
        &http,
        &endpoints,
        CLIENT,
        &code,
        REDIRECT,
        &xero::new_verifier(),
    )
    .await;
    assert!(
        matches!(wrong, Err(XeroError::Reconnect { .. })),
        "{wrong:?}"
    );

    let code = consent(&endpoints.authorization_url(CLIENT, REDIRECT, "s2", &verifier)).await;
    let tokens = xero::exchange_code(&http, &endpoints, CLIENT, &code, REDIRECT, &verifier)
        .await
        .unwrap();
    assert!(!format!("{tokens:?}").contains(tokens.access.expose()));
    let tenants = xero::connections(&http, &endpoints, &tokens.access)
        .await
        .unwrap();
    assert!(!tenants.is_empty());
    let tenant = tenants[0].id.clone();

    let contact = put(
        &sb,
        &tokens.access,
        &tenant,
        "Contacts",
        json!({"Contacts": [{"Name": "Wilma"}]}),
    )
    .await;
    let contact_id = contact["Contacts"][0]["ContactID"]
        .as_str()
        .unwrap()
        .to_string();
    let invoices: Vec<Value> = (1..=5)
        .map(|n| json!({"Type": "ACCREC", "Contact": {"ContactID": contact_id}, "InvoiceNumber": format!("INV-{n}"),
            "Status": "AUTHORISED", "Date": "2026-11-20", "DueDate": "2026-12-20",
            "LineItems": [{"Description": "Plan", "Quantity": 1, "UnitAmount": 10 * n, "AccountCode": "200"}]}))
        .collect();
    let made = put(
        &sb,
        &tokens.access,
        &tenant,
        "Invoices",
        json!({"Invoices": invoices}),
    )
    .await;
    let first = made["Invoices"][0]["InvoiceID"]
        .as_str()
        .unwrap()
        .to_string();
    put(
        &sb,
        &tokens.access,
        &tenant,
        "Payments",
        json!({"Payments": [{"Invoice": {"InvoiceID": first}, "Account": {"Code": "090"},
            "Amount": 10, "Date": "2026-11-21", "Reference": "ch_3OaFDbEcg9tTZuTg"}]}),
    )
    .await;

    let client = XeroClient::new(http.clone(), &endpoints, &tenant, tokens.access.clone());
    let org = client.organisation().await.unwrap();
    let organisation = Organisation {
        currency: Currency::from_code(org["BaseCurrency"].as_str().unwrap()).unwrap(),
        zone: jiff::tz::TimeZone::UTC,
    };
    let mut read = Vec::new();
    for page in 1.. {
        let rows = client
            .list_page("Invoices", Some("2026-01-01T00:00:00Z"), page, 2)
            .await
            .unwrap()
            .rows;
        let short = rows.len() < 2;
        read.extend(rows);
        if short {
            break;
        }
    }
    let numbers: Vec<String> = read
        .iter()
        .map(
            |body| match mapping::invoice(&organisation, body).unwrap() {
                Read::Record(i) => i.number,
                other => panic!("{other:?}"),
            },
        )
        .collect();
    let mut sorted = numbers.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["INV-1", "INV-2", "INV-3", "INV-4", "INV-5"],
        "three pages of two, the last short"
    );
    // Nothing changed after a later time.
    let later = client
        .list_page("Invoices", Some("2099-01-01T00:00:00Z"), 1, 100)
        .await
        .unwrap();
    assert!(later.rows.is_empty());
    let payments = client
        .list_page("Payments", None, 1, 100)
        .await
        .unwrap()
        .rows;
    let Read::Record(entry) =
        mapping::payment_entry(&organisation, &payments[0], "INV-1", organisation.currency)
            .unwrap()
    else {
        panic!("{payments:?}")
    };
    assert_eq!(
        (entry.amount.minor(), entry.gateway_id.as_deref()),
        (1_000, Some("ch_3OaFDbEcg9tTZuTg"))
    );

    // Expired: refused as "refresh"; the refreshed pair works, and the old refresh token
    // is replaced.
    sb.http
        .post(sb.url("/_sandbox/xero/expire_tokens"))
        .send()
        .await
        .unwrap();
    let expired = client.organisation().await.unwrap_err();
    assert!(
        matches!(expired, XeroError::Unauthorized { .. }),
        "{expired}"
    );
    let fresh = xero::refresh(&http, &endpoints, CLIENT, &tokens.refresh)
        .await
        .unwrap();
    assert_ne!(fresh.refresh, tokens.refresh);
    XeroClient::new(http.clone(), &endpoints, &tenant, fresh.access.clone())
        .organisation()
        .await
        .unwrap();

    // Revoked: the refresh says "connect again".
    xero::revoke(&http, &endpoints, CLIENT, &fresh.refresh)
        .await
        .unwrap();
    let revoked = xero::refresh(&http, &endpoints, CLIENT, &fresh.refresh)
        .await
        .unwrap_err();
    assert!(matches!(revoked, XeroError::Reconnect { .. }), "{revoked}");
}
