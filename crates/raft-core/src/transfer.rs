//! Leadership transfer: catch the target up, then tell it to campaign at once.

use crate::Message;
use crate::MessageType;
use crate::Storage;
use crate::raft::Raft;

impl<S: Storage> Raft<S> {
    /// Starts a transfer to `to` (a voter other than this leader).
    pub(crate) fn leader_transfer(&mut self, to: u64) {
        if to == self.id || !self.tracker.is_voter(to) || self.lead_transferee == to {
            return;
        }
        self.lead_transferee = to;
        // The transfer must finish within an election timeout, or it is abandoned.
        self.election_elapsed = 0;
        let caught_up = self
            .tracker
            .progress
            .get(&to)
            .is_some_and(|p| p.matched == self.log.last_index());
        if caught_up {
            self.send_timeout_now(to);
        } else {
            self.send_append(to);
        }
    }

    pub(crate) fn send_timeout_now(&mut self, to: u64) {
        self.send(Message {
            msg_type: MessageType::TimeoutNow,
            to,
            ..Default::default()
        });
    }
}
