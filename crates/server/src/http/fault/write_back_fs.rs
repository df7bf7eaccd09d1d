//! A file system for power-loss tests of a real `keel` process: the WAL's
//! written bytes stay in the process's memory until `fdatasync`, so a
//! member killed before a sync loses them, as a machine losing power loses
//! what its disk had not made durable.
//!
//! Why faulting the WAL alone is enough: the raft loop persists entries
//! (one write and fdatasync per `Ready`) before it hands any of them to the
//! apply thread, so the store's consistent index never runs ahead of what
//! the WAL made durable. RocksDB's own unsynced writes survive a SIGKILL
//! (the page cache keeps them), which makes the store at most more durable
//! than after a real power cut; a store behind the WAL is the case boot
//! handles anyway, by replaying the WAL from the store's consistent index.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;

use wal::DirLock;
use wal::FileSystem;
use wal::StdFs;
use wal::WalFile;

/// The operating system's file system, with every file's writes held in
/// memory until [`WalFile::sync_data`].
#[derive(Debug, Clone, Default)]
pub(crate) struct WriteBackFs {
    inner: StdFs,
    /// Set by [`WriteBackFs::power_off`]: nothing reaches the disk any more.
    off: Arc<AtomicBool>,
}

impl WriteBackFs {
    /// Cuts the power: every later write, sync or file operation fails, and
    /// what was not synced never reaches the disk.
    pub(crate) fn power_off(&self) {
        self.off.store(true, Ordering::Release);
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
        }))
    }
}

fn check_power(off: &AtomicBool) -> io::Result<()> {
    if off.load(Ordering::Acquire) {
        return Err(io::Error::other("injected fault: the power is off"));
    }
    Ok(())
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
    off: Arc<AtomicBool>,
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
}

impl WalFile for WriteBackFile {
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()> {
        check_power(&self.off)?;
        let end = offset.saturating_add(buf.len() as u64);
        self.len_bytes = self.len_bytes.max(end);
        self.pending.push(Pending::Write {
            offset,
            bytes: buf.to_vec(),
        });
        Ok(())
    }

    fn set_len(&mut self, len_bytes: u64) -> io::Result<()> {
        check_power(&self.off)?;
        self.len_bytes = len_bytes;
        self.pending.push(Pending::SetLen(len_bytes));
        Ok(())
    }

    fn len_bytes(&self) -> io::Result<u64> {
        Ok(self.len_bytes)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        check_power(&self.off)?;
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
        fs.power_off();
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
}
