//! The seam between the client-facing services (`grpc`, `http`) and the member (`node`).
//!
//! The gRPC services are generic over [`Backend`], so that they can be tested
//! against a simple in-process backend while the real one is the raft node.
//! Everything here speaks `mvcc` types, never protobuf: conversion happens in `grpc`.

use std::future::Future;
use std::sync::Arc;

use crate::error::ServerError;

/// The identity and position stamped on every response header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    /// The cluster id.
    pub cluster_id: u64,
    /// This member's id.
    pub member_id: u64,
    /// The store revision when the response was made.
    pub revision: i64,
    /// The raft term this member knows.
    pub raft_term: u64,
}

/// One member as the Cluster service reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Member {
    /// The member id.
    pub id: u64,
    /// The member name (empty until it has started).
    pub name: String,
    /// URLs peers reach it on.
    pub peer_urls: Vec<String>,
    /// URLs clients reach it on.
    pub client_urls: Vec<String>,
    /// True for a learner.
    pub is_learner: bool,
}

/// What Maintenance.Status reports of this member.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatusInfo {
    /// The leader's member id, 0 when there is none.
    pub leader: u64,
    /// The last raft index this member has.
    pub raft_index: u64,
    /// The raft term.
    pub raft_term: u64,
    /// The last raft index applied to the store.
    pub raft_applied_index: u64,
    /// Store size on disk.
    pub db_size_bytes: i64,
    /// Store size in use.
    pub db_size_in_use_bytes: i64,
    /// True when this member is a learner.
    pub is_learner: bool,
    /// Errors to report (alarms and the like).
    pub errors: Vec<String>,
}

/// The events one applied revision produced, in the order they were applied.
#[derive(Debug, Clone)]
pub struct RevisionEvents {
    /// The revision the events belong to.
    pub revision: i64,
    /// The events, all of the same revision.
    pub events: Vec<mvcc::Event>,
}

/// An alarm raised on a member (etcd's AlarmMember).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Alarm {
    /// The member the alarm is raised on.
    pub member_id: u64,
    /// 1 = NOSPACE, 2 = CORRUPT, as etcd's AlarmType.
    pub alarm: i32,
}

/// A lease as LeaseTimeToLive reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeaseInfo {
    /// The lease id.
    pub id: i64,
    /// Remaining seconds; -1 when the lease does not exist or has expired.
    pub ttl: i64,
    /// The TTL it was granted with.
    pub granted_ttl: i64,
    /// Attached keys, when asked for.
    pub keys: Vec<Vec<u8>>,
}

/// What the client-facing services need from the member.
pub trait Backend: Send + Sync + 'static {
    /// The header for a response made now.
    fn header(&self) -> Header;

    /// The store, for serializable reads, watch catch-up and hashes.
    fn store(&self) -> &Arc<mvcc::Store>;

    /// Proposes a write through raft and waits until this member has applied it.
    fn write(
        &self,
        op: mvcc::WriteOp,
    ) -> impl Future<Output = Result<mvcc::Applied, ServerError>> + Send;

    /// Waits until a read at this moment would be linearizable (ReadIndex, then applied >= it).
    fn read_barrier(&self) -> impl Future<Output = Result<(), ServerError>> + Send;

    /// Subscribes to events as revisions are applied. Slow receivers lag
    /// (tokio broadcast semantics) and must catch up from the store.
    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<RevisionEvents>>;

    /// Renews a lease on the leader (forwarded when this member is not the leader); returns the TTL.
    fn lease_keep_alive(&self, id: i64) -> impl Future<Output = Result<i64, ServerError>> + Send;

    /// A lease's remaining time, from the leader's view.
    fn lease_time_to_live(
        &self,
        id: i64,
        keys: bool,
    ) -> impl Future<Output = Result<LeaseInfo, ServerError>> + Send;

    /// The cluster's members.
    fn members(&self) -> Vec<Member>;

    /// This member's status.
    fn status(&self) -> StatusInfo;

    /// Adds a member (a learner when `is_learner`) through raft; answers the
    /// new member and the members once this member applied the change.
    fn member_add(
        &self,
        peer_urls: Vec<String>,
        is_learner: bool,
    ) -> impl Future<Output = Result<(Member, Vec<Member>), ServerError>> + Send {
        let _ = (peer_urls, is_learner);
        async { Err(membership_unsupported()) }
    }

    /// Removes a member through raft; answers the remaining members.
    fn member_remove(
        &self,
        id: u64,
    ) -> impl Future<Output = Result<Vec<Member>, ServerError>> + Send {
        let _ = id;
        async { Err(membership_unsupported()) }
    }

    /// Changes a member's peer URLs through raft; answers the members.
    fn member_update(
        &self,
        id: u64,
        peer_urls: Vec<String>,
    ) -> impl Future<Output = Result<Vec<Member>, ServerError>> + Send {
        let _ = (id, peer_urls);
        async { Err(membership_unsupported()) }
    }

    /// Promotes a learner that caught up to a voter; answers the members.
    fn member_promote(
        &self,
        id: u64,
    ) -> impl Future<Output = Result<Vec<Member>, ServerError>> + Send {
        let _ = id;
        async { Err(membership_unsupported()) }
    }

    /// Hands leadership to `target` (only on the leader); answers once it leads.
    fn move_leader(&self, target: u64) -> impl Future<Output = Result<(), ServerError>> + Send {
        let _ = target;
        async { Err(membership_unsupported()) }
    }

    /// Raised alarms.
    fn alarms(&self) -> Vec<Alarm>;

    /// Raises (`activate`) or clears an alarm through raft, as etcd's Alarm
    /// ACTIVATE/DEACTIVATE; clearing alarm 0 clears all of the member's.
    fn change_alarm(
        &self,
        activate: bool,
        member_id: u64,
        alarm: i32,
    ) -> impl Future<Output = Result<(), ServerError>> + Send {
        let _ = (activate, member_id, alarm);
        async {
            Err(ServerError::InvalidArgument(
                "etcdserver: changing alarms is not supported",
            ))
        }
    }
}

/// What a backend without raft answers to membership changes.
fn membership_unsupported() -> ServerError {
    ServerError::InvalidArgument("etcdserver: membership changes are not supported")
}
