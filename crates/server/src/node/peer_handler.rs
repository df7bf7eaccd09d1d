//! The transport's view of the member: received traffic goes to the raft
//! loop's channels; lease requests forwarded by followers are answered by the
//! lessor here.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use std::time::Instant;

use bytes::Bytes;
use futures::future::BoxFuture;
use raft_core::Message;
use serde::Deserialize;
use serde::Serialize;
use tokio::sync::mpsc;
use transport_quic::RaftHandler;
use transport_quic::SnapshotData;

use super::boot::Layout;
use super::lessor::LeaseError;
use super::lessor::Lessor;
use super::proposal;
use super::raft_loop::Command;
use super::state::NodeState;

/// A request a follower forwards to the leader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum PeerRequest {
    /// Renew a lease.
    KeepAlive { id: i64 },
    /// A lease's remaining time.
    TimeToLive { id: i64, keys: bool },
    /// May this learner be promoted (is it in sync with the leader)?
    PromoteCheck { id: u64 },
    /// This member's HashKV at a revision (the corruption checks).
    HashKv { revision: i64 },
}

/// The leader's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum PeerResponse {
    /// The lease's TTL after renewal.
    Ttl(i64),
    /// Time-to-live: remaining, granted, keys.
    Info {
        ttl: i64,
        granted_ttl: i64,
        keys: Vec<Vec<u8>>,
    },
    /// No such lease.
    NotFound,
    /// The receiver does not lead.
    NotLeader,
    /// The leader's verdict on a promotion.
    Promote(super::reconfig::PromoteVerdict),
    /// A member's HashKV, or why it has none at that revision.
    Hash(Result<super::corruption::HashAt, String>),
}

/// Implements the transport's callbacks.
#[derive(Debug)]
pub(crate) struct PeerHandler {
    pub(crate) state: Arc<NodeState>,
    pub(crate) msg_tx: mpsc::Sender<Message>,
    pub(crate) cmd_tx: mpsc::Sender<Command>,
    pub(crate) lessor: Arc<Lessor>,
    pub(crate) layout: Layout,
}

/// The longest a lease request waits for this member to apply what is committed.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(2);

/// Waits (bounded) until this member has applied everything it knows committed.
///
/// A lease granted through a follower was committed before the client heard
/// of it, and a follower learns commits from the leader: once the leader has
/// applied its commit index, it knows every lease any client was told of. So
/// a lease "not found" is only final after this.
pub(crate) async fn settle(state: &NodeState) {
    let commit = state.commit_index.load(Ordering::Acquire);
    let mut applied = state.applied.subscribe();
    let _ = tokio::time::timeout(SETTLE_TIMEOUT, applied.wait_for(|a| *a >= commit)).await;
}

/// Answers a forwarded lease request with the lessor; "not found" only after
/// the member applied what it knows committed (see [`settle`]).
pub(crate) async fn answer_settled(
    state: &NodeState,
    lessor: &Lessor,
    request: PeerRequest,
) -> PeerResponse {
    match answer(lessor, request.clone()) {
        PeerResponse::NotFound => {
            settle(state).await;
            answer(lessor, request)
        }
        response => response,
    }
}

/// Answers a forwarded lease request with this member's lessor.
pub(crate) fn answer(lessor: &Lessor, request: PeerRequest) -> PeerResponse {
    let now = Instant::now();
    let result = match request {
        PeerRequest::KeepAlive { id } => lessor.keep_alive(id, now).map(PeerResponse::Ttl),
        PeerRequest::TimeToLive { id, keys } => {
            lessor
                .time_to_live(id, keys, now)
                .map(|info| PeerResponse::Info {
                    ttl: info.ttl,
                    granted_ttl: info.granted_ttl,
                    keys: info.keys,
                })
        }
        // Answered elsewhere (see `on_request`), never by the lessor.
        PeerRequest::PromoteCheck { .. } | PeerRequest::HashKv { .. } => Err(LeaseError::NotLeader),
    };
    match result {
        Ok(response) => response,
        Err(LeaseError::NotFound) => PeerResponse::NotFound,
        Err(LeaseError::NotLeader) => PeerResponse::NotLeader,
    }
}

impl PeerHandler {
    /// Moves a received store snapshot to its place beside the `.snap` files, durably.
    fn keep_received(
        &self,
        msg: &Message,
        data: &SnapshotData,
    ) -> std::io::Result<std::path::PathBuf> {
        let index = msg.snapshot.as_ref().map_or(0, |s| s.metadata.index);
        let target = self.layout.received_store(index);
        std::fs::rename(&data.path, &target)?;
        std::fs::File::open(&target)?.sync_all()?;
        std::fs::File::open(&self.layout.snap)?.sync_all()?;
        Ok(target)
    }
}

impl RaftHandler for PeerHandler {
    fn on_message(&self, msg: Message) {
        // A full queue drops the message; raft retries.
        let _ = self.msg_tx.try_send(msg);
    }

    fn on_snapshot(&self, msg: Message, data: SnapshotData) {
        match self.keep_received(&msg, &data) {
            Ok(path) => {
                let cmd = Command::ReceivedSnapshot {
                    msg: Box::new(msg),
                    path,
                };
                let _ = self.cmd_tx.try_send(cmd);
            }
            Err(e) => tracing::warn!(error = %e, "cannot keep a received snapshot"),
        }
    }

    fn on_request(&self, _from: u64, body: Bytes) -> BoxFuture<'static, Result<Bytes, String>> {
        let state = Arc::clone(&self.state);
        let lessor = Arc::clone(&self.lessor);
        let cmd_tx = self.cmd_tx.clone();
        Box::pin(async move {
            let request = proposal::decode::<PeerRequest>(&body)?;
            let response = match request {
                PeerRequest::PromoteCheck { id } => {
                    PeerResponse::Promote(super::member_changes::promote_verdict(&cmd_tx, id).await)
                }
                PeerRequest::HashKv { revision } => {
                    PeerResponse::Hash(super::corruption::hash_at(&state.store, revision).await)
                }
                request => answer_settled(&state, &lessor, request).await,
            };
            proposal::encode(&response)
        })
    }

    fn on_join(&self, body: Bytes) -> BoxFuture<'static, Result<Bytes, String>> {
        let answer = super::join::answer(&self.state, &body);
        Box::pin(async move { answer })
    }

    fn is_removed(&self, member_id: u64) -> bool {
        self.state.membership().is_removed(member_id)
    }

    fn report_unreachable(&self, member_id: u64) {
        let _ = self.cmd_tx.try_send(Command::Unreachable(member_id));
    }

    fn report_snapshot(&self, member_id: u64, failed: bool) {
        let _ = self.cmd_tx.try_send(Command::SnapshotStatus {
            to: member_id,
            failed,
        });
    }
}
