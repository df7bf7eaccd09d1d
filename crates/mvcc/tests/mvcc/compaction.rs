//! Compaction under concurrent reads and writes, and its effect on `hash_kv`.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;

use mvcc::*;
use rand::Rng;
use rand::SeedableRng;
use rand::rngs::SmallRng;

use crate::common::*;

const KEYS: usize = 50;
const ROUNDS: i64 = 300;

/// One txn that sets every key to `round`: any consistent read sees one value everywhere.
fn round_txn(round: i64) -> WriteOp {
    let success = (0..KEYS)
        .map(|k| {
            RequestOp::Put(put_req(
                format!("key{k:03}").as_bytes(),
                round.to_string().as_bytes(),
            ))
        })
        .collect();
    WriteOp::Txn(TxnRequest {
        success,
        ..Default::default()
    })
}

fn check_consistent(resp: &RangeResponse, revision: i64) {
    assert_eq!(resp.count, KEYS as i64, "at revision {revision}");
    let first = &resp.kvs[0];
    for kv in &resp.kvs {
        assert_eq!(
            (&kv.value, kv.mod_revision),
            (&first.value, first.mod_revision)
        );
    }
    assert_eq!(
        first.mod_revision, revision,
        "round r is written at revision r + 1"
    );
}

#[test]
fn compaction_runs_under_concurrent_reads_and_writes() {
    let seed = seed("compaction_runs_under_concurrent_reads_and_writes");
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        compaction_batch_keys: 7,
        ..StoreOptions::default()
    };
    let store = Arc::new(Store::open(dir.path(), opts).unwrap());
    store.apply(1, round_txn(1)).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2u64)
        .map(|i| {
            let (store, done) = (Arc::clone(&store), Arc::clone(&done));
            std::thread::spawn(move || {
                let mut rng = SmallRng::seed_from_u64(seed + i);
                let mut served = 0u64;
                while !done.load(Ordering::Acquire) {
                    let low = store.compacted_revision().max(2);
                    let high = store.current_revision();
                    let revision = rng.random_range(low..=high);
                    let req = RangeRequest {
                        key: vec![0],
                        range_end: vec![0],
                        revision,
                        ..Default::default()
                    };
                    match store.range(&req) {
                        Ok(resp) => {
                            check_consistent(&resp, revision);
                            served += 1;
                        }
                        Err(Error::Compacted) => {}
                        Err(e) => panic!("read at {revision}: {e}"),
                    }
                }
                served
            })
        })
        .collect();
    let mut index = 1;
    for round in 2..=ROUNDS {
        index += 1;
        store.apply(index, round_txn(round)).unwrap();
        if round % 20 == 0 {
            index += 1;
            let op = WriteOp::Compact(CompactionRequest {
                revision: round - 5,
                physical: false,
            });
            store.apply(index, op).unwrap().unwrap().response.unwrap();
        }
    }
    done.store(true, Ordering::Release);
    for reader in readers {
        assert!(reader.join().unwrap() > 0, "every reader got answers");
    }
    let hash_before = store.hash_kv(0).unwrap();
    store.wait_compaction(store.compacted_revision()).unwrap();
    assert_eq!(
        store.hash_kv(0).unwrap(),
        hash_before,
        "physical removal does not change the hash"
    );
    // Only the versions since the compaction remain.
    assert_eq!(store.indexed_key_count(), KEYS);
    let resp = store
        .range(&RangeRequest {
            key: vec![0],
            range_end: vec![0],
            ..Default::default()
        })
        .unwrap();
    check_consistent(&resp, ROUNDS + 1);
}

#[test]
fn equal_histories_hash_equally_whatever_the_compactor_did() {
    let ops: Vec<WriteOp> = (1..=30)
        .map(|i| put(format!("k{}", i % 7).as_bytes(), format!("v{i}").as_bytes()))
        .chain([
            delete(b"k3", b""),
            WriteOp::Compact(CompactionRequest {
                revision: 25,
                physical: false,
            }),
        ])
        .collect();
    let mut a = Harness::new();
    let mut b = Harness::new();
    for op in &ops {
        a.apply(op.clone());
        b.apply(op.clone());
    }
    a.store().wait_compaction(25).unwrap();
    b.reopen();
    assert_eq!(a.store().hash_kv(0).unwrap(), b.store().hash_kv(0).unwrap());
    assert_eq!(
        a.store().hash_kv(28).unwrap(),
        b.store().hash_kv(28).unwrap()
    );
    let (_, compacted, revision) = a.store().hash_kv(0).unwrap();
    assert_eq!((compacted, revision), (25, 32));
    let mut c = Harness::new();
    for op in ops.iter().take(10) {
        c.apply(op.clone());
    }
    assert_ne!(
        c.store().hash_kv(0).unwrap().0,
        a.store().hash_kv(0).unwrap().0
    );
}

#[test]
fn an_interrupted_compaction_resumes_after_reopen() {
    let mut h = Harness::new();
    for i in 0..200 {
        h.ok(put(format!("k{}", i % 50).as_bytes(), b"v"));
    }
    h.ok(WriteOp::Compact(CompactionRequest {
        revision: 150,
        physical: false,
    }));
    // Close at once: the compactor may or may not have finished.
    h.reopen();
    assert_eq!(h.store().compacted_revision(), 150);
    h.store().wait_compaction(150).unwrap();
    assert_eq!(h.store().indexed_key_count(), 50);
    let events = h.store().events_since(150, &[0], &[0], 0).unwrap();
    assert_eq!(events.len(), 52, "revisions 150..=201 each hold one put");
}

#[test]
fn the_feed_at_the_compacted_revision_shows_each_key_once_whatever_the_compactor_did() {
    let mut h = Harness::new();
    // Revision 2: a put of `a` then a delete of every key from `a` (etcd accepts this txn:
    // the delete's interval [a, "\0") is empty for its duplicate check).
    let txn = WriteOp::Txn(TxnRequest {
        success: vec![
            RequestOp::Put(put_req(b"a", b"1")),
            RequestOp::DeleteRange(DeleteRangeRequest {
                key: b"a".to_vec(),
                range_end: vec![0],
                prev_kv: false,
            }),
        ],
        ..Default::default()
    });
    h.ok(txn);
    let before = h.store().events_since(2, b"a", &[], 0).unwrap();
    let kinds: Vec<EventType> = before.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventType::Put, EventType::Delete], "uncompacted");
    h.ok(put(b"b", b"2"));
    h.ok(WriteOp::Compact(CompactionRequest {
        revision: 2,
        physical: false,
    }));
    // Before and after the compactor removed the superseded put, the feed is the same.
    let early = h.store().events_since(2, &[0], &[0], 0).unwrap();
    h.store().wait_compaction(2).unwrap();
    let late = h.store().events_since(2, &[0], &[0], 0).unwrap();
    assert_eq!(early, late);
    let got: Vec<(EventType, &[u8], i64)> = late
        .iter()
        .map(|e| (e.kind, e.kv.key.as_slice(), e.kv.mod_revision))
        .collect();
    assert_eq!(
        got,
        [
            (EventType::Delete, &b"a"[..], 2),
            (EventType::Put, &b"b"[..], 3)
        ]
    );
}

#[test]
fn the_current_revision_survives_reopen_after_deletes_and_compaction() {
    let mut h = Harness::new();
    h.ok(put(b"a", b"1"));
    h.ok(put(b"b", b"1"));
    h.ok(delete(b"a", b""));
    h.ok(delete(b"b", b""));
    let current = h.store().current_revision();
    assert_eq!(current, 5);
    h.reopen();
    assert_eq!(h.store().current_revision(), current);
    // Compaction at the current revision removes every put and the older tombstone;
    // the newest delete stays (as in etcd), and with it the current revision.
    h.ok(WriteOp::Compact(CompactionRequest {
        revision: current,
        physical: true,
    }));
    h.store().wait_compaction(current).unwrap();
    assert!(h.all(0).kvs.is_empty());
    h.reopen();
    assert_eq!(h.store().current_revision(), current);
    assert_eq!(h.apply(put(b"c", b"1")).revision, current + 1);
    h.reopen();
    assert_eq!(h.store().current_revision(), current + 1);
}
