//! The keys and values the workloads write.
//!
//! As etcd's benchmark, a key is `--key-size` zero bytes with the key's
//! number written at the front as a Go `binary.PutVarint` (zig-zag, then
//! LEB128), so with the default `--key-space-size 1` every put hits the same
//! key, and the keys of both tools are byte for byte the same.

use rand::Rng;
use rand::SeedableRng;
use rand::rngs::SmallRng;

/// Chooses key numbers: random over the key space, or in order.
#[derive(Debug)]
pub(crate) struct KeyChooser {
    key_size: usize,
    key_space_size: u64,
    sequential: bool,
    rng: SmallRng,
}

impl KeyChooser {
    /// A chooser for one client; `seed` makes the random sequence repeatable.
    pub(crate) fn new(key_size: usize, key_space_size: u64, sequential: bool, seed: u64) -> Self {
        assert!(key_space_size > 0, "validated by the command line");
        Self {
            key_size,
            key_space_size,
            sequential,
            rng: SmallRng::seed_from_u64(seed),
        }
    }

    /// The key number for request `seq` of the run.
    pub(crate) fn number(&mut self, seq: u64) -> u64 {
        if self.sequential {
            seq % self.key_space_size
        } else {
            self.rng.random_range(0..self.key_space_size)
        }
    }

    /// `count` distinct consecutive key numbers (modulo the key space)
    /// starting at the number for `seq`, for one transaction.
    pub(crate) fn distinct(&mut self, seq: u64, count: usize) -> impl Iterator<Item = u64> + use<> {
        let first = self.number(seq);
        let space = self.key_space_size;
        assert!(count as u64 <= space, "validated by the command line");
        (0..count as u64).map(move |i| (first + i) % space)
    }

    /// The key bytes of key number `n`.
    pub(crate) fn key(&self, n: u64) -> Vec<u8> {
        key_bytes(n, self.key_size)
    }
}

/// Key number `n` as `size` bytes: zeros with `n`'s Go varint at the front,
/// truncated if it does not fit (the command line refuses such sizes).
pub(crate) fn key_bytes(n: u64, size: usize) -> Vec<u8> {
    let mut key = vec![0u8; size];
    let mut ux = zigzag(n);
    for byte in key.iter_mut() {
        if ux < 0x80 {
            *byte = ux as u8;
            break;
        }
        *byte = (ux as u8) | 0x80;
        ux >>= 7;
    }
    key
}

/// How many bytes Go's `binary.PutVarint` writes for `n`.
pub(crate) fn varint_len(n: u64) -> usize {
    let mut ux = zigzag(n);
    let mut len = 1;
    while ux >= 0x80 {
        ux >>= 7;
        len += 1;
    }
    len
}

/// Zig-zag of a non-negative number as Go's `PutVarint` does it; key
/// numbers are below `i64::MAX`, so the shift loses nothing we use.
fn zigzag(n: u64) -> u64 {
    n << 1
}

/// A random value of `size` bytes, as etcd's `mustRandBytes`.
pub(crate) fn random_value(size: usize, seed: u64) -> Vec<u8> {
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..size).map(|_| rng.random()).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_gos_put_varint_of_the_number() {
        // Go: binary.PutVarint(buf, 0) writes 0x00; 1 -> 0x02; 63 -> 0x7e;
        // 64 -> 0x80 0x01; 300 -> 0xd8 0x04.
        assert_eq!(key_bytes(0, 4), vec![0, 0, 0, 0]);
        assert_eq!(key_bytes(1, 4), vec![2, 0, 0, 0]);
        assert_eq!(key_bytes(63, 2), vec![0x7e, 0]);
        assert_eq!(key_bytes(64, 3), vec![0x80, 0x01, 0]);
        assert_eq!(key_bytes(300, 2), vec![0xd8, 0x04]);
        assert_eq!((varint_len(63), varint_len(64), varint_len(300)), (1, 2, 2));
    }

    #[test]
    fn sequential_numbers_wrap_around_the_key_space() {
        let mut c = KeyChooser::new(8, 3, true, 0);
        let got: Vec<u64> = (0..7).map(|s| c.number(s)).collect();
        assert_eq!(got, vec![0, 1, 2, 0, 1, 2, 0]);
    }

    #[test]
    fn random_numbers_stay_in_the_key_space_and_repeat_with_the_seed() {
        let mut a = KeyChooser::new(8, 10, false, 42);
        let mut b = KeyChooser::new(8, 10, false, 42);
        let xs: Vec<u64> = (0..200).map(|s| a.number(s)).collect();
        let ys: Vec<u64> = (0..200).map(|s| b.number(s)).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().all(|&n| n < 10));
        assert!(xs.iter().any(|&n| n != xs[0]), "random keys vary");
    }

    #[test]
    fn txn_keys_are_distinct() {
        let mut c = KeyChooser::new(8, 5, false, 7);
        for seq in 0..50 {
            let mut ns: Vec<u64> = c.distinct(seq, 5).collect();
            ns.sort_unstable();
            assert_eq!(ns, vec![0, 1, 2, 3, 4]);
        }
    }

    #[test]
    fn values_have_the_size_asked() {
        assert_eq!(random_value(256, 1).len(), 256);
        assert!(random_value(0, 1).is_empty());
    }
}
