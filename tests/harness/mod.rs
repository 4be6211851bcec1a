//! What every test binary shares, whatever it tests: the `chargeguard` binary, reading a
//! command's outcome, and waiting for a condition with a deadline (never a fixed sleep).
//! The support modules beside it (`actions_support`, `kill_support`, …) build their
//! worlds on these and re-export them; a test includes one support module, never this
//! directly.

#![allow(dead_code)]

use std::process::Output;
use std::time::{Duration, Instant};

/// The command-line program under test, as Cargo built it for this test run.
pub const BIN: &str = env!("CARGO_BIN_EXE_chargeguard");

/// How long a test waits for something that should happen before it calls it a failure.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The standard output of a command that must succeed; its whole outcome otherwise.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("utf-8")
}

/// The exit code and standard error of a command that must fail.
pub fn refused(out: &Output) -> (i32, String) {
    assert!(
        !out.status.success(),
        "expected a refusal, got success:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Asserts `chargeguard ARGS` ended with exit `code`, showing its output otherwise.
pub fn expect_exit(out: &Output, code: i32, args: &[&str]) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "chargeguard {}: {}\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Polls `condition` until it holds, failing the test after `within`.
pub fn wait_until_within(what: &str, within: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::park_timeout(Duration::from_millis(5));
    }
}
