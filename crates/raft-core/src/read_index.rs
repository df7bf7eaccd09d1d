//! Linearizable reads: ReadIndex confirmed by a heartbeat quorum.

use bytes::Bytes;

use crate::Message;
use crate::MessageType;
use crate::ReadState;
use crate::Storage;
use crate::raft::Raft;
use crate::read_only::MAX_PENDING_READS;

impl<S: Storage> Raft<S> {
    /// A leader handles a read request (local, or forwarded by a follower).
    pub(crate) fn leader_read_index(&mut self, m: Message) {
        if self.tracker.voters.len() <= 1 {
            let index = self.log.committed;
            return self.answer_read(m, index);
        }
        if !self.committed_entry_in_current_term() {
            // The commit index of a new leader may lag the true one until its own term's
            // entry commits; hold the read until then.
            if self.pending_reads.len() < MAX_PENDING_READS {
                self.pending_reads.push(m);
            }
            return;
        }
        self.send_read_index(m);
    }

    fn send_read_index(&mut self, m: Message) {
        let ctx = m.context.clone();
        if self.read_only.add_request(self.log.committed, m) {
            self.on_read_ack(self.id, &ctx);
            self.bcast_heartbeat_with_ctx(ctx);
        }
    }

    pub(crate) fn release_pending_reads(&mut self) {
        for m in std::mem::take(&mut self.pending_reads) {
            self.send_read_index(m);
        }
    }

    /// A heartbeat response acknowledged the read `ctx` (and every earlier one).
    pub(crate) fn on_read_ack(&mut self, from: u64, ctx: &Bytes) {
        let quorum = self.tracker.quorum();
        let voters = &self.tracker.voters;
        let acked = self.read_only.recv_ack(from, ctx).map_or(0, |acks| {
            acks.iter().filter(|id| voters.contains(id)).count()
        });
        if acked < quorum {
            return;
        }
        for status in self.read_only.advance(ctx) {
            self.answer_read(status.req, status.index);
        }
    }

    fn answer_read(&mut self, req: Message, index: u64) {
        if req.from == 0 || req.from == self.id {
            self.read_states.push(ReadState {
                index,
                request_ctx: req.context,
            });
        } else {
            let m = Message {
                msg_type: MessageType::ReadIndexResponse,
                to: req.from,
                index,
                context: req.context,
                ..Default::default()
            };
            self.send(m);
        }
    }
}
