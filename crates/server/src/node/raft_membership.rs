//! The raft loop's side of membership: proposing conf changes, MoveLeader,
//! and moving a peer's address after an applied MemberUpdate.

use raft_core::ConfChange;
use raft_core::Role;

use super::raft_loop::RaftLoop;
use super::raft_loop::first_addr;
use crate::error::ServerError;

/// Why raft did not take a membership change now.
pub(crate) const DROPPED: ServerError = ServerError::Timeout;

impl RaftLoop {
    /// Proposes a conf change. Raft refuses one while another is pending (or
    /// before a new leader applied its first entry): the caller retries.
    pub(crate) fn propose_member_change(&mut self, cc: ConfChange) -> Result<(), ServerError> {
        if self.state.leader() == 0 {
            return Err(ServerError::NoLeader);
        }
        self.raw.propose_conf_change(cc).map_err(|e| {
            tracing::debug!(error = %e, "membership change not taken now");
            DROPPED
        })
    }

    /// Starts handing leadership to `target`: only the leader may, and only
    /// to a voter; the caller waits until `target` leads.
    pub(crate) fn move_leader(&mut self, target: u64) -> Result<(), ServerError> {
        let status = self.raw.status();
        if status.soft_state.role != Role::Leader {
            return Err(ServerError::NotLeader);
        }
        if !status.conf_state.voters.contains(&target) {
            return Err(ServerError::BadLeaderTransferee);
        }
        if target != self.state.member_id {
            tracing::info!(to = format!("{target:x}"), "moving leadership");
            self.raw.transfer_leader(target);
        }
        Ok(())
    }

    /// Points the transport at a member's new peer URLs.
    pub(crate) fn peer_moved(&self, id: u64, peer_urls: &[String]) {
        if id == self.state.member_id {
            return;
        }
        if let Some(addr) = first_addr(peer_urls) {
            let _runtime = self.runtime.enter();
            self.transport.update_peer(id, addr);
        }
    }
}
