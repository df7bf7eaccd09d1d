//! Every record type written and read back, across many segments and overwrites.

use wal::Error;
use wal::FaultFs;
use wal::Wal;
use wal::WalOptions;
use wal::WalSnapshot;

use crate::common::entries;
use crate::common::fault_opts;
use crate::common::state;
use crate::common::std_opts;

#[test]
fn every_record_type_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Wal::create(dir.path(), b"cluster=7 member=3", std_opts(64 * 1024)).unwrap();
    log.save(&state(1, 0), &entries(1, 1, 3)).unwrap();
    log.save(&state(2, 2), &[]).unwrap();
    log.save_snapshot(WalSnapshot { index: 2, term: 1 })
        .unwrap();
    log.save(&state(2, 3), &entries(2, 4, 5)).unwrap();
    drop(log);

    let (_, all) = Wal::open(dir.path(), WalSnapshot::default(), std_opts(64 * 1024)).unwrap();
    assert_eq!(all.metadata, b"cluster=7 member=3");
    assert_eq!(all.hard_state, state(2, 3));
    let mut expected = entries(1, 1, 3);
    expected.extend(entries(2, 4, 5));
    assert_eq!(all.entries, expected);
    drop(_log_guard(dir.path()));

    let (_, after) = Wal::open(
        dir.path(),
        WalSnapshot { index: 2, term: 1 },
        std_opts(64 * 1024),
    )
    .unwrap();
    assert_eq!(after.entries, expected[2..]);
}

/// Opens and drops the log, proving the lock was released.
fn _log_guard(dir: &std::path::Path) -> Wal {
    Wal::open(dir, WalSnapshot::default(), std_opts(64 * 1024))
        .unwrap()
        .0
}

#[test]
fn a_state_only_save_round_trips_and_an_unchanged_one_writes_nothing() {
    let fs = FaultFs::new();
    let mut log = Wal::create("/w".as_ref(), b"m", fault_opts(&fs, 4096)).unwrap();
    log.save(&state(5, 0), &[]).unwrap();
    let syncs = fs.data_syncs();
    log.save(&state(5, 0), &[]).unwrap();
    log.save(&Default::default(), &[]).unwrap();
    assert_eq!(fs.data_syncs(), syncs);
    drop(log);
    let (_, read) =
        Wal::open("/w".as_ref(), WalSnapshot::default(), fault_opts(&fs, 4096)).unwrap();
    assert_eq!(read.hard_state, state(5, 0));
    assert!(read.entries.is_empty());
}

#[test]
fn only_entries_term_or_vote_are_synced_and_save_says_so() {
    let fs = FaultFs::new();
    let mut log = Wal::create("/w".as_ref(), b"m", fault_opts(&fs, 64 * 1024)).unwrap();
    let before = fs.data_syncs();
    assert!(log.save(&state(1, 0), &entries(1, 1, 2)).unwrap());
    assert_eq!(fs.data_syncs(), before + 1);
    // A commit index alone is relearned from the leader: written, not synced.
    assert!(!log.save(&state(1, 2), &[]).unwrap());
    assert_eq!(fs.data_syncs(), before + 1);
    assert!(log.save(&state(2, 2), &[]).unwrap());
    assert_eq!(fs.data_syncs(), before + 2);
    assert!(!log.save(&state(2, 2), &[]).unwrap());
    assert_eq!(fs.data_syncs(), before + 2);
}

#[test]
fn a_save_is_one_fdatasync_however_many_entries() {
    let fs = FaultFs::new();
    let mut log = Wal::create("/w".as_ref(), b"m", fault_opts(&fs, 1024 * 1024)).unwrap();
    for (lo, n) in [(1, 1), (2, 16), (18, 256)] {
        let before = fs.data_syncs();
        log.save(&state(1, 0), &entries(1, lo, lo + n - 1)).unwrap();
        assert_eq!(fs.data_syncs(), before + 1, "batch of {n}");
    }
}

#[test]
fn reopen_after_many_segments_returns_everything() {
    let dir = tempfile::tempdir().unwrap();
    let opts = || std_opts(512);
    let mut log = Wal::create(dir.path(), b"meta", opts()).unwrap();
    let mut expected = Vec::new();
    let mut index = 0;
    for round in 0..120u64 {
        let batch = entries(1, index + 1, index + 1 + round % 4);
        index += batch.len() as u64;
        log.save(&state(1, index.saturating_sub(2)), &batch)
            .unwrap();
        expected.extend(batch);
    }
    // A record larger than a whole segment grows the segment that holds it.
    let big = vec![raft_core::Entry {
        term: 1,
        index: index + 1,
        data: vec![9; 3000].into(),
        ..Default::default()
    }];
    log.save(&state(1, index), &big).unwrap();
    expected.extend(big);
    let names = log.segment_names();
    drop(log);

    assert!(names.len() > 20, "{} segments", names.len());
    assert_eq!(crate::common::segment_files(dir.path()), names);
    assert_eq!(names[0], "0000000000000000-0000000000000000.wal");
    let (mut log, read) = Wal::open(dir.path(), WalSnapshot::default(), opts()).unwrap();
    assert_eq!(read.entries, expected);
    assert_eq!(read.hard_state, state(1, index));
    assert_eq!(log.last_index(), index + 1);
    // And it appends after reopening, across more cuts.
    log.save(&state(1, index + 1), &entries(1, index + 2, index + 40))
        .unwrap();
    drop(log);
    let (_, read) = Wal::open(dir.path(), WalSnapshot::default(), opts()).unwrap();
    assert_eq!(read.entries.last().unwrap().index, index + 40);
}

#[test]
fn overwritten_suffixes_are_resolved_across_segments() {
    let fs = FaultFs::new();
    let opts = || fault_opts(&fs, 512);
    let mut log = Wal::create("/w".as_ref(), b"m", opts()).unwrap();
    for i in 1..=10 {
        log.save(&state(1, 0), &entries(1, i, i)).unwrap();
    }
    // A new leader's log replaces 6..10 with 6..8, then 8 again, then grows.
    log.save(&state(2, 2), &entries(2, 6, 8)).unwrap();
    log.save(&state(3, 2), &entries(3, 8, 8)).unwrap();
    log.save(&state(3, 5), &entries(3, 9, 12)).unwrap();
    assert!(log.segment_names().len() > 2);
    assert_eq!(log.last_index(), 12);
    drop(log);

    let mut expected = entries(1, 1, 5);
    expected.extend(entries(2, 6, 7));
    expected.extend(entries(3, 8, 12));
    let (_, read) = Wal::open("/w".as_ref(), WalSnapshot::default(), opts()).unwrap();
    assert_eq!(read.entries, expected);
    assert_eq!(read.hard_state, state(3, 5));
}

#[test]
fn invalid_saves_are_refused_without_poisoning() {
    let fs = FaultFs::new();
    let mut log = Wal::create("/w".as_ref(), b"m", fault_opts(&fs, 4096)).unwrap();
    log.save(&state(1, 2), &entries(1, 1, 3)).unwrap();
    for bad in [
        entries(1, 5, 5),
        entries(1, 2, 3),
        vec![entries(1, 4, 4)[0].clone(), entries(1, 6, 6)[0].clone()],
    ] {
        assert!(
            matches!(
                log.save(&state(1, 2), &bad),
                Err(Error::InvalidArgument { .. })
            ),
            "{bad:?}"
        );
    }
    log.save(&state(1, 2), &entries(1, 4, 4)).unwrap();
}

#[test]
fn two_opens_of_one_directory_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = Wal::create(dir.path(), b"m", std_opts(4096)).unwrap();
    assert!(matches!(
        Wal::open(dir.path(), WalSnapshot::default(), std_opts(4096)),
        Err(Error::Locked { .. })
    ));
    assert!(matches!(
        Wal::create(dir.path(), b"m", std_opts(4096)),
        Err(Error::Locked { .. })
    ));
    drop(log);
    assert!(Wal::exists(dir.path()));
    assert!(matches!(
        Wal::create(dir.path(), b"m", std_opts(4096)),
        Err(Error::AlreadyExists { .. })
    ));
    Wal::open(dir.path(), WalSnapshot::default(), std_opts(4096)).unwrap();
}

#[test]
fn open_needs_the_snapshot_marker() {
    let fs = FaultFs::new();
    let mut log = Wal::create("/w".as_ref(), b"m", fault_opts(&fs, 4096)).unwrap();
    log.save(&state(1, 3), &entries(1, 1, 3)).unwrap();
    log.save_snapshot(WalSnapshot { index: 3, term: 1 })
        .unwrap();
    drop(log);
    let open = |from| Wal::open("/w".as_ref(), from, fault_opts(&fs, 4096)).map(|(_, c)| c);
    assert!(matches!(
        open(WalSnapshot { index: 2, term: 1 }),
        Err(Error::SnapshotNotFound { .. })
    ));
    assert!(matches!(
        open(WalSnapshot { index: 3, term: 2 }),
        Err(Error::SnapshotMismatch { .. })
    ));
    assert!(
        open(WalSnapshot { index: 3, term: 1 })
            .unwrap()
            .entries
            .is_empty()
    );
}

#[test]
fn release_deletes_old_segments_but_keeps_what_the_snapshot_needs() {
    let fs = FaultFs::new();
    let opts = |max_wals| WalOptions {
        max_wals,
        ..fault_opts(&fs, 512)
    };
    let mut log = Wal::create("/w".as_ref(), b"m", opts(1)).unwrap();
    for i in 1..=100 {
        log.save(&state(1, i), &entries(1, i, i)).unwrap();
    }
    log.save_snapshot(WalSnapshot { index: 80, term: 1 })
        .unwrap();
    let before = log.segment_names();
    log.release_to(80).unwrap();
    let after = log.segment_names();
    assert!(
        after.len() < before.len() && after.len() > 1,
        "{before:?} -> {after:?}"
    );
    assert_eq!(before[before.len() - after.len()..], after[..]);
    drop(log);

    let (_, read) = Wal::open("/w".as_ref(), WalSnapshot { index: 80, term: 1 }, opts(1)).unwrap();
    assert_eq!(read.entries, entries(1, 81, 100));
    assert!(matches!(
        Wal::open("/w".as_ref(), WalSnapshot::default(), opts(1)),
        Err(Error::NotCovered { .. })
    ));

    // With a high max_wals nothing is deleted.
    let (mut log, _) = Wal::open(
        "/w".as_ref(),
        WalSnapshot { index: 80, term: 1 },
        opts(1000),
    )
    .unwrap();
    log.release_to(100).unwrap();
    assert_eq!(log.segment_names(), after);
}
