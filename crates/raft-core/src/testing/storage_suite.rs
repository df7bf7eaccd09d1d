//! The conformance suite every [`Storage`] implementation must pass.

use bytes::Bytes;

use crate::ConfState;
use crate::Entry;
use crate::HardState;
use crate::Snapshot;
use crate::SnapshotMetadata;
use crate::Storage;
use crate::StorageError;

/// What a storage under test must hold: the snapshot installed, then the entries
/// appended, then the hard state recorded.
#[derive(Debug, Clone, Default)]
pub struct StorageFixture {
    /// The newest snapshot (empty for a fresh log).
    pub snapshot: Snapshot,
    /// Entries following the snapshot, consecutive.
    pub entries: Vec<Entry>,
    /// The hard state.
    pub hard_state: HardState,
}

fn entry(index: u64, term: u64, len: usize) -> Entry {
    Entry {
        index,
        term,
        data: Bytes::from(vec![b'x'; len]),
        ..Entry::default()
    }
}

fn fixtures() -> Vec<StorageFixture> {
    let conf = ConfState {
        voters: vec![1, 2, 3],
        learners: vec![4],
    };
    let empty = StorageFixture {
        snapshot: Snapshot {
            metadata: SnapshotMetadata {
                conf_state: conf.clone(),
                ..Default::default()
            },
            ..Default::default()
        },
        entries: Vec::new(),
        hard_state: HardState::default(),
    };
    let fresh = StorageFixture {
        entries: (1..=5)
            .map(|i| entry(i, 1 + i / 3, 10 * i as usize))
            .collect(),
        hard_state: HardState {
            term: 2,
            vote: 1,
            commit: 3,
        },
        ..empty.clone()
    };
    let compacted = StorageFixture {
        snapshot: Snapshot {
            metadata: SnapshotMetadata {
                conf_state: conf,
                index: 3,
                term: 2,
            },
            data: Bytes::from_static(b"state"),
        },
        entries: [(4, 2), (5, 3), (6, 3), (7, 4), (8, 4)]
            .iter()
            .map(|&(i, t)| entry(i, t, 100))
            .collect(),
        hard_state: HardState {
            term: 4,
            vote: 2,
            commit: 6,
        },
    };
    vec![empty, fresh, compacted]
}

/// Runs the suite: `build` must return a storage holding exactly the fixture. Panics,
/// naming the broken rule, when the storage does not keep the [`Storage`] contract.
pub fn storage_suite<S: Storage, F: FnMut(&StorageFixture) -> S>(mut build: F) {
    for fx in fixtures() {
        let s = build(&fx);
        check_initial_state(&s, &fx);
        check_bounds_and_terms(&s, &fx);
        check_entries(&s, &fx);
        check_snapshot(&s, &fx);
    }
}

fn check_initial_state<S: Storage>(s: &S, fx: &StorageFixture) {
    let st = s.initial_state().unwrap_or_default();
    assert_eq!(st.hard_state, fx.hard_state, "initial_state: hard state");
    assert_eq!(
        st.conf_state, fx.snapshot.metadata.conf_state,
        "initial_state: conf state"
    );
}

fn check_bounds_and_terms<S: Storage>(s: &S, fx: &StorageFixture) {
    let snap = &fx.snapshot.metadata;
    let first = snap.index + 1;
    let last = snap.index + fx.entries.len() as u64;
    assert_eq!(
        s.first_index(),
        Ok(first),
        "first_index is the snapshot index + 1"
    );
    assert_eq!(s.last_index(), Ok(last), "last_index");
    assert_eq!(
        s.term(snap.index),
        Ok(snap.term),
        "term at first_index - 1 is the snapshot term"
    );
    for e in &fx.entries {
        assert_eq!(s.term(e.index), Ok(e.term), "term of entry {}", e.index);
    }
    if snap.index > 0 {
        assert_eq!(
            s.term(snap.index - 1),
            Err(StorageError::Compacted),
            "term below the snapshot"
        );
    }
    assert_eq!(
        s.term(last + 1),
        Err(StorageError::Unavailable),
        "term beyond the last index"
    );
}

fn check_entries<S: Storage>(s: &S, fx: &StorageFixture) {
    let first = fx.snapshot.metadata.index + 1;
    let last = fx.snapshot.metadata.index + fx.entries.len() as u64;
    assert_eq!(
        s.entries(first, last + 1, None),
        Ok(fx.entries.clone()),
        "all entries"
    );
    assert_eq!(
        s.entries(last + 1, last + 1, None),
        Ok(vec![]),
        "empty range at the end"
    );
    assert_eq!(
        s.entries(first - 1, last + 1, None),
        Err(StorageError::Compacted),
        "entries below first_index"
    );
    assert_eq!(
        s.entries(first, last + 2, None),
        Err(StorageError::Unavailable),
        "entries beyond last_index"
    );
    let Some(one) = fx.entries.first() else {
        return;
    };
    assert_eq!(
        s.entries(first, last + 1, Some(0)),
        Ok(vec![one.clone()]),
        "a size limit still returns one entry"
    );
    let two: u64 = fx.entries.iter().take(2).map(Entry::size_bytes).sum();
    let got = s.entries(first, last + 1, Some(two)).unwrap_or_default();
    assert_eq!(
        got.as_slice(),
        fx.entries
            .get(..2.min(fx.entries.len()))
            .unwrap_or_default(),
        "size limit is inclusive"
    );
    if fx.entries.len() > 2 {
        let mid = s.entries(first + 1, first + 2, None).unwrap_or_default();
        assert_eq!(
            mid.as_slice(),
            fx.entries.get(1..2).unwrap_or_default(),
            "a middle range"
        );
    }
}

fn check_snapshot<S: Storage>(s: &S, fx: &StorageFixture) {
    let snap = s.snapshot(0);
    let Ok(snap) = snap else {
        return assert_eq!(snap, Err(StorageError::SnapshotTemporarilyUnavailable));
    };
    let first = s.first_index().unwrap_or(1);
    assert!(
        snap.metadata.index >= first - 1,
        "snapshot index below first_index - 1"
    );
    assert_eq!(
        s.term(snap.metadata.index),
        Ok(snap.metadata.term),
        "snapshot term matches the log"
    );
    if !fx.snapshot.is_empty() {
        assert_eq!(snap.metadata, fx.snapshot.metadata, "snapshot metadata");
        assert_eq!(snap.data, fx.snapshot.data, "snapshot data");
    }
}
