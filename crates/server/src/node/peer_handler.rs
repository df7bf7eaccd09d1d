//! The transport's view of the member: received traffic goes to the raft
//! loop's channels; lease requests forwarded by followers are answered by the
//! lessor here.

use std::sync::Arc;
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
        let answer = proposal::decode::<PeerRequest>(&body)
            .map(|request| answer(&self.lessor, request))
            .and_then(|response| proposal::encode(&response).map_err(|e| e.to_string()));
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
