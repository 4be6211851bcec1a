//! Shared by the sandbox tests: a sandbox started in-process on a free loopback port with
//! its state in a temporary folder, and a plain reqwest client speaking Stripe's wire
//! format to it (form bodies, Bearer test key), as any Stripe client would.
#![allow(dead_code)]

use std::time::Duration;

use chargeguard::sandbox::balance::Pricing;
use chargeguard::sandbox::{RunningSandbox, SandboxConfig, start};
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use tempfile::TempDir;

#[path = "../harness/mod.rs"]
mod harness;

pub const KEY: &str = "sk_test_sandbox_tests";

pub struct Sandbox {
    pub running: RunningSandbox,
    pub http: Client,
    pub dir: TempDir,
    control: harness::SandboxControl,
}

pub async fn sandbox() -> Sandbox {
    sandbox_priced(Pricing::default()).await
}

/// A sandbox whose payments cost `pricing`.
pub async fn sandbox_priced(pricing: Pricing) -> Sandbox {
    let dir = tempfile::tempdir().expect("temp dir");
    let running = start(SandboxConfig {
        pricing,
        ..SandboxConfig::new(dir.path())
    })
    .await
    .expect("sandbox starts");
    Sandbox {
        control: harness::SandboxControl::new(&running.base_url()),
        running,
        http: client(Duration::from_secs(20)),
        dir,
    }
}

pub fn client(timeout: Duration) -> Client {
    Client::builder().timeout(timeout).build().expect("client")
}

impl Sandbox {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.running.base_url())
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)], key: Option<&str>) -> Response {
        post_with(&self.http, &self.url(path), form, key)
            .await
            .expect("request answered")
    }

    pub async fn get(&self, path_and_query: &str) -> Response {
        self.http
            .get(self.url(path_and_query))
            .bearer_auth(KEY)
            .send()
            .await
            .expect("request answered")
    }

    pub async fn get_json(&self, path_and_query: &str) -> Value {
        let response = self.get(path_and_query).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path_and_query}");
        response.json().await.expect("json")
    }

    /// The sandbox's control routes (seed, faults, stats).
    pub fn control(&self) -> &harness::SandboxControl {
        &self.control
    }

    pub async fn arm(&self, fault: Value) {
        self.control().arm(fault).await
    }

    pub async fn seed(&self, seed: Value) -> Value {
        self.control().seed(seed).await
    }

    pub async fn stats(&self) -> Value {
        self.control().stats().await
    }

    /// Pays with a confirmed payment intent; returns the answer.
    pub async fn pay(&self, amount: &str, card: &str, key: Option<&str>) -> Response {
        self.post(
            "/v1/payment_intents",
            &[
                ("amount", amount),
                ("currency", "usd"),
                ("payment_method", card),
                ("confirm", "true"),
                ("metadata[invoice_number]", "INV-1"),
            ],
            key,
        )
        .await
    }
}

pub async fn post_with(
    http: &Client,
    url: &str,
    form: &[(&str, &str)],
    key: Option<&str>,
) -> reqwest::Result<Response> {
    let mut request = http.post(url).bearer_auth(KEY).form(form);
    if let Some(k) = key {
        request = request.header("Idempotency-Key", k);
    }
    request.send().await
}

pub fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// What a list of balance transactions moved in all: the sum of their `net`.
pub fn nets(list: &Value) -> i64 {
    list["data"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|t| t["net"].as_i64().expect("a net"))
        .sum()
}
