//! The demo's gateway: the same charges the demo's Stripe export holds, seeded into a
//! sandbox through its `/_sandbox/seed` endpoint, and the demo store connected to it, so
//! that the demo's fixes (refunds, re-charges) really run against a gateway.
//!
//! The sandbox accepts any `sk_test_` key, so the demo's key is a constant and no secret:
//! it is handed to the client directly and never written to the keyring or the store.
//! Nothing here decides anything about the books; it only copies charges across.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::records::{Charge, ChargeStatus, Dispute, DisputeStatus};
use crate::sandbox::{SeedCharge, SeedCustomer, SeedRefund, SeedRequest, Seeded};
use crate::secret::SecretKey;
use crate::store::Store;
use crate::sync::{self, Connection, SyncError};

/// The file in the sandbox's state folder keeping the port its last run listened on.
const PORT_FILE: &str = "port";

/// Starts the demo's sandbox with its state in `state_dir`, on the port of its last run
/// when that port is free, else on a free one (kept for the next run). The demo's
/// approvals keep the address of the books they were shown, the stand-in on this port:
/// a window that finds the same port finds them still good; one that cannot is refused
/// them ("the books' company changed") rather than pushing somewhere unshown.
pub async fn start(
    state_dir: &std::path::Path,
) -> Result<crate::sandbox::RunningSandbox, crate::sandbox::SandboxError> {
    use crate::sandbox::{SandboxConfig, start};
    let kept = std::fs::read_to_string(state_dir.join(PORT_FILE))
        .ok()
        .and_then(|p| p.trim().parse::<u16>().ok())
        .filter(|p| *p != 0);
    let running = match kept {
        Some(port) => {
            let mut config = SandboxConfig::new(state_dir);
            config.addr.set_port(port);
            match start(config).await {
                Ok(running) => running,
                Err(crate::sandbox::SandboxError::Bind { .. }) => {
                    start(SandboxConfig::new(state_dir)).await?
                }
                Err(e) => return Err(e),
            }
        }
        None => start(SandboxConfig::new(state_dir)).await?,
    };
    // Only a convenience for the next run: a folder that cannot keep it costs a port change.
    if let Err(e) = std::fs::write(state_dir.join(PORT_FILE), running.addr().port().to_string()) {
        tracing::warn!("cannot keep the demo sandbox's port: {e}");
    }
    Ok(running)
}

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
/// saved card (so a re-charge can run); refunds for what the charges had refunded; a
/// charge with a chargeback in `disputes` paid with Stripe's dispute test card for its
/// reason, so the sandbox opens the dispute ([`settle_disputes`] then decides it).
pub fn seed_request(charges: &[Charge], disputes: &[Dispute]) -> SeedRequest {
    let disputed: BTreeMap<&str, &Dispute> =
        disputes.iter().map(|d| (d.charge_id.as_str(), d)).collect();
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
                let card = disputed.get(c.id.as_str()).map(|d| {
                    match d.reason.as_str() {
                        "product_not_received" => "pm_card_createDisputeProductNotReceived",
                        _ => "pm_card_createDispute",
                    }
                    .to_string()
                });
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
                    payment_method: card,
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

/// Posts `body` to a control route of the sandbox (`url`): its status and answer, or why
/// it could not be asked. Seeding a whole demo takes a while: two minutes are allowed.
pub(super) async fn post_control(
    url: &str,
    body: &impl serde::Serialize,
) -> Result<(u16, String), String> {
    let response = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| e.to_string())?
        .post(url)
        .json(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(|e| e.to_string())?;
    Ok((status, text))
}

/// Seeds `request` into the sandbox at `base_url` through `POST /_sandbox/seed`.
pub async fn seed(base_url: &str, request: &SeedRequest) -> Result<Seeded, DemoSandboxError> {
    let url = format!("{base_url}/_sandbox/seed");
    let (status, body) =
        post_control(&url, request)
            .await
            .map_err(|detail| DemoSandboxError::Unreachable {
                url: url.clone(),
                detail,
            })?;
    if !(200..300).contains(&status) {
        return Err(DemoSandboxError::Refused { status, body });
    }
    serde_json::from_str(&body).map_err(|e| DemoSandboxError::Refused {
        status,
        body: format!("unreadable answer ({e}): {body}"),
    })
}

/// Brings each of the sandbox's disputes to where the store's stand: a dispute the store
/// has lost is closed (accepted) through the API, as a business does at Stripe. Its test
/// card opened it as a chargeback awaiting a response.
pub async fn settle_disputes(base_url: &str, disputes: &[Dispute]) -> Result<(), DemoSandboxError> {
    let client = reqwest::Client::new();
    for lost in disputes.iter().filter(|d| d.status == DisputeStatus::Lost) {
        let url = format!("{base_url}/v1/disputes");
        let unreachable = |e: reqwest::Error| DemoSandboxError::Unreachable {
            url: url.clone(),
            detail: e.to_string(),
        };
        let listed: serde_json::Value = client
            .get(&url)
            .bearer_auth(DEMO_SANDBOX_KEY)
            .query(&[("charge", lost.charge_id.as_str())])
            .send()
            .await
            .map_err(unreachable)?
            .json()
            .await
            .map_err(unreachable)?;
        let Some(id) = listed["data"][0]["id"].as_str() else {
            return Err(DemoSandboxError::Refused {
                status: 404,
                body: format!("no dispute of charge {} was opened", lost.charge_id),
            });
        };
        let response = client
            .post(format!("{url}/{id}/close"))
            .bearer_auth(DEMO_SANDBOX_KEY)
            .send()
            .await
            .map_err(unreachable)?;
        if !response.status().is_success() {
            return Err(DemoSandboxError::Refused {
                status: response.status().as_u16(),
                body: response.text().await.unwrap_or_default(),
            });
        }
    }
    Ok(())
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
    let (charges, disputes) = store
        .read(|tx| Ok((tx.charges()?, tx.disputes(crate::sync::GATEWAY)?)))
        .map_err(|e: crate::store::StoreError| DemoSandboxError::Connect(e.into()))?;
    let seeded = match charges.first() {
        Some(first) if !holds_charge(base_url, &first.id).await? => {
            let seeded = seed(base_url, &seed_request(&charges, &disputes)).await?;
            settle_disputes(base_url, &disputes).await?;
            seeded.charges.len()
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
