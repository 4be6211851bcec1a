//! Settings connects the accounting system (issue 19, "Screens"): the desktop's and the web
//! window's commands (`books_connect`, `books_status`, `books_connect_cancel`,
//! `books_disconnect`) through the one command list, against the sandbox's QuickBooks and
//! Xero stand-ins over loopback HTTP, with the browser played by an HTTP client that
//! follows the consent page's redirect back to the app's loopback listener, as a browser
//! does. The tokens land in the real Secret Service (`scripts/with-keyring.sh`); the
//! client secret reaches no answer.

mod books_support;

use std::time::{Duration, Instant};

use books_support::{CLIENT_SECRET, World, harness, keyring_or_skip, qbo_world};
use chargeguard::api::books::{BooksStatus, ConsentState};
use chargeguard::api::{self, ApiError, ApiErrorCode};
use serde_json::{Value, json};

fn call(world: &World, api: &api::Api, command: &str, request: Value) -> Result<Value, ApiError> {
    world
        .runtime
        .block_on(api::commands::call(api, command, request))
}

fn status(world: &World, api: &api::Api) -> BooksStatus {
    serde_json::from_value(call(world, api, "books_status", Value::Null).unwrap()).unwrap()
}

fn connect(world: &World, api: &api::Api, request: Value) -> BooksStatus {
    let answer = call(world, api, "books_connect", request).unwrap();
    assert!(
        !answer.to_string().contains(CLIENT_SECRET),
        "the client secret came back: {answer}"
    );
    serde_json::from_value(answer).unwrap()
}

/// A loopback redirect URI on a port nothing listens on.
fn free_redirect_uri() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}/callback")
}

/// The browser: opens the consent address, then follows the consent page's redirect to
/// the app; the page the app showed.
fn consent_in_browser(world: &World, url: &str, redirect_uri: &str) -> String {
    let back = world.consent(url);
    assert!(back.starts_with(redirect_uri), "{back}");
    world.runtime.block_on(async {
        let answer = world.http.get(&back).send().await.unwrap();
        assert_eq!(answer.status(), 200);
        answer.text().await.unwrap()
    })
}

/// Polls `books_status` as the window does, until the consent no longer waits.
fn until_decided(world: &World, api: &api::Api) -> BooksStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = status(world, api);
        let consent = now.consent.as_ref().expect("a consent was asked for");
        if consent.state != ConsentState::Waiting {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "the connection did not finish: {now:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn settings_connects_quickbooks_when_the_browser_comes_back_and_disconnects_it() {
    let Some(_keyring) = keyring_or_skip("settings_connects_quickbooks") else {
        return;
    };
    let world = qbo_world();
    let api = api::Api::new(world.db()).with_http_timeout(Duration::from_secs(5));
    let nothing = status(&world, &api);
    assert_eq!(nothing.connection, None);
    assert_eq!(nothing.consent, None);

    // QuickBooks without its client secret could never connect: refused before consent.
    let redirect_uri = free_redirect_uri();
    let refused = call(
        &world,
        &api,
        "books_connect",
        json!({"system": "quickbooks", "client_id": "cg-desktop", "redirect_uri": redirect_uri, "base": world.base()}),
    )
    .unwrap_err();
    assert_eq!(refused.code, ApiErrorCode::InvalidInput, "{refused:?}");
    assert!(refused.message.contains("client secret"), "{refused:?}");
    assert_eq!(status(&world, &api).consent, None);

    let asked = connect(
        &world,
        &api,
        json!({"system": "quickbooks", "client_id": "cg-desktop", "client_secret": CLIENT_SECRET,
               "redirect_uri": redirect_uri, "base": world.base()}),
    );
    let consent = asked.consent.expect("the consent to open");
    assert_eq!(consent.state, ConsentState::Waiting);
    assert!(consent.url.starts_with(&world.base()), "{}", consent.url);
    assert!(
        !consent.opened,
        "no browser hook: the window shows the link"
    );
    assert_eq!(asked.connection, None);

    // Another consent's answer (a web page guessing the port) does not end the wait.
    let stray = world.runtime.block_on(async {
        world
            .http
            .get(format!("{redirect_uri}?code=evil&state=guess&realmId=1"))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(stray, 400);
    assert_eq!(
        status(&world, &api).consent.unwrap().state,
        ConsentState::Waiting
    );

    let page = consent_in_browser(&world, &consent.url, &redirect_uri);
    assert!(page.contains("close this window"), "{page}");
    let done = until_decided(&world, &api);
    assert_eq!(
        done.consent.as_ref().unwrap().state,
        ConsentState::Connected,
        "{done:?}"
    );
    let connection = done.connection.expect("connected");
    assert_eq!(
        connection.name,
        format!("QuickBooks company {}", world.realm)
    );
    assert_eq!(connection.reconnect, None);
    // The command line sees the same connection, and syncs through it.
    assert!(
        harness::ok(&world.cli(&["books", "status"]))
            .contains(&format!("connected to QuickBooks company {}", world.realm))
    );
    harness::ok(&world.cli(&["books", "sync"]));

    // Xero while QuickBooks keeps the books: refused before any consent.
    let other = call(
        &world,
        &api,
        "books_connect",
        json!({"system": "xero", "client_id": "cg-desktop", "redirect_uri": free_redirect_uri(), "base": world.base()}),
    )
    .unwrap_err();
    assert_eq!(other.code, ApiErrorCode::Refused, "{other:?}");
    assert!(other.message.contains("disconnect"), "{other:?}");

    let gone: BooksStatus =
        serde_json::from_value(call(&world, &api, "books_disconnect", Value::Null).unwrap())
            .unwrap();
    assert_eq!(gone.connection, None);
    assert!(harness::ok(&world.cli(&["books", "status"])).contains("not connected"));
}

#[test]
fn settings_connects_xero_and_a_cancelled_consent_frees_its_port_and_connects_nothing() {
    let Some(_keyring) = keyring_or_skip("settings_connects_xero") else {
        return;
    };
    let world = World::new();
    world.post(
        "/_sandbox/xero/tenants",
        json!({"tenant": "9a1b2c3d-0000-4000-8000-000000000007", "name": "Bedrock Ltd", "currency": "USD"}),
    );
    let api = api::Api::new(world.db()).with_http_timeout(Duration::from_secs(5));
    let redirect_uri = free_redirect_uri();
    let request = json!({"system": "xero", "client_id": "cg-desktop", "redirect_uri": redirect_uri,
                         "base": world.base()});

    // Asked, then cancelled: the port is free again and the late answer connects nothing.
    let first = connect(&world, &api, request.clone()).consent.unwrap();
    let cancelled: BooksStatus =
        serde_json::from_value(call(&world, &api, "books_connect_cancel", Value::Null).unwrap())
            .unwrap();
    assert_eq!(cancelled.consent.unwrap().state, ConsentState::Cancelled);
    let port = redirect_uri.split(':').nth(2).unwrap().split('/').next();
    let freed = std::net::TcpListener::bind(format!("127.0.0.1:{}", port.unwrap()));
    assert!(freed.is_ok(), "the consent's port is still held");
    drop(freed);
    let late = world.consent(&first.url);
    let reached = world
        .runtime
        .block_on(async { world.http.get(&late).send().await });
    assert!(reached.is_err(), "nothing should listen any more");
    assert_eq!(status(&world, &api).connection, None);

    // Asked again on the same port, and answered.
    let consent = connect(&world, &api, request).consent.unwrap();
    consent_in_browser(&world, &consent.url, &redirect_uri);
    let done = until_decided(&world, &api);
    assert_eq!(
        done.consent.unwrap().state,
        ConsentState::Connected,
        "{:?}",
        done.connection
    );
    let connection = done.connection.unwrap();
    assert_eq!(connection.name, "Xero organisation Bedrock Ltd");
    harness::ok(&world.cli(&["books", "sync"]));

    // Xero needs the account payments go into before a fix can record one.
    assert_eq!(connection.payment_account, None);
    let blank = call(&world, &api, "books_payment_account", json!({"code": "  "})).unwrap_err();
    assert_eq!(blank.code, ApiErrorCode::InvalidInput, "{blank:?}");
    let chosen: BooksStatus = serde_json::from_value(
        call(
            &world,
            &api,
            "books_payment_account",
            json!({"code": "090"}),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        chosen.connection.unwrap().payment_account.as_deref(),
        Some("090")
    );
    assert!(
        harness::ok(&world.cli(&["books", "status"])).contains("are paid into account 090"),
        "the command line reads the same choice"
    );
}
