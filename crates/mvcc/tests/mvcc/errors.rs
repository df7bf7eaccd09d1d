//! Error cases, with etcd's texts.

use mvcc::*;

use crate::common::*;

#[test]
fn errors_carry_etcds_texts() {
    assert_eq!(
        Error::Compacted.to_string(),
        "mvcc: required revision has been compacted"
    );
    assert_eq!(
        Error::FutureRevision.to_string(),
        "mvcc: required revision is a future revision"
    );
    assert_eq!(
        Error::DuplicateKey.to_string(),
        "etcdserver: duplicate key given in txn request"
    );
    assert_eq!(Error::NoSpace.to_string(), "mvcc: database space exceeded");
    assert_eq!(Error::LeaseNotFound.to_string(), "lease not found");
}

#[test]
fn reads_outside_the_served_revisions_fail() {
    let mut h = Harness::new();
    for v in [b"1", b"2", b"3"] {
        h.ok(put(b"k", v));
    }
    let at = |revision| RangeRequest {
        key: b"k".to_vec(),
        revision,
        ..Default::default()
    };
    assert!(matches!(
        h.store().range(&at(5)),
        Err(Error::FutureRevision)
    ));
    h.ok(WriteOp::Compact(CompactionRequest {
        revision: 3,
        physical: false,
    }));
    assert!(matches!(h.store().range(&at(2)), Err(Error::Compacted)));
    assert_eq!(
        h.store().range(&at(3)).unwrap().kvs[0].value,
        b"2",
        "the compacted revision is served"
    );
    let e = h.err(WriteOp::Compact(CompactionRequest {
        revision: 3,
        physical: false,
    }));
    assert_eq!(e.message, "mvcc: required revision has been compacted");
    let e = h.err(WriteOp::Compact(CompactionRequest {
        revision: 9,
        physical: false,
    }));
    assert_eq!(e.kind, AppliedErrorKind::FutureRevision);
    assert!(matches!(
        h.store().events_since(2, b"k", b"", 0),
        Err(Error::Compacted)
    ));
    assert!(matches!(h.store().hash_kv(2), Err(Error::Compacted)));
}

#[test]
fn put_flags_are_checked() {
    let mut h = Harness::new();
    let e = h.err(WriteOp::Put(PutRequest {
        ignore_value: true,
        ..put_req(b"k", b"")
    }));
    assert_eq!(e.message, "etcdserver: key not found");
    let e = h.err(WriteOp::Put(PutRequest {
        ignore_value: true,
        ..put_req(b"k", b"v")
    }));
    assert_eq!(e.message, "etcdserver: value is provided");
    let e = h.err(WriteOp::Put(PutRequest {
        ignore_lease: true,
        lease: 3,
        ..put_req(b"k", b"")
    }));
    assert_eq!(e.message, "etcdserver: lease is provided");
    let e = h.err(put(b"", b"v"));
    assert_eq!(e.message, "etcdserver: key is not provided");
}

#[test]
fn duplicate_keys_in_a_txn_are_refused_as_etcd_does() {
    let p = |k: &[u8]| RequestOp::Put(put_req(k, b"v"));
    let d = |k: &[u8], e: &[u8]| {
        RequestOp::DeleteRange(DeleteRangeRequest {
            key: k.to_vec(),
            range_end: e.to_vec(),
            prev_kv: false,
        })
    };
    let txn = |success: Vec<RequestOp>| TxnRequest {
        success,
        ..Default::default()
    };
    let nested = |success, failure| {
        RequestOp::Txn(TxnRequest {
            success,
            failure,
            ..Default::default()
        })
    };
    assert!(matches!(
        check_txn(&txn(vec![p(b"a"), p(b"a")]), 128),
        Err(Error::DuplicateKey)
    ));
    assert!(matches!(
        check_txn(&txn(vec![d(b"a", b"c"), p(b"b")]), 128),
        Err(Error::DuplicateKey)
    ));
    assert!(matches!(
        check_txn(&txn(vec![p(b"a"), nested(vec![p(b"a")], vec![])]), 128),
        Err(Error::DuplicateKey)
    ));
    // The two branches of a nested txn are exclusive, and "\0" ends are taken literally.
    check_txn(&txn(vec![nested(vec![p(b"a")], vec![p(b"a")])]), 128).unwrap();
    check_txn(&txn(vec![d(b"a", b"\0"), p(b"b")]), 128).unwrap();
    // Success and failure are checked separately.
    check_txn(
        &TxnRequest {
            success: vec![p(b"a")],
            failure: vec![p(b"a")],
            ..Default::default()
        },
        128,
    )
    .unwrap();
    let many = txn((0..3).map(|i| p(&[b'a' + i])).collect());
    assert!(matches!(check_txn(&many, 2), Err(Error::TooManyOps)));
    let mut h = Harness::new();
    let e = h.err(WriteOp::Txn(txn(vec![p(b"a"), p(b"a")])));
    assert_eq!(e.message, "etcdserver: duplicate key given in txn request");
}

#[test]
fn lease_grant_errors() {
    let mut h = Harness::new();
    h.ok(WriteOp::LeaseGrant(LeaseGrantRequest {
        id: 5,
        ttl_seconds: 10,
    }));
    let e = h.err(WriteOp::LeaseGrant(LeaseGrantRequest {
        id: 5,
        ttl_seconds: 10,
    }));
    assert_eq!(e.message, "lease already exists");
    let e = h.err(WriteOp::LeaseGrant(LeaseGrantRequest {
        id: 6,
        ttl_seconds: MAX_LEASE_TTL_SECONDS + 1,
    }));
    assert_eq!(e.kind, AppliedErrorKind::LeaseTtlTooLarge);
    let e = h.err(WriteOp::LeaseRevoke(LeaseRevokeRequest { id: 6 }));
    assert_eq!(e.message, "lease not found");
}

#[test]
fn corrupt_storage_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("CURRENT"), b"garbage\n").unwrap();
    assert!(Store::open(dir.path(), StoreOptions::default()).is_err());
    let mut garbage: &[u8] = b"not a snapshot at all";
    let target = tempfile::tempdir().unwrap();
    let err = Store::restore(
        &target.path().join("db"),
        &mut garbage,
        StoreOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::BadSnapshot(_)), "{err}");
}
