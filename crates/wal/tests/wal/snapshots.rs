//! Snapshot files, their retention, and choosing one the log covers.

use std::sync::Arc;

use raft_core::ConfState;
use raft_core::Snapshot;
use raft_core::SnapshotMetadata;
use wal::Error;
use wal::FaultFs;
use wal::FileSystem;
use wal::Snapshotter;
use wal::Wal;
use wal::WalOptions;
use wal::WalSnapshot;

use crate::common::entries;
use crate::common::fault_opts;
use crate::common::state;

fn snap(index: u64, term: u64) -> Snapshot {
    Snapshot {
        metadata: SnapshotMetadata {
            conf_state: ConfState {
                voters: vec![1, 2, 3],
                learners: vec![4],
            },
            index,
            term,
        },
        data: format!("consistent index {index}").into_bytes().into(),
    }
}

fn file(index: u64, term: u64) -> String {
    format!("/snap/{term:016x}-{index:016x}.snap")
}

#[test]
fn snapshots_round_trip_and_only_the_newest_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let snapshotter = Snapshotter::new(dir.path(), 3).unwrap();
    assert_eq!(snapshotter.load_newest().unwrap(), None);
    snapshotter.save(&Snapshot::default()).unwrap();
    assert_eq!(
        snapshotter.load_newest().unwrap(),
        None,
        "an empty snapshot is not written"
    );
    for index in [10, 20, 30, 40, 50] {
        snapshotter.save(&snap(index, 2)).unwrap();
    }
    assert_eq!(snapshotter.load_newest().unwrap(), Some(snap(50, 2)));
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "0000000000000002-000000000000001e.snap",
            "0000000000000002-0000000000000028.snap",
            "0000000000000002-0000000000000032.snap"
        ]
    );
}

#[test]
fn a_corrupt_newest_snapshot_is_skipped_for_an_older_one_and_all_corrupt_is_an_error() {
    let fs = FaultFs::new();
    let snapshotter = Snapshotter::with_fs(Arc::new(fs.clone()), "/snap".as_ref(), 5).unwrap();
    snapshotter.save(&snap(10, 1)).unwrap();
    snapshotter.save(&snap(20, 1)).unwrap();
    fs.flip_bits(file(20, 1).as_ref(), 20, 0x01).unwrap();
    assert_eq!(snapshotter.load_newest().unwrap(), Some(snap(10, 1)));
    fs.flip_bits(file(10, 1).as_ref(), 3, 0x80).unwrap();
    let err = snapshotter.load_newest().unwrap_err().to_string();
    assert!(
        err.contains("0000000000000001-0000000000000014.snap"),
        "{err}"
    );
}

#[test]
fn the_newest_snapshot_the_log_covers_is_loaded_and_an_uncovered_fallback_is_refused() {
    let fs = FaultFs::new();
    let opts = || WalOptions {
        max_wals: 1,
        ..fault_opts(&fs, 512)
    };
    let snapshotter = Snapshotter::with_fs(Arc::new(fs.clone()), "/snap".as_ref(), 5).unwrap();
    let mut log = Wal::create("/wal".as_ref(), b"m", opts()).unwrap();
    for i in 1..=60 {
        log.save(&state(1, i), &entries(1, i, i)).unwrap();
        if i % 20 == 0 {
            snapshotter.save(&snap(i, 1)).unwrap();
            log.save_snapshot(WalSnapshot { index: i, term: 1 })
                .unwrap();
        }
    }
    // A marker beyond the commit index is not valid (its hard state never became durable).
    log.save_snapshot(WalSnapshot { index: 61, term: 1 })
        .unwrap();
    let markers = |fs: &FaultFs| {
        wal::valid_snapshot_entries_in(fs as &dyn FileSystem, "/wal".as_ref()).unwrap()
    };
    let all = markers(&fs);
    assert_eq!(
        all,
        [0, 20, 40, 60].map(|index| WalSnapshot {
            index,
            term: if index == 0 { 0 } else { 1 }
        })
    );
    assert_eq!(
        snapshotter.load_newest_available(&all).unwrap(),
        Some(snap(60, 1))
    );

    // The newest is damaged: the log still covers 40, so 40 is used.
    fs.flip_bits(file(60, 1).as_ref(), 30, 0x02).unwrap();
    assert_eq!(
        snapshotter.load_newest_available(&all).unwrap(),
        Some(snap(40, 1))
    );

    // Once the log is released to 60, nothing older is covered: stop, naming the file.
    log.release_to(60).unwrap();
    let covered = markers(&fs);
    assert_eq!(covered, [WalSnapshot { index: 60, term: 1 }]);
    let err = snapshotter.load_newest_available(&covered).unwrap_err();
    assert!(matches!(err, Error::CrcMismatch { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("0000000000000001-000000000000003c.snap"),
        "{err}"
    );
}
