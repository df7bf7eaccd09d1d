//! The exclusive lock of a data directory.

use std::fmt::Debug;
use std::path::Path;

use crate::FileSystem;
use crate::Result;
use crate::StdFs;

/// An exclusive lock of a directory, held until dropped.
///
/// With [`StdFs`] it is a `flock` of the file `LOCK` in the directory, so it is also
/// released when the process dies; a second holder, in this process or another,
/// gets [`crate::Error::Locked`].
#[derive(Debug)]
pub struct DirLock {
    /// Whatever keeps the lock held: the locked file, or the fault twin's guard.
    _guard: Box<dyn Debug + Send + Sync>,
}

impl DirLock {
    /// Locks `dir` (which must exist) on the real file system.
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        StdFs.lock(dir)
    }

    /// A lock held as long as `guard` lives; for [`FileSystem`] implementations.
    pub fn new(guard: Box<dyn Debug + Send + Sync>) -> DirLock {
        DirLock { _guard: guard }
    }
}
