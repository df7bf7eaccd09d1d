//! Power loss, torn tails, media damage, and failed writes and syncs.

use raft_core::Entry;
use raft_core::HardState;
use rand::Rng;
use wal::Error;
use wal::FaultFs;
use wal::PowerLoss;
use wal::Wal;
use wal::WalContents;
use wal::WalSnapshot;

use crate::common::entries;
use crate::common::fault_opts;
use crate::common::rng;
use crate::common::state;
use crate::common::std_opts;

const DIR: &str = "/wal";

fn open(fs: &FaultFs, segment_bytes: u64) -> (Wal, WalContents) {
    Wal::open(
        DIR.as_ref(),
        WalSnapshot::default(),
        fault_opts(fs, segment_bytes),
    )
    .unwrap()
}

/// The saves of the power-loss test: varied sizes, the last three the ones cut.
fn saves() -> Vec<(HardState, Vec<Entry>)> {
    let mut saves = Vec::new();
    let mut last = 0;
    for n in [3, 1, 5, 2, 1, 4, 2] {
        saves.push((state(1, last), entries(1, last + 1, last + n)));
        last += n;
    }
    saves.push((state(2, last), Vec::new()));
    saves
}

/// What a log holds after `saves`, as contents.
fn expected(saves: &[(HardState, Vec<Entry>)]) -> WalContents {
    let hard_state = saves.last().map(|s| s.0).unwrap_or_default();
    let entries = saves.iter().flat_map(|s| s.1.clone()).collect();
    WalContents {
        metadata: b"m".to_vec(),
        hard_state,
        entries,
    }
}

#[test]
fn power_loss_at_every_byte_of_the_last_three_records() {
    let saves = saves();
    let cut_from = saves.len() - 3;
    let base = FaultFs::new();
    let mut log = Wal::create(DIR.as_ref(), b"m", fault_opts(&base, 64 * 1024)).unwrap();
    for (hs, ents) in &saves[..cut_from] {
        log.save(hs, ents).unwrap();
    }
    drop(log);
    let mut trials = 0;
    for in_flight in cut_from..saves.len() {
        let (hs, ents) = &saves[in_flight];
        let mut kept = 0;
        loop {
            let fs = base.fork();
            let (mut log, _) = open(&fs, 64 * 1024);
            for (h, e) in &saves[cut_from..in_flight] {
                log.save(h, e).unwrap();
            }
            fs.set_fail_syncs(true);
            assert!(matches!(log.save(hs, ents), Err(Error::FsyncFailed { .. })));
            let unsynced = fs.unsynced_bytes();
            drop(log);
            fs.power_loss(PowerLoss::KeepPrefix(kept));
            let (_, read) = open(&fs, 64 * 1024);
            let before = expected(&saves[..in_flight]);
            let with = expected(&saves[..=in_flight]);
            assert!(
                read == before || read == with,
                "save {in_flight}, {kept} of {unsynced} bytes kept: {read:?}"
            );
            // The whole record kept is the whole save.
            if kept >= unsynced {
                assert_eq!(read, with);
                break;
            }
            kept += 1;
            trials += 1;
        }
    }
    assert!(trials > 100, "{trials} trials");
}

#[test]
fn a_zeroed_tail_is_repaired_and_the_log_appends_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Wal::create(dir.path(), b"m", std_opts(64 * 1024)).unwrap();
    log.save(&state(1, 0), &entries(1, 1, 4)).unwrap();
    let segment = dir.path().join(log.segment_names()[0].clone());
    let end_before = nonzero_end(&std::fs::read(&segment).unwrap());
    log.save(&state(1, 2), &entries(1, 5, 6)).unwrap();
    drop(log);
    // The last record's second half never reached the disk.
    let mut bytes = std::fs::read(&segment).unwrap();
    let end_after = nonzero_end(&bytes);
    let middle = (end_before + end_after) / 2;
    bytes[middle..end_after].fill(0);
    std::fs::write(&segment, &bytes).unwrap();

    let (mut log, read) =
        Wal::open(dir.path(), WalSnapshot::default(), std_opts(64 * 1024)).unwrap();
    assert_eq!(read.entries, entries(1, 1, 4));
    assert_eq!(read.hard_state, state(1, 0));
    assert!(
        std::fs::read(&segment).unwrap()[end_before..]
            .iter()
            .all(|b| *b == 0),
        "tail not zeroed"
    );
    log.save(&state(2, 3), &entries(2, 5, 5)).unwrap();
    drop(log);
    let (_, read) = Wal::open(dir.path(), WalSnapshot::default(), std_opts(64 * 1024)).unwrap();
    let mut expected = entries(1, 1, 4);
    expected.extend(entries(2, 5, 5));
    assert_eq!((read.entries, read.hard_state), (expected, state(2, 3)));
}

fn nonzero_end(bytes: &[u8]) -> usize {
    bytes.iter().rposition(|b| *b != 0).map_or(0, |p| p + 1)
}

#[test]
fn a_flipped_bit_in_an_earlier_segment_is_refused_naming_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Wal::create(dir.path(), b"m", std_opts(1024)).unwrap();
    for i in 1..=40 {
        log.save(&state(1, i - 1), &entries(1, i, i)).unwrap();
    }
    let names = log.segment_names();
    drop(log);
    assert!(names.len() >= 3);
    let victim = dir.path().join(&names[1]);
    let mut bytes = std::fs::read(&victim).unwrap();
    let flipped = nonzero_end(&bytes) / 2;
    bytes[flipped] ^= 0x04;
    std::fs::write(&victim, &bytes).unwrap();

    let err = Wal::open(dir.path(), WalSnapshot::default(), std_opts(1024)).unwrap_err();
    let message = err.to_string();
    assert!(message.contains(&names[1]), "{message}");
    match err {
        Error::CrcMismatch { offset, .. } | Error::Corrupt { offset, .. } => {
            assert!(
                offset > 0 && offset <= flipped as u64,
                "offset {offset}, flipped {flipped}"
            );
            assert!(message.contains(&format!("offset {offset}")), "{message}");
        }
        other => panic!("expected damage to be reported, got {other:?}"),
    }
}

#[test]
fn an_fsync_failure_fails_this_save_and_every_later_call() {
    let fs = FaultFs::new();
    let mut log = Wal::create(DIR.as_ref(), b"m", fault_opts(&fs, 4096)).unwrap();
    log.save(&state(1, 0), &entries(1, 1, 2)).unwrap();
    fs.set_fail_syncs(true);
    assert!(matches!(
        log.save(&state(1, 1), &entries(1, 3, 3)),
        Err(Error::FsyncFailed { .. })
    ));
    fs.set_fail_syncs(false);
    // Never retried, never reported durable: the log stays failed.
    assert!(matches!(
        log.save(&state(1, 1), &entries(1, 3, 3)),
        Err(Error::Poisoned { .. })
    ));
    assert!(matches!(
        log.save(&state(1, 1), &[]),
        Err(Error::Poisoned { .. })
    ));
    assert!(matches!(
        log.save_snapshot(WalSnapshot { index: 1, term: 1 }),
        Err(Error::Poisoned { .. })
    ));
    assert!(matches!(log.release_to(1), Err(Error::Poisoned { .. })));
    drop(log);
    fs.power_loss(PowerLoss::DropAll);
    let (_, read) = open(&fs, 4096);
    assert_eq!(read.entries, entries(1, 1, 2));
}

#[test]
fn an_fsync_failure_while_cutting_a_segment_is_final_too() {
    let fs = FaultFs::new();
    let mut log = Wal::create(DIR.as_ref(), b"m", fault_opts(&fs, 256)).unwrap();
    log.save(&state(1, 0), &entries(1, 1, 1)).unwrap();
    let segments = log.segment_names().len();
    // A record that does not fit in the rest of the segment cuts a new one first.
    let big = [Entry {
        term: 1,
        index: 2,
        data: vec![1; 300].into(),
        ..Entry::default()
    }];
    fs.set_fail_syncs(true);
    let err = log.save(&state(1, 0), &big).unwrap_err();
    assert!(
        matches!(&err, Error::FsyncFailed { file, .. } if file.to_string_lossy().ends_with(".wal.tmp")),
        "{err}"
    );
    fs.set_fail_syncs(false);
    assert!(matches!(
        log.save(&state(1, 0), &entries(1, 2, 2)),
        Err(Error::Poisoned { .. })
    ));
    drop(log);
    fs.power_loss(PowerLoss::DropAll);
    let (log, read) = open(&fs, 256);
    assert_eq!(read.entries, entries(1, 1, 1));
    assert_eq!(log.segment_names().len(), segments);
}

#[test]
fn a_short_write_fails_the_save_and_the_partial_record_is_repaired() {
    let fs = FaultFs::new();
    let mut log = Wal::create(DIR.as_ref(), b"m", fault_opts(&fs, 4096)).unwrap();
    log.save(&state(1, 0), &entries(1, 1, 3)).unwrap();
    fs.short_write_next(13);
    assert!(matches!(
        log.save(&state(1, 2), &entries(1, 4, 9)),
        Err(Error::Io { .. })
    ));
    assert!(matches!(
        log.save(&state(1, 2), &entries(1, 4, 9)),
        Err(Error::Poisoned { .. })
    ));
    drop(log);
    // The process restarts; the page cache kept the partial record.
    let (mut log, read) = open(&fs, 4096);
    assert_eq!(read.entries, entries(1, 1, 3));
    log.save(&state(1, 2), &entries(1, 4, 9)).unwrap();
    drop(log);
    assert_eq!(open(&fs, 4096).1.entries, entries(1, 1, 9));
}

/// The power-loss twin of the SIGKILL test: saves under load, a crash at a random
/// point of a random save (a failed sync, a short write, or mid-cut), power lost
/// keeping a random prefix of the unsynced bytes, reopen, check, continue.
#[test]
fn random_power_losses_never_lose_a_returned_save() {
    let mut rng = rng("random_power_losses_never_lose_a_returned_save");
    crash_loop(&mut rng, |rng| match rng.random_range(0..3) {
        0 => PowerLoss::DropAll,
        _ => PowerLoss::KeepPrefix(rng.random_range(0..2048)),
    });
}

/// The same with a disk that writes sectors back in any order: a torn save may
/// have later sectors on disk and earlier ones not.
#[test]
fn random_sector_losses_never_lose_a_returned_save() {
    let mut rng = rng("random_sector_losses_never_lose_a_returned_save");
    crash_loop(&mut rng, |rng| PowerLoss::RandomSectors {
        seed: rng.random(),
    });
}

fn crash_loop(
    rng: &mut rand::rngs::SmallRng,
    power_loss: impl Fn(&mut rand::rngs::SmallRng) -> PowerLoss,
) {
    let fs = FaultFs::new();
    let segment_bytes = 1024;
    drop(Wal::create(DIR.as_ref(), b"m", fault_opts(&fs, segment_bytes)).unwrap());
    let mut acked: Vec<Entry> = Vec::new();
    let mut acked_state = HardState::default();
    let mut in_flight: Option<(HardState, Vec<Entry>)> = None;
    for round in 0..60 {
        let (mut log, read) = open(&fs, segment_bytes);
        // Everything acknowledged is there, plus at most the one save in flight, whole.
        let (want_state, want) = match in_flight.take() {
            Some((hs, batch)) if read.entries.len() > acked.len() => {
                (hs, [acked.clone(), batch].concat())
            }
            _ => (acked_state, acked.clone()),
        };
        assert_eq!(
            (read.hard_state, &read.entries),
            (want_state, &want),
            "round {round}"
        );
        (acked_state, acked) = (want_state, want);
        for _ in 0..rng.random_range(0..12) {
            let next = acked.len() as u64 + 1;
            let batch = entries(round + 1, next, next + rng.random_range(0..6));
            let hs = state(round + 1, acked.len() as u64);
            log.save(&hs, &batch).unwrap();
            acked.extend(batch);
            acked_state = hs;
        }
        match rng.random_range(0..3) {
            0 => fs.set_fail_syncs(true),
            1 => fs.short_write_next(rng.random_range(0..400)),
            _ => {}
        }
        let next = acked.len() as u64 + 1;
        let (hs, batch) = (
            state(round + 1, next - 1),
            entries(round + 1, next, next + 3),
        );
        match log.save(&hs, &batch) {
            Ok(_) => (acked_state, acked) = (hs, [acked, batch].concat()),
            Err(_) => in_flight = Some((hs, batch)),
        }
        drop(log);
        fs.power_loss(power_loss(rng));
    }
}

#[test]
fn a_commit_only_state_is_written_unsynced_and_lost_whole_to_a_power_cut() {
    let fs = FaultFs::new();
    let mut log = Wal::create(DIR.as_ref(), b"m", fault_opts(&fs, 64 * 1024)).unwrap();
    log.save(&state(1, 0), &entries(1, 1, 3)).unwrap();
    fs.set_fail_syncs(true);
    // Moving only the commit index needs no sync (a sync would fail here).
    log.save(&state(1, 3), &[]).unwrap();
    assert!(fs.unsynced_bytes() > 0);
    // A new term or vote must be durable.
    assert!(matches!(
        log.save(&state(2, 3), &[]),
        Err(Error::FsyncFailed { .. })
    ));
    drop(log);
    fs.power_loss(PowerLoss::DropAll);
    let (_, read) = open(&fs, 64 * 1024);
    assert_eq!(read.hard_state, state(1, 0));
    assert_eq!(read.entries, entries(1, 1, 3));
}

#[test]
fn the_next_synced_save_makes_a_commit_only_state_durable() {
    let fs = FaultFs::new();
    let mut log = Wal::create(DIR.as_ref(), b"m", fault_opts(&fs, 64 * 1024)).unwrap();
    log.save(&state(1, 0), &entries(1, 1, 3)).unwrap();
    log.save(&state(1, 3), &[]).unwrap();
    log.save(&HardState::default(), &entries(1, 4, 4)).unwrap();
    assert_eq!(fs.unsynced_bytes(), 0);
    drop(log);
    fs.power_loss(PowerLoss::DropAll);
    let (_, read) = open(&fs, 64 * 1024);
    assert_eq!(read.hard_state, state(1, 3));
    assert_eq!(read.entries, entries(1, 1, 4));
}

#[test]
fn a_segment_cut_after_a_commit_only_state_leaves_no_torn_segment_behind() {
    let fs = FaultFs::new();
    let mut log = Wal::create(DIR.as_ref(), b"m", fault_opts(&fs, 256)).unwrap();
    log.save(&state(1, 0), &entries(1, 1, 1)).unwrap();
    log.save(&state(1, 1), &[]).unwrap();
    let big = [Entry {
        term: 1,
        index: 2,
        data: vec![7; 300].into(),
        ..Entry::default()
    }];
    log.save(&state(1, 1), &big).unwrap();
    assert_eq!(log.segment_names().len(), 2);
    drop(log);
    fs.power_loss(PowerLoss::DropAll);
    let (_, read) = open(&fs, 256);
    assert_eq!(read.hard_state, state(1, 1));
    assert_eq!(read.entries.len(), 2);
}
