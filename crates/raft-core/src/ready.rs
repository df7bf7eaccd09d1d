//! What raft hands the driver in one round: persist, send, apply.

use bytes::Bytes;

use crate::Entry;
use crate::HardState;
use crate::Message;
use crate::Snapshot;

/// A node's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Role {
    /// Follows a leader (or waits for one).
    #[default]
    Follower,
    /// Runs a pre-election, without bumping its term.
    PreCandidate,
    /// Runs an election in a new term.
    Candidate,
    /// Leads the cluster.
    Leader,
}

/// Volatile state worth telling the driver about; not persisted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SoftState {
    /// The leader this node knows of, 0 if none.
    pub leader_id: u64,
    /// This node's role.
    pub role: Role,
}

/// A linearizable read may be served once the applied index reaches `index`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadState {
    /// The commit index at the time the read was requested, confirmed by a quorum.
    pub index: u64,
    /// The context given to `read_index`.
    pub request_ctx: Bytes,
}

/// One round of work for the driver; see the crate manual for the order of the steps.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ready {
    /// Set when the leader or role changed.
    pub soft_state: Option<SoftState>,
    /// Set when the hard state changed; persist it.
    pub hard_state: Option<HardState>,
    /// Entries to persist and append to the storage.
    pub entries: Vec<Entry>,
    /// A snapshot to persist and install.
    pub snapshot: Option<Snapshot>,
    /// Entries to apply, in order, after `entries`, `hard_state` and `snapshot` are persisted.
    pub committed_entries: Vec<Entry>,
    /// Messages that may be sent at once (a leader's appends go out while it persists).
    pub messages: Vec<Message>,
    /// Messages to send only after `entries`, `hard_state` and `snapshot` are durable.
    pub persisted_messages: Vec<Message>,
    /// Reads confirmed by a quorum, to serve once applied reaches their index.
    pub read_states: Vec<ReadState>,
    /// True when `hard_state` or `entries` must be fsynced before the persisted messages go out.
    pub must_sync: bool,
}
