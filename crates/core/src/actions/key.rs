//! Idempotency keys, derived from what an action is about — never random, never from the
//! clock — so a retry, a restart, a second click or a second window all arrive at the same
//! key, and the gateway does the thing once.

use sha2::{Digest, Sha256};

/// The key for an action: a readable prefix and a hash of its identity.
///
/// `parts` name the action (its kind, the finding's fingerprint, the target ids and for a
/// re-charge the attempt number); the same parts always give the same key.
pub fn derive(kind: &str, parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"chargeguard/v1/");
    hasher.update(kind.as_bytes());
    for part in parts {
        hasher.update([0u8]);
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    let digest = hex::encode(hasher.finalize());
    format!("cg-{kind}-{}", &digest[..40])
}

#[cfg(test)]
mod tests {
    use super::derive;

    #[test]
    fn the_same_action_gets_the_same_key() {
        assert_eq!(
            derive("refund", &["double_charge:INV-1:ch_b", "ch_b", "4900"]),
            derive("refund", &["double_charge:INV-1:ch_b", "ch_b", "4900"])
        );
    }

    #[test]
    fn a_different_target_or_attempt_gets_another_key() {
        let a = derive("recharge", &["INV-1", "1"]);
        assert_ne!(a, derive("recharge", &["INV-1", "2"]));
        assert_ne!(a, derive("recharge", &["INV-2", "1"]));
        // Part boundaries matter: ("ab","c") is not ("a","bc").
        assert_ne!(
            derive("refund", &["ab", "c"]),
            derive("refund", &["a", "bc"])
        );
    }

    #[test]
    fn keys_fit_stripe_limits() {
        let key = derive("refund", &["x"]);
        assert!(key.len() <= 255 && key.is_ascii());
    }
}
