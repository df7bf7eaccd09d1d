//! Snapshots and the membership they carry.

use bytes::Bytes;
use serde::Deserialize;
use serde::Serialize;

/// The membership of the cluster: who votes and who only learns.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct ConfState {
    /// Member ids that vote and count toward quorum, sorted.
    pub voters: Vec<u64>,
    /// Member ids that receive the log but never vote, sorted.
    pub learners: Vec<u64>,
}

/// What a snapshot covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct SnapshotMetadata {
    /// The membership as of `index`.
    pub conf_state: ConfState,
    /// The last log index the snapshot includes.
    pub index: u64,
    /// The term of the entry at `index`.
    pub term: u64,
}

/// A point-in-time image of the state machine up to `metadata.index`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Snapshot {
    /// Index, term and membership covered.
    pub metadata: SnapshotMetadata,
    /// Application data, opaque to raft (keel puts a small descriptor here,
    /// and streams the store itself beside it).
    pub data: Bytes,
}

impl Snapshot {
    /// True for the empty snapshot (index 0).
    pub fn is_empty(&self) -> bool {
        self.metadata.index == 0
    }
}
