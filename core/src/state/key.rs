//! The state's output to readers: which reads an applied command may have
//! changed ([`Applied::keys`](super::Applied::keys)). Waiters wait on these
//! keys (the store's `watch` module); the state knows nothing of who waits.

/// What a read covers (a job, a job's allocations, ...), as a 64-bit hash.
/// A collision costs no more than a spurious wake-up of a waiter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(u64);

impl Key {
    /// The key of `(kind, id)`, e.g. `("job", "web")`.
    ///
    /// Not SipHash: a write computes a key for every row it touches, and a
    /// collision costs no more than a spurious wake-up, so a multiply-and-mix
    /// over 8-byte words does, at a fraction of `DefaultHasher`'s cost
    /// (docs/benchmarks.md). Both lengths go in, so `("ab", "c")` and
    /// `("a", "bc")` differ.
    pub fn new(kind: &str, id: &str) -> Key {
        let mut h = 0x243f_6a88_85a3_08d3_u64 ^ kind.len() as u64;
        h = mix_bytes(h, kind.as_bytes());
        h = mix(h, id.len() as u64);
        h = mix_bytes(h, id.as_bytes());
        // murmur3's finaliser: every input bit reaches every output bit.
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        Key(h ^ (h >> 33))
    }
}

#[inline]
fn mix(h: u64, word: u64) -> u64 {
    (h ^ word)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .rotate_left(29)
}

/// `bytes` into `h`, 8 at a time; the last word zero-padded.
#[inline]
fn mix_bytes(mut h: u64, bytes: &[u8]) -> u64 {
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        h = mix(h, u64::from_le_bytes(w.try_into().expect("8 bytes")));
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        h = mix(h, u64::from_le_bytes(last));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_different_reads_differ() {
        // Where the kind ends and the ID begins, and zero padding.
        assert_ne!(Key::new("ab", "c"), Key::new("a", "bc"));
        assert_ne!(Key::new("job", ""), Key::new("jo", "b"));
        assert_ne!(Key::new("job", "a"), Key::new("job", "a\0"));
        assert_ne!(Key::new("jobs", ""), Key::new("job", "s"));
        assert_eq!(Key::new("job", "web"), Key::new("job", "web"));
        // No collision among many IDs of every length up to 3 words, in
        // every kind a store uses.
        let mut seen = std::collections::HashSet::new();
        for kind in [
            "job",
            "jobs",
            "job-allocs",
            "job-evals",
            "eval",
            "alloc",
            "node",
        ] {
            for n in 0..20_000u32 {
                let id = format!("{n:x}-{}", "x".repeat(n as usize % 25));
                assert!(seen.insert(Key::new(kind, &id)), "{kind} {id}");
            }
        }
        // One bit of the ID flips about half the key's bits.
        let a = Key::new("job", "0000000000000000");
        let b = Key::new("job", "0000000000000001");
        assert!((a.0 ^ b.0).count_ones() > 16);
    }
}
