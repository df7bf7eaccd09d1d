//! Helpers shared by the test modules.

use std::path::Path;
use std::sync::Arc;

use raft_core::Entry;
use raft_core::HardState;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use wal::FaultFs;
use wal::StdFs;
use wal::WalOptions;

/// Options with small segments on the real file system.
pub(crate) fn std_opts(segment_bytes: u64) -> WalOptions {
    WalOptions {
        segment_bytes,
        max_wals: 5,
        fs: Arc::new(StdFs),
    }
}

/// Options with small segments on `fs`.
pub(crate) fn fault_opts(fs: &FaultFs, segment_bytes: u64) -> WalOptions {
    WalOptions {
        segment_bytes,
        max_wals: 5,
        fs: Arc::new(fs.clone()),
    }
}

/// Entry `index` of term `term`; its data is derived from both, of a size that varies.
pub(crate) fn entry(term: u64, index: u64) -> Entry {
    let len = (index * 37 % 200) as usize;
    let data: Vec<u8> = (0..len)
        .map(|i| (index as usize + i * 7 + term as usize) as u8)
        .collect();
    Entry {
        term,
        index,
        data: data.into(),
        ..Entry::default()
    }
}

/// Entries `lo..=hi` of `term`.
pub(crate) fn entries(term: u64, lo: u64, hi: u64) -> Vec<Entry> {
    (lo..=hi).map(|i| entry(term, i)).collect()
}

/// A hard state committing `commit` in `term`.
pub(crate) fn state(term: u64, commit: u64) -> HardState {
    HardState {
        term,
        vote: 1,
        commit,
    }
}

/// A seeded generator; the seed comes from `WAL_TEST_SEED` or the clock, and is printed.
pub(crate) fn rng(test: &str) -> SmallRng {
    let seed = std::env::var("WAL_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    println!("{test}: seed {seed} (rerun with WAL_TEST_SEED={seed})");
    SmallRng::seed_from_u64(seed)
}

/// The segment file names in `dir`, sorted.
pub(crate) fn segment_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".wal"))
        .collect();
    names.sort();
    names
}
