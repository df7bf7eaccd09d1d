//! Commit throughput of a 3-node in-memory cluster, at proposal batch sizes 1 and 64.
//!
//! Each iteration proposes 128-byte entries at the leader and runs every node's driver
//! (persist to `MemStorage`, deliver, apply, advance) until all three applied them:
//! `batch/N` proposes N entries in one `propose_batch`, `separate/64` makes 64 `propose`
//! calls (one append message per entry).
//! Run with `cargo bench -p raft-core --bench commit`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;

use bytes::Bytes;
use criterion::BenchmarkId;
use criterion::Criterion;
use criterion::Throughput;
use criterion::criterion_group;
use criterion::criterion_main;
use raft_core::ConfState;
use raft_core::Config;
use raft_core::MemStorage;
use raft_core::Message;
use raft_core::RawNode;
use raft_core::Role;

/// Compact each log once this many entries were applied since the last compaction.
const COMPACT_EVERY: u64 = 4096;

struct Bench {
    nodes: Vec<RawNode<MemStorage>>,
    applied: Vec<u64>,
    queue: VecDeque<Message>,
}

impl Bench {
    fn new() -> Bench {
        let conf = ConfState {
            voters: vec![1, 2, 3],
            learners: vec![],
        };
        let nodes = (1..=3)
            .map(|id| {
                let config = Config {
                    id,
                    seed: id,
                    ..Config::default()
                };
                RawNode::new(&config, MemStorage::new_with_conf_state(conf.clone())).unwrap()
            })
            .collect();
        let mut b = Bench {
            nodes,
            applied: vec![0; 3],
            queue: VecDeque::new(),
        };
        b.nodes[0].campaign().unwrap();
        b.stabilize();
        assert_eq!(b.nodes[0].status().soft_state.role, Role::Leader);
        b
    }

    fn process(&mut self, i: usize) -> bool {
        let node = &mut self.nodes[i];
        if !node.has_ready() {
            return false;
        }
        let rd = node.ready();
        self.queue.extend(rd.messages.iter().cloned());
        if let Some(hs) = rd.hard_state {
            node.store_mut().set_hard_state(hs);
        }
        node.store_mut().append(&rd.entries).unwrap();
        self.queue.extend(rd.persisted_messages.iter().cloned());
        if let Some(last) = rd.committed_entries.last() {
            self.applied[i] = last.index;
        }
        node.advance(rd);
        true
    }

    fn stabilize(&mut self) {
        loop {
            let mut busy = false;
            for i in 0..3 {
                while self.process(i) {
                    busy = true;
                }
            }
            while let Some(m) = self.queue.pop_front() {
                busy = true;
                let to = m.to as usize - 1;
                self.nodes[to].step(m).unwrap();
            }
            if !busy {
                return;
            }
        }
    }

    fn compact(&mut self) {
        for (i, node) in self.nodes.iter_mut().enumerate() {
            let first = raft_core::Storage::first_index(node.store()).unwrap();
            if self.applied[i] >= first + COMPACT_EVERY {
                node.store_mut().compact(self.applied[i]).unwrap();
            }
        }
    }

    fn commit_batch(&mut self, batch: usize, payload: &Bytes, separate: bool) {
        let target = self.applied[0] + batch as u64;
        if separate {
            for _ in 0..batch {
                self.nodes[0].propose(payload.clone()).unwrap();
            }
        } else {
            self.nodes[0]
                .propose_batch(std::iter::repeat_n(payload.clone(), batch))
                .unwrap();
        }
        self.stabilize();
        assert!(
            self.applied.iter().all(|&a| a >= target),
            "the batch committed and applied everywhere"
        );
        self.compact();
    }
}

fn commit(c: &mut Criterion) {
    let payload = Bytes::from(vec![7u8; 128]);
    let mut group = c.benchmark_group("commit_3_nodes");
    for (name, batch, separate) in [
        ("batch", 1usize, false),
        ("batch", 64, false),
        ("separate", 64, true),
    ] {
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_with_input(BenchmarkId::new(name, batch), &batch, |b, &batch| {
            let mut bench = Bench::new();
            b.iter(|| bench.commit_batch(batch, &payload, separate));
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(4));
    targets = commit
}
criterion_main!(benches);
