//! The whole log as raft sees it: the driver's stable storage plus the unstable tail.

use crate::Entry;
use crate::Result;
use crate::Snapshot;
use crate::Storage;
use crate::StorageError;
use crate::log_unstable::Unstable;
use crate::storage::limit_size;

/// The raft log: `storage` below `unstable.offset`, `unstable` above.
#[derive(Debug)]
pub(crate) struct RaftLog<S: Storage> {
    pub(crate) storage: S,
    pub(crate) unstable: Unstable,
    /// Highest index known committed on a quorum.
    // Invariant: committed <= last_index().
    pub(crate) committed: u64,
    /// Highest index handed out for apply.
    // Invariant: applied <= applying <= committed.
    pub(crate) applying: u64,
    /// Highest index the driver reported applied.
    pub(crate) applied: u64,
}

impl<S: Storage> RaftLog<S> {
    /// Opens the log over `storage`, with `applied` the driver's applied index.
    pub(crate) fn new(storage: S, committed: u64, applied: u64) -> Result<Self> {
        let first = storage.first_index()?;
        let last = storage.last_index()?;
        let applied = applied.max(first - 1);
        Ok(RaftLog {
            storage,
            unstable: Unstable::new(last + 1),
            committed: committed.max(first - 1),
            applying: applied,
            applied,
        })
    }

    pub(crate) fn first_index(&self) -> u64 {
        match self.unstable.maybe_first_index() {
            Some(i) => i,
            None => self.storage.first_index().unwrap_or(1),
        }
    }

    pub(crate) fn last_index(&self) -> u64 {
        match self.unstable.maybe_last_index() {
            Some(i) => i,
            None => self.storage.last_index().unwrap_or(0),
        }
    }

    /// The term at `index`; 0 beyond the last index, `Compacted` before the first.
    pub(crate) fn term(&self, index: u64) -> Result<u64, StorageError> {
        let dummy = self.first_index() - 1;
        if index < dummy {
            return Err(StorageError::Compacted);
        }
        if index > self.last_index() {
            return Ok(0);
        }
        if let Some(t) = self.unstable.maybe_term(index) {
            return Ok(t);
        }
        self.storage.term(index)
    }

    /// The term at `index`, or 0 when it is unknown.
    pub(crate) fn term_or_zero(&self, index: u64) -> u64 {
        self.term(index).unwrap_or(0)
    }

    pub(crate) fn last_term(&self) -> u64 {
        self.term_or_zero(self.last_index())
    }

    /// True when the log has an entry at `index` of `term` (never beyond the last index, so
    /// that a malformed append cannot leave a gap).
    pub(crate) fn match_term(&self, index: u64, term: u64) -> bool {
        index <= self.last_index() && self.term(index).is_ok_and(|t| t == term)
    }

    /// True when a log ending at (`last_index`, `term`) is at least as up to date as ours
    /// (the election restriction).
    pub(crate) fn is_up_to_date(&self, last_index: u64, term: u64) -> bool {
        let our_term = self.last_term();
        term > our_term || (term == our_term && last_index >= self.last_index())
    }

    /// The entries in `[low, high)`, limited to `max_size_bytes`.
    pub(crate) fn slice(
        &self,
        low: u64,
        high: u64,
        max_size_bytes: Option<u64>,
    ) -> Result<Vec<Entry>, StorageError> {
        if low < self.first_index() {
            return Err(StorageError::Compacted);
        }
        if high > self.last_index() + 1 || low > high {
            return Err(StorageError::Unavailable);
        }
        if low == high {
            return Ok(Vec::new());
        }
        let split = self.unstable.offset;
        let mut out = if low < split {
            let stored = self.storage.entries(low, high.min(split), max_size_bytes)?;
            if (stored.len() as u64) < high.min(split) - low {
                return Ok(stored);
            }
            stored
        } else {
            Vec::new()
        };
        if high > split {
            out.extend_from_slice(self.unstable.slice(low.max(split), high));
        }
        limit_size(&mut out, max_size_bytes);
        Ok(out)
    }

    /// Entries from `index` to the end, limited to `max_size_bytes`.
    pub(crate) fn entries(
        &self,
        index: u64,
        max_size_bytes: u64,
    ) -> Result<Vec<Entry>, StorageError> {
        self.slice(index, self.last_index() + 1, Some(max_size_bytes))
    }

    /// Index of the first entry of `entries` that is not in the log (or conflicts with it);
    /// 0 when all are present.
    fn find_conflict(&self, entries: &[Entry]) -> u64 {
        entries
            .iter()
            .find(|e| !self.match_term(e.index, e.term))
            .map_or(0, |e| e.index)
    }

    /// For a rejected append at `index` from a leader whose entry there has `term`: the
    /// largest index at or below `index` whose term is at most `term`, and that term.
    pub(crate) fn find_conflict_by_term(&self, index: u64, term: u64) -> (u64, u64) {
        let mut i = index.min(self.last_index());
        loop {
            match self.term(i) {
                Ok(t) if t > term && i > 0 => i -= 1,
                Ok(t) => return (i, t),
                Err(_) => return (i, 0),
            }
        }
    }

    /// Appends the leader's `entries` after (`index`, `log_term`) if the logs match there,
    /// truncating a conflicting suffix, and commits up to `committed`; returns the last
    /// index of the new entries, or `None` on a mismatch.
    pub(crate) fn maybe_append(
        &mut self,
        index: u64,
        log_term: u64,
        committed: u64,
        entries: &[Entry],
    ) -> Option<u64> {
        if !self.match_term(index, log_term) {
            return None;
        }
        let last_new = index + entries.len() as u64;
        let conflict = self.find_conflict(entries);
        if conflict != 0 {
            if conflict <= self.committed {
                // A leader never rewrites committed entries; ignore such a message.
                debug_assert!(
                    false,
                    "entry {conflict} conflicts with committed {}",
                    self.committed
                );
                return None;
            }
            let from = (conflict - (index + 1)) as usize;
            self.append(entries.get(from..).unwrap_or_default());
        }
        self.commit_to(committed.min(last_new));
        Some(last_new)
    }

    /// Appends entries (the first at most one past the last index); returns the new last index.
    pub(crate) fn append(&mut self, entries: &[Entry]) -> u64 {
        if let Some(first) = entries.first() {
            assert!(
                first.index > self.committed,
                "append at {} below commit {}",
                first.index,
                self.committed
            );
            self.unstable.truncate_and_append(entries);
        }
        self.last_index()
    }

    pub(crate) fn commit_to(&mut self, index: u64) {
        if index > self.committed {
            assert!(
                index <= self.last_index(),
                "commit {index} beyond last index {}",
                self.last_index()
            );
            self.committed = index;
        }
    }

    /// Commits `index` if its entry is of `term` (only current-term entries commit by
    /// counting, Figure 8 of the Raft paper); `any_term` disables that rule for tests.
    pub(crate) fn maybe_commit(&mut self, index: u64, term: u64, any_term: bool) -> bool {
        if index > self.committed && (any_term || self.term_or_zero(index) == term) {
            self.commit_to(index);
            return true;
        }
        false
    }

    pub(crate) fn applied_to(&mut self, index: u64) {
        if index > self.applied {
            self.applied = index;
            self.applying = self.applying.max(index);
        }
    }

    /// Installs a snapshot: the log becomes the snapshot and nothing after it.
    pub(crate) fn restore(&mut self, snapshot: Snapshot) {
        self.committed = snapshot.metadata.index;
        self.unstable.restore(snapshot);
    }

    /// The newest snapshot.
    pub(crate) fn snapshot(&self, request_index: u64) -> Result<Snapshot, StorageError> {
        match &self.unstable.snapshot {
            Some(s) => Ok(s.clone()),
            None => self.storage.snapshot(request_index),
        }
    }

    /// True when committed entries wait to be handed out (and no snapshot is pending).
    pub(crate) fn has_next_committed_entries(&self) -> bool {
        self.unstable.snapshot.is_none()
            && self.committed > self.applying.max(self.first_index() - 1)
    }

    /// The committed entries to hand out next, at most `max_size_bytes` of them.
    pub(crate) fn next_committed_entries(
        &self,
        max_size_bytes: u64,
    ) -> Result<Vec<Entry>, StorageError> {
        if !self.has_next_committed_entries() {
            return Ok(Vec::new());
        }
        let low = (self.applying + 1).max(self.first_index());
        self.slice(low, self.committed + 1, Some(max_size_bytes))
    }

    /// The highest index that is durable and still part of this log.
    pub(crate) fn persisted_index(&self) -> u64 {
        if self.unstable.snapshot.is_some() {
            return 0;
        }
        let stored = self.storage.last_index().unwrap_or(0);
        stored.min(self.unstable.offset - 1)
    }

    pub(crate) fn check_invariants(&self) {
        self.unstable.check_invariants();
        assert!(
            self.committed <= self.last_index(),
            "commit {} > last {}",
            self.committed,
            self.last_index()
        );
        assert!(
            self.applied <= self.applying,
            "applied {} > applying {}",
            self.applied,
            self.applying
        );
        assert!(
            self.applying <= self.committed,
            "applying {} > commit {}",
            self.applying,
            self.committed
        );
    }
}
