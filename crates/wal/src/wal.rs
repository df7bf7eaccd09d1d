//! The log itself: create, open (read, then repair, then append), save, release.

use std::borrow::Cow;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;

use raft_core::Entry;
use raft_core::HardState;
use serde::Deserialize;
use serde::Serialize;

use crate::DirLock;
use crate::Error;
use crate::FileSystem;
use crate::Result;
use crate::StdFs;
use crate::WalFile;
use crate::WalOptions;
use crate::reader::Replay;
use crate::reader::replay;
use crate::reader::segments_from;
use crate::record::FORMAT_VERSION;
use crate::record::Record;
use crate::record::encode_frame;
use crate::segment::SegmentName;
use crate::segment::TMP_SUFFIX;
use crate::segment::list_segments;
use crate::segment::remove_temps;

/// A snapshot marker in the log: a snapshot at `index` (whose entry has `term`) exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct WalSnapshot {
    /// The last index the snapshot covers.
    pub index: u64,
    /// The term of the entry at `index`.
    pub term: u64,
}

/// What [`Wal::open`] read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WalContents {
    /// The metadata given to [`Wal::create`].
    pub metadata: Vec<u8>,
    /// The last hard state saved.
    pub hard_state: HardState,
    /// Every entry after the snapshot opened from, consecutive, with overwritten
    /// suffixes resolved.
    pub entries: Vec<Entry>,
}

/// An open write-ahead log, ready to append. See the crate manual for the format.
#[derive(Debug)]
pub struct Wal {
    fs: Arc<dyn FileSystem>,
    dir: PathBuf,
    opts: WalOptions,
    _lock: DirLock,
    /// Invariant: not empty; the last is the segment being appended to.
    segments: Vec<SegmentName>,
    file: Box<dyn WalFile>,
    /// The length of `file`.
    allocated_bytes: u64,
    /// Where the next record goes. Invariant: a multiple of 8, at most `allocated_bytes`.
    offset: u64,
    /// Whether the current segment holds anything after its head records.
    segment_has_saves: bool,
    /// Whether the last record written was left unsynced (a commit-only state).
    unsynced: bool,
    /// The CRC of the last record written.
    crc: u32,
    metadata: Vec<u8>,
    hard_state: HardState,
    /// The index of the last entry (or snapshot marker, if higher).
    last_index: u64,
    /// The frame being written, reused across saves.
    buf: Vec<u8>,
    /// The first write or sync failure; once set, every call fails.
    failed: Option<String>,
}

// The server moves the log into its raft thread.
const _: fn() = || {
    fn send<T: Send>() {}
    send::<Wal>();
};

/// A segment just written by [`write_segment`].
struct NewSegment {
    file: Box<dyn WalFile>,
    allocated_bytes: u64,
    head_end: u64,
    crc: u32,
}

impl Wal {
    /// Creates a new log in `dir` (created if absent; it must hold no segment),
    /// with opaque `metadata`, and opens it for appending.
    pub fn create(dir: &Path, metadata: &[u8], opts: WalOptions) -> Result<Wal> {
        opts.validate()?;
        let fs = Arc::clone(&opts.fs);
        fs.create_dir_all(dir)
            .map_err(|e| Error::io("create_dir", dir, e))?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs.sync_dir(parent)
                .map_err(|e| Error::io("sync_dir", parent, e))?;
        }
        let lock = fs.lock(dir)?;
        if !list_segments(fs.as_ref(), dir)?.is_empty() {
            return Err(Error::AlreadyExists { dir: dir.into() });
        }
        remove_temps(fs.as_ref(), dir)?;
        let name = SegmentName { seq: 0, index: 0 };
        let head = [
            Record::Crc {
                version: FORMAT_VERSION,
                prev_crc: 0,
            },
            Record::Metadata(Cow::Borrowed(metadata)),
            Record::Snapshot(WalSnapshot::default()),
        ];
        let new = write_segment(fs.as_ref(), dir, name, &head, opts.segment_bytes)?;
        Ok(Wal {
            fs,
            dir: dir.into(),
            opts,
            _lock: lock,
            segments: vec![name],
            file: new.file,
            allocated_bytes: new.allocated_bytes,
            offset: new.head_end,
            segment_has_saves: false,
            unsynced: false,
            crc: new.crc,
            metadata: metadata.to_vec(),
            hard_state: HardState::default(),
            last_index: 0,
            buf: Vec::new(),
            failed: None,
        })
    }

    /// Opens the log in `dir`, reads everything after the snapshot marker `from`
    /// (`WalSnapshot::default()` for the whole log), repairs a torn tail, and is
    /// then ready to append.
    pub fn open(dir: &Path, from: WalSnapshot, opts: WalOptions) -> Result<(Wal, WalContents)> {
        opts.validate()?;
        let fs = Arc::clone(&opts.fs);
        let lock = fs.lock(dir)?;
        remove_temps(fs.as_ref(), dir)?;
        let all = list_segments(fs.as_ref(), dir)?;
        let segments = segments_from(&all, from.index).ok_or_else(|| Error::NotCovered {
            dir: dir.into(),
            index: from.index,
        })?;
        let (read, tail, last_bytes) = replay(fs.as_ref(), dir, segments, Replay::new(from, true))?;
        if !read.from_found {
            return Err(Error::SnapshotNotFound {
                index: from.index,
                term: from.term,
            });
        }
        let last = *segments.last().ok_or_else(|| Error::NotCovered {
            dir: dir.into(),
            index: from.index,
        })?;
        let path = dir.join(last.file_name());
        let metadata = read
            .metadata
            .ok_or_else(|| Error::corrupt(&path, 0, "no metadata record"))?;
        let mut file = fs
            .open_write(&path)
            .map_err(|e| Error::io("open", &path, e))?;
        if let Some(torn_end) = tail.torn_end {
            repair(file.as_mut(), &path, tail.end, torn_end)?;
        }
        let wal = Wal {
            fs,
            dir: dir.into(),
            opts,
            _lock: lock,
            segments: all.clone(),
            file,
            allocated_bytes: last_bytes.len() as u64,
            offset: tail.end,
            segment_has_saves: tail.records > 3,
            unsynced: false,
            crc: read.crc,
            metadata: metadata.clone(),
            hard_state: read.hard_state,
            last_index: read.last_index,
            buf: Vec::new(),
            failed: None,
        };
        let contents = WalContents {
            metadata,
            hard_state: read.hard_state,
            entries: read.entries,
        };
        Ok((wal, contents))
    }

    /// Whether `dir` holds a log (any segment file).
    pub fn exists(dir: &Path) -> bool {
        Wal::exists_in(&StdFs, dir)
    }

    /// [`Wal::exists`] through `fs`.
    pub fn exists_in(fs: &dyn FileSystem, dir: &Path) -> bool {
        fs.list(dir)
            .is_ok_and(|names| names.iter().any(|n| SegmentName::parse(n).is_some()))
    }

    /// Appends the hard state and `entries` as one record and makes it durable with
    /// one `fdatasync`, however many entries. A record that only moves the commit
    /// index is written but not synced, as etcd's `MustSync` rule has it: a commit
    /// index is relearned from the leader, so losing it to a power cut is harmless,
    /// while entries, term and vote must survive. `entries` must be consecutive, start no
    /// later than just after the last index, and not replace committed entries; they
    /// replace any entries at or after their first index. An empty hard state stands
    /// for the current one; a call with neither new state nor entries writes nothing.
    /// Returns whether it synced (what etcd's `wal_fsync_duration_seconds` counts).
    pub fn save(&mut self, hard_state: &HardState, entries: &[Entry]) -> Result<bool> {
        self.check_usable()?;
        let state = if hard_state.is_empty() {
            self.hard_state
        } else {
            *hard_state
        };
        if entries.is_empty() && state == self.hard_state {
            return Ok(false);
        }
        let last_index = self.check_entries(entries)?;
        let record = match entries {
            [] => Record::State(state),
            _ => Record::Entries {
                hard_state: state,
                entries: Cow::Borrowed(entries),
            },
        };
        let must_sync = !entries.is_empty()
            || state.term != self.hard_state.term
            || state.vote != self.hard_state.vote;
        self.append(&record, must_sync)?;
        self.hard_state = state;
        self.last_index = last_index;
        Ok(must_sync)
    }

    /// Records that a snapshot at `snap` exists; durable on return.
    pub fn save_snapshot(&mut self, snap: WalSnapshot) -> Result<()> {
        self.check_usable()?;
        self.append(&Record::Snapshot(snap), true)?;
        self.last_index = self.last_index.max(snap.index);
        Ok(())
    }

    /// Deletes the segments that hold only entries below the segment an open from a
    /// snapshot at `index` starts at, oldest first, keeping at least `max_wals`
    /// segments. The caller guarantees the state machine is durable to `index`.
    pub fn release_to(&mut self, index: u64) -> Result<()> {
        self.check_usable()?;
        let Some(start) = self.segments.iter().rposition(|s| s.index <= index) else {
            return Ok(());
        };
        let removable = start.min(self.segments.len().saturating_sub(self.opts.max_wals));
        for _ in 0..removable {
            let Some(oldest) = self.segments.first() else {
                break;
            };
            let path = self.dir.join(oldest.file_name());
            self.fs
                .remove(&path)
                .map_err(|e| Error::io("remove", &path, e))?;
            // One sync per removal keeps the survivors a gap-free suffix after a crash.
            self.fs
                .sync_dir(&self.dir)
                .map_err(|e| Error::io("sync_dir", &self.dir, e))?;
            self.segments.remove(0);
        }
        Ok(())
    }

    /// The index of the last entry saved (or of the last snapshot marker, if higher).
    pub fn last_index(&self) -> u64 {
        self.last_index
    }

    /// The last hard state saved.
    pub fn hard_state(&self) -> HardState {
        self.hard_state
    }

    /// The file names of the segments, oldest first.
    pub fn segment_names(&self) -> Vec<String> {
        self.segments.iter().map(SegmentName::file_name).collect()
    }

    fn check_usable(&self) -> Result<()> {
        match &self.failed {
            Some(cause) => Err(Error::Poisoned {
                cause: cause.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Checks `entries` can follow the log; returns the last index after them.
    fn check_entries(&self, entries: &[Entry]) -> Result<u64> {
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            return Ok(self.last_index);
        };
        let invalid = |reason: String| Err(Error::InvalidArgument { reason });
        if first.index == 0 || first.index > self.last_index + 1 {
            return invalid(format!(
                "entry {} cannot follow the last index {}",
                first.index, self.last_index
            ));
        }
        if first.index <= self.hard_state.commit {
            return invalid(format!(
                "entry {} would replace a committed entry (commit {})",
                first.index, self.hard_state.commit
            ));
        }
        if entries
            .windows(2)
            .any(|w| matches!(w, [a, b] if b.index != a.index + 1))
        {
            return invalid("entries are not consecutive".into());
        }
        Ok(last.index)
    }

    /// Writes one record (cutting a segment first if it does not fit), then syncs
    /// the file if `sync`: an unsynced record is made durable by the next synced
    /// one, since a sync covers every earlier write. A failure poisons the log.
    fn append(&mut self, record: &Record<'_>, sync: bool) -> Result<()> {
        let mut crc = encode_frame(&mut self.buf, record, self.crc)?;
        let frame_bytes = self.buf.len() as u64;
        if self.offset + frame_bytes > self.opts.segment_bytes && self.segment_has_saves {
            self.cut().map_err(|e| self.poison(e))?;
            // The frame chains from the new segment's head now.
            crc = encode_frame(&mut self.buf, record, self.crc)?;
        }
        self.write_frame(frame_bytes, sync)
            .map_err(|e| self.poison(e))?;
        self.offset += frame_bytes;
        self.crc = crc;
        self.segment_has_saves = true;
        debug_assert!(self.offset.is_multiple_of(8) && self.offset <= self.allocated_bytes);
        Ok(())
    }

    fn write_frame(&mut self, frame_bytes: u64, sync: bool) -> Result<()> {
        let path = self.current_path();
        let end = self.offset + frame_bytes;
        if end > self.allocated_bytes {
            self.file
                .set_len(end)
                .map_err(|e| Error::io("set_len", &path, e))?;
            self.allocated_bytes = end;
        }
        self.file
            .write_at(self.offset, &self.buf)
            .map_err(|e| Error::io("write", &path, e))?;
        self.unsynced = !sync;
        if !sync {
            return Ok(());
        }
        self.file.sync_data().map_err(|e| Error::FsyncFailed {
            file: path,
            source: e,
        })
    }

    /// Starts the next segment, named for the index after the last.
    fn cut(&mut self) -> Result<()> {
        if self.unsynced {
            // Only the last segment may end torn: the old one is made whole first.
            let path = self.current_path();
            self.file.sync_data().map_err(|e| Error::FsyncFailed {
                file: path,
                source: e,
            })?;
            self.unsynced = false;
        }
        let current = *self
            .segments
            .last()
            .ok_or_else(|| Error::corrupt(&self.dir, 0, "no segment"))?;
        let name = SegmentName {
            seq: current.seq + 1,
            index: self.last_index + 1,
        };
        let head = [
            Record::Crc {
                version: FORMAT_VERSION,
                prev_crc: self.crc,
            },
            Record::Metadata(Cow::Borrowed(&self.metadata)),
            Record::State(self.hard_state),
        ];
        let new = write_segment(
            self.fs.as_ref(),
            &self.dir,
            name,
            &head,
            self.opts.segment_bytes,
        )?;
        tracing::debug!(segment = %name.file_name(), "cut a new segment");
        self.segments.push(name);
        self.file = new.file;
        self.allocated_bytes = new.allocated_bytes;
        self.offset = new.head_end;
        self.crc = new.crc;
        self.segment_has_saves = false;
        Ok(())
    }

    fn current_path(&self) -> PathBuf {
        let name = self
            .segments
            .last()
            .map(SegmentName::file_name)
            .unwrap_or_default();
        self.dir.join(name)
    }

    fn poison(&mut self, e: Error) -> Error {
        tracing::error!(error = %e, "the write-ahead log failed; it accepts no more calls");
        self.failed.get_or_insert_with(|| e.to_string());
        e
    }
}

/// Zeroes the torn bytes `[end, torn_end)` of the last segment, durably.
fn repair(file: &mut dyn WalFile, path: &Path, end: u64, torn_end: u64) -> Result<()> {
    tracing::warn!(file = %path.display(), offset = end, bytes = torn_end - end, "repairing a torn tail");
    let zeros = vec![0; usize::try_from(torn_end - end).unwrap_or(0)];
    file.write_at(end, &zeros)
        .map_err(|e| Error::io("write", path, e))?;
    file.sync_data().map_err(|e| Error::FsyncFailed {
        file: path.into(),
        source: e,
    })
}

/// Writes a segment with `head` records durably: as a temp file, preallocated,
/// synced, renamed, and the directory synced.
fn write_segment(
    fs: &dyn FileSystem,
    dir: &Path,
    name: SegmentName,
    head: &[Record<'_>],
    segment_bytes: u64,
) -> Result<NewSegment> {
    let mut buf = Vec::new();
    let mut frame = Vec::new();
    let mut crc = 0;
    for record in head {
        let prev = match record {
            Record::Crc { prev_crc, .. } => *prev_crc,
            _ => crc,
        };
        crc = encode_frame(&mut frame, record, prev)?;
        buf.extend_from_slice(&frame);
    }
    let head_end = buf.len() as u64;
    let allocated_bytes = segment_bytes.max(head_end);
    let path = dir.join(name.file_name());
    let tmp = dir.join(format!("{}{TMP_SUFFIX}", name.file_name()));
    let mut file = fs.create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
    file.set_len(allocated_bytes)
        .map_err(|e| Error::io("set_len", &tmp, e))?;
    file.write_at(0, &buf)
        .map_err(|e| Error::io("write", &tmp, e))?;
    file.sync_data().map_err(|e| Error::FsyncFailed {
        file: tmp.clone(),
        source: e,
    })?;
    fs.rename(&tmp, &path)
        .map_err(|e| Error::io("rename", &tmp, e))?;
    fs.sync_dir(dir).map_err(|e| Error::FsyncFailed {
        file: dir.into(),
        source: e,
    })?;
    Ok(NewSegment {
        file,
        allocated_bytes,
        head_end,
        crc,
    })
}
