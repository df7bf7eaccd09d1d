//! Reading segments: the CRC chain, overwritten suffixes, and finding a torn tail.

use std::path::Path;
use std::path::PathBuf;

use raft_core::Entry;
use raft_core::HardState;

use crate::Error;
use crate::FileSystem;
use crate::Result;
use crate::StdFs;
use crate::WalSnapshot;
use crate::record::FORMAT_VERSION;
use crate::record::FrameError;
use crate::record::Record;
use crate::record::decode_frame;
use crate::segment::SegmentName;
use crate::segment::list_segments;

/// Where the valid records of the last segment end, and what must be repaired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tail {
    /// The offset after the last valid record: where the next record goes.
    pub(crate) end: u64,
    /// The end of the non-zero bytes after `end` (the torn in-flight save), if any.
    pub(crate) torn_end: Option<u64>,
    /// How many valid records the segment holds, its head included.
    pub(crate) records: u64,
}

/// The state a replay of segments builds.
#[derive(Debug)]
pub(crate) struct Replay {
    /// Entries at or below this index are not kept.
    from: WalSnapshot,
    /// Whether entries are kept at all (not when only markers are wanted).
    keep_entries: bool,
    pub(crate) metadata: Option<Vec<u8>>,
    pub(crate) hard_state: HardState,
    /// Entries after `from.index`; invariant: consecutive from `from.index + 1`.
    pub(crate) entries: Vec<Entry>,
    /// The index of the last entry read, or `from.index` if it is higher.
    pub(crate) last_index: u64,
    pub(crate) markers: Vec<WalSnapshot>,
    pub(crate) from_found: bool,
    /// The CRC of the last record read.
    pub(crate) crc: u32,
}

impl Replay {
    pub(crate) fn new(from: WalSnapshot, keep_entries: bool) -> Replay {
        Replay {
            from,
            keep_entries,
            metadata: None,
            hard_state: HardState::default(),
            entries: Vec::new(),
            last_index: from.index,
            markers: Vec::new(),
            from_found: false,
            crc: 0,
        }
    }

    /// Reads one segment's bytes. `first` is the first segment of this replay (its
    /// chain starts at its own `Crc` record); `last` is the log's last segment, whose
    /// torn tail is reported instead of refused.
    pub(crate) fn read_segment(
        &mut self,
        file: &Path,
        bytes: &[u8],
        first: bool,
        last: bool,
    ) -> Result<Tail> {
        let head = decode_frame(bytes, 0, None).map_err(|e| e.into_error(file, 0))?;
        let Record::Crc { version, prev_crc } = head.record else {
            return Err(Error::corrupt(
                file,
                0,
                "a segment must begin with a crc record",
            ));
        };
        if version == 0 || version > FORMAT_VERSION {
            return Err(Error::corrupt(
                file,
                0,
                format!("unsupported format version {version}"),
            ));
        }
        if !first && prev_crc != self.crc {
            return Err(Error::CrcMismatch {
                file: file.into(),
                offset: 0,
                expected: self.crc,
                found: prev_crc,
            });
        }
        self.crc = head.crc;
        let mut offset = head.end;
        let mut records = 1;
        loop {
            match decode_frame(bytes, offset, Some(self.crc)) {
                Ok(frame) => {
                    self.apply(file, offset, frame.record)?;
                    self.crc = frame.crc;
                    offset = frame.end;
                    records += 1;
                }
                Err(e) => return end_of_segment(file, bytes, offset, records, e, last),
            }
        }
    }

    fn apply(&mut self, file: &Path, offset: u64, record: Record<'static>) -> Result<()> {
        match record {
            Record::Crc { .. } => {
                return Err(Error::corrupt(file, offset, "crc record inside a segment"));
            }
            Record::Metadata(m) => match &self.metadata {
                Some(prev) if prev[..] != m[..] => {
                    return Err(Error::corrupt(
                        file,
                        offset,
                        "metadata differs from the earlier segments'",
                    ));
                }
                Some(_) => {}
                None => self.metadata = Some(m.into_owned()),
            },
            Record::Entries {
                hard_state,
                entries,
            } => {
                self.hard_state = hard_state;
                for entry in entries.into_owned() {
                    self.append(file, offset, entry)?;
                }
            }
            Record::State(hard_state) => self.hard_state = hard_state,
            Record::Snapshot(marker) => {
                if marker.index == self.from.index {
                    if marker.term != self.from.term {
                        return Err(Error::SnapshotMismatch {
                            index: marker.index,
                            expected: self.from.term,
                            found: marker.term,
                        });
                    }
                    self.from_found = true;
                }
                self.last_index = self.last_index.max(marker.index);
                self.markers.push(marker);
            }
        }
        Ok(())
    }

    /// Appends an entry read from the log, replacing any at or after its index.
    fn append(&mut self, file: &Path, offset: u64, entry: Entry) -> Result<()> {
        if entry.index > self.last_index.saturating_add(1) {
            let reason = format!(
                "entry {} does not follow the last index {}",
                entry.index, self.last_index
            );
            return Err(Error::corrupt(file, offset, reason));
        }
        self.last_index = entry.index;
        if entry.index <= self.from.index || !self.keep_entries {
            return Ok(());
        }
        let keep = usize::try_from(entry.index - self.from.index - 1).unwrap_or(usize::MAX);
        if keep > self.entries.len() {
            let reason = format!(
                "entry {} leaves a gap after index {}",
                entry.index, self.from.index
            );
            return Err(Error::corrupt(file, offset, reason));
        }
        self.entries.truncate(keep);
        self.entries.push(entry);
        debug_assert_eq!(self.entries.len() as u64, self.last_index - self.from.index);
        Ok(())
    }
}

/// Decides what a failed decode at `offset` means: the end of the data, a torn
/// tail (only in the last segment), or damage.
fn end_of_segment(
    file: &Path,
    bytes: &[u8],
    offset: u64,
    records: u64,
    e: FrameError,
    last: bool,
) -> Result<Tail> {
    let after = |from: u64| {
        bytes
            .get(usize::try_from(from).unwrap_or(usize::MAX)..)
            .unwrap_or_default()
    };
    let nonzero_end = |from: u64| {
        after(from)
            .iter()
            .rposition(|b| *b != 0)
            .map(|p| from + p as u64 + 1)
    };
    match (e, last) {
        (FrameError::End, false) => match nonzero_end(offset) {
            None => Ok(Tail {
                end: offset,
                torn_end: None,
                records,
            }),
            Some(_) => Err(Error::corrupt(
                file,
                offset,
                "data after the end of the records",
            )),
        },
        // A zero header in the last segment: anything after it is the rest of the
        // one save in flight at a crash, whose first sector never reached the disk.
        (FrameError::End, true) => Ok(Tail {
            end: offset,
            torn_end: nonzero_end(offset),
            records,
        }),
        (e, true) if nonzero_end(e.extent(offset)).is_none() => {
            tracing::warn!(file = %file.display(), offset, damage = ?e, "torn record at the tail");
            Ok(Tail {
                end: offset,
                torn_end: nonzero_end(offset),
                records,
            })
        }
        (e, _) => Err(e.into_error(file, offset)),
    }
}

/// The segments from the last whose index is at or below `index` to the end.
pub(crate) fn segments_from(segments: &[SegmentName], index: u64) -> Option<&[SegmentName]> {
    let start = segments.iter().rposition(|s| s.index <= index)?;
    segments.get(start..)
}

/// Reads `segments` of `dir` in order; returns the replay and the last segment's tail.
pub(crate) fn replay(
    fs: &dyn FileSystem,
    dir: &Path,
    segments: &[SegmentName],
    mut replay: Replay,
) -> Result<(Replay, Tail, Vec<u8>)> {
    let mut tail = Tail {
        end: 0,
        torn_end: None,
        records: 0,
    };
    // The first segment holds no entry below its index, so the log is taken to
    // reach just before it.
    if let Some(first) = segments.first() {
        replay.last_index = replay.last_index.max(first.index.saturating_sub(1));
    }
    let mut last_bytes = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        let path: PathBuf = dir.join(segment.file_name());
        let bytes = fs.read(&path).map_err(|e| Error::io("read", &path, e))?;
        let last = i + 1 == segments.len();
        tail = replay.read_segment(&path, &bytes, i == 0, last)?;
        if last {
            last_bytes = bytes;
        }
    }
    Ok((replay, tail, last_bytes))
}

/// The snapshot markers of the log in `dir` that a restart can use, as etcd's
/// `ValidSnapshotEntries`: those the retained segments cover (the log holds every
/// entry after them) and that are committed (not beyond the last hard state's commit).
pub fn valid_snapshot_entries(dir: &Path) -> Result<Vec<WalSnapshot>> {
    valid_snapshot_entries_in(&StdFs, dir)
}

/// [`valid_snapshot_entries`] through `fs`.
pub fn valid_snapshot_entries_in(fs: &dyn FileSystem, dir: &Path) -> Result<Vec<WalSnapshot>> {
    let segments = list_segments(fs, dir)?;
    let Some(first) = segments.first() else {
        return Err(Error::NotCovered {
            dir: dir.into(),
            index: 0,
        });
    };
    let (replay, _, _) = replay(
        fs,
        dir,
        &segments,
        Replay::new(WalSnapshot::default(), false),
    )?;
    let commit = replay.hard_state.commit;
    Ok(replay
        .markers
        .into_iter()
        .filter(|m| m.index >= first.index && m.index <= commit)
        .collect())
}

#[cfg(test)]
#[path = "reader_test.rs"]
mod tests;
