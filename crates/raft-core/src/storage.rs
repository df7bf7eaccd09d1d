//! The storage raft reads its stable log from.

use crate::ConfState;
use crate::Entry;
use crate::HardState;
use crate::Snapshot;
use crate::StorageError;

/// The persisted state raft starts from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RaftState {
    /// The last persisted hard state.
    pub hard_state: HardState,
    /// The membership as of the node's applied index (`Config::applied`).
    pub conf_state: ConfState,
}

/// Read access to the stable part of the raft log: the entries and hard state the driver
/// has persisted, and the newest snapshot.
///
/// Raft never writes to a `Storage`; the driver does, after persisting what a `Ready`
/// handed out (see the crate manual). An error other than `Compacted`, `Unavailable` and
/// `SnapshotTemporarilyUnavailable` makes raft stop making progress on that call; the
/// driver should treat it as fatal.
pub trait Storage {
    /// The hard state and membership to start from.
    ///
    /// # Correctness
    /// `conf_state` must be the membership as of the applied index the node restarts with:
    /// the newest snapshot's membership when the driver re-applies every committed entry
    /// after the snapshot.
    fn initial_state(&self) -> Result<RaftState, StorageError>;

    /// The entries in `[low, high)`, at most `max_size_bytes` of them by
    /// [`Entry::size_bytes`] but always at least one if the range is non-empty.
    ///
    /// # Correctness
    /// Returns `Compacted` when `low < first_index()` and `Unavailable` when
    /// `high > last_index() + 1`; the entries returned are consecutive from `low`.
    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size_bytes: Option<u64>,
    ) -> Result<Vec<Entry>, StorageError>;

    /// The term of the entry at `index`.
    ///
    /// # Correctness
    /// Defined for `first_index() - 1 ..= last_index()`: the term at `first_index() - 1` is the
    /// term of the newest snapshot (0 for an empty log). Below that it returns `Compacted`,
    /// above `Unavailable`.
    fn term(&self, index: u64) -> Result<u64, StorageError>;

    /// The index of the first entry still available (the snapshot's index + 1).
    ///
    /// # Correctness
    /// Never decreases except when a newer snapshot is installed; at least 1.
    fn first_index(&self) -> Result<u64, StorageError>;

    /// The index of the last entry; `first_index() - 1` when the log holds no entries.
    ///
    /// # Correctness
    /// Only entries that are durable may be visible here.
    fn last_index(&self) -> Result<u64, StorageError>;

    /// The newest snapshot. `request_index` is the index the leader needs the snapshot to
    /// cover at least; a storage may return `SnapshotTemporarilyUnavailable` while it builds
    /// one, and raft will ask again later.
    ///
    /// # Correctness
    /// The snapshot's index is at least `first_index() - 1` and its term equals `term(index)`.
    fn snapshot(&self, request_index: u64) -> Result<Snapshot, StorageError>;
}

/// Keeps the leading entries of `entries` whose total size is within `max_size_bytes`,
/// always at least one.
pub(crate) fn limit_size(entries: &mut Vec<Entry>, max_size_bytes: Option<u64>) {
    let Some(max) = max_size_bytes else { return };
    let mut size = 0u64;
    let keep = entries
        .iter()
        .take_while(|e| {
            size += e.size_bytes();
            size <= max
        })
        .count();
    entries.truncate(keep.max(1));
}
