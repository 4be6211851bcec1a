//! Faults armed from outside the client under test (`POST /_sandbox/faults`), so the
//! client code never knows it is being tested.
//!
//! A fault names a path (prefix match), optionally a method, and how many requests it hits
//! (`times`, counting down). Each fault says where in the request it strikes: before the
//! effect commits (nothing happened, a retry runs it) or after (the effect and its
//! idempotency record are durable, only the answer is lost, late or replaced by a 500).
//! Armed faults live in memory: a restart disarms them, which is what a test wants.
//!
//! This module decides which fault hits a request; the server carries it out.

use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FaultKind {
    /// The effect commits, then the connection is closed with no answer.
    #[serde(rename = "lose_response_after_commit")]
    LoseResponseAfterCommit,
    /// The request is held `hold_ms`, then the connection is closed; nothing commits.
    #[serde(rename = "timeout_before_commit")]
    TimeoutBeforeCommit,
    /// The effect commits, then the answer is held `hold_ms` before it is sent.
    #[serde(rename = "timeout_after_commit")]
    TimeoutAfterCommit,
    /// A 500 `api_error`; nothing commits.
    #[serde(rename = "error_500_before_commit")]
    Error500BeforeCommit,
    /// The effect commits (and is replayed under its key), but this answer is a 500.
    #[serde(rename = "error_500_after_commit")]
    Error500AfterCommit,
    /// A 503; nothing commits.
    #[serde(rename = "error_503_before_commit")]
    Error503BeforeCommit,
    /// A 429 with `Retry-After: 1`; nothing commits.
    #[serde(rename = "rate_limit")]
    RateLimit,
    /// The request is held `hold_ms` (default 500), then runs and answers normally.
    #[serde(rename = "slow")]
    Slow,
}

impl FaultKind {
    fn default_hold(self) -> Duration {
        match self {
            FaultKind::Slow => Duration::from_millis(500),
            _ => Duration::from_millis(60_000),
        }
    }
}

/// A fault as armed by `POST /_sandbox/faults`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    pub path: String,
    pub fault: FaultKind,
    #[serde(default = "one")]
    pub times: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

fn one() -> u32 {
    1
}

/// A fault that struck one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Strike {
    pub kind: FaultKind,
    pub hold: Duration,
}

/// The armed faults.
#[derive(Debug, Default)]
pub struct Faults {
    armed: Mutex<Vec<FaultSpec>>,
}

impl Faults {
    /// Arms a fault; `times: 0` arms nothing and is refused.
    pub fn arm(&self, spec: FaultSpec) -> Result<(), String> {
        if spec.times == 0 {
            return Err("`times` must be at least 1".into());
        }
        if !spec.path.starts_with('/') {
            return Err(format!(
                "`path` must start with `/`, like /v1/refunds (got {:?})",
                spec.path
            ));
        }
        self.lock().push(spec);
        Ok(())
    }

    pub fn disarm_all(&self) {
        self.lock().clear();
    }

    /// What is armed, with `times` as what remains.
    pub fn armed(&self) -> Vec<FaultSpec> {
        self.lock().clone()
    }

    /// The first armed fault matching this request, counted down.
    pub fn strike(&self, method: &str, path: &str) -> Option<Strike> {
        let mut armed = self.lock();
        let index = armed.iter().position(|f| {
            path.starts_with(&f.path)
                && f.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
        })?;
        let spec = &mut armed[index];
        let strike = Strike {
            kind: spec.fault,
            hold: spec
                .hold_ms
                .map(Duration::from_millis)
                .unwrap_or(spec.fault.default_hold()),
        };
        spec.times -= 1;
        if spec.times == 0 {
            armed.remove(index);
        }
        Some(strike)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<FaultSpec>> {
        // A panic while holding this lock cannot leave the list half-changed: every
        // change is a single push, remove or decrement.
        self.armed.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> FaultSpec {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_fault_strikes_matching_requests_as_many_times_as_armed() {
        let faults = Faults::default();
        faults
            .arm(spec(
                r#"{"path":"/v1/refunds","fault":"rate_limit","times":2}"#,
            ))
            .unwrap();
        assert!(faults.strike("GET", "/v1/charges").is_none());
        assert_eq!(
            faults.strike("POST", "/v1/refunds").unwrap().kind,
            FaultKind::RateLimit
        );
        assert!(faults.strike("GET", "/v1/refunds/re_1").is_some());
        assert!(faults.strike("POST", "/v1/refunds").is_none());
    }

    #[test]
    fn holds_default_to_the_documented_values() {
        let faults = Faults::default();
        faults
            .arm(spec(r#"{"path":"/v1","fault":"slow"}"#))
            .unwrap();
        faults
            .arm(spec(r#"{"path":"/v1","fault":"timeout_after_commit"}"#))
            .unwrap();
        assert_eq!(
            faults.strike("GET", "/v1/x").unwrap().hold,
            Duration::from_millis(500)
        );
        assert_eq!(
            faults.strike("GET", "/v1/x").unwrap().hold,
            Duration::from_secs(60)
        );
    }

    #[test]
    fn a_method_narrows_the_fault() {
        let faults = Faults::default();
        faults
            .arm(spec(
                r#"{"path":"/v1/refunds","fault":"error_503_before_commit","method":"post"}"#,
            ))
            .unwrap();
        assert!(faults.strike("GET", "/v1/refunds").is_none());
        assert!(faults.strike("POST", "/v1/refunds").is_some());
    }

    #[test]
    fn unknown_fault_names_are_refused() {
        assert!(serde_json::from_str::<FaultSpec>(r#"{"path":"/v1","fault":"explode"}"#).is_err());
    }
}
