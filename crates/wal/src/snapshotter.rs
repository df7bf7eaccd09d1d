//! Snapshot files: `{term:016x}-{index:016x}.snap`, each `[version u32][crc32c u32]
//! [len u64][bincode payload]`, written as a temp file, synced and renamed.

use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;

use raft_core::Snapshot;

use crate::Error;
use crate::FileSystem;
use crate::Result;
use crate::StdFs;
use crate::WalSnapshot;
use crate::segment::TMP_SUFFIX;
use crate::segment::parse_hex_pair;

/// The suffix of a snapshot file.
const SNAP_SUFFIX: &str = ".snap";
/// The version in every snapshot file's header.
const SNAP_VERSION: u32 = 1;
/// Version, CRC and payload length.
const SNAP_HEADER_BYTES: usize = 16;
/// The default number of snapshot files kept, as etcd's `--max-snapshots`.
pub const DEFAULT_MAX_SNAPSHOTS: usize = 5;

/// Saves and loads the snapshot files of one directory, keeping the newest few.
#[derive(Debug)]
pub struct Snapshotter {
    fs: Arc<dyn FileSystem>,
    dir: PathBuf,
    /// Invariant: at least 1.
    max_snapshots: usize,
}

impl Snapshotter {
    /// A snapshotter of `dir` (created if absent) that keeps `max_snapshots` files.
    pub fn new(dir: &Path, max_snapshots: usize) -> Result<Snapshotter> {
        Snapshotter::with_fs(Arc::new(StdFs), dir, max_snapshots)
    }

    /// [`Snapshotter::new`] through `fs`.
    pub fn with_fs(
        fs: Arc<dyn FileSystem>,
        dir: &Path,
        max_snapshots: usize,
    ) -> Result<Snapshotter> {
        if max_snapshots == 0 {
            return Err(Error::InvalidArgument {
                reason: "max_snapshots must be at least 1".into(),
            });
        }
        fs.create_dir_all(dir)
            .map_err(|e| Error::io("create_dir", dir, e))?;
        crate::segment::remove_temps(fs.as_ref(), dir)?;
        Ok(Snapshotter {
            fs,
            dir: dir.into(),
            max_snapshots,
        })
    }

    /// Writes `snap` durably (an empty snapshot is not written), then deletes the
    /// oldest files beyond `max_snapshots`.
    pub fn save(&self, snap: &Snapshot) -> Result<()> {
        if snap.is_empty() {
            return Ok(());
        }
        let payload = bincode::serde::encode_to_vec(snap, bincode::config::standard())?;
        let mut bytes = Vec::with_capacity(SNAP_HEADER_BYTES + payload.len());
        bytes.extend_from_slice(&SNAP_VERSION.to_le_bytes());
        bytes.extend_from_slice(&crc32c::crc32c(&payload).to_le_bytes());
        bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&payload);
        let marker = WalSnapshot {
            index: snap.metadata.index,
            term: snap.metadata.term,
        };
        let path = self.dir.join(file_name(marker));
        let tmp = self.dir.join(format!("{}{TMP_SUFFIX}", file_name(marker)));
        let mut file = self
            .fs
            .create(&tmp)
            .map_err(|e| Error::io("create", &tmp, e))?;
        file.write_at(0, &bytes)
            .map_err(|e| Error::io("write", &tmp, e))?;
        file.sync_data().map_err(|e| Error::FsyncFailed {
            file: tmp.clone(),
            source: e,
        })?;
        self.fs
            .rename(&tmp, &path)
            .map_err(|e| Error::io("rename", &tmp, e))?;
        self.fs
            .sync_dir(&self.dir)
            .map_err(|e| Error::FsyncFailed {
                file: self.dir.clone(),
                source: e,
            })?;
        self.purge()
    }

    /// Loads the newest snapshot file, skipping a corrupt one (with a warning) for
    /// the next older. The caller must check the log covers what follows it; see
    /// [`Snapshotter::load_newest_available`]. `None` if there is no file at all;
    /// an error naming the newest corrupt file if every file is corrupt.
    pub fn load_newest(&self) -> Result<Option<Snapshot>> {
        self.load_newest_matching(|_| true)
    }

    /// Loads the newest snapshot file that matches one of `walsnaps` (as
    /// [`crate::valid_snapshot_entries`] returns them: the markers the retained log
    /// covers), skipping a corrupt one with a warning. If one was skipped and no
    /// older one matches, fails naming the corrupt file: the log no longer covers
    /// what the next older snapshot would need.
    pub fn load_newest_available(&self, walsnaps: &[WalSnapshot]) -> Result<Option<Snapshot>> {
        self.load_newest_matching(|m| walsnaps.contains(&m))
    }

    fn load_newest_matching(
        &self,
        wanted: impl Fn(WalSnapshot) -> bool,
    ) -> Result<Option<Snapshot>> {
        let mut first_error = None;
        for marker in self.markers()?.into_iter().filter(|m| wanted(*m)) {
            let path = self.dir.join(file_name(marker));
            match self.load(&path, marker) {
                Ok(snap) => return Ok(Some(snap)),
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "skipping a snapshot file that cannot be loaded");
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(None),
        }
    }

    /// The snapshot files' markers, newest first.
    fn markers(&self) -> Result<Vec<WalSnapshot>> {
        let names = self
            .fs
            .list(&self.dir)
            .map_err(|e| Error::io("list", &self.dir, e))?;
        let mut markers: Vec<WalSnapshot> = names
            .iter()
            .filter_map(|n| parse_hex_pair(n.strip_suffix(SNAP_SUFFIX)?))
            .map(|(term, index)| WalSnapshot { index, term })
            .collect();
        markers.sort_by_key(|m| std::cmp::Reverse((m.term, m.index)));
        Ok(markers)
    }

    fn load(&self, path: &Path, marker: WalSnapshot) -> Result<Snapshot> {
        let bytes = self.fs.read(path).map_err(|e| Error::io("read", path, e))?;
        let (header, payload) = bytes
            .split_at_checked(SNAP_HEADER_BYTES)
            .ok_or_else(|| Error::corrupt(path, 0, "shorter than its header"))?;
        let word = |at: usize| {
            header
                .get(at..at + 4)
                .and_then(|w| w.try_into().ok())
                .map(u32::from_le_bytes)
                .unwrap_or_default()
        };
        let len = header
            .get(8..16)
            .and_then(|w| w.try_into().ok())
            .map(u64::from_le_bytes)
            .unwrap_or_default();
        if word(0) != SNAP_VERSION {
            return Err(Error::corrupt(
                path,
                0,
                format!("unsupported snapshot version {}", word(0)),
            ));
        }
        if len != payload.len() as u64 {
            return Err(Error::corrupt(
                path,
                8,
                format!("length {len} but {} payload bytes", payload.len()),
            ));
        }
        let expected = crc32c::crc32c(payload);
        if expected != word(4) {
            return Err(Error::CrcMismatch {
                file: path.into(),
                offset: 0,
                expected,
                found: word(4),
            });
        }
        let (snap, _): (Snapshot, usize) =
            bincode::serde::decode_from_slice(payload, bincode::config::standard()).map_err(
                |e| {
                    Error::corrupt(
                        path,
                        SNAP_HEADER_BYTES as u64,
                        format!("undecodable snapshot: {e}"),
                    )
                },
            )?;
        if snap.metadata.index != marker.index || snap.metadata.term != marker.term {
            return Err(Error::corrupt(
                path,
                0,
                "snapshot metadata does not match the file name",
            ));
        }
        Ok(snap)
    }

    /// Deletes the oldest files beyond `max_snapshots`.
    fn purge(&self) -> Result<()> {
        let markers = self.markers()?;
        for marker in markers.iter().skip(self.max_snapshots) {
            let path = self.dir.join(file_name(*marker));
            self.fs
                .remove(&path)
                .map_err(|e| Error::io("remove", &path, e))?;
        }
        if markers.len() > self.max_snapshots {
            self.fs
                .sync_dir(&self.dir)
                .map_err(|e| Error::io("sync_dir", &self.dir, e))?;
        }
        Ok(())
    }
}

fn file_name(marker: WalSnapshot) -> String {
    format!("{:016x}-{:016x}{SNAP_SUFFIX}", marker.term, marker.index)
}
