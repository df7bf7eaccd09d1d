//! keel's write-ahead log: what makes an acknowledged write survive power loss.
//!
//! The log holds raft's persistent state: the hard state (term, vote, commit),
//! the log entries, and markers of the snapshots taken; [`Snapshotter`] keeps the
//! snapshot files beside it. Everything here is exact about durability: nothing is
//! reported durable before its `fdatasync` returned, a failed `fdatasync` is final,
//! and damaged data is either repaired (a torn tail, which no caller was ever told
//! was durable) or refused with the file and offset (anything else). Nothing is ever
//! silently skipped.
//!
//! # Segments
//!
//! A log is a directory of segment files named `{seq:016x}-{index:016x}.wal`.
//! `seq` counts segments from 0 without gaps; `index` is the raft index of the first
//! entry the segment may hold, that is the last index of the log when the segment
//! was cut, plus one (lower than the previous segment's after an overwritten
//! suffix shortened the log). The first segment is `0000000000000000-0000000000000000.wal`.
//! Every entry a segment holds has an index below the `index` of the next segment,
//! which is what makes [`Wal::release_to`] and the choice of segments in
//! [`Wal::open`] exact.
//!
//! A segment is preallocated to [`WalOptions::segment_bytes`] (64 MiB by default)
//! with `set_len`; the zeroed space after the last record is the end of the data.
//! Before a save whose record does not fit in the current segment's space, the log is
//! cut: the next segment is written as `<name>.tmp`, preallocated, given its head
//! records, fsynced, renamed to its name, and the directory fsynced. A record larger
//! than a whole segment is written into an empty segment that grows to hold it.
//! Leftover `.tmp` files (a cut interrupted by a crash) are deleted at open.
//!
//! # Records
//!
//! Every record is a frame at an 8-byte aligned offset:
//!
//! | bytes        | field                                                         |
//! |--------------|---------------------------------------------------------------|
//! | `0..4`       | `len`: payload bytes, u32 little endian, `1..=MAX_RECORD_BYTES` |
//! | `4..8`       | `crc`: CRC32C, u32 little endian                              |
//! | `8..8+len`   | payload: the record, bincode 2 (serde, standard config)       |
//! | up to 8-aligned | zero padding                                               |
//!
//! The 8-byte header is aligned, so it lies within one disk sector and a
//! sector-atomic disk never tears a length. A zero `len` is never written, so a
//! zero header marks the end of a segment's data.
//!
//! The CRC is chained across records and segments as etcd's is:
//! `crc = crc32c_append(prev, len_le_bytes ++ payload)`, where `prev` is the CRC of
//! the record before it, in this segment or the previous one. A lost, reordered or
//! replaced record therefore breaks the chain even when it is itself intact.
//!
//! The payload is a bincode enum whose tag is the record type:
//!
//! | tag | record                       | written                                  |
//! |-----|------------------------------|------------------------------------------|
//! | 0   | `Crc { version, prev_crc }`  | first in every segment                   |
//! | 1   | `Metadata(bytes)`            | second in every segment                  |
//! | 2   | `Entries { hard_state, entries }` | by a save with entries              |
//! | 3   | `State(hard_state)`          | third in a cut segment; by a save without entries |
//! | 4   | `Snapshot { index, term }`   | third in the first segment `{0, 0}`; by [`Wal::save_snapshot`] |
//!
//! `Crc` carries the format version ([`FORMAT_VERSION`]), so later versions can read
//! older logs, and the CRC of the last record of the previous segment (0 for segment
//! 0): its own CRC is computed from that value, so the chain can be checked from any
//! segment on. The metadata is opaque to this crate (the server stores the cluster
//! and member ids) and must be identical in every segment. Every segment repeats the
//! metadata and the hard state, so older segments can be deleted.
//!
//! # Saves
//!
//! [`Wal::save`] encodes the hard state and all its entries as ONE record, writes it
//! with one `pwrite`, and makes it durable with one `fdatasync`, however many entries:
//! the server calls it once per raft `Ready`, which is the group commit. Because a
//! save is one record, a crash can tear at most one record, the last one. Entries
//! may start at or below the log's last index: the later record overwrites that
//! suffix (a follower's truncation), and reading resolves it.
//!
//! A failed write or `fdatasync` poisons the [`Wal`]: the call returns the error, and
//! every later call fails with [`Error::Poisoned`]. The `fdatasync` is never retried:
//! after a failure the kernel may have dropped the dirty pages and a retry could
//! succeed without the data (PostgreSQL's "fsyncgate").
//!
//! # Open and repair
//!
//! [`Wal::open`]`(dir, from)` is read mode, then append mode. It reads the last
//! segment whose `index <= from.index` and every later one, checks the CRC chain
//! from that segment's `Crc` record on, and returns the metadata, the last hard state
//! and every entry after `from.index`, with overwritten suffixes resolved. The
//! snapshot marker `from` must be found (`{0, 0}` is in the first segment). Then the
//! tail is repaired and the log is ready to append.
//!
//! * In a segment other than the last, any damage (a CRC mismatch, an impossible
//!   length, a payload that does not decode, non-zero bytes after the end) is refused
//!   with [`Error::CrcMismatch`] or [`Error::Corrupt`] naming the file and offset.
//! * In the last segment, the first record that is not valid ends the log, and is a
//!   torn tail if nothing follows it: a zero header (then any bytes after it are the
//!   unsynced rest of the one in-flight save), or a record whose length runs past the
//!   file or whose CRC or payload is wrong with only zeros after its extent. The torn
//!   bytes are zeroed and fsynced, with a warning. A bad record followed by more data
//!   is damage, not a torn write (a save is one record), and is refused.
//!   (Damage to the very last record is indistinguishable from a torn write and is
//!   repaired as one, as in etcd; every earlier record is protected.)
//!
//! # Release
//!
//! [`Wal::release_to`]`(index)` finds the last segment whose `index <= index` (the one
//! an open from a snapshot at `index` starts at) and deletes older segments, oldest
//! first, while more than [`WalOptions::max_wals`] segments remain.
//!
//! # Snapshot files
//!
//! [`Snapshotter`] keeps files named `{term:016x}-{index:016x}.snap`, each holding
//! one [`raft_core::Snapshot`] (index, term, membership and the server's small state
//! beside the store) as `[version u32][crc32c u32][len u64][bincode payload]`,
//! little endian, written as `.tmp`, fsynced, renamed and the directory fsynced. The
//! newest `max_snapshots` files are kept. [`Snapshotter::load_newest_available`]
//! loads the newest file that matches a snapshot marker of the retained log
//! ([`valid_snapshot_entries`]), skipping a corrupt one with a warning; if one was
//! skipped and no older one is usable, it fails naming the file.
//!
//! # Start-up and snapshots, for the server
//!
//! 1. `let markers = valid_snapshot_entries(&wal_dir)?;`
//! 2. `let snap = snapshotter.load_newest_available(&markers)?;`
//! 3. `Wal::open(&wal_dir, from, opts)` with `from` the snapshot's index and term
//!    (`WalSnapshot::default()` if there is none), then restore raft from the
//!    snapshot, the hard state and the entries.
//!
//! To record a snapshot (taken locally, or received in a `Ready`): write the file
//! with [`Snapshotter::save`], then the marker with [`Wal::save_snapshot`], both
//! before [`Wal::save`] of entries that follow it; once the store is durable to the
//! snapshot's index, [`Wal::release_to`] it.
//!
//! # Directory lock and file access
//!
//! An open [`Wal`] holds a [`DirLock`] (an exclusive `flock` of `LOCK` in its
//! directory), so two processes never append to one log. All file access goes
//! through the [`FileSystem`] trait: [`StdFs`] for real, and [`FaultFs`], an
//! in-memory twin that keeps unsynced writes apart, drops all or a prefix of them
//! (or a random subset of their sectors) at a simulated power cut, and injects
//! short writes and fsync errors.
//!
//! # Example
//!
//! ```
//! use raft_core::{Entry, HardState};
//! use wal::{Wal, WalOptions, WalSnapshot};
//!
//! # fn main() -> wal::Result<()> {
//! let dir = tempfile::tempdir().map_err(|e| wal::Error::io("tempdir", "", e))?;
//! let mut log = Wal::create(dir.path(), b"cluster-1", WalOptions::default())?;
//! let entry = Entry { term: 1, index: 1, data: b"put a=1".to_vec().into(), ..Entry::default() };
//! log.save(&HardState { term: 1, vote: 1, commit: 1 }, &[entry.clone()])?;
//! drop(log);
//!
//! let (_log, contents) = Wal::open(dir.path(), WalSnapshot::default(), WalOptions::default())?;
//! assert_eq!(contents.metadata, b"cluster-1");
//! assert_eq!(contents.entries, vec![entry]);
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

mod dir_lock;
mod error;
mod fault_fs;
mod fs;
mod options;
mod reader;
mod record;
mod segment;
mod snapshotter;
mod wal;

pub use dir_lock::DirLock;
pub use error::Error;
pub use error::Result;
pub use fault_fs::FaultFs;
pub use fault_fs::PowerLoss;
pub use fs::FileSystem;
pub use fs::StdFs;
pub use fs::WalFile;
pub use options::DEFAULT_MAX_WALS;
pub use options::DEFAULT_SEGMENT_BYTES;
pub use options::MIN_SEGMENT_BYTES;
pub use options::WalOptions;
pub use reader::valid_snapshot_entries;
pub use reader::valid_snapshot_entries_in;
pub use record::FORMAT_VERSION;
pub use record::MAX_RECORD_BYTES;
pub use snapshotter::DEFAULT_MAX_SNAPSHOTS;
pub use snapshotter::Snapshotter;
pub use wal::Wal;
pub use wal::WalContents;
pub use wal::WalSnapshot;
