//! The crate's error type: etcd's request errors (with etcd's texts) and storage failures.

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the store.
///
/// Request errors (every variant except [`Error::Storage`], [`Error::Corrupt`],
/// [`Error::Io`] and [`Error::BadSnapshot`]) are etcd's answers to a request and consume the
/// raft index like any other apply; see [`Error::is_fatal`].
/// The texts are etcd's, so the server can return them unchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The revision asked for is below the compacted revision.
    #[error("mvcc: required revision has been compacted")]
    Compacted,
    /// The revision asked for is above the current revision.
    #[error("mvcc: required revision is a future revision")]
    FutureRevision,
    /// `ignore_value` or `ignore_lease` on a key that does not exist.
    #[error("etcdserver: key not found")]
    KeyNotFound,
    /// A request without a key.
    #[error("etcdserver: key is not provided")]
    EmptyKey,
    /// `ignore_value` together with a value.
    #[error("etcdserver: value is provided")]
    ValueProvided,
    /// `ignore_lease` together with a lease.
    #[error("etcdserver: lease is provided")]
    LeaseProvided,
    /// More operations in a txn (or one of its branches) than allowed.
    #[error("etcdserver: too many operations in txn request")]
    TooManyOps,
    /// The same key written twice in one txn (etcd's interval rule).
    #[error("etcdserver: duplicate key given in txn request")]
    DuplicateKey,
    /// The lease does not exist (put with a lease, revoke, grant of id 0).
    #[error("lease not found")]
    LeaseNotFound,
    /// A grant for an id that is already in use.
    #[error("lease already exists")]
    LeaseExists,
    /// A grant whose TTL exceeds [`crate::MAX_LEASE_TTL_SECONDS`].
    #[error("too large lease TTL")]
    LeaseTtlTooLarge,
    /// The store's size passed its quota (etcd's NOSPACE alarm).
    #[error("mvcc: database space exceeded")]
    NoSpace,
    /// [`crate::Store::txn_read_only`] was given a txn that writes.
    #[error("mvcc: txn is not read-only")]
    NotReadOnly,
    /// Stored data that does not decode or breaks an invariant.
    #[error("mvcc: corrupt storage: {0}")]
    Corrupt(String),
    /// A snapshot stream that is truncated, garbled or fails its checksum.
    #[error("mvcc: bad snapshot: {0}")]
    BadSnapshot(String),
    /// RocksDB failed.
    #[error("mvcc: storage: {0}")]
    Storage(#[from] rocksdb::Error),
    /// A file operation failed.
    #[error("mvcc: io: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// True for errors of the storage itself (the node must stop, as etcd does on a failed
    /// backend write); false for etcd's per-request answers.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Error::Storage(_) | Error::Corrupt(_) | Error::Io(_) | Error::BadSnapshot(_)
        )
    }
}
