//! The unstable tail of the log: entries and a snapshot not yet persisted by the driver.

use crate::Entry;
use crate::Snapshot;

/// Entries and an incoming snapshot that raft holds until the driver reports them durable.
#[derive(Debug, Default)]
pub(crate) struct Unstable {
    /// A snapshot received from the leader and not yet persisted.
    pub(crate) snapshot: Option<Snapshot>,
    /// Entries from `offset` on, consecutive.
    pub(crate) entries: Vec<Entry>,
    /// Index of `entries[0]`.
    // Invariant: offset == snapshot.index + 1 when a snapshot is held.
    pub(crate) offset: u64,
    /// Entries below this were handed out in a `Ready` and await `advance`.
    // Invariant: offset <= offset_in_progress <= offset + entries.len().
    pub(crate) offset_in_progress: u64,
    /// True when `snapshot` was handed out in a `Ready` and awaits `advance`.
    pub(crate) snapshot_in_progress: bool,
}

impl Unstable {
    pub(crate) fn new(offset: u64) -> Self {
        Unstable {
            offset,
            offset_in_progress: offset,
            ..Default::default()
        }
    }

    fn end(&self) -> u64 {
        self.offset + self.entries.len() as u64
    }

    /// The first index, if only a snapshot defines it.
    pub(crate) fn maybe_first_index(&self) -> Option<u64> {
        self.snapshot.as_ref().map(|s| s.metadata.index + 1)
    }

    /// The last index, if the unstable part defines it.
    pub(crate) fn maybe_last_index(&self) -> Option<u64> {
        if !self.entries.is_empty() {
            return Some(self.end() - 1);
        }
        self.snapshot.as_ref().map(|s| s.metadata.index)
    }

    /// The term at `index`, if the unstable part knows it.
    pub(crate) fn maybe_term(&self, index: u64) -> Option<u64> {
        if index < self.offset {
            let snap = self.snapshot.as_ref()?;
            return (snap.metadata.index == index).then_some(snap.metadata.term);
        }
        self.entries
            .get((index - self.offset) as usize)
            .map(|e| e.term)
    }

    /// Entries not yet handed out in a `Ready`.
    pub(crate) fn next_entries(&self) -> &[Entry] {
        let from = (self.offset_in_progress - self.offset) as usize;
        self.entries.get(from..).unwrap_or_default()
    }

    /// The snapshot, if not yet handed out.
    pub(crate) fn next_snapshot(&self) -> Option<&Snapshot> {
        self.snapshot
            .as_ref()
            .filter(|_| !self.snapshot_in_progress)
    }

    /// Marks everything held as handed out.
    pub(crate) fn accept_in_progress(&mut self) {
        self.offset_in_progress = self.end();
        self.snapshot_in_progress = self.snapshot.is_some();
    }

    /// The driver persisted entries up to `index` with term `term`: drop them, unless the
    /// log was rewritten since (the term no longer matches).
    pub(crate) fn stable_to(&mut self, index: u64, term: u64) {
        if self.maybe_term(index) != Some(term) || index < self.offset {
            return;
        }
        let n = (index + 1 - self.offset) as usize;
        self.entries.drain(..n.min(self.entries.len()));
        self.offset = index + 1;
        self.offset_in_progress = self.offset_in_progress.max(self.offset);
    }

    /// The driver persisted the snapshot at `index`.
    pub(crate) fn stable_snap_to(&mut self, index: u64) {
        if self
            .snapshot
            .as_ref()
            .is_some_and(|s| s.metadata.index == index)
        {
            self.snapshot = None;
            self.snapshot_in_progress = false;
        }
    }

    /// Replaces everything with `snapshot`.
    pub(crate) fn restore(&mut self, snapshot: Snapshot) {
        self.offset = snapshot.metadata.index + 1;
        self.offset_in_progress = self.offset;
        self.entries.clear();
        self.snapshot = Some(snapshot);
        self.snapshot_in_progress = false;
    }

    /// Appends `entries`, truncating any conflicting suffix first.
    pub(crate) fn truncate_and_append(&mut self, entries: &[Entry]) {
        let Some(from) = entries.first().map(|e| e.index) else {
            return;
        };
        if from == self.end() {
            self.entries.extend_from_slice(entries);
        } else if from <= self.offset {
            // The whole unstable part is replaced; the stable entries at and after `from`
            // are overridden when the driver appends these to storage.
            self.offset = from;
            self.offset_in_progress = from;
            self.entries = entries.to_vec();
        } else {
            self.entries.truncate((from - self.offset) as usize);
            self.entries.extend_from_slice(entries);
            self.offset_in_progress = self.offset_in_progress.min(from);
        }
    }

    /// The entries in `[low, high)`, which must lie within the unstable part.
    pub(crate) fn slice(&self, low: u64, high: u64) -> &[Entry] {
        let lo = low.saturating_sub(self.offset) as usize;
        let hi = high.saturating_sub(self.offset) as usize;
        self.entries.get(lo..hi).unwrap_or_default()
    }

    /// Checks the offsets' invariants.
    pub(crate) fn check_invariants(&self) {
        assert!(self.offset <= self.offset_in_progress && self.offset_in_progress <= self.end());
        if let Some(s) = &self.snapshot {
            assert_eq!(
                self.offset,
                s.metadata.index + 1,
                "unstable offset after snapshot"
            );
        }
        for (i, e) in self.entries.iter().enumerate() {
            assert_eq!(
                e.index,
                self.offset + i as u64,
                "unstable entries not consecutive"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ents(range: std::ops::Range<u64>, term: u64) -> Vec<Entry> {
        range
            .map(|index| Entry {
                index,
                term,
                ..Entry::default()
            })
            .collect()
    }

    #[test]
    fn truncate_and_append_replaces_conflicting_suffix() {
        let mut u = Unstable::new(5);
        u.truncate_and_append(&ents(5..8, 1));
        u.accept_in_progress();
        u.truncate_and_append(&ents(6..7, 2));
        assert_eq!(
            u.entries
                .iter()
                .map(|e| (e.index, e.term))
                .collect::<Vec<_>>(),
            vec![(5, 1), (6, 2)]
        );
        assert_eq!(u.offset_in_progress, 6);
        assert_eq!(u.next_entries().len(), 1);
        u.check_invariants();
    }

    #[test]
    fn stable_to_ignores_a_rewritten_entry() {
        let mut u = Unstable::new(1);
        u.truncate_and_append(&ents(1..4, 2));
        u.stable_to(2, 1);
        assert_eq!(u.offset, 1);
        u.stable_to(2, 2);
        assert_eq!((u.offset, u.entries.len()), (3, 1));
        u.check_invariants();
    }
}
