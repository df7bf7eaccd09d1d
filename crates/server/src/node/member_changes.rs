//! Membership changes as the Cluster service asks for them: checked with
//! etcd's rules ([`super::reconfig`]), proposed through raft by this member
//! (a follower's proposal travels to the leader inside raft), and answered
//! once this member has applied them.

use std::sync::atomic::Ordering;
use std::time::Duration;
use std::time::Instant;
use std::time::SystemTime;

use raft_core::ConfChange;
use raft_core::ConfChangeType;
use tokio::sync::mpsc;
use tokio::sync::oneshot;

use super::NodeBackend;
use super::membership::MemberRecord;
use super::membership::Membership;
use super::membership::encode_record;
use super::peer_handler::PeerRequest;
use super::peer_handler::PeerResponse;
use super::proposal::Body;
use super::raft_loop::Command;
use super::reconfig;
use super::reconfig::PromoteVerdict;
use crate::backend::Member;
use crate::error::ServerError;
use crate::ids;

/// The pause before proposing again a change raft did not take (another pending).
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// Raft's view of the cluster, from the raft loop.
async fn raft_status(cmd_tx: &mpsc::Sender<Command>) -> Result<raft_core::Status, ServerError> {
    let (tx, rx) = oneshot::channel();
    cmd_tx
        .send(Command::RaftStatus(tx))
        .await
        .map_err(|_| ServerError::Stopped)?;
    rx.await.map_err(|_| ServerError::Stopped)
}

/// The leader's verdict on promoting `id`, for a follower that asks.
pub(crate) async fn promote_verdict(cmd_tx: &mpsc::Sender<Command>, id: u64) -> PromoteVerdict {
    match raft_status(cmd_tx).await {
        Ok(status) => PromoteVerdict::of(&reconfig::check_learner_ready(&status, id)),
        Err(_) => PromoteVerdict::NotLeader,
    }
}

impl NodeBackend {
    fn ready_for_change(&self) -> Result<(), ServerError> {
        if self.state.stopping.load(Ordering::Acquire) {
            return Err(ServerError::Stopped);
        }
        if self.state.leader() == 0 {
            return Err(ServerError::NoLeader);
        }
        Ok(())
    }

    /// Adds a member with a fresh id (from its URLs, the token and the time, as etcd).
    pub(crate) async fn add_member(
        &self,
        peer_urls: Vec<String>,
        is_learner: bool,
    ) -> Result<(Member, Vec<Member>), ServerError> {
        self.ready_for_change()?;
        reconfig::check_add(
            &self.state.membership(),
            &peer_urls,
            is_learner,
            self.reconfig.strict,
        )?;
        let now_secs = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let id = ids::member_id_salted(&peer_urls, &self.reconfig.cluster_token, Some(now_secs));
        let record = MemberRecord {
            id,
            peer_urls,
            is_learner,
            ..MemberRecord::default()
        };
        let change_type = if is_learner {
            ConfChangeType::AddLearnerNode
        } else {
            ConfChangeType::AddNode
        };
        let cc = ConfChange {
            change_type,
            node_id: id,
            context: encode_record(&record),
        };
        let members = self.change(cc, |m| m.get(id).is_some()).await?;
        let added = Member {
            id,
            peer_urls: record.peer_urls,
            is_learner,
            ..Member::default()
        };
        Ok((added, members))
    }

    /// Removes a member; a member removing itself stops once it applied the change.
    pub(crate) async fn remove_member(&self, id: u64) -> Result<Vec<Member>, ServerError> {
        self.ready_for_change()?;
        reconfig::check_remove(&self.state.membership(), id, self.reconfig.strict)?;
        let cc = ConfChange {
            change_type: ConfChangeType::RemoveNode,
            node_id: id,
            context: Default::default(),
        };
        self.change(cc, |m| m.is_removed(id)).await
    }

    /// Promotes a learner once the leader finds it in sync.
    pub(crate) async fn promote_member(&self, id: u64) -> Result<Vec<Member>, ServerError> {
        self.ready_for_change()?;
        reconfig::check_promote(&self.state.membership(), id, self.reconfig.strict)?;
        let status = raft_status(&self.cmd_tx).await?;
        match reconfig::check_learner_ready(&status, id) {
            // Only the leader knows how far the learner got: ask it (as etcd forwards).
            Err(ServerError::NotLeader) => {
                match self.forward(PeerRequest::PromoteCheck { id }).await? {
                    PeerResponse::Promote(verdict) => verdict.into_result()?,
                    _ => return Err(ServerError::LeaderChanged),
                }
            }
            checked => checked?,
        }
        let record = self.state.membership().get(id).cloned().unwrap_or_default();
        let cc = ConfChange {
            change_type: ConfChangeType::AddNode,
            node_id: id,
            context: encode_record(&MemberRecord {
                is_learner: false,
                ..record
            }),
        };
        self.change(cc, |m| m.get(id).is_some_and(|r| !r.is_learner))
            .await
    }

    /// Moves a member to new peer URLs (a replicated request, not a conf change).
    pub(crate) async fn update_member(
        &self,
        id: u64,
        peer_urls: Vec<String>,
    ) -> Result<Vec<Member>, ServerError> {
        self.ready_for_change()?;
        reconfig::check_update(&self.state.membership(), id, &peer_urls)?;
        self.propose(Body::UpdateMember {
            member_id: id,
            peer_urls,
        })
        .await?;
        Ok(self.state.membership().to_api())
    }

    /// MoveLeader: only the leader may; answers once `target` leads.
    pub(crate) async fn move_leadership(&self, target: u64) -> Result<(), ServerError> {
        let deadline = Instant::now() + self.request_timeout;
        let (tx, rx) = oneshot::channel();
        self.cmd_tx
            .send(Command::MoveLeader { target, reply: tx })
            .await
            .map_err(|_| ServerError::Stopped)?;
        rx.await.map_err(|_| ServerError::Stopped)??;
        let mut applied = self.state.applied.subscribe();
        loop {
            if self.state.leader() == target {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(ServerError::LeaderTransferTimeout);
            }
            // Leadership moves between applies too: look again soon.
            let pause = tokio::time::sleep(RETRY_PAUSE);
            tokio::select! {
                _ = pause => {}
                changed = applied.changed() => if changed.is_err() {
                    return Err(ServerError::Stopped);
                },
            }
        }
    }

    /// Proposes `cc` (again while raft refuses it for a pending change), then
    /// waits until this member's membership satisfies `done`.
    async fn change(
        &self,
        cc: ConfChange,
        done: impl Fn(&Membership) -> bool,
    ) -> Result<Vec<Member>, ServerError> {
        let deadline = Instant::now() + self.request_timeout;
        loop {
            let (tx, rx) = oneshot::channel();
            let cmd = Command::ProposeConfChange {
                cc: cc.clone(),
                reply: tx,
            };
            self.cmd_tx
                .send(cmd)
                .await
                .map_err(|_| ServerError::Stopped)?;
            match rx.await.map_err(|_| ServerError::Stopped)? {
                Ok(()) => break,
                Err(ServerError::Timeout) if Instant::now() + RETRY_PAUSE < deadline => {
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                Err(e) => return Err(e),
            }
        }
        let mut applied = self.state.applied.subscribe();
        let waited = tokio::time::timeout_at(
            deadline.into(),
            applied.wait_for(|_| done(&self.state.membership())),
        )
        .await;
        match waited {
            Ok(Ok(_)) => Ok(self.state.membership().to_api()),
            Ok(Err(_)) => Err(ServerError::Stopped),
            Err(_) => Err(ServerError::Timeout),
        }
    }
}
