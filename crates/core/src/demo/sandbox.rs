//! The demo's gateway: the same charges the demo's Stripe export holds, seeded into a
//! sandbox through its `/_sandbox/seed` endpoint, and the demo store connected to it, so
//! that the demo's fixes (refunds, re-charges) really run against a gateway.
//!
//! The sandbox accepts any `sk_test_` key, so the demo's key is a constant and no secret:
//! it is handed to the client directly and never written to the keyring or the store.
//! Nothing here decides anything about the books; it only copies charges across.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::records::{Charge, ChargeStatus};
use crate::sandbox::{SeedCharge, SeedCustomer, SeedRefund, SeedRequest, Seeded};
use crate::secret::SecretKey;
use crate::store::Store;
use crate::sync::{self, Connection, SyncError};

/// The test key the demo uses with its sandbox.
pub const DEMO_SANDBOX_KEY: &str = "sk_test_chargeguard_demo_sandbox";

/// The demo's sandbox key as a [`SecretKey`].
pub fn demo_key() -> SecretKey {
    SecretKey::new(DEMO_SANDBOX_KEY).expect("the demo key is a well-formed test key")
}

#[derive(Debug, thiserror::Error)]
pub enum DemoSandboxError {
    #[error("cannot reach the demo sandbox at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("the demo sandbox refused the demo's charges (HTTP {status}): {body}")]
    Refused { status: u16, body: String },
    #[error("cannot connect the demo store to its sandbox: {0}")]
    Connect(#[from] SyncError),
    #[error(
        "this store holds real books, not the demo's: the demo sandbox runs only on the demo store (`chargeguard demo`), and a real store connects to Stripe (`chargeguard connect`)"
    )]
    NotTheDemo,
}

/// The seed that makes a sandbox hold `charges` (as the store has them): the same ids,
/// amounts, times, customers, payment intents and metadata; each customer with a working
/// saved card (so a re-charge can run); refunds for what the charges had refunded.
pub fn seed_request(charges: &[Charge]) -> SeedRequest {
    let mut ordered: Vec<&Charge> = charges.iter().collect();
    // Intents shared by a decline and a later success take the success as latest.
    ordered.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    let mut customers: BTreeMap<&str, Option<&str>> = BTreeMap::new();
    for c in &ordered {
        if let Some(id) = c.customer.as_deref() {
            let email = customers.entry(id).or_insert(None);
            if email.is_none() {
                *email = c.customer_email.as_deref();
            }
        }
    }
    SeedRequest {
        customers: customers
            .into_iter()
            .map(|(id, email)| SeedCustomer {
                id: Some(id.to_string()),
                email: email.map(str::to_string),
                payment_method: Some("pm_card_visa".into()),
                ..SeedCustomer::default()
            })
            .collect(),
        charges: ordered
            .iter()
            .map(|c| {
                let failed = c.status == ChargeStatus::Failed;
                SeedCharge {
                    id: Some(c.id.clone()),
                    amount: c.amount.minor(),
                    currency: c.amount.currency().lower(),
                    created: Some(c.created.as_second()),
                    status: Some(if failed { "failed" } else { "succeeded" }.into()),
                    customer: c.customer.clone(),
                    description: c.description.clone(),
                    metadata: c.metadata.clone(),
                    with_payment_intent: Some(c.payment_intent.is_some()),
                    payment_intent_id: c.payment_intent.clone(),
                    ..SeedCharge::default()
                }
            })
            .collect(),
        refunds: ordered
            .iter()
            .filter(|c| c.amount_refunded.minor() > 0)
            .map(|c| SeedRefund {
                charge: c.id.clone(),
                amount: Some(c.amount_refunded.minor()),
                created: Some(c.created.as_second() + 3600),
                ..SeedRefund::default()
            })
            .collect(),
    }
}

/// Seeds `request` into the sandbox at `base_url` through `POST /_sandbox/seed`.
pub async fn seed(base_url: &str, request: &SeedRequest) -> Result<Seeded, DemoSandboxError> {
    let url = format!("{base_url}/_sandbox/seed");
    let unreachable = |e: reqwest::Error| DemoSandboxError::Unreachable {
        url: url.clone(),
        detail: e.to_string(),
    };
    let response = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(unreachable)?
        .post(&url)
        .json(request)
        .send()
        .await
        .map_err(unreachable)?;
    let status = response.status();
    let body = response.text().await.map_err(unreachable)?;
    if !status.is_success() {
        return Err(DemoSandboxError::Refused {
            status: status.as_u16(),
            body,
        });
    }
    serde_json::from_str(&body).map_err(|e| DemoSandboxError::Refused {
        status: status.as_u16(),
        body: format!("unreadable answer ({e}): {body}"),
    })
}

/// Whether the sandbox at `base_url` already holds charge `id` (a demo seeded before).
pub async fn holds_charge(base_url: &str, id: &str) -> Result<bool, DemoSandboxError> {
    let url = format!("{base_url}/v1/charges/{id}");
    let response = reqwest::Client::new()
        .get(&url)
        .bearer_auth(DEMO_SANDBOX_KEY)
        .send()
        .await
        .map_err(|e| DemoSandboxError::Unreachable {
            url: url.clone(),
            detail: e.to_string(),
        })?;
    Ok(response.status().is_success())
}

/// Connects the demo store to the sandbox at `base_url` with the demo key; nothing is
/// written to the keyring (the key is no secret, and the shell passes it to the client).
pub async fn connect(
    store: &mut Store,
    base_url: &str,
    timeout: Duration,
) -> Result<Connection, DemoSandboxError> {
    Ok(sync::connect(store, base_url, demo_key(), None, timeout).await?)
}

/// Seeds the store's charges into the sandbox at `base_url` (unless it holds them
/// already) and connects the store to it. Returns how many charges were seeded. Only the
/// demo store is ever connected to the demo's sandbox: real books stay on their gateway.
pub async fn seed_and_connect(
    store: &mut Store,
    base_url: &str,
    timeout: Duration,
) -> Result<usize, DemoSandboxError> {
    if !super::is_demo(store).map_err(|e| DemoSandboxError::Connect(e.into()))? {
        return Err(DemoSandboxError::NotTheDemo);
    }
    let charges = store
        .read(|tx| tx.charges())
        .map_err(|e| DemoSandboxError::Connect(e.into()))?;
    let seeded = match charges.first() {
        Some(first) if !holds_charge(base_url, &first.id).await? => {
            seed(base_url, &seed_request(&charges)).await?.charges.len()
        }
        _ => 0,
    };
    connect(store, base_url, timeout).await?;
    Ok(seeded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn real_books_are_never_connected_to_the_demo_sandbox() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("real.db")).unwrap();
        // No sandbox listens there: the refusal comes before any request.
        let refused = seed_and_connect(&mut store, "http://127.0.0.1:9", Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(matches!(refused, DemoSandboxError::NotTheDemo), "{refused}");
        assert!(sync::connection(&mut store).unwrap().is_none());
    }
}
