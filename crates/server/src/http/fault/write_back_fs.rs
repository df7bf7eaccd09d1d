//! A file system for power-loss tests of a real `keel` process: the WAL's
//! written bytes stay in the process's memory until `fdatasync`, so a
//! member killed before a sync loses them, as a machine losing power loses
//! what its disk had not made durable.
//!
//! A power cut either drops every unsynced write or tears the save in flight:
//! the WAL's next sync after the cut fails, and each 512-byte sector its
//! writes touch reaches the disk or not, chosen by a seed, as a disk that
//! writes its cache back in any order ([`PowerCut::TearSectors`]). The cut
//! then lands during that save's fsync, which a real cut under load most
//! likely interrupts, rather than between a write and its sync.
//!
//! The store's side of a power cut is `store_power`'s: the raft loop persists
//! entries (one write and fdatasync per `Ready`) before it hands any of them
//! to the apply thread, so the store's consistent index never runs ahead of
//! what the WAL made durable, and boot replays the WAL from there.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;

use rand::Rng;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use wal::DirLock;
use wal::FileSystem;
use wal::StdFs;
use wal::WalFile;

/// The unit a disk writes atomically.
const SECTOR_BYTES: u64 = 512;

/// What a power cut leaves of the writes no sync made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PowerCut {
    /// None of them reach the disk.
    DropAll,
    /// The save in flight is torn: each sector it touches reaches the disk or
    /// not, at random from `seed`.
    TearSectors {
        /// Chooses the sectors written.
        seed: u64,
    },
}

/// Set once by [`WriteBackFs::power_off`].
type Power = Arc<OnceLock<PowerCut>>;

/// The operating system's file system, with every file's writes held in
/// memory until [`WalFile::sync_data`].
#[derive(Debug, Clone, Default)]
pub(crate) struct WriteBackFs {
    inner: StdFs,
    /// Set by [`WriteBackFs::power_off`]: nothing is made durable any more.
    off: Power,
    /// Set by [`WriteBackFs::acknowledge_unsynced`].
    unsynced_acks: Arc<AtomicBool>,
}

impl WriteBackFs {
    /// Cuts the power: every later sync and file operation fails, and what was
    /// not synced reaches the disk only as `cut` says. The first cut stands.
    pub(crate) fn power_off(&self, cut: PowerCut) {
        let _ = self.off.set(cut);
    }

    /// The injected bug: from now on a sync succeeds without writing anything
    /// back, so acknowledged saves stay in memory and a kill loses them.
    pub(crate) fn acknowledge_unsynced(&self) {
        self.unsynced_acks.store(true, Ordering::Release);
    }

    fn check_power(&self) -> io::Result<()> {
        check_power(&self.off)
    }

    fn wrap(&self, inner: Box<dyn WalFile>) -> io::Result<Box<dyn WalFile>> {
        let len_bytes = inner.len_bytes()?;
        Ok(Box::new(WriteBackFile {
            inner,
            pending: Vec::new(),
            len_bytes,
            off: Arc::clone(&self.off),
            unsynced_acks: Arc::clone(&self.unsynced_acks),
        }))
    }
}

fn check_power(off: &OnceLock<PowerCut>) -> io::Result<()> {
    match off.get() {
        Some(_) => Err(power_is_off()),
        None => Ok(()),
    }
}

fn power_is_off() -> io::Error {
    io::Error::other("injected fault: the power is off")
}

impl FileSystem for WriteBackFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.check_power()?;
        self.inner.create_dir_all(dir)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.inner.list(dir)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.inner.read(path)
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn WalFile>> {
        self.check_power()?;
        let file = self.inner.create(path)?;
        self.wrap(file)
    }

    fn open_write(&self, path: &Path) -> io::Result<Box<dyn WalFile>> {
        self.check_power()?;
        let file = self.inner.open_write(path)?;
        self.wrap(file)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.check_power()?;
        self.inner.rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        self.check_power()?;
        self.inner.remove(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.check_power()?;
        self.inner.sync_dir(dir)
    }

    fn lock(&self, dir: &Path) -> wal::Result<DirLock> {
        self.inner.lock(dir)
    }
}

/// A write not yet handed to the operating system.
#[derive(Debug)]
enum Pending {
    Write { offset: u64, bytes: Vec<u8> },
    SetLen(u64),
}

/// A file whose writes wait in memory for `sync_data`.
#[derive(Debug)]
struct WriteBackFile {
    inner: Box<dyn WalFile>,
    /// In the order they were made.
    pending: Vec<Pending>,
    /// The length the file has with `pending` applied.
    len_bytes: u64,
    off: Power,
    unsynced_acks: Arc<AtomicBool>,
}

impl WriteBackFile {
    /// Hands the pending writes to the operating system, in order.
    fn write_back(&mut self) -> io::Result<()> {
        for op in self.pending.drain(..) {
            match op {
                Pending::Write { offset, bytes } => self.inner.write_at(offset, &bytes)?,
                Pending::SetLen(len) => self.inner.set_len(len)?,
            }
        }
        Ok(())
    }

    /// Hands the pending writes to the operating system a sector at a time,
    /// each sector at random or not at all.
    fn tear(&mut self, seed: u64) -> io::Result<()> {
        let mut rng = SmallRng::seed_from_u64(seed);
        for op in std::mem::take(&mut self.pending) {
            match op {
                Pending::Write { offset, bytes } => {
                    for (at, piece) in sectors(offset, &bytes) {
                        if rng.random_bool(0.5) {
                            self.inner.write_at(at, piece)?;
                        }
                    }
                }
                Pending::SetLen(len) => self.inner.set_len(len)?,
            }
        }
        Ok(())
    }

    /// Whether a write may still wait for a sync: with the power off, only
    /// the save a torn cut interrupts.
    fn check_write(&self) -> io::Result<()> {
        match self.off.get() {
            None | Some(PowerCut::TearSectors { .. }) => Ok(()),
            Some(PowerCut::DropAll) => Err(power_is_off()),
        }
    }
}

/// `bytes` written at `offset`, cut at sector boundaries: (offset, piece) pairs.
fn sectors(offset: u64, bytes: &[u8]) -> impl Iterator<Item = (u64, &[u8])> {
    let head = usize::try_from(SECTOR_BYTES - offset % SECTOR_BYTES).unwrap_or(usize::MAX);
    let (first, rest) = bytes.split_at(head.min(bytes.len()));
    let sector = usize::try_from(SECTOR_BYTES).unwrap_or(usize::MAX);
    std::iter::once(first)
        .chain(rest.chunks(sector))
        .filter(|piece| !piece.is_empty())
        .scan(offset, |at, piece| {
            let here = *at;
            *at += piece.len() as u64;
            Some((here, piece))
        })
}

impl WalFile for WriteBackFile {
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()> {
        self.check_write()?;
        let end = offset.saturating_add(buf.len() as u64);
        self.len_bytes = self.len_bytes.max(end);
        self.pending.push(Pending::Write {
            offset,
            bytes: buf.to_vec(),
        });
        Ok(())
    }

    fn set_len(&mut self, len_bytes: u64) -> io::Result<()> {
        self.check_write()?;
        self.len_bytes = len_bytes;
        self.pending.push(Pending::SetLen(len_bytes));
        Ok(())
    }

    fn len_bytes(&self) -> io::Result<u64> {
        Ok(self.len_bytes)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        match self.off.get() {
            None => {}
            Some(PowerCut::DropAll) => return Err(power_is_off()),
            Some(PowerCut::TearSectors { seed }) => {
                let seed = *seed;
                self.tear(seed)?;
                return Err(power_is_off());
            }
        }
        if self.unsynced_acks.load(Ordering::Acquire) {
            return Ok(());
        }
        self.write_back()?;
        check_power(&self.off)?;
        self.inner.sync_data()
    }
}

impl Drop for WriteBackFile {
    /// A file closed without a sync still reaches the disk in time, unless the
    /// power went off first.
    fn drop(&mut self) {
        if check_power(&self.off).is_ok()
            && let Err(e) = self.write_back()
        {
            tracing::warn!(error = %e, "writing back a closed WAL file failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsynced_writes_reach_the_disk_only_at_sync_and_never_after_power_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let fs = WriteBackFs::default();
        let mut file = fs.create(&path).unwrap();
        file.write_at(0, b"durable").unwrap();
        assert_eq!(file.len_bytes().unwrap(), 7);
        assert!(
            std::fs::read(&path).unwrap().is_empty(),
            "written before sync"
        );
        file.sync_data().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"durable");

        file.set_len(4).unwrap();
        file.write_at(4, b"-lost").unwrap();
        assert_eq!(file.len_bytes().unwrap(), 9);
        fs.power_off(PowerCut::DropAll);
        assert!(file.sync_data().is_err());
        assert!(file.write_at(0, b"x").is_err());
        assert!(fs.create(&dir.path().join("g")).is_err());
        drop(file);
        assert_eq!(std::fs::read(&path).unwrap(), b"durable");
    }

    #[test]
    fn a_file_closed_without_sync_is_written_back_while_the_power_is_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let fs = WriteBackFs::default();
        let mut file = fs.create(&path).unwrap();
        file.set_len(8).unwrap();
        file.write_at(2, b"ab").unwrap();
        drop(file);
        assert_eq!(std::fs::read(&path).unwrap(), b"\0\0ab\0\0\0\0");
        let file = fs.open_write(&path).unwrap();
        assert_eq!(file.len_bytes().unwrap(), 8);
    }

    #[test]
    fn pieces_of_a_write_never_cross_a_sector() {
        let bytes = vec![7u8; 1300];
        let pieces: Vec<(u64, usize)> = sectors(500, &bytes).map(|(at, p)| (at, p.len())).collect();
        assert_eq!(pieces, [(500, 12), (512, 512), (1024, 512), (1536, 264)]);
        let aligned: Vec<(u64, usize)> = sectors(0, &bytes[..1024])
            .map(|(at, p)| (at, p.len()))
            .collect();
        assert_eq!(aligned, [(0, 512), (512, 512)]);
    }

    #[test]
    fn a_torn_power_cut_writes_some_sectors_of_the_save_in_flight() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let fs = WriteBackFs::default();
        let mut file = fs.create(&path).unwrap();
        file.write_at(0, b"synced").unwrap();
        file.sync_data().unwrap();
        // A save of 64 sectors of distinct bytes is in flight when the power goes.
        let unsynced: Vec<u8> = (0..64 * 512).map(|i| (i / 512 + 1) as u8).collect();
        file.write_at(512, &unsynced[..512]).unwrap();
        fs.power_off(PowerCut::TearSectors { seed: 5 });
        file.write_at(1024, &unsynced[512..]).unwrap();
        assert!(
            file.sync_data().is_err(),
            "the torn save is not acknowledged"
        );
        assert!(fs.create(&dir.path().join("g")).is_err());
        drop(file);
        let disk = std::fs::read(&path).unwrap();
        assert_eq!(&disk[..6], b"synced", "synced bytes stay");
        let kept: Vec<bool> = (0..64)
            .map(|s| match disk.get(512 + s * 512..512 + (s + 1) * 512) {
                Some(bytes) if bytes.iter().all(|&b| b == (s + 1) as u8) => true,
                Some(bytes) if bytes.iter().all(|&b| b == 0) => false,
                None => false,
                Some(other) => panic!("sector {s} is neither old nor new: {:?}", &other[..8]),
            })
            .collect();
        assert!(
            kept.iter().any(|&k| k),
            "some sectors reach the disk: {kept:?}"
        );
        assert!(kept.iter().any(|&k| !k), "some sectors are lost: {kept:?}");
    }

    #[test]
    fn with_the_injected_bug_an_acknowledged_sync_is_lost_at_power_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let fs = WriteBackFs::default();
        let mut file = fs.create(&path).unwrap();
        file.write_at(0, b"kept").unwrap();
        file.sync_data().unwrap();
        fs.acknowledge_unsynced();
        file.write_at(4, b"-acked").unwrap();
        file.sync_data().unwrap();
        fs.power_off(PowerCut::DropAll);
        drop(file);
        assert_eq!(std::fs::read(&path).unwrap(), b"kept");
    }
}
