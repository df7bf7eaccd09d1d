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
    /// A CORRUPT alarm is raised: writes stop until an operator acts.
    #[error("etcdserver: corrupt cluster")]
    CorruptCluster,
    /// A member with one of these peer URLs exists.
    #[error("etcdserver: Peer URLs already exists")]
    PeerUrlExists,
    /// No member has this id.
    #[error("etcdserver: member not found")]
    MemberNotFound,
    /// Only a learner can be promoted.
    #[error("etcdserver: can only promote a learner member")]
    MemberNotLearner,
    /// The learner lags the leader too far to be promoted.
    #[error("etcdserver: can only promote a learner member which is in sync with leader")]
    LearnerNotReady,
    /// The cluster already has its most learners.
    #[error("etcdserver: too many learner members in cluster")]
    TooManyLearners,
    /// The change would leave too few started voters for a quorum (`--strict-reconfig-check`).
    #[error("etcdserver: re-configuration failed due to not enough started members")]
    NotEnoughStartedMembers,
    /// A peer URL does not parse.
    #[error("etcdserver: given member URLs are invalid")]
    BadMemberUrls,
    /// The request must be served by the leader.
    #[error("etcdserver: not leader")]
    NotLeader,
    /// The leadership target is not a voting member.
    #[error("etcdserver: bad leader transferee")]
    BadLeaderTransferee,
    /// The leadership transfer did not finish in time.
    #[error("etcdserver: request timed out, leader transfer took too long")]
    LeaderTransferTimeout,
    /// A request field is invalid; the message is etcd's text for it.
    #[error("{0}")]
    InvalidArgument(&'static str),
    /// The member's storage failed: it stops.
    #[error("etcdserver: storage failure: {0}")]
    Fatal(String),
}
