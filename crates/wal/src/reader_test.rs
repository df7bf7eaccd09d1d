#![allow(clippy::unwrap_used)]

use std::borrow::Cow;
use std::path::Path;

use proptest::prelude::*;
use raft_core::Entry;
use raft_core::HardState;

use super::*;
use crate::record::encode_frame;

/// A segment's bytes: a head and `saves` one-entry saves, preallocated to 4 KiB.
fn segment(saves: u64) -> (Vec<u8>, Vec<u64>) {
    let mut bytes = Vec::new();
    let mut frame = Vec::new();
    let mut starts = Vec::new();
    let mut crc = encode_frame(
        &mut frame,
        &Record::Crc {
            version: FORMAT_VERSION,
            prev_crc: 0,
        },
        0,
    )
    .unwrap();
    bytes.extend_from_slice(&frame);
    crc = encode_frame(
        &mut frame,
        &Record::Metadata(Cow::Owned(b"m".to_vec())),
        crc,
    )
    .unwrap();
    bytes.extend_from_slice(&frame);
    for index in 1..=saves {
        let entry = Entry {
            term: 1,
            index,
            data: vec![7; 20].into(),
            ..Entry::default()
        };
        let record = Record::Entries {
            hard_state: HardState {
                term: 1,
                vote: 1,
                commit: index - 1,
            },
            entries: Cow::Owned(vec![entry]),
        };
        crc = encode_frame(&mut frame, &record, crc).unwrap();
        starts.push(bytes.len() as u64);
        bytes.extend_from_slice(&frame);
    }
    bytes.resize(4096, 0);
    (bytes, starts)
}

fn read(bytes: &[u8], last: bool) -> Result<(Replay, Tail)> {
    let mut replay = Replay::new(WalSnapshot::default(), true);
    let tail = replay.read_segment(Path::new("seg"), bytes, true, last)?;
    Ok((replay, tail))
}

#[test]
fn a_clean_segment_ends_at_its_zeroed_space() {
    let (bytes, starts) = segment(3);
    let (replay, tail) = read(&bytes, false).unwrap();
    assert_eq!(replay.entries.len(), 3);
    assert_eq!(tail.torn_end, None);
    assert!(tail.end > starts[2]);
}

#[test]
fn a_torn_last_record_is_a_tail_only_in_the_last_segment() {
    let (mut bytes, starts) = segment(3);
    let third = starts[2] as usize;
    bytes[third + 12..third + 20].fill(0);
    let (replay, tail) = read(&bytes, true).unwrap();
    assert_eq!(replay.entries.len(), 2);
    assert_eq!(tail.end, starts[2]);
    assert!(tail.torn_end.is_some());
    let err = read(&bytes, false).unwrap_err().to_string();
    assert!(err.contains(&format!("offset {third}")), "{err}");
}

#[test]
fn a_damaged_record_followed_by_data_is_refused_even_in_the_last_segment() {
    let (mut bytes, starts) = segment(3);
    bytes[starts[1] as usize + 12] ^= 0x10;
    let err = read(&bytes, true).unwrap_err();
    assert!(
        matches!(err, Error::CrcMismatch { offset, .. } if offset == starts[1]),
        "{err}"
    );
}

#[test]
fn data_after_the_end_of_an_earlier_segment_is_refused() {
    let (mut bytes, _) = segment(1);
    bytes[4000] = 1;
    assert!(matches!(read(&bytes, false), Err(Error::Corrupt { offset, .. }) if offset < 4000));
    let (_, tail) = read(&bytes, true).unwrap();
    assert_eq!(tail.torn_end, Some(4001));
}

proptest! {
    #[test]
    fn reading_arbitrary_segments_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1024), last in any::<bool>()) {
        let _ = read(&bytes, last);
    }

    #[test]
    fn reading_a_damaged_segment_never_panics(at in 0usize..4096, mask in 1u8..=255, last in any::<bool>()) {
        let (mut bytes, _) = segment(5);
        bytes[at] ^= mask;
        let _ = read(&bytes, last);
    }
}
