//! The Xero stand-in over real loopback HTTP: a token reaches only the organisations its
//! consent connected; `Idempotency-Key` holds a payment to one object through a lost
//! answer and refuses another request under the same key; the per-tenant minute limit
//! answers 429 naming itself. (`scripts/test-books-clients.sh` runs xero-python against it.)

use crate::sandbox_support::{Sandbox, sandbox};
use reqwest::StatusCode;
use serde_json::{Value, json};

const REDIRECT: &str = "http://localhost:8766/callback";

/// Consents with a client secret: the access token and the organisation.
async fn connect(sb: &Sandbox) -> (String, String) {
    connect_with(
        sb,
        "offline_access accounting.transactions accounting.settings.read",
    )
    .await
}

/// Consents to `scope`: the access token and the organisation.
async fn connect_with(sb: &Sandbox, scope: &str) -> (String, String) {
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let consent = no_redirects
        .get(sb.url("/identity/connect/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", "cg-web"),
            ("redirect_uri", REDIRECT),
            ("scope", scope),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(consent.status(), StatusCode::FOUND);
    let location = consent.headers()["location"].to_str().unwrap().to_string();
    let code = form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let tokens: Value = sb
        .http
        .post(sb.url("/connect/token"))
        .basic_auth("cg-web", Some("cg-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = tokens["access_token"].as_str().unwrap().to_string();
    let connections: Value = sb
        .http
        .get(sb.url("/connections"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tenant = connections[0]["tenantId"].as_str().unwrap().to_string();
    (token, tenant)
}

async fn call(
    sb: &Sandbox,
    token: &str,
    tenant: &str,
    method: reqwest::Method,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> Result<reqwest::Response, reqwest::Error> {
    let mut request = sb
        .http
        .request(method, sb.url(&format!("/api.xro/2.0/{path}")))
        .bearer_auth(token)
        .header("xero-tenant-id", tenant)
        .header("accept", "application/json");
    if let Some(k) = key {
        request = request.header("Idempotency-Key", k);
    }
    if let Some(b) = body {
        request = request.json(&b);
    }
    request.send().await
}

/// A call whose answer is JSON.
async fn json_call(
    sb: &Sandbox,
    token: &str,
    tenant: &str,
    method: reqwest::Method,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> Value {
    call(sb, token, tenant, method, path, key, body)
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_payment_under_one_idempotency_key_is_made_once_and_the_key_serves_no_other_request() {
    let sb = sandbox().await;
    let (token, tenant) = connect(&sb).await;
    let made: Value = json_call(
        &sb,
        &token,
        &tenant,
        reqwest::Method::PUT,
        "Invoices",
        None,
        Some(json!({"Invoices": [{"Type": "ACCREC", "Contact": {"Name": "Fred Flintstone"},
            "Status": "AUTHORISED", "Date": "2026-12-01",
            "LineItems": [{"Description": "Plan", "Quantity": 1, "UnitAmount": 42.5, "AccountCode": "200"}]}]})),
    ).await;
    let invoice = made["Invoices"][0]["InvoiceID"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(made["Invoices"][0]["Date"], "/Date(1796083200000+0000)/");
    let payment = json!({"Invoice": {"InvoiceID": invoice}, "Account": {"Code": "090"},
        "Amount": 42.5, "Date": "2026-12-05", "Reference": "chargeguard:k-7"});

    sb.arm(json!({"path": "/api.xro/2.0/Payments", "fault": "lose_response_after_commit"}))
        .await;
    let lost = call(
        &sb,
        &token,
        &tenant,
        reqwest::Method::POST,
        "Payments",
        Some("k-7"),
        Some(payment.clone()),
    )
    .await;
    assert!(lost.is_err(), "the answer was lost: {lost:?}");
    let again: Value = json_call(
        &sb,
        &token,
        &tenant,
        reqwest::Method::POST,
        "Payments",
        Some("k-7"),
        Some(payment.clone()),
    )
    .await;
    let listed: Value = json_call(
        &sb,
        &token,
        &tenant,
        reqwest::Method::GET,
        "Payments",
        None,
        None,
    )
    .await;
    assert_eq!(listed["Payments"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(
        listed["Payments"][0]["PaymentID"],
        again["Payments"][0]["PaymentID"]
    );

    let mut other = payment.clone();
    other["Amount"] = json!(1);
    let reused = call(
        &sb,
        &token,
        &tenant,
        reqwest::Method::POST,
        "Payments",
        Some("k-7"),
        Some(other),
    )
    .await
    .unwrap();
    assert_eq!(reused.status(), StatusCode::BAD_REQUEST);
    let body: Value = reused.json().await.unwrap();
    assert_eq!(
        body["Elements"][0]["ValidationErrors"][0]["Message"],
        "Idempotency Key: k-7 is used with a different request."
    );

    // Six minutes later Xero has forgotten the key: the same request is a new one, and
    // the invoice, paid, refuses it. Only a look for the reference inside finds the first.
    sb.http
        .delete(sb.url("/_sandbox/xero/idempotency_keys"))
        .send()
        .await
        .unwrap();
    let late = call(
        &sb,
        &token,
        &tenant,
        reqwest::Method::POST,
        "Payments",
        Some("k-7"),
        Some(payment),
    )
    .await
    .unwrap();
    assert_eq!(late.status(), StatusCode::BAD_REQUEST);
    let found: Value = json_call(
        &sb,
        &token,
        &tenant,
        reqwest::Method::GET,
        "Payments?where=Reference%3D%3D%22chargeguard%3Ak-7%22",
        None,
        None,
    )
    .await;
    assert_eq!(found["Payments"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_token_reaches_only_its_organisations_and_the_minute_limit_names_itself() {
    let sb = sandbox().await;
    let (token, tenant) = connect(&sb).await;
    let elsewhere = call(
        &sb,
        &token,
        "00000000-0000-0000-0000-000000000000",
        reqwest::Method::GET,
        "Invoices",
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(elsewhere.status(), StatusCode::FORBIDDEN);
    let unknown = call(
        &sb,
        "nope",
        &tenant,
        reqwest::Method::GET,
        "Invoices",
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let body: Value = unknown.json().await.unwrap();
    assert_eq!(body["Detail"], "AuthenticationUnsuccessful");

    let mut last = None;
    for n in 0..61 {
        let answer = call(
            &sb,
            &token,
            &tenant,
            reqwest::Method::GET,
            "Organisation",
            None,
            None,
        )
        .await
        .unwrap();
        if n < 60 {
            assert_eq!(answer.status(), StatusCode::OK, "call {n}");
            assert_eq!(
                answer.headers()["x-minlimit-remaining"].to_str().unwrap(),
                (59 - n).to_string()
            );
        }
        last = Some(answer);
    }
    let refused = last.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["x-rate-limit-problem"], "minute");
    assert!(refused.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn a_key_is_one_organisations_and_where_filters_are_answered_or_refused() {
    let sb = sandbox().await;
    for (tenant, name) in [
        ("aaaaaaaa-0000-4000-a000-000000000001", "First Ltd"),
        ("bbbbbbbb-0000-4000-a000-000000000002", "Second Ltd"),
    ] {
        sb.http
            .post(sb.url("/_sandbox/xero/tenants"))
            .json(&json!({"tenant": tenant, "name": name}))
            .send()
            .await
            .unwrap();
    }
    let (token, first) = connect(&sb).await;
    let second = "bbbbbbbb-0000-4000-a000-000000000002";
    assert_ne!(first, second);
    let contact = json!({"Contacts": [{"Name": "Betty Rubble"}]});
    let mut ids = Vec::new();
    for tenant in [first.as_str(), second] {
        let made: Value = json_call(
            &sb,
            &token,
            tenant,
            reqwest::Method::PUT,
            "Contacts",
            Some("same-key"),
            Some(contact.clone()),
        )
        .await;
        ids.push(
            made["Contacts"][0]["ContactID"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        let listed: Value = json_call(
            &sb,
            &token,
            tenant,
            reqwest::Method::GET,
            "Contacts",
            None,
            None,
        )
        .await;
        assert_eq!(
            listed["Contacts"].as_array().unwrap().len(),
            1,
            "{tenant}: {listed}"
        );
    }
    assert_ne!(
        ids[0], ids[1],
        "each organisation made its own contact under the key"
    );

    let filtered = |filter: &'static str| {
        let (sb, token, tenant) = (&sb, token.clone(), first.clone());
        async move {
            call(
                sb,
                &token,
                &tenant,
                reqwest::Method::GET,
                &format!("Contacts?where={}", urlencode(filter)),
                None,
                None,
            )
            .await
            .unwrap()
        }
    };
    let found: Value = filtered(r#"Name=="Betty Rubble" and ContactStatus=="ACTIVE""#)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["Contacts"].as_array().unwrap().len(), 1, "{found}");
    let none: Value = filtered(r#"Name!="Betty Rubble""#)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["Contacts"].as_array().unwrap().len(), 0);
    let refused = filtered("UpdatedDateUTC >= DateTime(2026, 01, 01)").await;
    assert_eq!(
        refused.status(),
        StatusCode::BAD_REQUEST,
        "an unanswerable filter is refused, not ignored"
    );
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn each_lock_refuses_in_its_own_words_and_a_contact_name_is_taken_once() {
    let sb = sandbox().await;
    let (token, tenant) = connect(&sb).await;
    let contact = json!({"Contacts": [{"Name": "Pebbles"}]});
    let first = call(
        &sb,
        &token,
        &tenant,
        reqwest::Method::PUT,
        "Contacts",
        None,
        Some(contact.clone()),
    )
    .await
    .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let again = call(
        &sb,
        &token,
        &tenant,
        reqwest::Method::PUT,
        "Contacts",
        None,
        Some(contact),
    )
    .await
    .unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);

    sb.http
        .post(sb.url("/_sandbox/xero/lock"))
        .json(&json!({"tenant": tenant, "period_lock_date": "2026-11-30", "end_of_year_lock_date": "2026-06-30"}))
        .send()
        .await
        .unwrap();
    let dated = |date: &str| {
        json!({"Invoices": [{"Type": "ACCREC", "Contact": {"Name": "Pebbles"}, "Date": date,
            "LineItems": [{"Description": "x", "Quantity": 1, "UnitAmount": 1, "AccountCode": "200"}]}]})
    };
    for (date, words) in [
        (
            "2026-06-30",
            "end of year lock date, currently set at 30 June 2026",
        ),
        ("2026-11-30", "period lock date"),
    ] {
        let refused: Value = json_call(
            &sb,
            &token,
            &tenant,
            reqwest::Method::PUT,
            "Invoices",
            None,
            Some(dated(date)),
        )
        .await;
        let message = refused["Elements"][0]["ValidationErrors"][0]["Message"]
            .as_str()
            .unwrap();
        assert!(message.contains(words), "{date}: {message}");
    }
    let open = call(
        &sb,
        &token,
        &tenant,
        reqwest::Method::PUT,
        "Invoices",
        None,
        Some(dated("2026-12-01")),
    )
    .await
    .unwrap();
    assert_eq!(open.status(), StatusCode::OK);
}

/// A grant reaches a list only through its scope: Xero's granular ones (a `.read` only for
/// reading) or the broad `accounting.transactions`. Invoices read but not voided, payments
/// written, the organisation not read without its settings scope.
#[tokio::test]
async fn a_grant_reaches_only_what_its_scopes_allow() {
    let sb = sandbox().await;
    let (token, tenant) = connect_with(
        &sb,
        "offline_access accounting.invoices.read accounting.payments",
    )
    .await;
    let status = |method: reqwest::Method, path: &'static str, body: Option<Value>| {
        let (sb, token, tenant) = (&sb, token.clone(), tenant.clone());
        async move {
            call(sb, &token, &tenant, method, path, None, body)
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(
        status(reqwest::Method::GET, "Invoices", None).await,
        StatusCode::OK
    );
    assert_eq!(
        status(reqwest::Method::GET, "Payments", None).await,
        StatusCode::OK
    );
    let credit_note = json!({"CreditNotes": [{"Type": "ACCRECCREDIT", "Contact": {"Name": "Wilma"},
                             "LineItems": [{"Description": "x", "Quantity": 1, "UnitAmount": 5, "AccountCode": "200"}]}]});
    let refused = call(
        &sb,
        &token,
        &tenant,
        reqwest::Method::PUT,
        "CreditNotes",
        None,
        Some(credit_note),
    )
    .await
    .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["Detail"], "AuthorizationUnsuccessful");
    assert_eq!(
        status(reqwest::Method::GET, "Organisation", None).await,
        StatusCode::UNAUTHORIZED
    );
}
