//! Messages between raft nodes, and the local messages a driver feeds in.

use bytes::Bytes;
use serde::Deserialize;
use serde::Serialize;

use crate::Entry;
use crate::Snapshot;

/// Every kind of message raft sends or accepts, as in etcd's raftpb.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum MessageType {
    /// Local: start an election.
    #[default]
    Hup,
    /// Local: a leader sends heartbeats.
    Beat,
    /// Local or forwarded: propose entries.
    Propose,
    /// Append entries.
    Append,
    /// Answer to `Append`.
    AppendResponse,
    /// Request a vote.
    RequestVote,
    /// Answer to `RequestVote`.
    RequestVoteResponse,
    /// Install a snapshot.
    Snapshot,
    /// Heartbeat from the leader.
    Heartbeat,
    /// Answer to `Heartbeat`.
    HeartbeatResponse,
    /// Local: a peer could not be reached.
    Unreachable,
    /// Local: a snapshot transfer finished or failed.
    SnapStatus,
    /// Local: the leader checks it still hears from a quorum.
    CheckQuorum,
    /// Local or forwarded: transfer leadership.
    TransferLeader,
    /// Tells the transfer target to campaign at once.
    TimeoutNow,
    /// Local or forwarded: a linearizable read.
    ReadIndex,
    /// Answer to a forwarded `ReadIndex`.
    ReadIndexResponse,
    /// Request a pre-vote.
    RequestPreVote,
    /// Answer to `RequestPreVote`.
    RequestPreVoteResponse,
}

/// A message between raft nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Message {
    /// The kind of message.
    pub msg_type: MessageType,
    /// Recipient id.
    pub to: u64,
    /// Sender id.
    pub from: u64,
    /// The sender's term (0 for local messages).
    pub term: u64,
    /// Term of the entry at `index` (log matching), or the candidate's last log term.
    pub log_term: u64,
    /// Index preceding `entries`, the candidate's last index, or the acknowledged index.
    pub index: u64,
    /// Entries to append or propose.
    pub entries: Vec<Entry>,
    /// The sender's commit index.
    pub commit: u64,
    /// A snapshot to install, for `Snapshot` messages.
    pub snapshot: Option<Snapshot>,
    /// True for a rejection.
    pub reject: bool,
    /// On a rejected append: the follower's hint for where to retry.
    pub reject_hint: u64,
    /// Opaque context (read-index request ids, campaign kinds).
    pub context: Bytes,
}
