//! An in-memory [`Storage`], as etcd's `MemoryStorage`: the server keeps raft's log here
//! and rebuilds it from the WAL and the newest snapshot at boot.

use bytes::Bytes;

use crate::ConfState;
use crate::Entry;
use crate::HardState;
use crate::RaftState;
use crate::Snapshot;
use crate::Storage;
use crate::StorageError;
use crate::storage::limit_size;

/// An in-memory raft log.
#[derive(Debug, Clone, Default)]
pub struct MemStorage {
    hard_state: HardState,
    snapshot: Snapshot,
    // Invariant: never empty; entries[0] is a dummy holding the snapshot's index and term,
    // and the indexes that follow are consecutive.
    entries: Vec<Entry>,
}

impl MemStorage {
    /// An empty log with no members.
    pub fn new() -> Self {
        MemStorage {
            entries: vec![Entry::default()],
            ..Default::default()
        }
    }

    /// An empty log whose initial membership is `conf_state` (how a new cluster bootstraps).
    pub fn new_with_conf_state(conf_state: ConfState) -> Self {
        let mut s = Self::new();
        s.snapshot.metadata.conf_state = conf_state;
        s
    }

    /// The stored hard state.
    pub fn hard_state(&self) -> HardState {
        self.hard_state
    }

    /// Records the hard state (after the driver made it durable).
    pub fn set_hard_state(&mut self, hard_state: HardState) {
        self.hard_state = hard_state;
    }

    /// Records the membership the node restarts with, without a new snapshot.
    pub fn set_conf_state(&mut self, conf_state: ConfState) {
        self.snapshot.metadata.conf_state = conf_state;
    }

    /// The index of the newest snapshot (0 when none).
    pub fn snapshot_index(&self) -> u64 {
        self.snapshot.metadata.index
    }

    fn offset(&self) -> u64 {
        self.entries.first().map_or(0, |e| e.index)
    }

    fn last(&self) -> u64 {
        self.offset() + self.entries.len() as u64 - 1
    }

    /// Appends entries, replacing any conflicting suffix; entries at or below the
    /// snapshot index are ignored.
    pub fn append(&mut self, entries: &[Entry]) -> Result<(), StorageError> {
        let Some(first_new) = entries.first() else {
            return Ok(());
        };
        let first = self.offset() + 1;
        let last_new = first_new.index + entries.len() as u64 - 1;
        if last_new < first {
            return Ok(());
        }
        let skip = first.saturating_sub(first_new.index) as usize;
        let entries = entries.get(skip..).unwrap_or_default();
        let Some(start) = entries.first().map(|e| e.index) else {
            return Ok(());
        };
        let keep = (start - self.offset()) as usize;
        if keep > self.entries.len() {
            return Err(StorageError::Other(format!(
                "missing log entries: last index {}, appending at {start}",
                self.last()
            )));
        }
        self.entries.truncate(keep);
        self.entries.extend_from_slice(entries);
        Ok(())
    }

    /// Replaces the log with `snapshot` (how a follower installs one).
    pub fn apply_snapshot(&mut self, snapshot: Snapshot) -> Result<(), StorageError> {
        if snapshot.metadata.index <= self.snapshot.metadata.index && !self.snapshot.is_empty() {
            return Err(StorageError::SnapshotOutOfDate);
        }
        let dummy = Entry {
            index: snapshot.metadata.index,
            term: snapshot.metadata.term,
            ..Entry::default()
        };
        self.entries = vec![dummy];
        self.hard_state.commit = self.hard_state.commit.max(snapshot.metadata.index);
        self.snapshot = snapshot;
        Ok(())
    }

    /// Makes a snapshot at `index` (at or below the applied index) holding `data`, with
    /// membership `conf_state` (or the previous snapshot's when `None`).
    pub fn create_snapshot(
        &mut self,
        index: u64,
        conf_state: Option<ConfState>,
        data: Bytes,
    ) -> Result<Snapshot, StorageError> {
        if index <= self.snapshot.metadata.index {
            return Err(StorageError::SnapshotOutOfDate);
        }
        let term = self.term(index)?;
        self.snapshot.metadata.index = index;
        self.snapshot.metadata.term = term;
        if let Some(cs) = conf_state {
            self.snapshot.metadata.conf_state = cs;
        }
        self.snapshot.data = data;
        Ok(self.snapshot.clone())
    }

    /// Discards entries up to and including `compact_index`, which must not exceed the
    /// last index; the entry at `compact_index` becomes the dummy.
    pub fn compact(&mut self, compact_index: u64) -> Result<(), StorageError> {
        let offset = self.offset();
        if compact_index <= offset {
            return Err(StorageError::Compacted);
        }
        if compact_index > self.last() {
            return Err(StorageError::Other(format!(
                "compact {compact_index} is out of bound lastindex({})",
                self.last()
            )));
        }
        let at = (compact_index - offset) as usize;
        self.entries.drain(..at);
        if let Some(dummy) = self.entries.first_mut() {
            dummy.data = Bytes::new();
            dummy.entry_type = crate::EntryType::Normal;
        }
        Ok(())
    }
}

impl Storage for MemStorage {
    fn initial_state(&self) -> Result<RaftState, StorageError> {
        Ok(RaftState {
            hard_state: self.hard_state,
            conf_state: self.snapshot.metadata.conf_state.clone(),
        })
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size_bytes: Option<u64>,
    ) -> Result<Vec<Entry>, StorageError> {
        let offset = self.offset();
        if low <= offset {
            return Err(StorageError::Compacted);
        }
        if high > self.last() + 1 || low > high {
            return Err(StorageError::Unavailable);
        }
        let range = (low - offset) as usize..(high - offset) as usize;
        let mut out = self
            .entries
            .get(range)
            .map(<[Entry]>::to_vec)
            .unwrap_or_default();
        limit_size(&mut out, max_size_bytes);
        Ok(out)
    }

    fn term(&self, index: u64) -> Result<u64, StorageError> {
        let offset = self.offset();
        if index < offset {
            return Err(StorageError::Compacted);
        }
        self.entries
            .get((index - offset) as usize)
            .map(|e| e.term)
            .ok_or(StorageError::Unavailable)
    }

    fn first_index(&self) -> Result<u64, StorageError> {
        Ok(self.offset() + 1)
    }

    fn last_index(&self) -> Result<u64, StorageError> {
        Ok(self.last())
    }

    fn snapshot(&self, _request_index: u64) -> Result<Snapshot, StorageError> {
        Ok(self.snapshot.clone())
    }
}
