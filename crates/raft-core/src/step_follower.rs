//! How a follower handles messages.

use crate::Error;
use crate::Message;
use crate::MessageType;
use crate::Result;
use crate::Storage;
use crate::raft::Raft;

impl<S: Storage> Raft<S> {
    pub(crate) fn step_follower(&mut self, mut m: Message) -> Result<()> {
        match m.msg_type {
            MessageType::Propose | MessageType::TransferLeader | MessageType::ReadIndex => {
                if self.leader_id == 0 {
                    return Err(Error::ProposalDropped);
                }
                m.to = self.leader_id;
                self.send(m);
            }
            MessageType::Append => {
                self.heard_from_leader(m.from);
                self.handle_append(&m);
            }
            MessageType::Heartbeat => {
                self.heard_from_leader(m.from);
                self.handle_heartbeat(&m);
            }
            MessageType::Snapshot => {
                self.heard_from_leader(m.from);
                self.handle_snapshot(m);
            }
            MessageType::TimeoutNow => self.hup(true),
            MessageType::ReadIndexResponse => {
                let rs = crate::ReadState {
                    index: m.index,
                    request_ctx: m.context,
                };
                self.read_states.push(rs);
            }
            _ => {}
        }
        Ok(())
    }

    fn heard_from_leader(&mut self, leader_id: u64) {
        self.election_elapsed = 0;
        self.leader_id = leader_id;
    }

    fn handle_append(&mut self, m: &Message) {
        let to = m.from;
        if m.index < self.log.committed {
            let index = self.log.committed;
            return self.send(Message {
                msg_type: MessageType::AppendResponse,
                to,
                index,
                ..Default::default()
            });
        }
        if let Some(last) = self
            .log
            .maybe_append(m.index, m.log_term, m.commit, &m.entries)
        {
            return self.send(Message {
                msg_type: MessageType::AppendResponse,
                to,
                index: last,
                ..Default::default()
            });
        }
        // Reject with a hint: the largest index at or below the leader's whose term is at
        // most the leader's term there, so the leader can skip a whole term per round trip.
        let (hint, hint_term) = self
            .log
            .find_conflict_by_term(m.index.min(self.log.last_index()), m.log_term);
        let resp = Message {
            msg_type: MessageType::AppendResponse,
            to,
            index: m.index,
            reject: true,
            reject_hint: hint,
            log_term: hint_term,
            ..Default::default()
        };
        self.send(resp);
    }

    fn handle_heartbeat(&mut self, m: &Message) {
        self.log.commit_to(m.commit.min(self.log.last_index()));
        let resp = Message {
            msg_type: MessageType::HeartbeatResponse,
            to: m.from,
            context: m.context.clone(),
            ..Default::default()
        };
        self.send(resp);
    }

    fn handle_snapshot(&mut self, m: Message) {
        let to = m.from;
        let Some(snapshot) = m.snapshot else { return };
        let (index, term) = (snapshot.metadata.index, snapshot.metadata.term);
        let restored = self.restore(snapshot);
        let ack = if restored {
            self.log.last_index()
        } else {
            self.log.committed
        };
        debug_assert!(
            !restored || ack == index,
            "restored snapshot {index}/{term}"
        );
        self.send(Message {
            msg_type: MessageType::AppendResponse,
            to,
            index: ack,
            ..Default::default()
        });
    }

    /// Installs a snapshot newer than the commit index; false if it is not needed.
    fn restore(&mut self, snapshot: crate::Snapshot) -> bool {
        let (index, term) = (snapshot.metadata.index, snapshot.metadata.term);
        if index <= self.log.committed {
            return false;
        }
        if self.log.match_term(index, term) {
            // The log already has the snapshot's last entry: just move the commit index.
            self.log.commit_to(index);
            return false;
        }
        let conf = snapshot.metadata.conf_state.clone();
        self.log.restore(snapshot);
        let next = self.log.last_index() + 1;
        self.tracker = crate::tracker::Tracker::new(&conf, next, self.config.max_inflight_msgs);
        true
    }
}
