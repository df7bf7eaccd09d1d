//! The crate's error types.

/// A failure of a [`crate::Storage`] call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The requested index is older than the storage's first index: it was compacted away.
    #[error("requested index is unavailable due to compaction")]
    Compacted,
    /// The requested index is newer than the storage's last index.
    #[error("requested entry at index is unavailable")]
    Unavailable,
    /// The snapshot offered is older than the one the storage already holds.
    #[error("requested index is older than the existing snapshot")]
    SnapshotOutOfDate,
    /// A snapshot is being built; ask again later.
    #[error("snapshot is temporarily unavailable")]
    SnapshotTemporarilyUnavailable,
    /// Anything else the storage reports; raft halts on it.
    #[error("storage error: {0}")]
    Other(String),
}

/// A failure of a raft operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The proposal was not accepted (no leader, a transfer in progress, a pending
    /// configuration change, the uncommitted-size limit, or this node was removed).
    #[error("raft proposal dropped")]
    ProposalDropped,
    /// A local-only message was given to `step`.
    #[error("raft: cannot step raft local message")]
    StepLocalMsg,
    /// A response came from a node that is not in the configuration.
    #[error("raft: cannot step as peer not found")]
    StepPeerNotFound,
    /// The configuration is invalid; the text says why.
    #[error("invalid raft config: {0}")]
    ConfigInvalid(String),
    /// A configuration change could not be encoded or decoded.
    #[error("invalid configuration change: {0}")]
    ConfChangeInvalid(String),
    /// The storage failed.
    #[error(transparent)]
    Store(#[from] StorageError),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
