//! A snapshot of a node's state, for monitoring and tests.

use std::collections::BTreeMap;

use crate::ConfState;
use crate::HardState;
use crate::SoftState;
use crate::progress::ProgressState;

/// What a leader knows of one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerProgress {
    /// Highest index known replicated on the member.
    pub matched: u64,
    /// Next index to send.
    pub next: u64,
    /// Replication state.
    pub state: ProgressState,
    /// True for a learner.
    pub is_learner: bool,
    /// Appends in flight (replicate state).
    pub inflight: usize,
}

/// A node's state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Status {
    /// The node's id.
    pub id: u64,
    /// Term, vote and commit index.
    pub hard_state: HardState,
    /// Leader and role.
    pub soft_state: SoftState,
    /// Highest index the driver reported applied.
    pub applied: u64,
    /// Highest committed index (also in `hard_state`).
    pub commit: u64,
    /// Index of the last entry of the log.
    pub last_index: u64,
    /// Progress of every member, when this node leads; empty otherwise.
    pub progress: BTreeMap<u64, PeerProgress>,
    /// The current membership.
    pub conf_state: ConfState,
    /// The member a leadership transfer goes to, 0 when none.
    pub lead_transferee: u64,
}
