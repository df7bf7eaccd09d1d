//! The errors of the log and the snapshot files.

use std::io;
use std::path::PathBuf;

/// A `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// What can go wrong in the log or the snapshot files.
///
/// Errors that name a file and offset are damage found on disk: they are never
/// skipped, and the caller (the server) stops rather than guess.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A record's CRC does not match its contents or the chain before it.
    #[error("{}: CRC mismatch at offset {offset}: expected {expected:#010x}, found {found:#010x}", file.display())]
    CrcMismatch {
        /// The segment or snapshot file.
        file: PathBuf,
        /// The byte offset of the record in the file.
        offset: u64,
        /// The CRC the contents (and the chain) call for.
        expected: u32,
        /// The CRC stored in the file.
        found: u32,
    },
    /// A file holds something this format never writes there.
    #[error("{}: corrupt at offset {offset}: {reason}", file.display())]
    Corrupt {
        /// The segment or snapshot file.
        file: PathBuf,
        /// The byte offset of the damage.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A file operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// The operation, such as `write` or `rename`.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// `fdatasync` failed: the data may be lost and the log accepts no more calls.
    #[error("fdatasync of {} failed; nothing after the last successful sync is durable: {source}", file.display())]
    FsyncFailed {
        /// The file whose sync failed.
        file: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// An earlier write or sync failed, so this log accepts no more calls.
    #[error("the log failed earlier and accepts no more calls: {cause}")]
    Poisoned {
        /// The first failure.
        cause: String,
    },
    /// Another process (or another handle in this one) holds the directory.
    #[error("{} is locked by another process", dir.display())]
    Locked {
        /// The locked directory.
        dir: PathBuf,
    },
    /// [`crate::Wal::create`] found a log already there.
    #[error("{} already holds a log", dir.display())]
    AlreadyExists {
        /// The directory.
        dir: PathBuf,
    },
    /// [`crate::Wal::open`] found no segment to read from.
    #[error("{} holds no segment covering index {index}", dir.display())]
    NotCovered {
        /// The directory.
        dir: PathBuf,
        /// The index the open needed to start after.
        index: u64,
    },
    /// The snapshot marker passed to [`crate::Wal::open`] is not in the log.
    #[error("snapshot marker (index {index}, term {term}) not found in the log")]
    SnapshotNotFound {
        /// The marker's index.
        index: u64,
        /// The marker's term.
        term: u64,
    },
    /// The log has a marker at the snapshot's index with another term.
    #[error("snapshot marker at index {index} has term {found}, not {expected}")]
    SnapshotMismatch {
        /// The marker's index.
        index: u64,
        /// The term the caller gave.
        expected: u64,
        /// The term in the log.
        found: u64,
    },
    /// The caller passed something the log cannot record.
    #[error("invalid argument: {reason}")]
    InvalidArgument {
        /// What is wrong.
        reason: String,
    },
    /// Encoding a record failed.
    #[error("encoding a record: {0}")]
    Encode(#[from] bincode::error::EncodeError),
}

impl Error {
    /// An [`Error::Io`] for `op` on `path`.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// An [`Error::Corrupt`] at `offset` of `file`.
    pub(crate) fn corrupt(
        file: impl Into<PathBuf>,
        offset: u64,
        reason: impl Into<String>,
    ) -> Error {
        Error::Corrupt {
            file: file.into(),
            offset,
            reason: reason.into(),
        }
    }
}
