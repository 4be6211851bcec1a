//! Gateway-looking identifiers for generated books (`ch_3P…`, `pi_3P…`, `cus_…`).

use rand::RngExt;
use rand::rngs::StdRng;

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A Stripe-like id: the prefix, then `len` base-62 characters.
pub fn gateway_id(rng: &mut StdRng, prefix: &str, len: usize) -> String {
    let mut id = String::with_capacity(prefix.len() + len);
    id.push_str(prefix);
    for _ in 0..len {
        id.push(ALPHABET[rng.random_range(0..ALPHABET.len())] as char);
    }
    id
}
