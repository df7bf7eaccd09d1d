//! How a candidate or pre-candidate handles messages.

use crate::Error;
use crate::Message;
use crate::MessageType;
use crate::Result;
use crate::Role;
use crate::Storage;
use crate::raft::Raft;
use crate::tracker::VoteResult;

impl<S: Storage> Raft<S> {
    pub(crate) fn step_candidate(&mut self, m: Message) -> Result<()> {
        let my_response = match self.role {
            Role::PreCandidate => MessageType::RequestPreVoteResponse,
            _ => MessageType::RequestVoteResponse,
        };
        match m.msg_type {
            MessageType::Propose => return Err(Error::ProposalDropped),
            MessageType::Append | MessageType::Heartbeat | MessageType::Snapshot => {
                // A leader of this term exists.
                self.become_follower(m.term, m.from);
                return self.step_follower(m);
            }
            t if t == my_response => match self.poll(m.from, !m.reject) {
                VoteResult::Won => self.on_election_won(self.role == Role::PreCandidate),
                VoteResult::Lost => self.become_follower(self.term, 0),
                VoteResult::Pending => {}
            },
            _ => {}
        }
        Ok(())
    }
}
