//! An in-memory file system that simulates power loss and injects faults.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::MutexGuard;

use crate::DirLock;
use crate::Error;
use crate::FileSystem;
use crate::Result;
use crate::WalFile;

/// What a simulated power cut keeps of the writes not yet synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerLoss {
    /// Every unsynced write is lost.
    DropAll,
    /// The first `n` unsynced bytes of each file survive, in write order; the rest
    /// and everything after them is lost.
    KeepPrefix(u64),
    /// Each 512-byte sector of a file that unsynced writes changed keeps its new
    /// or its old content, at random from `seed`, as a disk that writes sectors
    /// back in any order; file lengths are kept.
    RandomSectors {
        /// Chooses the sectors kept.
        seed: u64,
    },
}

/// The unit a disk writes atomically.
const SECTOR_BYTES: usize = 512;

/// The next number of a splitmix64 sequence: enough randomness for choosing sectors.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The in-memory twin of [`crate::StdFs`] for tests, public so other crates' tests
/// can use it too.
///
/// It models what a disk guarantees: a file's bytes are durable once
/// [`WalFile::sync_data`] returned, and a directory's names once
/// [`FileSystem::sync_dir`] returned. Everything else is kept apart and dropped, in
/// whole or up to a prefix, by [`FaultFs::power_loss`]. A power loss also ends the
/// "process": files opened before it fail every call, and locks are released.
/// Clones share the same files; [`FaultFs::fork`] copies them.
#[derive(Debug, Clone, Default)]
pub struct FaultFs {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Clone, Default)]
struct State {
    /// Directory path to its names.
    dirs: BTreeMap<PathBuf, Dir>,
    /// File contents by inode number.
    inodes: HashMap<u64, Inode>,
    next_inode: u64,
    /// Counts power losses; a handle from an older epoch belongs to a dead process.
    epoch: u64,
    locks: BTreeSet<PathBuf>,
    /// When set, every sync fails with EIO.
    fail_syncs: bool,
    /// When set, the next write stores only this many bytes and fails.
    short_write_bytes: Option<usize>,
    /// Successful `sync_data` calls, for tests that count fsyncs.
    data_syncs: u64,
}

#[derive(Debug, Clone, Default)]
struct Dir {
    current: BTreeMap<String, u64>,
    durable: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default)]
struct Inode {
    durable: Vec<u8>,
    current: Vec<u8>,
    /// The operations since the last sync, in order.
    pending: Vec<Pending>,
}

#[derive(Debug, Clone)]
enum Pending {
    Write { offset: u64, bytes: Vec<u8> },
    SetLen(u64),
}

fn eio(what: &str) -> io::Error {
    io::Error::other(format!("injected fault: {what}"))
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{} not found", path.display()),
    )
}

fn split(path: &Path) -> io::Result<(PathBuf, String)> {
    let parent = path.parent().ok_or_else(|| not_found(path))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| not_found(path))?;
    Ok((parent.to_path_buf(), name.to_string()))
}

impl FaultFs {
    /// An empty file system.
    pub fn new() -> FaultFs {
        FaultFs::default()
    }

    /// An independent copy of every file, durable and not, and of the faults set.
    pub fn fork(&self) -> FaultFs {
        let state = self.lock_state().clone();
        FaultFs {
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// Simulates a power cut: every file keeps its synced bytes plus what `keep`
    /// says of the unsynced ones, names revert to the last synced directory, open
    /// files go dead, locks are released and injected faults are cleared.
    pub fn power_loss(&self, keep: PowerLoss) {
        let mut state = self.lock_state();
        for inode in state.inodes.values_mut() {
            inode.lose_power(keep);
        }
        for dir in state.dirs.values_mut() {
            dir.current = dir.durable.clone();
        }
        let live: BTreeSet<u64> = state
            .dirs
            .values()
            .flat_map(|d| d.durable.values().copied())
            .collect();
        state.inodes.retain(|ino, _| live.contains(ino));
        state.epoch += 1;
        state.locks.clear();
        state.fail_syncs = false;
        state.short_write_bytes = None;
    }

    /// While `fail` is set, every `sync_data` and `sync_dir` fails with an I/O error.
    pub fn set_fail_syncs(&self, fail: bool) {
        self.lock_state().fail_syncs = fail;
    }

    /// The next write stores only its first `stored_bytes` bytes, then fails.
    pub fn short_write_next(&self, stored_bytes: usize) {
        self.lock_state().short_write_bytes = Some(stored_bytes);
    }

    /// How many bytes have been written to files and not yet synced.
    pub fn unsynced_bytes(&self) -> u64 {
        let state = self.lock_state();
        let written = |p: &Pending| match p {
            Pending::Write { bytes, .. } => bytes.len() as u64,
            Pending::SetLen(_) => 0,
        };
        state
            .inodes
            .values()
            .flat_map(|i| i.pending.iter())
            .map(written)
            .sum()
    }

    /// How many `sync_data` calls have succeeded.
    pub fn data_syncs(&self) -> u64 {
        self.lock_state().data_syncs
    }

    /// XORs `mask` into the byte at `offset` of the file, durably: simulated media damage.
    pub fn flip_bits(&self, path: &Path, offset: u64, mask: u8) -> io::Result<()> {
        let mut state = self.lock_state();
        let ino = state.resolve(path)?;
        let inode = state.inodes.get_mut(&ino).ok_or_else(|| not_found(path))?;
        let at = usize::try_from(offset).map_err(|_| not_found(path))?;
        for bytes in [&mut inode.durable, &mut inode.current] {
            if let Some(b) = bytes.get_mut(at) {
                *b ^= mask;
            }
        }
        Ok(())
    }

    fn lock_state(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves plain data behind; use it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    fn resolve(&self, path: &Path) -> io::Result<u64> {
        let (dir, name) = split(path)?;
        self.dirs
            .get(&dir)
            .and_then(|d| d.current.get(&name).copied())
            .ok_or_else(|| not_found(path))
    }

    fn dir_mut(&mut self, dir: &Path) -> io::Result<&mut Dir> {
        self.dirs.get_mut(dir).ok_or_else(|| not_found(dir))
    }
}

impl Inode {
    fn lose_power(&mut self, keep: PowerLoss) {
        let mut budget = match keep {
            PowerLoss::DropAll => 0,
            PowerLoss::KeepPrefix(n) => n,
            PowerLoss::RandomSectors { seed } => return self.lose_sectors(seed),
        };
        let mut bytes = std::mem::take(&mut self.durable);
        for op in self.pending.drain(..) {
            if budget == 0 {
                break;
            }
            match op {
                Pending::SetLen(len) => resize(&mut bytes, len),
                Pending::Write {
                    offset,
                    bytes: data,
                } => {
                    let kept = data
                        .len()
                        .min(usize::try_from(budget).unwrap_or(usize::MAX));
                    write_into(&mut bytes, offset, data.get(..kept).unwrap_or_default());
                    budget -= kept as u64;
                }
            }
        }
        self.current = bytes.clone();
        self.durable = bytes;
    }

    /// Keeps each changed sector's new or old content at random; the length is kept.
    fn lose_sectors(&mut self, seed: u64) {
        let mut state = seed ^ 0x9e37_79b9_7f4a_7c15;
        let mut bytes = self.current.clone();
        for (i, sector) in bytes.chunks_mut(SECTOR_BYTES).enumerate() {
            // The sector's durable content; zeros past the durable length.
            let mut old = vec![0; sector.len()];
            let durable = self.durable.get(i * SECTOR_BYTES..).unwrap_or_default();
            for (dst, src) in old.iter_mut().zip(durable) {
                *dst = *src;
            }
            if *sector != old[..] && splitmix64(&mut state) & 1 == 0 {
                sector.copy_from_slice(&old);
            }
        }
        self.pending.clear();
        self.current = bytes.clone();
        self.durable = bytes;
    }
}

fn resize(bytes: &mut Vec<u8>, len: u64) {
    bytes.resize(usize::try_from(len).unwrap_or(usize::MAX), 0);
}

fn write_into(bytes: &mut Vec<u8>, offset: u64, data: &[u8]) {
    let start = usize::try_from(offset).unwrap_or(usize::MAX);
    let end = start.saturating_add(data.len());
    if bytes.len() < end {
        bytes.resize(end, 0);
    }
    if let Some(dst) = bytes.get_mut(start..end) {
        dst.copy_from_slice(data);
    }
}

impl FileSystem for FaultFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut state = self.lock_state();
        for ancestor in dir.ancestors() {
            state.dirs.entry(ancestor.to_path_buf()).or_default();
        }
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let state = self.lock_state();
        let d = state.dirs.get(dir).ok_or_else(|| not_found(dir))?;
        Ok(d.current.keys().cloned().collect())
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let state = self.lock_state();
        let ino = state.resolve(path)?;
        Ok(state
            .inodes
            .get(&ino)
            .map(|i| i.current.clone())
            .unwrap_or_default())
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn WalFile>> {
        let (dir, name) = split(path)?;
        let mut state = self.lock_state();
        let ino = state.next_inode;
        state.dir_mut(&dir)?.current.insert(name, ino);
        state.next_inode += 1;
        state.inodes.insert(ino, Inode::default());
        Ok(Box::new(self.handle(&state, ino, path)))
    }

    fn open_write(&self, path: &Path) -> io::Result<Box<dyn WalFile>> {
        let state = self.lock_state();
        let ino = state.resolve(path)?;
        Ok(Box::new(self.handle(&state, ino, path)))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (from_dir, from_name) = split(from)?;
        let (to_dir, to_name) = split(to)?;
        let mut state = self.lock_state();
        let ino = state.resolve(from)?;
        state.dir_mut(&to_dir)?;
        state.dir_mut(&from_dir)?.current.remove(&from_name);
        state.dir_mut(&to_dir)?.current.insert(to_name, ino);
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let (dir, name) = split(path)?;
        let mut state = self.lock_state();
        match state.dir_mut(&dir)?.current.remove(&name) {
            Some(_) => Ok(()),
            None => Err(not_found(path)),
        }
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut state = self.lock_state();
        if state.fail_syncs {
            return Err(eio("sync_dir"));
        }
        let d = state.dir_mut(dir)?;
        d.durable = d.current.clone();
        Ok(())
    }

    fn lock(&self, dir: &Path) -> Result<DirLock> {
        let mut state = self.lock_state();
        if !state.dirs.contains_key(dir) {
            return Err(Error::io("lock", dir, not_found(dir)));
        }
        if !state.locks.insert(dir.to_path_buf()) {
            return Err(Error::Locked { dir: dir.into() });
        }
        let guard = LockGuard {
            state: Arc::clone(&self.state),
            dir: dir.to_path_buf(),
            epoch: state.epoch,
        };
        Ok(DirLock::new(Box::new(guard)))
    }
}

impl FaultFs {
    fn handle(&self, state: &State, ino: u64, path: &Path) -> FaultFile {
        FaultFile {
            state: Arc::clone(&self.state),
            ino,
            epoch: state.epoch,
            path: path.to_path_buf(),
        }
    }
}

/// Releases a [`FaultFs`] lock when dropped (unless a power loss already did).
#[derive(Debug)]
struct LockGuard {
    state: Arc<Mutex<State>>,
    dir: PathBuf,
    epoch: u64,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.epoch == self.epoch {
            state.locks.remove(&self.dir);
        }
    }
}

/// A file of a [`FaultFs`] open for writing.
#[derive(Debug)]
struct FaultFile {
    state: Arc<Mutex<State>>,
    ino: u64,
    epoch: u64,
    path: PathBuf,
}

impl FaultFile {
    /// The state and this file's inode, or an error if the process "died" since it opened.
    fn with<T>(&self, f: impl FnOnce(&mut State, u64) -> io::Result<T>) -> io::Result<T> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.epoch != self.epoch || !state.inodes.contains_key(&self.ino) {
            return Err(eio("file opened before a power loss"));
        }
        f(&mut state, self.ino)
    }
}

impl WalFile for FaultFile {
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()> {
        self.with(|state, ino| {
            let short = state.short_write_bytes.take();
            let stored = buf.get(..short.unwrap_or(buf.len())).unwrap_or(buf);
            let inode = state.inodes.get_mut(&ino).ok_or_else(|| eio("inode"))?;
            write_into(&mut inode.current, offset, stored);
            inode.pending.push(Pending::Write {
                offset,
                bytes: stored.to_vec(),
            });
            match short {
                Some(_) => Err(eio("short write")),
                None => Ok(()),
            }
        })
    }

    fn set_len(&mut self, len_bytes: u64) -> io::Result<()> {
        self.with(|state, ino| {
            let inode = state.inodes.get_mut(&ino).ok_or_else(|| eio("inode"))?;
            resize(&mut inode.current, len_bytes);
            inode.pending.push(Pending::SetLen(len_bytes));
            Ok(())
        })
    }

    fn len_bytes(&self) -> io::Result<u64> {
        self.with(|state, ino| Ok(state.inodes.get(&ino).map_or(0, |i| i.current.len() as u64)))
    }

    fn sync_data(&mut self) -> io::Result<()> {
        let path = self.path.clone();
        self.with(|state, ino| {
            if state.fail_syncs {
                return Err(eio(&format!("sync_data {}", path.display())));
            }
            let inode = state.inodes.get_mut(&ino).ok_or_else(|| eio("inode"))?;
            inode.durable = inode.current.clone();
            inode.pending.clear();
            state.data_syncs += 1;
            Ok(())
        })
    }
}
