//! Crash safety: a child process applying writes (and syncing now and then) is killed with
//! SIGKILL; after reopening, the consistent index is at least the last synced one, the
//! consistent index and the data agree, and re-applying from that index converges to the
//! same state as a store that never crashed.

use std::io::BufRead;
use std::io::BufReader;
use std::process::Command;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use mvcc::*;
use rand::Rng;
use rand::SeedableRng;
use rand::rngs::SmallRng;

use crate::common::*;

const DIR_ENV: &str = "MVCC_CRASH_DIR";
const SEED_ENV: &str = "MVCC_CRASH_SEED";
/// The child is killed once it reports this many applied entries.
const KILL_AFTER: u64 = 400;
/// The child syncs the store every this many applies.
const SYNC_EVERY: u64 = 150;

/// The deterministic entry at raft index `index`.
fn entry(seed: u64, index: u64) -> WriteOp {
    let mut rng = SmallRng::seed_from_u64(seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let key = format!("key{:02}", rng.random_range(0..40)).into_bytes();
    let lease = rng.random_range(0..3i64);
    match rng.random_range(0..10) {
        0 => delete(&key, b""),
        1 => WriteOp::LeaseGrant(LeaseGrantRequest {
            id: 1 + (index % 2) as i64,
            ttl_seconds: 60,
        }),
        2 if index.is_multiple_of(7) => WriteOp::LeaseRevoke(LeaseRevokeRequest {
            id: 1 + (index % 2) as i64,
        }),
        3 => WriteOp::Compact(CompactionRequest {
            revision: (index / 3) as i64,
            physical: false,
        }),
        4 => WriteOp::Txn(TxnRequest {
            compare: vec![Compare {
                key: key.clone(),
                ..Default::default()
            }],
            success: vec![
                RequestOp::Put(put_req(&key, b"created")),
                RequestOp::Put(put_req(b"log", &key)),
            ],
            failure: vec![RequestOp::DeleteRange(DeleteRangeRequest {
                key,
                ..Default::default()
            })],
        }),
        _ => WriteOp::Put(PutRequest {
            lease,
            ..put_req(&key, index.to_string().as_bytes())
        }),
    }
}

/// The child's body: applies entries from index 1 until killed, reporting each.
#[test]
#[ignore = "the child process of serial::killed_while_applying_recovers_to_the_consistent_index"]
fn crash_child() {
    let dir = std::env::var(DIR_ENV).expect("run by the crash test");
    let seed: u64 = std::env::var(SEED_ENV).unwrap().parse().unwrap();
    let store = Store::open(std::path::Path::new(&dir), StoreOptions::default()).unwrap();
    for index in 1.. {
        store.apply(index, entry(seed, index)).unwrap();
        if index % SYNC_EVERY == 0 {
            store.sync_to_disk().unwrap();
            println!("synced {index}");
        }
        println!("applied {index}");
    }
}

fn apply_range(store: &Store, seed: u64, indexes: std::ops::RangeInclusive<u64>) {
    for index in indexes {
        let before = store.applied_index();
        let applied = store.apply(index, entry(seed, index)).unwrap();
        assert_eq!(
            applied.is_some(),
            index > before,
            "index {index} after {before}"
        );
    }
}

fn assert_same(a: &Store, b: &Store) {
    assert_eq!(a.applied_index(), b.applied_index());
    assert_eq!(a.current_revision(), b.current_revision());
    assert_eq!(a.compacted_revision(), b.compacted_revision());
    let all = RangeRequest {
        key: vec![0],
        range_end: vec![0],
        ..Default::default()
    };
    assert_eq!(a.range(&all).unwrap(), b.range(&all).unwrap());
    assert_eq!(a.leases(), b.leases());
    assert_eq!(a.hash_kv(0).unwrap(), b.hash_kv(0).unwrap());
}

#[test]
fn killed_while_applying_recovers_to_the_consistent_index() {
    let seed = seed("killed_while_applying_recovers_to_the_consistent_index");
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "serial::crash_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DIR_ENV, dir.path())
        .env(SEED_ENV, seed.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            let report = match line.split_once(' ') {
                Some(("applied", n)) => n.parse::<u64>().ok().map(|n| (n, false)),
                Some(("synced", n)) => n.parse::<u64>().ok().map(|n| (n, true)),
                _ => None,
            };
            if let Some(r) = report
                && tx.send(r).is_err()
            {
                return;
            }
        }
    });
    let (mut reported, mut synced) = (0, 0);
    while reported < KILL_AFTER {
        let (n, is_sync) = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("the child reports progress");
        if is_sync {
            synced = n;
        } else {
            reported = n;
        }
    }
    child.kill().unwrap(); // SIGKILL, mid-stream: the child keeps applying until it lands.
    child.wait().unwrap();

    let crashed = open(dir.path());
    let applied = crashed.applied_index();
    // Unsynced applies may be lost (the raft log replays them), synced ones never.
    assert!(
        applied >= synced && synced >= SYNC_EVERY,
        "index {applied} behind the synced {synced}"
    );
    let reference_dir = tempfile::tempdir().unwrap();
    let reference = open(reference_dir.path());
    apply_range(&reference, seed, 1..=applied);
    assert_same(&crashed, &reference);
    // The raft log is replayed from an older index: nothing is applied twice.
    apply_range(
        &crashed,
        seed,
        applied.saturating_sub(50).max(1)..=applied + 100,
    );
    apply_range(&reference, seed, applied + 1..=applied + 100);
    assert_same(&crashed, &reference);
}
