//! The keys of a file that matched a stored row unchanged, as a Bloom filter of fixed size.
//!
//! A key repeated within one file is found through the stored row's origin: a row this
//! import wrote (new or changed) names this import's source. A row the import found
//! unchanged keeps its older origin, so a later line of the same file with that key and
//! other values would look like an ordinary change. This filter remembers those keys in a
//! fixed [`SeenKeys::BYTES`], whatever the file's size: a key it has never held is
//! certainly not a repeat; a key it may hold is a *suspect*, settled exactly once the file
//! has been read (by reading the file again for the key's first line). Suspects are only
//! changed rows whose key the filter may hold: the real repeats, and a rare false positive.

/// A Bloom filter over strings: no false negatives, few false positives.
pub(crate) struct SeenKeys {
    bits: Vec<u64>,
}

const BITS_LOG2: u32 = 26;
const PROBES: u64 = 4;

impl SeenKeys {
    /// What the filter holds in memory, whatever the file's size.
    pub const BYTES: u64 = (1 << BITS_LOG2) / 8;

    pub fn new() -> Self {
        // Zeroed pages are only mapped once touched.
        SeenKeys {
            bits: vec![0; (1 << BITS_LOG2) / 64],
        }
    }

    /// The word of `bits` that holds all of a key's probes, and the probes' mask in it:
    /// one cache miss per key instead of one per probe.
    fn probes(key: &str) -> (usize, u64) {
        // FNV-1a, then two SplitMix64 finishers: one picks the word, the other its bits.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in key.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        let h1 = mix(h);
        let h2 = mix(h1);
        let word = (h1 & ((1u64 << (BITS_LOG2 - 6)) - 1)) as usize;
        let mask = (0..PROBES).fold(0u64, |mask, i| mask | 1 << ((h2 >> (i * 6)) & 63));
        (word, mask)
    }

    pub fn insert(&mut self, key: &str) {
        let (word, mask) = Self::probes(key);
        self.bits[word] |= mask;
    }

    /// `false`: the key was never inserted. `true`: it probably was.
    pub fn may_contain(&self, key: &str) -> bool {
        let (word, mask) = Self::probes(key);
        self.bits[word] & mask == mask
    }
}

fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::SeenKeys;

    #[test]
    fn a_key_inserted_is_always_found_and_others_rarely() {
        let mut seen = SeenKeys::new();
        for i in 0..100_000 {
            seen.insert(&format!("ch_{i}"));
        }
        assert!((0..100_000).all(|i| seen.may_contain(&format!("ch_{i}"))));
        let false_positives = (100_000..200_000)
            .filter(|i| seen.may_contain(&format!("ch_{i}")))
            .count();
        assert!(false_positives < 10, "{false_positives} false positives");
    }
}
