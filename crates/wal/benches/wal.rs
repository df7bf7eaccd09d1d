//! Durable throughput: raw `pwrite` + `fdatasync` on the disk against the log's
//! durable entries per second for 256-byte entries at batch sizes 1, 16 and 256.
//!
//! Run with `cargo bench -p wal --bench wal`. The files go in `WAL_BENCH_DIR`
//! (default: the system temp dir), which must be on the disk being measured.

#![allow(clippy::unwrap_used)]

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::time::Duration;

use criterion::BenchmarkId;
use criterion::Criterion;
use criterion::Throughput;
use criterion::criterion_group;
use criterion::criterion_main;
use raft_core::Entry;
use raft_core::HardState;
use wal::Wal;
use wal::WalOptions;

const ENTRY_BYTES: usize = 256;
/// About the frame a one-entry save of 256 bytes writes, so the raw writes compare.
const RAW_WRITE_BYTES: usize = 288;
const FILE_BYTES: u64 = 64 * 1024 * 1024;

fn bench_dir() -> PathBuf {
    std::env::var_os("WAL_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from)
}

fn raw(c: &mut Criterion) {
    let dir = tempfile::tempdir_in(bench_dir()).unwrap();
    let path = dir.path().join("raw");
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    file.set_len(FILE_BYTES).unwrap();
    file.sync_all().unwrap();
    let buf = vec![7u8; RAW_WRITE_BYTES];
    let mut offset = 0u64;
    let mut group = c.benchmark_group("durable");
    group.throughput(Throughput::Elements(1));
    group.bench_function("raw_write_fdatasync", |b| {
        b.iter(|| {
            if offset + RAW_WRITE_BYTES as u64 > FILE_BYTES {
                offset = 0;
            }
            file.write_all_at(&buf, offset).unwrap();
            file.sync_data().unwrap();
            offset += RAW_WRITE_BYTES as u64;
        });
    });
    group.finish();
}

fn wal_save(c: &mut Criterion) {
    let mut group = c.benchmark_group("durable");
    for batch in [1u64, 16, 256] {
        let dir = tempfile::tempdir_in(bench_dir()).unwrap();
        let mut log = Wal::create(dir.path(), b"bench", WalOptions::default()).unwrap();
        let template = Entry {
            term: 1,
            data: vec![5u8; ENTRY_BYTES].into(),
            ..Entry::default()
        };
        let mut next = 1u64;
        group.throughput(Throughput::Elements(batch));
        group.bench_with_input(
            BenchmarkId::new("wal_save_entries", batch),
            &batch,
            |b, &batch| {
                b.iter(|| {
                    let entries: Vec<Entry> = (next..next + batch)
                        .map(|index| Entry {
                            index,
                            ..template.clone()
                        })
                        .collect();
                    log.save(
                        &HardState {
                            term: 1,
                            vote: 1,
                            commit: next - 1,
                        },
                        &entries,
                    )
                    .unwrap();
                    next += batch;
                });
            },
        );
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
}

criterion_group! { name = benches; config = config(); targets = raw, wal_save }
criterion_main!(benches);
