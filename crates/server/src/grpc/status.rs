//! The ONE table from server errors to the gRPC status a client sees: etcd's
//! code and etcd's message text (etcd's `rpctypes` and `togRPCError`), so
//! that client libraries recognise every error by its string as they do
//! with etcd.

use tonic::Code;
use tonic::Status;

use crate::error::ServerError;

/// The gRPC status etcd answers for `err`.
pub fn to_status(err: &ServerError) -> Status {
    let (code, message) = code_and_message(err);
    Status::new(code, message)
}

impl From<ServerError> for Status {
    fn from(err: ServerError) -> Self {
        to_status(&err)
    }
}

/// The status of a request error the store answered at apply time.
pub fn applied_to_status(err: &mvcc::AppliedError) -> Status {
    use mvcc::AppliedErrorKind as K;
    let inner = match err.kind {
        K::Compacted => mvcc::Error::Compacted,
        K::FutureRevision => mvcc::Error::FutureRevision,
        K::KeyNotFound => mvcc::Error::KeyNotFound,
        K::EmptyKey => mvcc::Error::EmptyKey,
        K::ValueProvided => mvcc::Error::ValueProvided,
        K::LeaseProvided => mvcc::Error::LeaseProvided,
        K::TooManyOps => mvcc::Error::TooManyOps,
        K::DuplicateKey => mvcc::Error::DuplicateKey,
        K::LeaseNotFound => mvcc::Error::LeaseNotFound,
        K::LeaseExists => mvcc::Error::LeaseExists,
        K::LeaseTtlTooLarge => mvcc::Error::LeaseTtlTooLarge,
        K::NoSpace => mvcc::Error::NoSpace,
        _ => return Status::unknown(err.message.clone()),
    };
    to_status(&ServerError::Mvcc(inner))
}

/// The table itself. Errors etcd has no entry for are `Unknown` with their
/// text, as etcd's `togRPCError` answers them.
fn code_and_message(err: &ServerError) -> (Code, String) {
    let (code, text): (Code, &str) = match err {
        ServerError::Mvcc(inner) => return mvcc_code_and_message(inner),
        ServerError::NoLeader => (Code::Unavailable, "etcdserver: no leader"),
        ServerError::TooManyRequests => (Code::ResourceExhausted, "etcdserver: too many requests"),
        ServerError::RequestTooLarge => (Code::InvalidArgument, "etcdserver: request is too large"),
        ServerError::Timeout => (Code::Unavailable, "etcdserver: request timed out"),
        ServerError::LeaderChanged => (Code::Unavailable, "etcdserver: leader changed"),
        ServerError::Stopped => (Code::Unavailable, "etcdserver: server stopped"),
        ServerError::LeaseNotFound => (Code::NotFound, "etcdserver: requested lease not found"),
        ServerError::NoSpace => (
            Code::ResourceExhausted,
            "etcdserver: mvcc: database space exceeded",
        ),
        ServerError::CorruptCluster => (Code::DataLoss, "etcdserver: corrupt cluster"),
        ServerError::PeerUrlExists => (
            Code::FailedPrecondition,
            "etcdserver: Peer URLs already exists",
        ),
        ServerError::MemberNotFound => (Code::NotFound, "etcdserver: member not found"),
        ServerError::MemberNotLearner => (
            Code::FailedPrecondition,
            "etcdserver: can only promote a learner member",
        ),
        ServerError::LearnerNotReady => (
            Code::FailedPrecondition,
            "etcdserver: can only promote a learner member which is in sync with leader",
        ),
        ServerError::TooManyLearners => (
            Code::FailedPrecondition,
            "etcdserver: too many learner members in cluster",
        ),
        ServerError::NotEnoughStartedMembers => (
            Code::FailedPrecondition,
            "etcdserver: re-configuration failed due to not enough started members",
        ),
        ServerError::BadMemberUrls => (
            Code::InvalidArgument,
            "etcdserver: given member URLs are invalid",
        ),
        ServerError::NotLeader => (Code::FailedPrecondition, "etcdserver: not leader"),
        ServerError::BadLeaderTransferee => (
            Code::FailedPrecondition,
            "etcdserver: bad leader transferee",
        ),
        // etcd's togRPCError has no entry for ErrTimeoutLeaderTransfer: Unknown with its text.
        ServerError::LeaderTransferTimeout => (
            Code::Unknown,
            "etcdserver: request timed out, leader transfer took too long",
        ),
        ServerError::InvalidArgument(text) => (Code::InvalidArgument, *text),
        ServerError::Fatal(_) => return (Code::Unknown, err.to_string()),
    };
    (code, text.to_owned())
}

/// The store's errors, with etcd's texts (the store's own texts lack the
/// `etcdserver: ` prefix etcd's server adds).
fn mvcc_code_and_message(err: &mvcc::Error) -> (Code, String) {
    use mvcc::Error as E;
    let (code, text): (Code, &str) = match err {
        E::Compacted => (
            Code::OutOfRange,
            "etcdserver: mvcc: required revision has been compacted",
        ),
        E::FutureRevision => (
            Code::OutOfRange,
            "etcdserver: mvcc: required revision is a future revision",
        ),
        E::KeyNotFound => (Code::InvalidArgument, "etcdserver: key not found"),
        E::EmptyKey => (Code::InvalidArgument, "etcdserver: key is not provided"),
        E::ValueProvided => (Code::InvalidArgument, "etcdserver: value is provided"),
        E::LeaseProvided => (Code::InvalidArgument, "etcdserver: lease is provided"),
        E::TooManyOps => (
            Code::InvalidArgument,
            "etcdserver: too many operations in txn request",
        ),
        E::DuplicateKey => (
            Code::InvalidArgument,
            "etcdserver: duplicate key given in txn request",
        ),
        E::LeaseNotFound => (Code::NotFound, "etcdserver: requested lease not found"),
        E::LeaseExists => (Code::FailedPrecondition, "etcdserver: lease already exists"),
        E::LeaseTtlTooLarge => (Code::OutOfRange, "etcdserver: too large lease TTL"),
        E::NoSpace => (
            Code::ResourceExhausted,
            "etcdserver: mvcc: database space exceeded",
        ),
        E::Corrupt(_) => (Code::DataLoss, "etcdserver: corrupt cluster"),
        _ => return (Code::Unknown, err.to_string()),
    };
    (code, text.to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn check(err: ServerError, code: Code, message: &str) {
        let status = to_status(&err);
        assert_eq!(status.code(), code, "{err:?}");
        assert_eq!(status.message(), message, "{err:?}");
    }

    #[test]
    fn etcd_codes_and_texts() {
        check(
            ServerError::Mvcc(mvcc::Error::Compacted),
            Code::OutOfRange,
            "etcdserver: mvcc: required revision has been compacted",
        );
        check(
            ServerError::Mvcc(mvcc::Error::FutureRevision),
            Code::OutOfRange,
            "etcdserver: mvcc: required revision is a future revision",
        );
        check(
            ServerError::Mvcc(mvcc::Error::DuplicateKey),
            Code::InvalidArgument,
            "etcdserver: duplicate key given in txn request",
        );
        check(
            ServerError::Mvcc(mvcc::Error::NoSpace),
            Code::ResourceExhausted,
            "etcdserver: mvcc: database space exceeded",
        );
        check(
            ServerError::Mvcc(mvcc::Error::LeaseNotFound),
            Code::NotFound,
            "etcdserver: requested lease not found",
        );
        check(
            ServerError::NoLeader,
            Code::Unavailable,
            "etcdserver: no leader",
        );
        check(
            ServerError::TooManyRequests,
            Code::ResourceExhausted,
            "etcdserver: too many requests",
        );
        check(
            ServerError::RequestTooLarge,
            Code::InvalidArgument,
            "etcdserver: request is too large",
        );
        check(
            ServerError::InvalidArgument("etcdserver: key is not provided"),
            Code::InvalidArgument,
            "etcdserver: key is not provided",
        );
    }

    #[test]
    fn membership_errors_as_etcd() {
        let failed = Code::FailedPrecondition;
        check(
            ServerError::PeerUrlExists,
            failed,
            "etcdserver: Peer URLs already exists",
        );
        check(
            ServerError::MemberNotFound,
            Code::NotFound,
            "etcdserver: member not found",
        );
        check(
            ServerError::MemberNotLearner,
            failed,
            "etcdserver: can only promote a learner member",
        );
        check(
            ServerError::LearnerNotReady,
            failed,
            "etcdserver: can only promote a learner member which is in sync with leader",
        );
        check(
            ServerError::TooManyLearners,
            failed,
            "etcdserver: too many learner members in cluster",
        );
        check(
            ServerError::NotEnoughStartedMembers,
            failed,
            "etcdserver: re-configuration failed due to not enough started members",
        );
        check(
            ServerError::BadMemberUrls,
            Code::InvalidArgument,
            "etcdserver: given member URLs are invalid",
        );
        check(ServerError::NotLeader, failed, "etcdserver: not leader");
        check(
            ServerError::BadLeaderTransferee,
            failed,
            "etcdserver: bad leader transferee",
        );
        check(
            ServerError::LeaderTransferTimeout,
            Code::Unknown,
            "etcdserver: request timed out, leader transfer took too long",
        );
    }

    #[test]
    fn unknown_errors_keep_their_text() {
        let status = to_status(&ServerError::Fatal("disk gone".to_owned()));
        assert_eq!(status.code(), Code::Unknown);
        assert!(status.message().contains("disk gone"));
    }
}
