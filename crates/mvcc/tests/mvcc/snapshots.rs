//! Point-in-time copies: the snapshot stream, its restore, and checkpoints.

use mvcc::*;

use crate::common::*;

fn filled() -> Harness {
    let mut h = Harness::new();
    h.ok(WriteOp::LeaseGrant(LeaseGrantRequest {
        id: 3,
        ttl_seconds: 30,
    }));
    for i in 0..40 {
        h.ok(WriteOp::Put(PutRequest {
            lease: i % 2 * 3,
            ..put_req(format!("k{}", i % 9).as_bytes(), b"v")
        }));
    }
    h.ok(WriteOp::Compact(CompactionRequest {
        revision: 20,
        physical: false,
    }));
    h
}

fn assert_same(a: &Store, b: &Store) {
    assert_eq!(a.applied_index(), b.applied_index());
    assert_eq!(a.current_revision(), b.current_revision());
    assert_eq!(a.compacted_revision(), b.compacted_revision());
    assert_eq!(a.leases(), b.leases());
    let all = RangeRequest {
        key: vec![0],
        range_end: vec![0],
        ..Default::default()
    };
    assert_eq!(a.range(&all).unwrap(), b.range(&all).unwrap());
    assert_eq!(a.hash_kv(0).unwrap(), b.hash_kv(0).unwrap());
}

#[test]
fn a_snapshot_stream_restores_the_same_store() {
    let h = filled();
    let mut bytes = Vec::new();
    let written = h.store().write_snapshot(&mut bytes).unwrap();
    assert_eq!(written, bytes.len() as u64);
    assert!(bytes.starts_with(SNAPSHOT_MAGIC));
    let target = tempfile::tempdir().unwrap();
    let restored = Store::restore(
        &target.path().join("db"),
        &mut bytes.as_slice(),
        StoreOptions::default(),
    )
    .unwrap();
    assert_same(h.store(), &restored);
}

#[test]
fn a_damaged_snapshot_is_refused() {
    let h = filled();
    let mut bytes = Vec::new();
    h.store().write_snapshot(&mut bytes).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    let target = tempfile::tempdir().unwrap();
    let err = Store::restore(
        &target.path().join("db"),
        &mut bytes.as_slice(),
        StoreOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::BadSnapshot(_)), "{err}");
    bytes.truncate(middle);
    let err = Store::restore(
        &target.path().join("db2"),
        &mut bytes.as_slice(),
        StoreOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::BadSnapshot(_)), "{err}");
}

#[test]
fn a_checkpoint_opens_as_the_same_store() {
    let h = filled();
    let target = tempfile::tempdir().unwrap();
    let path = target.path().join("checkpoint");
    h.store().checkpoint(&path).unwrap();
    let copy = open(&path);
    assert_same(h.store(), &copy);
}

#[test]
fn a_snapshot_stream_is_taken_when_asked_for() {
    let mut h = filled();
    let mut stream = h.store().snapshot_stream().unwrap();
    assert_eq!(stream.applied_index, h.index);
    h.ok(put(b"after", b"the snapshot"));
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut stream, &mut bytes).unwrap();
    let target = tempfile::tempdir().unwrap();
    let restored = Store::restore(
        &target.path().join("db"),
        &mut bytes.as_slice(),
        StoreOptions::default(),
    )
    .unwrap();
    assert_eq!(restored.applied_index(), h.index - 1);
    assert!(restored.range(&get(b"after")).unwrap().kvs.is_empty());
}
