//! Log entries and the persistent hard state.

use bytes::Bytes;
use serde::Deserialize;
use serde::Serialize;

/// What an entry's `data` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum EntryType {
    /// Application data, opaque to raft (empty for the no-op a new leader appends).
    #[default]
    Normal,
    /// A bincode-encoded [`crate::ConfChange`].
    ConfChange,
}

/// One entry of the replicated log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Entry {
    /// The term of the leader that created the entry.
    pub term: u64,
    /// The entry's position in the log; the first entry has index 1.
    pub index: u64,
    /// How to interpret `data`.
    pub entry_type: EntryType,
    /// The payload.
    pub data: Bytes,
}

impl Entry {
    /// Approximate size in bytes, used for the per-message and uncommitted-size limits.
    pub fn size_bytes(&self) -> u64 {
        // 24 bytes of fixed fields plus the payload.
        24 + self.data.len() as u64
    }
}

/// The state a node must persist before it sends any message that depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct HardState {
    /// The current term; never decreases.
    pub term: u64,
    /// The node voted for in `term`, or 0 for none.
    pub vote: u64,
    /// The highest index known to be committed.
    pub commit: u64,
}

impl HardState {
    /// True when nothing has been recorded yet.
    pub fn is_empty(&self) -> bool {
        *self == HardState::default()
    }
}
