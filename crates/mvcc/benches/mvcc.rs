//! mvcc benchmark: puts (one per batch and batched), point and range reads on a loaded
//! store, compaction, and resident memory.
//!
//! Sizes come from the environment so a quick run is possible:
//! `MVCC_BENCH_KEYS` (default 1,000,000), `MVCC_BENCH_VERSIONS` (5),
//! `MVCC_BENCH_VALUE_BYTES` (256); keys are 64 bytes, as in etcd's published figure.
//! Run: `cargo bench -p mvcc --bench mvcc` (quick: `MVCC_BENCH_KEYS=20000 cargo bench ...`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;
use std::time::Instant;

use criterion::Criterion;
use criterion::Throughput;
use mvcc::*;
use rand::Rng;
use rand::SeedableRng;
use rand::rngs::SmallRng;

/// Puts per txn while loading.
const LOAD_BATCH: usize = 1000;
/// Puts per txn in the batched-put benchmark.
const PUT_BATCH: usize = 100;

struct Sizes {
    keys: usize,
    versions: usize,
    value_bytes: usize,
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn key(i: usize) -> Vec<u8> {
    format!("{i:064}").into_bytes()
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

struct Bench {
    store: Option<Store>,
    index: u64,
    sizes: Sizes,
    value: Vec<u8>,
}

impl Bench {
    fn store(&self) -> &Store {
        self.store.as_ref().unwrap()
    }

    fn apply(&mut self, op: WriteOp) -> Applied {
        self.index += 1;
        let applied = self.store().apply(self.index, op).unwrap().unwrap();
        assert!(applied.response.is_ok(), "{:?}", applied.response);
        applied
    }

    fn txn_of_puts(&self, keys: impl Iterator<Item = usize>) -> WriteOp {
        let success = keys
            .map(|k| {
                RequestOp::Put(PutRequest {
                    key: key(k),
                    value: self.value.clone(),
                    ..Default::default()
                })
            })
            .collect();
        WriteOp::Txn(TxnRequest {
            success,
            ..Default::default()
        })
    }

    fn load(&mut self) {
        let (keys, versions) = (self.sizes.keys, self.sizes.versions);
        let start = Instant::now();
        for _ in 0..versions {
            for chunk in (0..keys).step_by(LOAD_BATCH) {
                let op = self.txn_of_puts(chunk..(chunk + LOAD_BATCH).min(keys));
                self.apply(op);
            }
        }
        let secs = start.elapsed().as_secs_f64();
        let puts = (keys * versions) as f64;
        println!(
            "load: {puts} puts in txns of {LOAD_BATCH} in {secs:.1} s = {:.0} puts/s",
            puts / secs
        );
    }
}

fn report_memory(bench: &Bench, when: &str) {
    let rss = rss_bytes();
    println!(
        "rss {when}: {:.0} MiB for {} keys x {} versions ({} B/key); db {:.0} MiB",
        rss as f64 / (1 << 20) as f64,
        bench.sizes.keys,
        bench.sizes.versions,
        rss / bench.sizes.keys.max(1) as u64,
        bench.store().size_bytes() as f64 / (1 << 20) as f64,
    );
}

fn throughput_benches(c: &mut Criterion, bench: &mut Bench) {
    let keys = bench.sizes.keys;
    let mut rng = SmallRng::seed_from_u64(7);
    let mut group = c.benchmark_group("mvcc");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Elements(1));
    group.bench_function("put_one_per_batch", |b| {
        b.iter(|| {
            let op = WriteOp::Put(PutRequest {
                key: key(rng.random_range(0..keys)),
                value: bench.value.clone(),
                ..Default::default()
            });
            black_box(bench.apply(op));
        })
    });
    group.bench_function("get_point", |b| {
        b.iter(|| {
            let req = RangeRequest {
                key: key(rng.random_range(0..keys)),
                ..Default::default()
            };
            black_box(bench.store().range(&req).unwrap());
        })
    });
    group.throughput(Throughput::Elements(100));
    group.bench_function("range_100_keys", |b| {
        b.iter(|| {
            let start = rng.random_range(0..keys.saturating_sub(100).max(1));
            let req = RangeRequest {
                key: key(start),
                range_end: vec![0],
                limit: 100,
                ..Default::default()
            };
            black_box(bench.store().range(&req).unwrap());
        })
    });
    group.throughput(Throughput::Elements(PUT_BATCH as u64));
    group.bench_function("put_batched_100", |b| {
        b.iter(|| {
            let first = rng.random_range(0..keys.saturating_sub(PUT_BATCH).max(1));
            let op = bench.txn_of_puts(first..(first + PUT_BATCH).min(keys));
            black_box(bench.apply(op));
        })
    });
    group.finish();
}

fn compaction(bench: &mut Bench) {
    let before = bench.store().indexed_key_count();
    let revision = bench.store().current_revision();
    let start = Instant::now();
    bench.apply(WriteOp::Compact(CompactionRequest {
        revision,
        physical: true,
    }));
    bench.store().wait_compaction(revision).unwrap();
    let secs = start.elapsed().as_secs_f64();
    let versions = bench.sizes.keys * (bench.sizes.versions.max(1) - 1);
    println!(
        "compaction at revision {revision}: {secs:.1} s for {before} keys, >= {versions} superseded versions removed ({:.0} versions/s)",
        versions as f64 / secs
    );
}

fn main() {
    let sizes = Sizes {
        keys: env("MVCC_BENCH_KEYS", 1_000_000),
        versions: env("MVCC_BENCH_VERSIONS", 5),
        value_bytes: env("MVCC_BENCH_VALUE_BYTES", 256),
    };
    let dir = tempfile::tempdir().unwrap();
    let rss_empty = rss_bytes();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let value = vec![b'v'; sizes.value_bytes];
    let mut bench = Bench {
        store: Some(store),
        index: 0,
        sizes,
        value,
    };
    println!(
        "rss at start: {:.0} MiB",
        rss_empty as f64 / (1 << 20) as f64
    );
    bench.load();
    report_memory(&bench, "after load");
    let start = Instant::now();
    let index = bench.index;
    drop(bench.store.take()); // RocksDB locks its directory: close before reopening.
    bench.store = Some(Store::open(dir.path(), StoreOptions::default()).unwrap());
    assert_eq!(bench.store().applied_index(), index);
    println!(
        "reopen (index rebuild): {:.1} s",
        start.elapsed().as_secs_f64()
    );
    report_memory(&bench, "after reopen");
    let mut c = Criterion::default().configure_from_args();
    throughput_benches(&mut c, &mut bench);
    compaction(&mut bench);
    report_memory(&bench, "after compaction");
    c.final_summary();
}
