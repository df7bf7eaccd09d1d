//! Durable throughput: raw `pwrite` + `fdatasync` on the disk against the log's
//! durable entries per second for 256-byte entries at batch sizes 1, 16 and 256.
//!
//! Run with `cargo bench -p wal --bench wal`. The files go in `WAL_BENCH_DIR`
//! (default: the system temp dir), which must be on the disk being measured.
//!
//! Before criterion's sequential benchmarks, `paired` interleaves one raw write,
//! and one save of each batch size, round after round, and reports the medians:
//! on a disk shared with other work, fsync latency drifts by several times within
//! a minute, and only measurements taken side by side give an honest ratio.

#![allow(clippy::unwrap_used)]

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::time::Duration;
use std::time::Instant;

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
    for batch in BATCHES {
        let dir = tempfile::tempdir_in(bench_dir()).unwrap();
        let mut saver = Saver::new(dir.path());
        group.throughput(Throughput::Elements(batch));
        group.bench_with_input(
            BenchmarkId::new("wal_save_entries", batch),
            &batch,
            |b, &batch| {
                b.iter(|| saver.save(batch));
            },
        );
    }
    group.finish();
}

const PAIRED_ROUNDS: usize = 300;
const BATCHES: [u64; 3] = [1, 16, 256];

/// A log that saves batches of 256-byte entries.
struct Saver {
    log: Wal,
    template: Entry,
    next: u64,
}

impl Saver {
    fn new(dir: &std::path::Path) -> Saver {
        let log = Wal::create(dir, b"bench", WalOptions::default()).unwrap();
        let template = Entry {
            term: 1,
            data: vec![5u8; ENTRY_BYTES].into(),
            ..Entry::default()
        };
        Saver {
            log,
            template,
            next: 1,
        }
    }

    fn save(&mut self, batch: u64) {
        let entries: Vec<Entry> = (self.next..self.next + batch)
            .map(|index| Entry {
                index,
                ..self.template.clone()
            })
            .collect();
        self.log
            .save(
                &HardState {
                    term: 1,
                    vote: 1,
                    commit: self.next - 1,
                },
                &entries,
            )
            .unwrap();
        self.next += batch;
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn paired() {
    let dir = tempfile::tempdir_in(bench_dir()).unwrap();
    let raw = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.path().join("raw"))
        .unwrap();
    raw.set_len(FILE_BYTES).unwrap();
    raw.sync_all().unwrap();
    let buf = vec![7u8; RAW_WRITE_BYTES];
    let mut savers: Vec<Saver> = BATCHES
        .iter()
        .map(|b| Saver::new(&dir.path().join(format!("wal-{b}"))))
        .collect();
    let mut raw_samples = Vec::new();
    let mut save_samples = vec![Vec::new(); BATCHES.len()];
    for round in 0..PAIRED_ROUNDS {
        let start = Instant::now();
        raw.write_all_at(&buf, (round * RAW_WRITE_BYTES) as u64)
            .unwrap();
        raw.sync_data().unwrap();
        raw_samples.push(start.elapsed());
        for ((saver, batch), samples) in savers.iter_mut().zip(BATCHES).zip(&mut save_samples) {
            let start = Instant::now();
            saver.save(batch);
            samples.push(start.elapsed());
        }
    }
    let raw_ops_per_s = 1.0 / median(raw_samples).as_secs_f64();
    println!("paired medians over {PAIRED_ROUNDS} interleaved rounds:");
    println!("  raw write+fdatasync       {raw_ops_per_s:>10.0} ops/s");
    let mut batch1 = 0.0;
    for (batch, samples) in BATCHES.iter().zip(save_samples) {
        let entries_per_s = *batch as f64 / median(samples).as_secs_f64();
        if *batch == 1 {
            batch1 = entries_per_s;
        }
        println!(
            "  wal save, batch {batch:>3}      {entries_per_s:>10.0} entries/s  ({:.2}x raw ops/s, {:.1}x batch 1)",
            entries_per_s / raw_ops_per_s,
            entries_per_s / batch1
        );
    }
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
}

criterion_group! { name = benches; config = config(); targets = raw, wal_save }
criterion_main!(paired, benches);
