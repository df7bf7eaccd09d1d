//! What a leader knows about one follower's log.

use crate::inflights::Inflights;

/// How a leader replicates to a follower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ProgressState {
    /// One append per heartbeat interval, until the follower's match is found.
    #[default]
    Probe,
    /// Optimistic streaming of appends within the in-flight window.
    Replicate,
    /// A snapshot is on its way; no appends until it is reported.
    Snapshot,
}

/// A leader's view of one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Progress {
    /// Highest index known replicated (persisted) on the member.
    pub(crate) matched: u64,
    /// Next index to send.
    // Invariant: matched < next.
    pub(crate) next: u64,
    /// Replication state.
    pub(crate) state: ProgressState,
    /// Index of the snapshot in flight, in the snapshot state.
    pub(crate) pending_snapshot: u64,
    /// True when the member was heard from since the last quorum check.
    pub(crate) recent_active: bool,
    /// True when the member only learns.
    pub(crate) is_learner: bool,
    /// In probe state: an append was sent and replication waits for a response or heartbeat.
    pub(crate) probe_sent: bool,
    pub(crate) inflights: Inflights,
}

impl Progress {
    pub(crate) fn new(next: u64, max_inflight_msgs: usize, is_learner: bool) -> Self {
        Progress {
            matched: 0,
            next,
            state: ProgressState::Probe,
            pending_snapshot: 0,
            recent_active: false,
            is_learner,
            probe_sent: false,
            inflights: Inflights::new(max_inflight_msgs),
        }
    }

    fn reset_state(&mut self, state: ProgressState) {
        self.probe_sent = false;
        self.pending_snapshot = 0;
        self.state = state;
        self.inflights.reset();
    }

    pub(crate) fn become_probe(&mut self) {
        if self.state == ProgressState::Snapshot {
            let pending = self.pending_snapshot;
            self.reset_state(ProgressState::Probe);
            self.next = (self.matched + 1).max(pending + 1);
        } else {
            self.reset_state(ProgressState::Probe);
            self.next = self.matched + 1;
        }
    }

    pub(crate) fn become_replicate(&mut self) {
        self.reset_state(ProgressState::Replicate);
        self.next = self.matched + 1;
    }

    pub(crate) fn become_snapshot(&mut self, snapshot_index: u64) {
        self.reset_state(ProgressState::Snapshot);
        self.pending_snapshot = snapshot_index;
    }

    /// Records an acknowledgement of `index`; true if the match advanced.
    pub(crate) fn maybe_update(&mut self, index: u64) -> bool {
        let updated = self.matched < index;
        if updated {
            self.matched = index;
            self.probe_sent = false;
        }
        self.next = self.next.max(index + 1);
        updated
    }

    /// Handles a rejection of the append at `rejected` with the follower's hint; false if
    /// the rejection is stale.
    pub(crate) fn maybe_decr_to(&mut self, rejected: u64, match_hint: u64) -> bool {
        if self.state == ProgressState::Replicate {
            if rejected <= self.matched {
                return false;
            }
            self.next = self.matched + 1;
            return true;
        }
        if self.next.checked_sub(1) != Some(rejected) {
            return false;
        }
        self.next = rejected.min(match_hint + 1).max(self.matched + 1);
        self.probe_sent = false;
        true
    }

    /// Records that an append ending at `last_index` (or an empty one) was sent.
    pub(crate) fn sent_append(&mut self, last_index: Option<u64>) {
        match (self.state, last_index) {
            (ProgressState::Replicate, Some(last)) => {
                self.next = last + 1;
                self.inflights.add(last);
            }
            (ProgressState::Probe, _) => self.probe_sent = true,
            _ => {}
        }
    }

    /// True when no append should be sent now.
    pub(crate) fn is_paused(&self) -> bool {
        match self.state {
            ProgressState::Probe => self.probe_sent,
            ProgressState::Replicate => self.inflights.full(),
            ProgressState::Snapshot => true,
        }
    }

    /// Number of appends in flight.
    pub(crate) fn inflight_count(&self) -> usize {
        self.inflights.count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_rejection_uses_hint_and_ignores_stale() {
        let mut p = Progress::new(10, 4, false);
        assert!(!p.maybe_decr_to(5, 3), "stale: next-1 is 9");
        assert!(p.maybe_decr_to(9, 3));
        assert_eq!(p.next, 4);
    }

    #[test]
    fn replicate_sends_optimistically_within_window() {
        let mut p = Progress::new(1, 2, false);
        p.maybe_update(0);
        p.become_replicate();
        p.sent_append(Some(5));
        p.sent_append(Some(9));
        assert_eq!(p.next, 10);
        assert!(p.is_paused());
        p.maybe_update(5);
        p.inflights.free_le(5);
        assert!(!p.is_paused());
    }
}
