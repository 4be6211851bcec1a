//! The secret key in a real Secret Service (GNOME Keyring). These tests need one: run them
//! under a D-Bus session with an unlocked keyring, as CI does:
//!
//! ```sh
//! dbus-run-session -- sh -c 'echo -n ci | gnome-keyring-daemon --unlock --components=secrets >/dev/null; cargo test --test secret_keyring'
//! ```
//!
//! Where no Secret Service answers they print why and pass without checking anything.

use chargeguard::sandbox::{self, SandboxConfig};
use chargeguard::secret::{Keyring, SecretKey};
use chargeguard::store::Store;
use chargeguard::sync;

#[path = "harness/mod.rs"]
mod harness;

fn keyring_or_skip(test: &str) -> Option<Keyring> {
    match Keyring::open() {
        Ok(k) => Some(k),
        Err(e) => {
            eprintln!("SKIPPED {test}: no Secret Service reachable ({e})");
            None
        }
    }
}

fn account(test: &str) -> String {
    format!("test-{test}-{:08x}", rand::random::<u32>())
}

#[test]
fn a_saved_key_is_read_back_and_forgotten() {
    let Some(keyring) = keyring_or_skip("a_saved_key_is_read_back_and_forgotten") else {
        return;
    };
    let account = account("roundtrip");
    let key = SecretKey::new("sk_test_keyringRoundTrip000001").unwrap();
    keyring.save(&account, &key).unwrap();
    assert_eq!(keyring.load(&account).unwrap(), Some(key));
    keyring.forget(&account).unwrap();
    assert_eq!(keyring.load(&account).unwrap(), None);
}

fn chargeguard(db: &std::path::Path, args: &[&str], stdin: &str) -> std::process::Output {
    let mut command = harness::cli(db.parent().expect("the store's folder"));
    command.arg("--db").arg(db).args(args);
    harness::run_with_stdin(command, Some(stdin))
}

#[test]
fn connect_keeps_the_key_for_the_next_process_and_never_in_the_store() {
    let Some(keyring) =
        keyring_or_skip("connect_keeps_the_key_for_the_next_process_and_never_in_the_store")
    else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sandbox = runtime
        .block_on(sandbox::start(SandboxConfig::new(
            dir.path().join("sandbox"),
        )))
        .unwrap();
    let db = dir.path().join("cg.db");
    let key = "sk_test_keyringPersistsAcross42";

    let connected = chargeguard(
        &db,
        &["connect", "--api-base", &sandbox.base_url()],
        &format!("{key}\n"),
    );
    assert!(
        connected.status.success(),
        "{}",
        String::from_utf8_lossy(&connected.stderr)
    );
    // A new process finds the key in the keyring: it was not kept in a memory store.
    let synced = chargeguard(&db, &["sync"], "");
    assert!(
        synced.status.success(),
        "{}",
        String::from_utf8_lossy(&synced.stderr)
    );

    let connection = sync::connection(&mut Store::open(&db).unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(
        keyring.load(&connection.account).unwrap().unwrap().expose(),
        key
    );
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(key.len()).any(|w| w == key.as_bytes()),
                "the key is in {}",
                path.display()
            );
        }
    }
    keyring.forget(&connection.account).unwrap();
    runtime.block_on(sandbox.shutdown()).unwrap();
}

#[test]
fn the_environment_key_is_never_written_to_the_keyring() {
    let Some(keyring) = keyring_or_skip("the_environment_key_is_never_written_to_the_keyring")
    else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sandbox = runtime
        .block_on(sandbox::start(SandboxConfig::new(
            dir.path().join("sandbox"),
        )))
        .unwrap();
    let db = dir.path().join("cg.db");
    let out = harness::cli(dir.path())
        .arg("--db")
        .arg(&db)
        .args(["connect", "--api-base", &sandbox.base_url()])
        .env("CHARGEGUARD_API_KEY", "sk_test_fromTheEnvironment0007")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let connection = sync::connection(&mut Store::open(&db).unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(keyring.load(&connection.account).unwrap(), None);
    runtime.block_on(sandbox.shutdown()).unwrap();
}
