//! Single-step membership changes, taking effect when the driver applies them.

use crate::ConfChange;
use crate::ConfChangeType;
use crate::ConfState;
use crate::Role;
use crate::Storage;
use crate::raft::Raft;

impl<S: Storage> Raft<S> {
    /// Applies a committed configuration change and returns the new membership.
    pub(crate) fn apply_conf_change(&mut self, cc: &ConfChange) -> ConfState {
        let next = self.log.last_index() + 1;
        let id = cc.node_id;
        match cc.change_type {
            ConfChangeType::AddNode => self.tracker.add_voter(id, next),
            ConfChangeType::AddLearnerNode => self.tracker.add_learner(id, next),
            ConfChangeType::RemoveNode => self.tracker.remove(id),
        }
        if self.role == Role::Leader {
            self.after_leader_conf_change();
        }
        self.tracker.conf_state()
    }

    fn after_leader_conf_change(&mut self) {
        if let Some(p) = self.tracker.progress.get_mut(&self.id) {
            // A new member's progress starts from the log's end; ours is what we persisted.
            p.recent_active = true;
        }
        if !self.tracker.is_voter(self.id) {
            return self.step_down_after_removal();
        }
        if self.lead_transferee != 0 && !self.tracker.is_voter(self.lead_transferee) {
            self.lead_transferee = 0;
        }
        if self.maybe_commit() {
            self.on_commit_advanced();
        } else {
            let peers: Vec<u64> = self
                .tracker
                .progress
                .keys()
                .copied()
                .filter(|&p| p != self.id)
                .collect();
            for to in peers {
                self.maybe_send_append(to, false);
            }
        }
    }

    /// A removed leader tells the others the commit index (so they apply the change too),
    /// hands leadership to the most caught-up voter, and steps down.
    fn step_down_after_removal(&mut self) {
        self.bcast_append();
        let last = self.log.last_index();
        let best = self.tracker.voters.iter().copied().find(|id| {
            self.tracker
                .progress
                .get(id)
                .is_some_and(|p| p.matched == last)
        });
        if let Some(to) = best {
            self.send_timeout_now(to);
        }
        self.become_follower(self.term, 0);
    }
}
