//! The file access the log needs, behind a trait so tests can inject faults.

use std::fmt::Debug;
use std::fs::File;
use std::fs::OpenOptions;
use std::fs::TryLockError;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::DirLock;
use crate::Error;
use crate::Result;

/// Every file operation the log and the snapshotter perform.
///
/// Durability follows POSIX: written bytes are durable after [`WalFile::sync_data`],
/// and a created, renamed or removed name after [`FileSystem::sync_dir`] of its
/// directory. [`StdFs`] is the real thing; [`crate::FaultFs`] the fault-injecting twin.
pub trait FileSystem: Send + Sync + Debug {
    /// Creates `dir` and its parents.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// The names of the files (not directories) in `dir`, in no particular order.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// The whole content of the file at `path`.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Creates an empty file at `path` (replacing one that exists) and opens it for writing.
    fn create(&self, path: &Path) -> io::Result<Box<dyn WalFile>>;
    /// Opens the existing file at `path` for writing.
    fn open_write(&self, path: &Path) -> io::Result<Box<dyn WalFile>>;
    /// Renames `from` to `to`, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes the file at `path`.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Makes the names in `dir` durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Takes the exclusive lock of `dir`, failing with [`Error::Locked`] if it is held.
    fn lock(&self, dir: &Path) -> Result<DirLock>;
}

/// A file open for writing.
pub trait WalFile: Send + Debug {
    /// Writes all of `buf` at `offset`, or fails (possibly after writing a prefix).
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()>;
    /// Sets the file's length, zero-filling when it grows.
    fn set_len(&mut self, len_bytes: u64) -> io::Result<()>;
    /// The file's length.
    fn len_bytes(&self) -> io::Result<u64>;
    /// `fdatasync`: makes the written bytes (and the length) durable.
    fn sync_data(&mut self) -> io::Result<()>;
}

/// The name of the lock file in a locked directory.
pub(crate) const LOCK_FILE: &str = "LOCK";

/// The operating system's file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdFs;

impl FileSystem for StdFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if !entry.file_type()?.is_file() {
                continue;
            }
            if let Ok(name) = entry.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn WalFile>> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        Ok(Box::new(StdFile(file)))
    }

    fn open_write(&self, path: &Path) -> io::Result<Box<dyn WalFile>> {
        let file = OpenOptions::new().write(true).open(path)?;
        Ok(Box::new(StdFile(file)))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn lock(&self, dir: &Path) -> Result<DirLock> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io("open", &path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(DirLock::new(Box::new(file))),
            Err(TryLockError::WouldBlock) => Err(Error::Locked { dir: dir.into() }),
            Err(TryLockError::Error(e)) => Err(Error::io("lock", &path, e)),
        }
    }
}

/// A [`WalFile`] of [`StdFs`].
#[derive(Debug)]
struct StdFile(File);

impl WalFile for StdFile {
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()> {
        self.0.write_all_at(buf, offset)
    }

    fn set_len(&mut self, len_bytes: u64) -> io::Result<()> {
        self.0.set_len(len_bytes)
    }

    fn len_bytes(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }
}
