//! Records and their frames: `[len u32][crc u32][bincode payload][zero padding to 8]`.

use std::borrow::Cow;

use bincode::config::Configuration;
use bincode::config::Limit;
use bincode::config::LittleEndian;
use bincode::config::Varint;
use raft_core::Entry;
use raft_core::HardState;
use serde::Deserialize;
use serde::Serialize;

use crate::Error;
use crate::Result;
use crate::WalSnapshot;

/// The version written in every segment's first record.
pub const FORMAT_VERSION: u32 = 1;
/// The largest record payload: one save (one raft `Ready`) must encode below this.
pub const MAX_RECORD_BYTES: u64 = 128 * 1024 * 1024;
/// A frame's header: the payload length and the CRC.
pub(crate) const HEADER_BYTES: u64 = 8;
/// Frames start at multiples of this, so a header never straddles a disk sector.
pub(crate) const ALIGN_BYTES: u64 = 8;

const LIMIT: usize = MAX_RECORD_BYTES as usize;
const _: () = assert!(MAX_RECORD_BYTES <= u32::MAX as u64 && HEADER_BYTES == ALIGN_BYTES);

/// The one bincode configuration of the format; the limit bounds what a decode
/// may allocate to what one record may hold.
const CONFIG: Configuration<LittleEndian, Varint, Limit<LIMIT>> =
    bincode::config::standard().with_limit::<LIMIT>();

/// One record of the log; the bincode variant tag is the record type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Record<'a> {
    /// The first record of every segment.
    Crc {
        /// The format version the segment is written in.
        version: u32,
        /// The CRC of the last record of the previous segment, 0 for the first.
        prev_crc: u32,
    },
    /// The caller's opaque metadata, second in every segment.
    Metadata(Cow<'a, [u8]>),
    /// One save with entries.
    Entries {
        /// The hard state after the save.
        hard_state: HardState,
        /// Consecutive entries; they replace any at or after the first one's index.
        entries: Cow<'a, [Entry]>,
    },
    /// A hard state: the third record of a cut segment, or a save without entries.
    State(HardState),
    /// A snapshot exists at this index and term.
    Snapshot(WalSnapshot),
}

/// A record decoded from a frame.
#[derive(Debug)]
pub(crate) struct Frame {
    pub(crate) record: Record<'static>,
    /// The CRC stored in the frame, which the next record chains from.
    pub(crate) crc: u32,
    /// The offset just after the frame's padding.
    pub(crate) end: u64,
}

/// Why no frame could be decoded at an offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// A zero header: no record was written here.
    End,
    /// The header's length runs past the end of the buffer.
    Truncated { len: u64 },
    /// The header's length is larger than any record.
    TooLarge { len: u64 },
    /// The CRC does not match.
    Crc { expected: u32, found: u32, len: u64 },
    /// The CRC matches but the payload is not a record, or sits wrongly in its frame.
    Payload { reason: String, len: u64 },
}

impl FrameError {
    /// The end of the bytes the bad frame claims, or just its header when its
    /// length cannot be trusted.
    pub(crate) fn extent(&self, offset: u64) -> u64 {
        match self {
            FrameError::Crc { len, .. } | FrameError::Payload { len, .. } => {
                frame_end(offset, *len)
            }
            FrameError::End | FrameError::Truncated { .. } | FrameError::TooLarge { .. } => {
                offset + HEADER_BYTES
            }
        }
    }

    /// Describes the damage for an error message.
    pub(crate) fn into_error(self, file: &std::path::Path, offset: u64) -> Error {
        match self {
            FrameError::Crc {
                expected, found, ..
            } => Error::CrcMismatch {
                file: file.into(),
                offset,
                expected,
                found,
            },
            FrameError::End => Error::corrupt(file, offset, "unexpected end of records"),
            FrameError::Truncated { len } => Error::corrupt(
                file,
                offset,
                format!("record of {len} bytes runs past the end of the file"),
            ),
            FrameError::TooLarge { len } => Error::corrupt(
                file,
                offset,
                format!("record length {len} exceeds {MAX_RECORD_BYTES}"),
            ),
            FrameError::Payload { reason, .. } => Error::corrupt(file, offset, reason),
        }
    }
}

/// Rounds `n` up to a multiple of [`ALIGN_BYTES`].
pub(crate) fn align_up(n: u64) -> u64 {
    n.div_ceil(ALIGN_BYTES) * ALIGN_BYTES
}

fn frame_end(offset: u64, len: u64) -> u64 {
    align_up(offset + HEADER_BYTES + len)
}

/// The CRC of a frame: the previous CRC extended by the length and the payload.
fn chain(prev_crc: u32, len: u32, payload: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c_append(prev_crc, &len.to_le_bytes()), payload)
}

/// Encodes `record` as a frame into `buf` (replacing its contents), chained from
/// `prev_crc`; returns the frame's CRC.
pub(crate) fn encode_frame(buf: &mut Vec<u8>, record: &Record<'_>, prev_crc: u32) -> Result<u32> {
    buf.clear();
    buf.extend_from_slice(&[0; HEADER_BYTES as usize]);
    bincode::serde::encode_into_std_write(record, buf, CONFIG)?;
    let payload = buf.get(HEADER_BYTES as usize..).unwrap_or_default();
    let len = payload.len() as u64;
    let len32 = u32::try_from(len)
        .ok()
        .filter(|_| len <= MAX_RECORD_BYTES)
        .ok_or_else(|| Error::InvalidArgument {
            reason: format!("a record of {len} bytes exceeds {MAX_RECORD_BYTES}"),
        })?;
    let crc = chain(prev_crc, len32, payload);
    let header = u64::from(len32) | (u64::from(crc) << 32);
    if let Some(h) = buf.get_mut(..HEADER_BYTES as usize) {
        h.copy_from_slice(&header.to_le_bytes());
    }
    buf.resize(align_up(buf.len() as u64) as usize, 0);
    debug_assert_eq!(decode_frame(buf, 0, Some(prev_crc)).map(|f| f.crc), Ok(crc));
    Ok(crc)
}

/// Decodes the frame at `offset` of `buf`. With `prev_crc` it must chain from that
/// CRC; without, it must be a segment's `Crc` record, and chains from the CRC it carries.
pub(crate) fn decode_frame(
    buf: &[u8],
    offset: u64,
    prev_crc: Option<u32>,
) -> std::result::Result<Frame, FrameError> {
    let buf_len = buf.len() as u64;
    let header = match slice(buf, offset, HEADER_BYTES) {
        Some(h) => u64::from_le_bytes(h.try_into().unwrap_or_default()),
        None if slice(buf, offset, buf_len.saturating_sub(offset))
            .is_some_and(|rest| rest.iter().all(|b| *b == 0)) =>
        {
            return Err(FrameError::End);
        }
        None => return Err(FrameError::Truncated { len: 0 }),
    };
    if header == 0 {
        return Err(FrameError::End);
    }
    let len = header & u64::from(u32::MAX);
    let found = (header >> 32) as u32;
    if len == 0 {
        return Err(FrameError::Payload {
            reason: "zero-length record with a CRC".into(),
            len,
        });
    }
    if len > MAX_RECORD_BYTES {
        return Err(FrameError::TooLarge { len });
    }
    let end = frame_end(offset, len);
    let (Some(payload), Some(padding)) = (
        slice(buf, offset + HEADER_BYTES, len),
        slice(
            buf,
            offset + HEADER_BYTES + len,
            end - (offset + HEADER_BYTES + len),
        ),
    ) else {
        return Err(FrameError::Truncated { len });
    };
    if let Some(prev) = prev_crc {
        check_crc(prev, len, payload, found)?;
    }
    let record = decode_payload(payload, len)?;
    if prev_crc.is_none() {
        let Record::Crc { prev_crc: prev, .. } = record else {
            return Err(FrameError::Payload {
                reason: "a segment must begin with a crc record".into(),
                len,
            });
        };
        check_crc(prev, len, payload, found)?;
    }
    if padding.iter().any(|b| *b != 0) {
        return Err(FrameError::Payload {
            reason: "non-zero padding".into(),
            len,
        });
    }
    Ok(Frame {
        record,
        crc: found,
        end,
    })
}

fn check_crc(
    prev: u32,
    len: u64,
    payload: &[u8],
    found: u32,
) -> std::result::Result<(), FrameError> {
    let expected = chain(prev, len as u32, payload);
    if expected == found {
        Ok(())
    } else {
        Err(FrameError::Crc {
            expected,
            found,
            len,
        })
    }
}

fn decode_payload(payload: &[u8], len: u64) -> std::result::Result<Record<'static>, FrameError> {
    match bincode::serde::borrow_decode_from_slice::<Record<'static>, _>(payload, CONFIG) {
        Ok((record, read)) if read as u64 == len => Ok(record),
        Ok((_, read)) => Err(FrameError::Payload {
            reason: format!("record payload has {} trailing bytes", len - read as u64),
            len,
        }),
        Err(e) => Err(FrameError::Payload {
            reason: format!("undecodable record: {e}"),
            len,
        }),
    }
}

/// `len` bytes of `buf` at `offset`, if they are all there.
fn slice(buf: &[u8], offset: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    let end = usize::try_from(offset.checked_add(len)?).ok()?;
    buf.get(start..end)
}

#[cfg(test)]
#[path = "record_test.rs"]
mod tests;
