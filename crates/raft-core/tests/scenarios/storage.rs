use raft_core::MemStorage;
use raft_core::testing::storage_suite;

#[test]
fn mem_storage_passes_the_storage_conformance_suite() {
    storage_suite(|fx| {
        let mut s = MemStorage::new_with_conf_state(fx.snapshot.metadata.conf_state.clone());
        if !fx.snapshot.is_empty() {
            s.apply_snapshot(fx.snapshot.clone()).unwrap();
        }
        s.append(&fx.entries).unwrap();
        s.set_hard_state(fx.hard_state);
        s
    });
}

#[test]
#[should_panic(expected = "term at first_index - 1")]
fn the_suite_catches_a_storage_that_forgets_the_snapshot_term() {
    struct Forgetful(MemStorage);
    impl raft_core::Storage for Forgetful {
        fn initial_state(&self) -> Result<raft_core::RaftState, raft_core::StorageError> {
            self.0.initial_state()
        }
        fn entries(
            &self,
            lo: u64,
            hi: u64,
            max: Option<u64>,
        ) -> Result<Vec<raft_core::Entry>, raft_core::StorageError> {
            self.0.entries(lo, hi, max)
        }
        fn term(&self, index: u64) -> Result<u64, raft_core::StorageError> {
            let first = self.0.first_index()?;
            if index + 1 == first && index > 0 {
                return Err(raft_core::StorageError::Compacted);
            }
            self.0.term(index)
        }
        fn first_index(&self) -> Result<u64, raft_core::StorageError> {
            self.0.first_index()
        }
        fn last_index(&self) -> Result<u64, raft_core::StorageError> {
            self.0.last_index()
        }
        fn snapshot(&self, i: u64) -> Result<raft_core::Snapshot, raft_core::StorageError> {
            self.0.snapshot(i)
        }
    }
    storage_suite(|fx| {
        let mut s = MemStorage::new_with_conf_state(fx.snapshot.metadata.conf_state.clone());
        if !fx.snapshot.is_empty() {
            s.apply_snapshot(fx.snapshot.clone()).unwrap();
        }
        s.append(&fx.entries).unwrap();
        s.set_hard_state(fx.hard_state);
        Forgetful(s)
    });
}

#[test]
fn mem_storage_append_replaces_conflicts_and_compaction_keeps_terms() {
    use raft_core::Entry;
    use raft_core::Storage;
    let mut s = MemStorage::new();
    let e = |index, term| Entry {
        index,
        term,
        ..Entry::default()
    };
    s.append(&[e(1, 1), e(2, 1), e(3, 1)]).unwrap();
    s.append(&[e(2, 2)]).unwrap();
    assert_eq!(s.last_index(), Ok(2));
    assert_eq!(s.term(2), Ok(2));
    assert!(s.append(&[e(5, 2)]).is_err(), "a gap is refused");
    s.compact(2).unwrap();
    assert_eq!(s.first_index(), Ok(3));
    assert_eq!(s.term(2), Ok(2));
    assert_eq!(s.term(1), Err(raft_core::StorageError::Compacted));
}
