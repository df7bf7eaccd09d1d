//! Scenario tests: one per behaviour, each driving a small in-memory cluster of RawNodes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod scenarios {
    pub(crate) mod election;
    pub(crate) mod membership;
    pub(crate) mod read_index;
    pub(crate) mod ready_contract;
    pub(crate) mod replication;
    pub(crate) mod simulator;
    pub(crate) mod snapshot;
    pub(crate) mod storage;
    pub(crate) mod transfer;
}

use raft_core::Config;
use raft_core::testing::cluster::Cluster;

/// A cluster of voters 1..=n configured by `tweak`.
pub(crate) fn cluster(n: u64, tweak: impl Fn(&mut Config)) -> Cluster {
    let ids: Vec<u64> = (1..=n).collect();
    Cluster::new(&ids, &[], |id| {
        let mut c = Config {
            id,
            seed: id,
            ..Config::default()
        };
        tweak(&mut c);
        c
    })
    .unwrap()
}

/// A cluster of `n` voters where node 1 has been elected and its no-op applied everywhere.
pub(crate) fn with_leader(n: u64, tweak: impl Fn(&mut Config)) -> Cluster {
    let mut c = cluster(n, tweak);
    c.campaign(1);
    assert_eq!(c.leader(), Some(1));
    c
}

/// Ticks the cluster until some node leads, at most `max_ticks`; returns it.
pub(crate) fn tick_until_leader(c: &mut Cluster, max_ticks: usize) -> u64 {
    for _ in 0..max_ticks {
        c.tick_all(1);
        if let Some(l) = c.leader() {
            return l;
        }
    }
    panic!("no leader within {max_ticks} ticks");
}

fn bytes(data: &[&str]) -> Vec<bytes::Bytes> {
    data.iter()
        .map(|d| bytes::Bytes::copy_from_slice(d.as_bytes()))
        .collect()
}
