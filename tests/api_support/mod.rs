//! Shared by the API tests: the demo store made by the real `chargeguard demo
//! --sandbox-state`, its sandbox started in-process on a free loopback port, and an
//! approver with a passphrase.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use chargeguard::api::Api;
use chargeguard::api::json::{ApproveRequest, Approved, ExecuteRequest, Executed};
use chargeguard::people::{self, Role};
use chargeguard::sandbox::RunningSandbox;
use chargeguard::store::Store;
use serde_json::Value;
use tempfile::TempDir;

#[path = "../harness/mod.rs"]
pub mod harness;
pub const APPROVER: &str = "alice";
pub const PASSPHRASE: &str = "correct horse battery";

pub struct Demo {
    pub dir: TempDir,
    pub db: PathBuf,
    pub sandbox_state: PathBuf,
}

/// A demo store and its seeded sandbox state, through the real binary; alice approves.
pub fn demo() -> Demo {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("demo.db");
    let sandbox_state = dir.path().join("sandbox");
    let out = harness::cli(dir.path())
        .arg("--db")
        .arg(&db)
        .arg("demo")
        .arg("--sandbox-state")
        .arg(&sandbox_state)
        .output()
        .expect("chargeguard demo runs");
    assert!(
        out.status.success(),
        "demo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut store = Store::open(&db).expect("demo store opens");
    let [(demo_approver, demo_passphrase), _] = chargeguard::demo::DEMO_APPROVERS;
    people::add_user(
        &mut store,
        APPROVER,
        Role::Approver,
        PASSPHRASE,
        Some(people::Sponsor {
            name: demo_approver,
            passphrase: demo_passphrase,
        }),
        jiff::Timestamp::now(),
    )
    .expect("alice is added");
    Demo {
        dir,
        db,
        sandbox_state,
    }
}

impl Demo {
    /// Starts the demo's sandbox and points the store at it (its gateway and its books in
    /// the Xero stand-in), as `ui-server` does.
    pub async fn connect(&self) -> (Api, RunningSandbox) {
        let running = chargeguard::demo::sandbox::start(&self.sandbox_state)
            .await
            .expect("sandbox starts");
        let mut store = Store::open(&self.db).unwrap();
        let seeded = chargeguard::demo::sandbox::seed_and_connect(
            &mut store,
            &running.base_url(),
            Duration::from_secs(10),
        )
        .await
        .expect("demo store connects to its sandbox");
        assert_eq!(seeded, 0, "the demo had seeded its sandbox already");
        let api = Api::new(&self.db).with_http_timeout(Duration::from_secs(5));
        let api = chargeguard::api::session::connect_demo(api, &running)
            .await
            .expect("the demo store connects to its books");
        (api, running)
    }
}

/// The sandbox's object counts (`GET /_sandbox/stats`).
pub async fn stats(sandbox: &RunningSandbox) -> Value {
    control(sandbox).stats().await
}

/// The sandbox's control routes (faults, stats), from outside the client under test.
pub fn control(sandbox: &RunningSandbox) -> harness::SandboxControl {
    harness::SandboxControl::new(&sandbox.base_url())
}

/// Runs a command through the one list both shells route by, as a window would, and reads
/// its answer as the command's type.
pub async fn call<Q: serde::Serialize, A: serde::de::DeserializeOwned>(
    api: &Api,
    command: &str,
    request: Q,
) -> Result<A, chargeguard::api::ApiError> {
    let value =
        chargeguard::api::commands::call(api, command, serde_json::to_value(request).unwrap())
            .await?;
    Ok(serde_json::from_value(value).expect("the answer has the command's type"))
}

/// alice approves action `action_id` (having checked a guessed match, when `heuristic_checked`).
pub fn approve_as_alice(api: &Api, action_id: u32, heuristic_checked: bool) -> Approved {
    chargeguard::api::approve(
        api,
        &ApproveRequest {
            action_id,
            name: APPROVER.into(),
            passphrase: PASSPHRASE.into(),
            heuristic_checked,
        },
    )
    .expect("alice approves")
}

/// `by` presses Execute on action `action_id`.
pub async fn execute_as(api: &Api, action_id: u32, by: &str) -> Executed {
    chargeguard::api::execute(
        api,
        &ExecuteRequest {
            action_id,
            by: by.into(),
        },
    )
    .await
    .expect("execute answers")
}
