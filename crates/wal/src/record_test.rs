#![allow(clippy::unwrap_used)]

use std::borrow::Cow;

use proptest::prelude::*;
use raft_core::Entry;
use raft_core::EntryType;
use raft_core::HardState;

use super::*;
use crate::WalSnapshot;

fn entries() -> Vec<Entry> {
    (1..=3)
        .map(|i| Entry {
            term: 2,
            index: i,
            entry_type: if i == 2 {
                EntryType::ConfChange
            } else {
                EntryType::Normal
            },
            data: vec![i as u8; i as usize * 7].into(),
        })
        .collect()
}

fn every_record() -> Vec<Record<'static>> {
    let hard_state = HardState {
        term: 3,
        vote: 2,
        commit: 1,
    };
    vec![
        Record::Crc {
            version: FORMAT_VERSION,
            prev_crc: 0xdead_beef,
        },
        Record::Metadata(Cow::Owned(b"cluster=1 member=2".to_vec())),
        Record::Metadata(Cow::Owned(Vec::new())),
        Record::Entries {
            hard_state,
            entries: Cow::Owned(entries()),
        },
        Record::State(hard_state),
        Record::Snapshot(WalSnapshot { index: 7, term: 2 }),
    ]
}

#[test]
fn every_record_type_round_trips_aligned() {
    let mut buf = Vec::new();
    for record in every_record() {
        let prev = match record {
            Record::Crc { prev_crc, .. } => prev_crc,
            _ => 0x1234_5678,
        };
        let crc = encode_frame(&mut buf, &record, prev).unwrap();
        assert_eq!(buf.len() % 8, 0, "{record:?}");
        let frame = decode_frame(&buf, 0, Some(prev)).unwrap();
        assert_eq!(
            (frame.record, frame.crc, frame.end),
            (record.clone(), crc, buf.len() as u64)
        );
        if let Record::Crc { .. } = record {
            assert_eq!(decode_frame(&buf, 0, None).unwrap().crc, crc);
        }
    }
}

#[test]
fn chain_breaks_on_wrong_previous_crc() {
    let mut buf = Vec::new();
    encode_frame(&mut buf, &Record::State(HardState::default()), 1).unwrap();
    assert!(matches!(
        decode_frame(&buf, 0, Some(2)),
        Err(FrameError::Crc { .. })
    ));
    // Without a previous CRC only a segment's crc record is accepted.
    assert!(matches!(
        decode_frame(&buf, 0, None),
        Err(FrameError::Payload { .. })
    ));
}

#[test]
fn zero_header_is_end_and_short_frame_is_truncated() {
    assert_eq!(
        decode_frame(&[0; 64], 0, Some(0)).unwrap_err(),
        FrameError::End
    );
    assert_eq!(
        decode_frame(&[0; 4], 0, Some(0)).unwrap_err(),
        FrameError::End
    );
    let mut buf = Vec::new();
    encode_frame(&mut buf, &Record::Metadata(Cow::Owned(vec![1; 40])), 0).unwrap();
    buf.truncate(24);
    assert!(matches!(
        decode_frame(&buf, 0, Some(0)),
        Err(FrameError::Truncated { .. })
    ));
}

#[test]
fn every_flipped_bit_is_detected() {
    let mut buf = Vec::new();
    let record = Record::Entries {
        hard_state: HardState {
            term: 1,
            vote: 1,
            commit: 0,
        },
        entries: Cow::Owned(entries()),
    };
    encode_frame(&mut buf, &record, 9).unwrap();
    for bit in 0..buf.len() * 8 {
        let mut damaged = buf.clone();
        damaged[bit / 8] ^= 1 << (bit % 8);
        assert!(
            decode_frame(&damaged, 0, Some(9)).is_err(),
            "bit {bit} flipped undetected"
        );
    }
}

proptest! {
    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512), offset in 0u64..600, prev in proptest::option::of(any::<u32>())) {
        let _ = decode_frame(&bytes, offset, prev);
    }

    #[test]
    fn decoding_arbitrary_payloads_with_valid_crc_never_panics(payload in proptest::collection::vec(any::<u8>(), 1..512), prev in any::<u32>()) {
        let len = payload.len() as u32;
        let crc = crc32c::crc32c_append(crc32c::crc32c_append(prev, &len.to_le_bytes()), &payload);
        let mut buf = Vec::new();
        buf.extend_from_slice(&len.to_le_bytes());
        buf.extend_from_slice(&crc.to_le_bytes());
        buf.extend_from_slice(&payload);
        buf.resize(align_up(buf.len() as u64) as usize, 0);
        let _ = decode_frame(&buf, 0, Some(prev));
        let _ = decode_frame(&buf, 0, None);
    }
}
