//! The server's error type. Every variant maps to etcd's gRPC code and message
//! in one table (`grpc::status`), so clients see exactly what etcd would say.

/// Errors a client request can end in.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The store refused or failed the operation (compacted, future revision, key not found, ...).
    #[error(transparent)]
    Mvcc(#[from] mvcc::Error),
    /// There is no leader right now.
    #[error("etcdserver: no leader")]
    NoLeader,
    /// Applying has fallen too far behind commit.
    #[error("etcdserver: too many requests")]
    TooManyRequests,
    /// The request is larger than --max-request-bytes.
    #[error("etcdserver: request is too large")]
    RequestTooLarge,
    /// The request timed out; it may or may not have been applied.
    #[error("etcdserver: request timed out")]
    Timeout,
    /// The leader changed while the request was in flight.
    #[error("etcdserver: leader changed")]
    LeaderChanged,
    /// The member is stopping.
    #[error("etcdserver: server stopped")]
    Stopped,
    /// The requested lease does not exist.
    #[error("etcdserver: requested lease not found")]
    LeaseNotFound,
    /// The space quota is exhausted (NOSPACE alarm).
    #[error("etcdserver: mvcc: database space exceeded")]
    NoSpace,
    /// A request field is invalid; the message is etcd's text for it.
    #[error("{0}")]
    InvalidArgument(&'static str),
    /// The member's storage failed: it stops.
    #[error("etcdserver: storage failure: {0}")]
    Fatal(String),
}
