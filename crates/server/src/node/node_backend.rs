//! The real [`Backend`]: client requests become raft proposals and reads, with
//! etcd's overload rules and timeouts.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use std::time::Instant;

use tokio::sync::mpsc;
use tokio::sync::oneshot;
use transport_quic::Transport;

use super::apply::ALARM_NOSPACE;
use super::lessor::LeaseError;
use super::lessor::Lessor;
use super::peer_handler;
use super::peer_handler::PeerRequest;
use super::peer_handler::PeerResponse;
use super::proposal;
use super::proposal::Body;
use super::proposal::Proposal;
use super::raft_loop::Command;
use super::state::NodeState;
use super::wire::WireOp;
use crate::backend::Alarm;
use crate::backend::Backend;
use crate::backend::Header;
use crate::backend::LeaseInfo;
use crate::backend::Member;
use crate::backend::RevisionEvents;
use crate::backend::StatusInfo;
use crate::error::ServerError;

/// etcd's `maxGapBetweenApplyAndCommitIndex`.
pub(crate) const MAX_APPLY_GAP_ENTRIES: u64 = 5000;

/// The member as the client services see it.
#[derive(Clone)]
pub struct NodeBackend {
    pub(crate) state: Arc<NodeState>,
    pub(crate) cmd_tx: mpsc::Sender<Command>,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) lessor: Arc<Lessor>,
    pub(crate) max_request_bytes: usize,
    /// etcd's request timeout: 5 s plus two election timeouts.
    pub(crate) request_timeout: Duration,
    /// Flags for membership changes.
    pub(crate) reconfig: super::reconfig::ReconfigConfig,
}

impl std::fmt::Debug for NodeBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeBackend")
            .field("member_id", &self.state.member_id)
            .finish_non_exhaustive()
    }
}

/// True for writes etcd refuses while the NOSPACE alarm is raised (puts, txns with puts, grants).
fn adds_data(op: &mvcc::WriteOp) -> bool {
    fn txn_puts(ops: &[mvcc::RequestOp]) -> bool {
        ops.iter().any(|op| match op {
            mvcc::RequestOp::Put(_) => true,
            mvcc::RequestOp::Txn(t) => txn_puts(&t.success) || txn_puts(&t.failure),
            _ => false,
        })
    }
    match op {
        mvcc::WriteOp::Put(_) | mvcc::WriteOp::LeaseGrant(_) => true,
        mvcc::WriteOp::Txn(t) => txn_puts(&t.success) || txn_puts(&t.failure),
        _ => false,
    }
}

impl NodeBackend {
    /// The smallest lease TTL granted (1.5 election timeouts, as etcd's `minLeaseTTL`).
    pub fn min_lease_ttl_seconds(&self) -> i64 {
        self.lessor.min_ttl_seconds()
    }

    /// The member's id.
    pub fn member_id(&self) -> u64 {
        self.state.member_id
    }

    /// How many times the leader changed, as seen here.
    pub fn leader_changes(&self) -> u64 {
        self.state.leader_changes.load(Ordering::Relaxed)
    }

    fn check_ready(&self) -> Result<(), ServerError> {
        if self.state.stopping.load(Ordering::Acquire) {
            return Err(ServerError::Stopped);
        }
        if self.state.leader() == 0 {
            return Err(ServerError::NoLeader);
        }
        let commit = self.state.commit_index.load(Ordering::Acquire);
        if commit.saturating_sub(self.state.applied_index()) > MAX_APPLY_GAP_ENTRIES {
            return Err(ServerError::TooManyRequests);
        }
        Ok(())
    }

    /// Proposes a request and waits until this member applied it; counted in
    /// etcd's `proposals_pending` and `proposals_failed` metrics.
    pub(crate) async fn propose(&self, body: Body) -> Result<mvcc::Applied, ServerError> {
        let metrics = crate::http::metrics::global();
        metrics.proposals_pending.inc();
        let outcome = self.propose_and_wait(body).await;
        metrics.proposals_pending.dec();
        if outcome.is_err() {
            metrics.proposals_failed.inc();
        }
        outcome
    }

    async fn propose_and_wait(&self, body: Body) -> Result<mvcc::Applied, ServerError> {
        self.check_ready()?;
        let (id, rx) = self.state.waiters.register();
        let proposal = Proposal {
            origin: self.state.member_id,
            id,
            body,
        };
        let data = match proposal::encode(&proposal) {
            Ok(data) if data.len() <= self.max_request_bytes => data,
            Ok(_) => {
                self.state.waiters.cancel(id);
                return Err(ServerError::RequestTooLarge);
            }
            Err(e) => {
                self.state.waiters.cancel(id);
                return Err(ServerError::Fatal(e));
            }
        };
        let deadline = Instant::now() + self.request_timeout;
        let sent = tokio::time::timeout_at(
            deadline.into(),
            self.cmd_tx.send(Command::Propose { id, data }),
        )
        .await;
        match sent {
            Ok(Ok(())) => {}
            Ok(Err(_)) => {
                self.state.waiters.cancel(id);
                return Err(ServerError::Stopped);
            }
            Err(_) => {
                self.state.waiters.cancel(id);
                return Err(ServerError::Timeout);
            }
        }
        match tokio::time::timeout_at(deadline.into(), rx).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(ServerError::Stopped),
            Err(_) => {
                self.state.waiters.cancel(id);
                Err(ServerError::Timeout)
            }
        }
    }

    /// Asks the leader about a lease (this member does not lead).
    pub(crate) async fn forward(&self, request: PeerRequest) -> Result<PeerResponse, ServerError> {
        let leader = self.state.leader();
        if leader == 0 {
            return Err(ServerError::NoLeader);
        }
        self.ask(leader, request).await
    }

    /// Sends a request to one member over the peer transport and waits for its answer.
    pub(crate) async fn ask(
        &self,
        member: u64,
        request: PeerRequest,
    ) -> Result<PeerResponse, ServerError> {
        let body = proposal::encode(&request).map_err(ServerError::Fatal)?;
        let call = self.transport.request(member, body);
        let answer = tokio::time::timeout(self.request_timeout, call)
            .await
            .map_err(|_| ServerError::Timeout)?
            .map_err(|_| ServerError::LeaderChanged)?;
        proposal::decode::<PeerResponse>(&answer).map_err(|_| ServerError::LeaderChanged)
    }

    /// Raises or clears an alarm through raft.
    pub async fn set_alarm(
        &self,
        activate: bool,
        member_id: u64,
        alarm: i32,
    ) -> Result<(), ServerError> {
        self.propose(Body::Alarm {
            activate,
            member_id,
            alarm,
        })
        .await
        .map(|_| ())
    }

    /// Announces this member's name and client URLs through raft (etcd's publish).
    pub(crate) async fn publish(&self, client_urls: Vec<String>) -> Result<(), ServerError> {
        let body = Body::Publish {
            member_id: self.state.member_id,
            name: self.state.name.clone(),
            client_urls,
        };
        self.propose(body).await.map(|_| ())
    }

    /// Hands leadership to another member if this one leads (graceful stop).
    pub async fn transfer_leadership(&self) {
        let (tx, rx) = oneshot::channel();
        if self
            .cmd_tx
            .send(Command::TransferLeadership(tx))
            .await
            .is_ok()
        {
            let _ = tokio::time::timeout(self.request_timeout, rx).await;
        }
    }
}

impl Backend for NodeBackend {
    fn header(&self) -> Header {
        Header {
            cluster_id: self.state.cluster_id,
            member_id: self.state.member_id,
            revision: self.state.store.current_revision(),
            raft_term: self.state.term.load(Ordering::Acquire),
        }
    }

    fn store(&self) -> &Arc<mvcc::Store> {
        &self.state.store
    }

    async fn write(&self, op: mvcc::WriteOp) -> Result<mvcc::Applied, ServerError> {
        // One look at the alarms per write (it copies them under a lock).
        let alarms = self.state.alarm_list();
        if adds_data(&op) && alarms.iter().any(|a| a.alarm == ALARM_NOSPACE) {
            return Err(ServerError::NoSpace);
        }
        if alarms
            .iter()
            .any(|a| a.alarm == super::corruption::ALARM_CORRUPT)
        {
            return Err(ServerError::CorruptCluster);
        }
        self.propose(Body::Write(WireOp::from(&op))).await
    }

    async fn read_barrier(&self) -> Result<(), ServerError> {
        self.check_ready()?;
        let deadline = Instant::now() + self.request_timeout;
        let (tx, rx) = oneshot::channel();
        self.cmd_tx
            .send(Command::ReadIndex(tx))
            .await
            .map_err(|_| ServerError::Stopped)?;
        let index = match tokio::time::timeout_at(deadline.into(), rx).await {
            Ok(Ok(answer)) => answer?,
            Ok(Err(_)) => return Err(ServerError::Stopped),
            Err(_) => return Err(ServerError::Timeout),
        };
        let mut applied = self.state.applied.subscribe();
        match tokio::time::timeout_at(deadline.into(), applied.wait_for(|a| *a >= index)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(ServerError::Stopped),
            Err(_) => Err(ServerError::Timeout),
        }
    }

    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<RevisionEvents>> {
        self.state.events.subscribe()
    }

    async fn lease_keep_alive(&self, id: i64) -> Result<i64, ServerError> {
        let mut result = self.lessor.keep_alive(id, Instant::now());
        if result == Err(LeaseError::NotFound) {
            peer_handler::settle(&self.state).await;
            result = self.lessor.keep_alive(id, Instant::now());
        }
        match result {
            Ok(ttl) => return Ok(ttl),
            Err(LeaseError::NotFound) => return Err(ServerError::LeaseNotFound),
            Err(LeaseError::NotLeader) => {}
        }
        match self.forward(PeerRequest::KeepAlive { id }).await? {
            PeerResponse::Ttl(ttl) => Ok(ttl),
            PeerResponse::NotFound => Err(ServerError::LeaseNotFound),
            _ => Err(ServerError::LeaderChanged),
        }
    }

    async fn lease_time_to_live(&self, id: i64, keys: bool) -> Result<LeaseInfo, ServerError> {
        let mut result = self.lessor.time_to_live(id, keys, Instant::now());
        if matches!(result, Err(LeaseError::NotFound)) {
            peer_handler::settle(&self.state).await;
            result = self.lessor.time_to_live(id, keys, Instant::now());
        }
        match result {
            Ok(info) => return Ok(info),
            Err(LeaseError::NotFound) => return Err(ServerError::LeaseNotFound),
            Err(LeaseError::NotLeader) => {}
        }
        match self.forward(PeerRequest::TimeToLive { id, keys }).await? {
            PeerResponse::Info {
                ttl,
                granted_ttl,
                keys,
            } => Ok(LeaseInfo {
                id,
                ttl,
                granted_ttl,
                keys,
            }),
            PeerResponse::NotFound => Err(ServerError::LeaseNotFound),
            _ => Err(ServerError::LeaderChanged),
        }
    }

    fn members(&self) -> Vec<Member> {
        self.state.membership().to_api()
    }

    fn status(&self) -> StatusInfo {
        let store = &self.state.store;
        let is_learner = self
            .state
            .membership()
            .get(self.state.member_id)
            .is_some_and(|m| m.is_learner);
        let errors = self
            .state
            .alarm_list()
            .iter()
            .map(|a| format!("memberID:{} alarm:{} ", a.member_id, alarm_name(a.alarm)))
            .collect();
        StatusInfo {
            leader: self.state.leader(),
            raft_index: self
                .state
                .commit_index
                .load(Ordering::Acquire)
                .max(self.state.applied_index()),
            raft_term: self.state.term.load(Ordering::Acquire),
            raft_applied_index: self.state.applied_index(),
            db_size_bytes: i64::try_from(store.size_bytes()).unwrap_or(i64::MAX),
            db_size_in_use_bytes: i64::try_from(store.size_in_use_bytes()).unwrap_or(i64::MAX),
            is_learner,
            errors,
        }
    }

    fn alarms(&self) -> Vec<Alarm> {
        self.state.alarm_list()
    }

    async fn member_add(
        &self,
        peer_urls: Vec<String>,
        is_learner: bool,
    ) -> Result<(Member, Vec<Member>), ServerError> {
        self.add_member(peer_urls, is_learner).await
    }

    async fn member_remove(&self, id: u64) -> Result<Vec<Member>, ServerError> {
        self.remove_member(id).await
    }

    async fn member_update(
        &self,
        id: u64,
        peer_urls: Vec<String>,
    ) -> Result<Vec<Member>, ServerError> {
        self.update_member(id, peer_urls).await
    }

    async fn member_promote(&self, id: u64) -> Result<Vec<Member>, ServerError> {
        self.promote_member(id).await
    }

    async fn move_leader(&self, target: u64) -> Result<(), ServerError> {
        self.move_leadership(target).await
    }

    async fn change_alarm(
        &self,
        activate: bool,
        member_id: u64,
        alarm: i32,
    ) -> Result<(), ServerError> {
        self.set_alarm(activate, member_id, alarm).await
    }
}

fn alarm_name(alarm: i32) -> &'static str {
    match alarm {
        1 => "NOSPACE",
        2 => "CORRUPT",
        _ => "NONE",
    }
}
