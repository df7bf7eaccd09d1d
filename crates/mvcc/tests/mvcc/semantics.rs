//! etcd's semantics, case by case: revisions, versions, txns, leases, the watch feed.

use mvcc::*;

use crate::common::*;

#[test]
fn an_empty_store_is_at_revision_one_and_puts_count_versions() {
    let mut h = Harness::new();
    assert_eq!(h.store().current_revision(), 1);
    assert_eq!(h.store().compacted_revision(), -1);
    h.ok(put(b"k", b"1"));
    h.ok(put(b"k", b"2"));
    let kv = h.get(b"k").unwrap();
    assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (2, 3, 2));
    h.ok(delete(b"k", b""));
    h.ok(put(b"k", b"3"));
    let kv = h.get(b"k").unwrap();
    assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (5, 5, 1));
    assert_eq!(h.all(3).kvs[0].value, b"2");
    assert!(h.all(4).kvs.is_empty());
}

#[test]
fn a_delete_of_nothing_and_a_read_only_txn_take_no_revision() {
    let mut h = Harness::new();
    let applied = h.apply(delete(b"missing", b""));
    assert_eq!(applied.revision, 1);
    assert!(applied.events.is_empty());
    let txn = TxnRequest {
        success: vec![RequestOp::Range(get(b"a"))],
        ..Default::default()
    };
    let applied = h.apply(WriteOp::Txn(txn));
    assert_eq!(applied.revision, 1);
    assert_eq!(h.store().applied_index(), 2);
}

#[test]
fn a_txn_writes_at_one_revision_with_sub_revisions_and_sees_its_own_writes() {
    let mut h = Harness::new();
    h.ok(put(b"a", b"old"));
    let txn = TxnRequest {
        compare: vec![Compare {
            key: b"a".to_vec(),
            target: CompareTarget::Value,
            target_union: Some(TargetUnion::Value(b"old".to_vec())),
            ..Default::default()
        }],
        success: vec![
            RequestOp::Put(put_req(b"b", b"1")),
            RequestOp::Range(RangeRequest {
                key: b"a".to_vec(),
                range_end: b"z".to_vec(),
                ..Default::default()
            }),
            RequestOp::Put(put_req(b"c", b"2")),
        ],
        failure: vec![],
    };
    let applied = h.apply(WriteOp::Txn(txn));
    let Ok(WriteResponse::Txn(resp)) = applied.response else {
        panic!("txn failed")
    };
    assert!(resp.succeeded);
    assert_eq!(resp.revision, 3);
    let ResponseOp::Range(inner) = &resp.responses[1] else {
        panic!("not a range")
    };
    assert_eq!(inner.count, 2, "the range sees the txn's first put");
    assert_eq!(inner.revision, 3);
    assert_eq!(applied.events.len(), 2);
    assert!(applied.events.iter().all(|e| e.kv.mod_revision == 3));
}

#[test]
fn nested_compares_are_evaluated_before_the_outer_writes() {
    let mut h = Harness::new();
    let nested = TxnRequest {
        // Sees the state before the txn: "a" does not exist yet.
        compare: vec![Compare {
            key: b"a".to_vec(),
            target: CompareTarget::Version,
            ..Default::default()
        }],
        success: vec![RequestOp::Put(put_req(b"b", b"then"))],
        failure: vec![RequestOp::Put(put_req(b"b", b"else"))],
    };
    let txn = TxnRequest {
        success: vec![RequestOp::Put(put_req(b"a", b"1")), RequestOp::Txn(nested)],
        ..Default::default()
    };
    h.ok(WriteOp::Txn(txn));
    assert_eq!(h.get(b"b").unwrap().value, b"then");
}

#[test]
fn range_counts_all_matches_and_sorts_like_etcd() {
    let mut h = Harness::new();
    for (k, v) in [(b"a", b"3"), (b"b", b"1"), (b"c", b"2")] {
        h.ok(put(k, v));
    }
    h.ok(put(b"b", b"9"));
    let req = RangeRequest {
        key: b"a".to_vec(),
        range_end: vec![0],
        limit: 2,
        sort_order: SortOrder::Descend,
        sort_target: SortTarget::Mod,
        ..Default::default()
    };
    let resp = h.store().range(&req).unwrap();
    assert_eq!(resp.count, 3);
    assert!(resp.more);
    let keys: Vec<&[u8]> = resp.kvs.iter().map(|kv| kv.key.as_slice()).collect();
    assert_eq!(keys, vec![b"b".as_slice(), b"c".as_slice()]);
    let req = RangeRequest {
        key: b"a".to_vec(),
        range_end: vec![0],
        count_only: true,
        ..Default::default()
    };
    let resp = h.store().range(&req).unwrap();
    assert_eq!((resp.count, resp.kvs.len(), resp.revision), (3, 0, 5));
}

#[test]
fn revoke_deletes_attached_keys_in_one_revision_and_leases_persist() {
    let mut h = Harness::new();
    h.ok(WriteOp::LeaseGrant(LeaseGrantRequest {
        id: 7,
        ttl_seconds: 60,
    }));
    for k in [b"x", b"y"] {
        h.ok(WriteOp::Put(PutRequest {
            lease: 7,
            ..put_req(k, b"v")
        }));
    }
    h.ok(WriteOp::Put(PutRequest {
        ignore_lease: true,
        ..put_req(b"y", b"w")
    }));
    h.ok(WriteOp::LeaseCheckpoint(LeaseCheckpointRequest {
        checkpoints: vec![LeaseCheckpoint {
            id: 7,
            remaining_ttl_seconds: 30,
        }],
    }));
    h.reopen();
    let lease = h.store().lease(7).unwrap();
    assert_eq!((lease.ttl_seconds, lease.remaining_ttl_seconds), (60, 30));
    assert_eq!(lease.keys, vec![b"x".to_vec(), b"y".to_vec()]);
    let before = h.store().current_revision();
    let applied = h.apply(WriteOp::LeaseRevoke(LeaseRevokeRequest { id: 7 }));
    assert_eq!(applied.revision, before + 1);
    assert_eq!(applied.events.len(), 2);
    assert!(applied.events.iter().all(|e| e.kind == EventType::Delete));
    assert!(h.store().lease(7).is_none());
    assert_eq!(h.all(0).count, 0);
}

#[test]
fn a_put_without_lease_detaches_the_key() {
    let mut h = Harness::new();
    h.ok(WriteOp::LeaseGrant(LeaseGrantRequest {
        id: 1,
        ttl_seconds: 10,
    }));
    h.ok(WriteOp::Put(PutRequest {
        lease: 1,
        ..put_req(b"k", b"v")
    }));
    h.ok(put(b"k", b"w"));
    assert!(h.store().lease(1).unwrap().keys.is_empty());
    h.ok(WriteOp::LeaseRevoke(LeaseRevokeRequest { id: 1 }));
    assert_eq!(h.get(b"k").unwrap().value, b"w");
}

#[test]
fn the_watch_feed_replays_events_with_prev_kv_without_splitting_revisions() {
    let mut h = Harness::new();
    h.ok(put(b"a", b"1"));
    let txn = TxnRequest {
        success: vec![
            RequestOp::Put(put_req(b"a", b"2")),
            RequestOp::Put(put_req(b"b", b"1")),
        ],
        ..Default::default()
    };
    h.ok(WriteOp::Txn(txn));
    h.ok(delete(b"a", b""));
    let events = h.store().events_since(2, &[0], &[0], 1).unwrap();
    assert_eq!(events.len(), 1, "revision 2 holds one event");
    let events = h.store().events_since(3, &[0], &[0], 1).unwrap();
    assert_eq!(events.len(), 2, "revision 3 is never split");
    assert_eq!(events[0].prev_kv.as_ref().unwrap().value, b"1");
    let events = h.store().events_since(3, b"a", b"", 0).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].kind, EventType::Delete);
    assert_eq!(
        events[1].kv,
        KeyValue {
            key: b"a".to_vec(),
            mod_revision: 4,
            ..Default::default()
        }
    );
    assert_eq!(events[1].prev_kv.as_ref().unwrap().value, b"2");
}

#[test]
fn replaying_an_applied_index_is_skipped() {
    let mut h = Harness::new();
    h.ok(put(b"a", b"1"));
    assert!(h.store().apply(1, put(b"a", b"again")).unwrap().is_none());
    h.store().apply_noop(2).unwrap();
    assert_eq!(h.store().applied_index(), 2);
    h.reopen();
    assert_eq!(h.store().applied_index(), 2);
    assert_eq!(h.get(b"a").unwrap().value, b"1");
}

#[test]
fn request_errors_consume_the_index() {
    let mut h = Harness::new();
    let e = h.err(WriteOp::Put(PutRequest {
        lease: 9,
        ..put_req(b"k", b"v")
    }));
    assert_eq!(e.kind, AppliedErrorKind::LeaseNotFound);
    assert_eq!(h.store().applied_index(), 1);
    assert_eq!(h.store().current_revision(), 1);
}

#[test]
fn no_space_is_reported_once_the_quota_is_passed() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        quota_bytes: 64 * 1024,
        ..StoreOptions::default()
    };
    let store = Store::open(dir.path(), opts).unwrap();
    let value = vec![b'v'; 1024];
    let first = store.apply(1, put(b"k0", &value)).unwrap().unwrap();
    assert!(!first.no_space, "an empty store is under its quota");
    let mut last = first;
    for index in 2..=200 {
        last = store
            .apply(index, put(format!("k{index}").as_bytes(), &value))
            .unwrap()
            .unwrap();
    }
    assert!(
        last.no_space,
        "200 KiB written, size {} over a 64 KiB quota",
        store.size_bytes()
    );
    assert!(
        last.response.is_ok(),
        "the write itself is applied, as in etcd"
    );
    let applied = store.apply(201, delete(b"k0", b"")).unwrap().unwrap();
    assert!(!applied.no_space, "deletes are never refused");
}

#[test]
fn grants_below_the_minimum_ttl_are_raised_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        min_lease_ttl_seconds: 3,
        ..StoreOptions::default()
    };
    let store = Store::open(dir.path(), opts).unwrap();
    let op = WriteOp::LeaseGrant(LeaseGrantRequest {
        id: 1,
        ttl_seconds: 1,
    });
    let applied = store.apply(1, op).unwrap().unwrap();
    let Ok(WriteResponse::LeaseGrant(resp)) = applied.response else {
        panic!("grant failed")
    };
    assert_eq!(resp.ttl_seconds, 3);
    assert_eq!(store.lease(1).unwrap().ttl_seconds, 3);
}

#[test]
fn a_read_only_txn_is_served_without_an_index() {
    let mut h = Harness::new();
    h.ok(put(b"a", b"1"));
    let read = TxnRequest {
        compare: vec![Compare {
            key: b"a".to_vec(),
            target: CompareTarget::Version,
            ..Default::default()
        }],
        success: vec![],
        failure: vec![RequestOp::Range(get(b"a"))],
    };
    assert!(is_read_only(&read));
    let resp = h.store().txn_read_only(&read).unwrap();
    assert!(!resp.succeeded, "a exists, so its version is not 0");
    assert_eq!(resp.revision, 2);
    let ResponseOp::Range(range) = &resp.responses[0] else {
        panic!("not a range")
    };
    assert_eq!(range.kvs[0].value, b"1");
    assert_eq!(h.store().applied_index(), 1);
    let write = TxnRequest {
        success: vec![RequestOp::Put(put_req(b"b", b"2"))],
        ..Default::default()
    };
    assert!(matches!(
        h.store().txn_read_only(&write),
        Err(Error::NotReadOnly)
    ));
}
