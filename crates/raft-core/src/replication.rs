//! How a leader sends its log: appends, snapshots and heartbeats.

use bytes::Bytes;

use crate::Message;
use crate::MessageType;
use crate::Storage;
use crate::StorageError;
use crate::raft::Raft;

impl<S: Storage> Raft<S> {
    /// Sends appends (or heartbeats' worth of empty appends) to every other member.
    pub(crate) fn bcast_append(&mut self) {
        let peers: Vec<u64> = self
            .tracker
            .progress
            .keys()
            .copied()
            .filter(|&id| id != self.id)
            .collect();
        for to in peers {
            self.send_append(to);
        }
    }

    /// Sends an append to `to`, even an empty one that carries only the commit index.
    pub(crate) fn send_append(&mut self, to: u64) {
        self.maybe_send_append(to, true);
    }

    /// Sends the entries `to` lacks, or a snapshot if they are compacted; false if nothing
    /// was sent (paused, or nothing to send and `send_if_empty` is false).
    pub(crate) fn maybe_send_append(&mut self, to: u64, send_if_empty: bool) -> bool {
        let Some(pr) = self.tracker.progress.get(&to) else {
            return false;
        };
        if pr.is_paused() {
            return false;
        }
        let next = pr.next;
        let prev_term = self.log.term(next - 1);
        let entries = self.log.entries(next, self.config.max_size_per_msg_bytes);
        let (log_term, entries) = match (prev_term, entries) {
            (Ok(t), Ok(e)) => (t, e),
            _ => return self.maybe_send_snapshot(to),
        };
        if entries.is_empty() && !send_if_empty {
            return false;
        }
        let last = entries.last().map(|e| e.index);
        let commit = self.log.committed;
        let m = Message {
            msg_type: MessageType::Append,
            to,
            index: next - 1,
            log_term,
            entries,
            commit,
            ..Default::default()
        };
        self.send(m);
        if let Some(pr) = self.tracker.progress.get_mut(&to) {
            pr.sent_append(last);
        }
        true
    }

    /// Sends the newest snapshot to `to`, whose next entries are compacted.
    fn maybe_send_snapshot(&mut self, to: u64) -> bool {
        let Some(pr) = self.tracker.progress.get(&to) else {
            return false;
        };
        if !pr.recent_active {
            // Do not spend a snapshot on a member that is probably down.
            return false;
        }
        let snapshot = match self.log.snapshot(pr.next) {
            Ok(s) if !s.is_empty() => s,
            Ok(_) | Err(StorageError::SnapshotTemporarilyUnavailable) => return false,
            Err(_) => return false,
        };
        let index = snapshot.metadata.index;
        if let Some(pr) = self.tracker.progress.get_mut(&to) {
            pr.become_snapshot(index);
        }
        self.send(Message {
            msg_type: MessageType::Snapshot,
            to,
            snapshot: Some(snapshot),
            ..Default::default()
        });
        true
    }

    /// Sends a heartbeat to `to`, carrying a commit index the follower surely has.
    pub(crate) fn send_heartbeat(&mut self, to: u64, context: Bytes) {
        let matched = self.tracker.progress.get(&to).map_or(0, |p| p.matched);
        let commit = matched.min(self.log.committed);
        self.send(Message {
            msg_type: MessageType::Heartbeat,
            to,
            commit,
            context,
            ..Default::default()
        });
    }

    /// Sends heartbeats to every other member, carrying the newest pending read's context.
    pub(crate) fn bcast_heartbeat(&mut self) {
        let ctx = self.read_only.last_pending_ctx().unwrap_or_default();
        self.bcast_heartbeat_with_ctx(ctx);
    }

    pub(crate) fn bcast_heartbeat_with_ctx(&mut self, ctx: Bytes) {
        let peers: Vec<u64> = self
            .tracker
            .progress
            .keys()
            .copied()
            .filter(|&id| id != self.id)
            .collect();
        for to in peers {
            self.send_heartbeat(to, ctx.clone());
        }
    }

    /// Commits what a quorum has; true if the commit index moved.
    pub(crate) fn maybe_commit(&mut self) -> bool {
        let index = self.tracker.committed_index();
        if index == u64::MAX {
            return false;
        }
        let any_term = self.config.unsafe_commit_previous_terms;
        self.log.maybe_commit(index, self.term, any_term)
    }

    /// After the commit index moved: tell followers, and release reads that waited for
    /// the first commit of this term.
    pub(crate) fn on_commit_advanced(&mut self) {
        self.bcast_append();
        if self.committed_entry_in_current_term() {
            self.release_pending_reads();
        }
    }

    pub(crate) fn committed_entry_in_current_term(&self) -> bool {
        self.log.term_or_zero(self.log.committed) == self.term
    }
}
