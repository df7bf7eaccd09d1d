//! How a leader handles messages.

use crate::Entry;
use crate::EntryType;
use crate::Error;
use crate::Message;
use crate::MessageType;
use crate::Result;
use crate::Storage;
use crate::progress::ProgressState;
use crate::raft::Raft;

impl<S: Storage> Raft<S> {
    pub(crate) fn step_leader(&mut self, m: Message) -> Result<()> {
        match m.msg_type {
            MessageType::Beat => self.bcast_heartbeat(),
            MessageType::CheckQuorum => {
                if !self.tracker.quorum_active(self.id) {
                    // An isolated leader steps down so that clients find the real one.
                    self.become_follower(self.term, 0);
                }
            }
            MessageType::Propose => return self.propose(m),
            MessageType::ReadIndex => self.leader_read_index(m),
            MessageType::TransferLeader => self.leader_transfer(m.from),
            _ => self.step_leader_peer(m),
        }
        Ok(())
    }

    /// Responses and reports about one member.
    fn step_leader_peer(&mut self, m: Message) {
        let Some(pr) = self.tracker.progress.get_mut(&m.from) else {
            return;
        };
        match m.msg_type {
            MessageType::AppendResponse => {
                pr.recent_active = true;
                if m.reject {
                    self.handle_append_rejection(&m);
                } else {
                    self.handle_append_ack(&m);
                }
            }
            MessageType::HeartbeatResponse => self.handle_heartbeat_response(&m),
            MessageType::SnapStatus if pr.state == ProgressState::Snapshot => {
                if m.reject {
                    pr.pending_snapshot = 0;
                }
                pr.become_probe();
                // Wait for a heartbeat response before probing again.
                pr.probe_sent = true;
            }
            MessageType::Unreachable if pr.state == ProgressState::Replicate => pr.become_probe(),
            _ => {}
        }
    }

    fn handle_append_rejection(&mut self, m: &Message) {
        let mut hint = m.reject_hint;
        if m.log_term > 0 {
            // Skip every entry of ours whose term is above the follower's term at the hint:
            // none of them can match.
            hint = self.log.find_conflict_by_term(m.reject_hint, m.log_term).0;
        }
        let Some(pr) = self.tracker.progress.get_mut(&m.from) else {
            return;
        };
        if pr.maybe_decr_to(m.index, hint) {
            if pr.state == ProgressState::Replicate {
                pr.become_probe();
            }
            self.send_append(m.from);
        }
    }

    fn handle_append_ack(&mut self, m: &Message) {
        let first_index = self.log.first_index();
        let Some(pr) = self.tracker.progress.get_mut(&m.from) else {
            return;
        };
        let was_paused = pr.is_paused();
        if !pr.maybe_update(m.index) {
            return;
        }
        match pr.state {
            ProgressState::Probe => pr.become_replicate(),
            ProgressState::Snapshot if pr.matched + 1 >= first_index => {
                pr.become_probe();
                pr.become_replicate();
            }
            ProgressState::Replicate => pr.inflights.free_le(m.index),
            ProgressState::Snapshot => {}
        }
        if self.maybe_commit() {
            self.on_commit_advanced();
        } else if was_paused {
            self.send_append(m.from);
        }
        while self.maybe_send_append(m.from, false) {}
        let caught_up = self
            .tracker
            .progress
            .get(&m.from)
            .is_some_and(|p| p.matched == self.log.last_index());
        if m.from == self.lead_transferee && caught_up {
            self.send_timeout_now(m.from);
        }
    }

    fn handle_heartbeat_response(&mut self, m: &Message) {
        let last_index = self.log.last_index();
        let Some(pr) = self.tracker.progress.get_mut(&m.from) else {
            return;
        };
        pr.recent_active = true;
        pr.probe_sent = false;
        if pr.state == ProgressState::Replicate && pr.inflights.full() {
            pr.inflights.free_first_one();
        }
        if pr.matched < last_index {
            self.send_append(m.from);
        }
        if !m.context.is_empty() {
            self.on_read_ack(m.from, &m.context);
        }
    }

    /// Appends proposed entries, subject to the leader's admission rules.
    fn propose(&mut self, mut m: Message) -> Result<()> {
        if m.entries.is_empty() {
            return Err(Error::ProposalDropped);
        }
        if !self.tracker.progress.contains_key(&self.id) || self.lead_transferee != 0 {
            // Removed from the configuration, or handing leadership over.
            return Err(Error::ProposalDropped);
        }
        if m.entries
            .iter()
            .any(|e| e.entry_type == EntryType::ConfChange)
        {
            if self.pending_conf_index > self.log.applied || m.entries.len() > 1 {
                // One change at a time; and none before this term's first entry applied.
                return Err(Error::ProposalDropped);
            }
            self.pending_conf_index = self.log.last_index() + 1;
        }
        self.append_entries(&mut m.entries)?;
        self.bcast_append();
        Ok(())
    }

    /// Stamps term and index on new entries and appends them.
    fn append_entries(&mut self, entries: &mut [Entry]) -> Result<()> {
        let bytes: u64 = entries.iter().map(|e| e.data.len() as u64).sum();
        let limit = self.config.max_uncommitted_entries_bytes;
        if limit > 0 && self.uncommitted_bytes > 0 && self.uncommitted_bytes + bytes > limit {
            return Err(Error::ProposalDropped);
        }
        self.uncommitted_bytes += bytes;
        let last = self.log.last_index();
        for (i, e) in entries.iter_mut().enumerate() {
            e.term = self.term;
            e.index = last + 1 + i as u64;
        }
        self.log.append(entries);
        Ok(())
    }

    /// The driver persisted entries up to (`index`, `term`): the leader counts itself for
    /// them only now, so that nothing commits before it is durable here too.
    pub(crate) fn on_persisted_entries(&mut self, index: u64, term: u64) {
        let still_ours = self.log.match_term(index, term);
        self.log.unstable.stable_to(index, term);
        if self.role != crate::Role::Leader || !still_ours {
            return;
        }
        let updated = self
            .tracker
            .progress
            .get_mut(&self.id)
            .is_some_and(|p| p.maybe_update(index));
        if updated && self.maybe_commit() {
            self.on_commit_advanced();
        }
    }

    /// Committed entries were handed out for apply: they no longer count as uncommitted.
    pub(crate) fn reduce_uncommitted_bytes(&mut self, entries: &[Entry]) {
        let bytes: u64 = entries.iter().map(|e| e.data.len() as u64).sum();
        self.uncommitted_bytes = self.uncommitted_bytes.saturating_sub(bytes);
    }
}
