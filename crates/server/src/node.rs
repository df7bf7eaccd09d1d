//! The member: raft, the WAL, the store and the peer transport, composed.
//!
//! Threads and tasks:
//! - the raft loop thread ([`raft_loop`]) owns the raft node, the WAL and the
//!   snapshot files and drives raft in etcd's order;
//! - the apply thread ([`apply`]) applies committed entries to the store in order;
//! - the transport's tasks feed peer traffic to the raft loop ([`peer_handler`]);
//! - a lease task on the runtime revokes expired leases and checkpoints TTLs
//!   while this member leads ([`lessor`]);
//! - client services call [`NodeBackend`].
//!
//! A storage failure anywhere stops the member ([`Node::fatal`] resolves, and
//! `keel` exits non-zero); it never continues after one.

mod apply;
mod boot;
mod compactor;
mod corruption;
mod force_new_cluster;
mod heap_trim;
mod idle_spin;
mod join;
mod lessor;
mod log_hold;
mod member_changes;
mod membership;
mod node_backend;
mod peer_handler;
mod proposal;
mod raft_loop;
mod raft_membership;
mod read_index;
mod reconfig;
mod restored_member;
mod state;
mod store_floor;
mod waiters;
mod wire;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;
use std::time::Instant;

pub(crate) use force_new_cluster::force_new_cluster_offline;
pub use node_backend::NodeBackend;
use raft_core::RawNode;
pub(crate) use restored_member::write_member_dir;
use tokio::sync::mpsc;
use transport_quic::QuicTransport;
use transport_quic::TlsMode;
use transport_quic::Transport;
use transport_quic::TransportConfig;

use self::apply::Applier;
use self::boot::Layout;
use self::lessor::Lessor;
use self::peer_handler::PeerHandler;
use self::proposal::Body;
use self::raft_loop::Command;
use self::raft_loop::RaftLoop;
use self::state::NodeState;
use self::wire::WireOp;
use crate::config::PeerTls;
use crate::config::ServerConfig;
use crate::config::Url;

/// Capacity of the peer-message and command channels into the raft loop (etcd's 4096).
const CHANNEL_CAPACITY: usize = 4096;

/// Why a member could not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The data directory does not fit the flags (another member or cluster).
    #[error("{0}")]
    Refused(String),
    /// The WAL, snapshots or store failed.
    #[error("storage: {0}")]
    Storage(String),
    /// The peer transport could not start.
    #[error("peer transport: {0}")]
    Transport(String),
    /// Raft refused its configuration.
    #[error("raft: {0}")]
    Raft(String),
}

/// Why a member stopped on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// A storage failure: the process exits non-zero.
    Failed(String),
    /// A snapshot from the leader waits in the data directory: the process
    /// restarts itself, and boot installs it.
    Restart(String),
    /// The member was removed from the cluster: the process exits.
    Removed,
}

/// A running member.
#[derive(Debug)]
pub struct Node {
    backend: Arc<NodeBackend>,
    transport: Arc<QuicTransport>,
    threads: Vec<JoinHandle<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Node {
    /// Opens the data directory, starts the transport, the raft loop and the apply thread.
    pub async fn start(config: &ServerConfig) -> Result<Node, NodeError> {
        let layout = Layout::new(config);
        let joined = join::discover_if_joining(config, &layout).await?;
        let booted = match &joined {
            Some(j) => boot::boot_joining(config, &layout, j.member_id, j.cluster_id)?,
            None => boot::boot(config, &layout)?,
        };
        let (cluster_id, member_id, booted_new) =
            (booted.cluster_id, booted.member_id, booted.is_new);
        if booted.state.membership.is_removed(member_id) {
            return Err(NodeError::Refused(
                "the member has been permanently removed from the cluster".into(),
            ));
        }
        let store = Arc::clone(&booted.store);
        let state = Arc::new(NodeState::new(
            cluster_id,
            member_id,
            config.name.clone(),
            Arc::clone(&store),
            booted.state.membership.clone(),
            booted.state.alarm_list(),
        ));
        let lessor = Arc::new(Lessor::new(Arc::clone(&store), config.election_timeout));
        let (msg_tx, msg_rx) = mpsc::channel(CHANNEL_CAPACITY);
        let (cmd_tx, cmd_rx) = mpsc::channel(CHANNEL_CAPACITY);
        let (apply_tx, apply_rx) = mpsc::unbounded_channel();
        let handler = Arc::new(PeerHandler {
            state: Arc::clone(&state),
            msg_tx,
            cmd_tx: cmd_tx.clone(),
            lessor: Arc::clone(&lessor),
            layout: layout.clone(),
        });
        let transport =
            start_transport(config, cluster_id, member_id, &layout, Arc::clone(&handler)).await?;
        // Test only (KEEL_FAULT_INJECTION=1): peer traffic through the fault layer.
        let peers = crate::http::fault::wrap_peer_transport(
            Arc::clone(&transport) as Arc<dyn Transport>,
            member_id,
            handler,
        );
        let mut peer_list = boot::peers(&booted.state.membership, member_id);
        if peer_list.is_empty() {
            // A joining member learns the members from the log it is sent;
            // until then it answers the peers the cluster told it of.
            peer_list = join::seed_peers(config, joined).await;
        }
        for (id, urls) in peer_list {
            if let Some(addr) = raft_loop::first_addr(&urls) {
                transport.add_peer(id, addr);
            }
        }
        let raw = new_raw_node(config, &booted)?;
        let raft = RaftLoop {
            raw,
            wal: booted.wal,
            snapshotter: booted.snapshotter,
            transport: Arc::clone(&peers),
            state: Arc::clone(&state),
            lessor: Arc::clone(&lessor),
            apply_tx,
            msg_rx,
            cmd_rx,
            cmd_tx: cmd_tx.clone(),
            heartbeat_interval: config.heartbeat_interval,
            snapshot_catch_up_entries: config.snapshot_catch_up_entries,
            layout,
            reads: read_index::ReadIndexer::new(member_id, boot_clock_nanos()),
            received: Default::default(),
            sending: Default::default(),
            holds: Default::default(),
            transfer: None,
            runtime: tokio::runtime::Handle::current(),
        };
        let applier = Applier {
            state: Arc::clone(&state),
            cmd_tx: cmd_tx.clone(),
            lessor: Arc::clone(&lessor),
            snapshot_count: config.snapshot_count,
            conf_state: booted.conf_state,
            snapshot_index: booted.snapshot_index,
            applied_index: booted.applied,
            log_bytes_since_snapshot: 0,
        };
        let threads = vec![
            spawn_thread("keel-raft", move || raft.run())?,
            spawn_thread("keel-apply", move || applier.run(apply_rx))?,
        ];
        let backend = Arc::new(NodeBackend {
            state,
            cmd_tx,
            transport: Arc::clone(&peers),
            lessor,
            max_request_bytes: config.max_request_bytes as usize,
            request_timeout: Duration::from_secs(5) + 2 * config.election_timeout,
            reconfig: reconfig::ReconfigConfig {
                cluster_token: config.initial_cluster_token.clone(),
                strict: config.strict_reconfig_check,
            },
        });
        let client_urls = config
            .advertise_client_urls
            .iter()
            .map(Url::to_string)
            .collect();
        let mut tasks = vec![
            tokio::spawn(lease_loop(Arc::clone(&backend))),
            tokio::spawn(publish_loop(Arc::clone(&backend), client_urls)),
            tokio::spawn(join::removal_watch(
                Arc::clone(&backend),
                peer_tls_mode(config),
                2 * config.election_timeout,
            )),
        ];
        tasks.push(tokio::spawn(heap_trim::trim_when_idle(Arc::clone(
            &backend.state,
        ))));
        if let Some(mode) = config.auto_compaction {
            tasks.push(tokio::spawn(compaction_loop(Arc::clone(&backend), mode)));
        }
        if !config.corrupt_check_interval.is_zero() {
            let checks =
                corruption::periodic_checks(Arc::clone(&backend), config.corrupt_check_interval);
            tasks.push(tokio::spawn(checks));
        }
        tracing::info!(
            name = %config.name,
            member_id = format!("{member_id:x}"),
            cluster_id = format!("{cluster_id:x}"),
            peer = %transport.local_addr(),
            new = booted_new,
            "member started"
        );
        Ok(Node {
            backend,
            transport,
            threads,
            tasks,
        })
    }

    /// etcd's `--experimental-initial-corrupt-check`: compares this member's
    /// HashKV with its peers' at its revision; an error names those that differ.
    pub async fn initial_corruption_check(&self) -> Result<(), String> {
        corruption::initial_check(&self.backend).await
    }

    /// Resolves once this member has published itself through raft and applied that
    /// entry, so that it serves no state older than what the cluster committed before it
    /// started (etcd serves clients only after `ReadyNotify`).
    pub async fn published(&self) {
        let mut published = self.backend.state.published.subscribe();
        // The sender lives in the state this node holds, so the wait cannot fail.
        let _ = published.wait_for(|p| *p).await;
    }

    /// The client services' view of the member.
    pub fn backend(&self) -> Arc<NodeBackend> {
        Arc::clone(&self.backend)
    }

    /// Resolves when the member must stop: it failed, or it must restart.
    pub async fn stopped(&self) -> Stopped {
        let state = &self.backend.state;
        loop {
            let notified = state.fatal_notify.notified();
            if let Some(reason) = state.fatal_reason() {
                return Stopped::Failed(reason);
            }
            if let Some(reason) = state.restart_reason() {
                return Stopped::Restart(reason);
            }
            if state.removed.load(Ordering::Acquire) {
                return Stopped::Removed;
            }
            notified.await;
        }
    }

    /// Stops gracefully: a leader first hands leadership over (so a rolling
    /// restart costs no election), then the loops stop and the transport closes.
    pub async fn stop(self) {
        if self.backend.state.fatal_reason().is_none() {
            self.backend.transfer_leadership().await;
        }
        self.backend.state.stopping.store(true, Ordering::Release);
        let _ = self.backend.cmd_tx.send(Command::Stop).await;
        for task in &self.tasks {
            task.abort();
        }
        let threads = self.threads;
        let _ = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        })
        .await;
        self.transport.shutdown().await;
        let _ = self.backend.state.store.sync_to_disk();
        // Let the transport's last tasks drop their handles, so the store closes
        // (and its directory lock is released) soon after this returns.
        let state = Arc::downgrade(&self.backend.state);
        drop(self.backend);
        drop(self.transport);
        for _ in 0..500 {
            if state.strong_count() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn spawn_thread(
    name: &str,
    body: impl FnOnce() + Send + 'static,
) -> Result<JoinHandle<()>, NodeError> {
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(body)
        .map_err(|e| NodeError::Storage(format!("cannot start thread {name}: {e}")))
}

async fn start_transport(
    config: &ServerConfig,
    cluster_id: u64,
    member_id: u64,
    layout: &Layout,
    handler: Arc<PeerHandler>,
) -> Result<Arc<QuicTransport>, NodeError> {
    let listen_url = config
        .listen_peer_urls
        .first()
        .ok_or_else(|| NodeError::Transport("no --listen-peer-urls".into()))?;
    if config.listen_peer_urls.len() > 1 {
        tracing::warn!(url = %listen_url, "several --listen-peer-urls: keel listens on the first only");
    }
    let listen = listen_url.socket_addr().map_err(NodeError::Transport)?;
    let mut tcfg = TransportConfig::new(cluster_id, member_id, listen, layout.snap.clone());
    tcfg.election_timeout = config.election_timeout;
    tcfg.tls = peer_tls_mode(config);
    QuicTransport::start(tcfg, handler)
        .await
        .map_err(|e| NodeError::Transport(e.to_string()))
}

/// The peer transport's TLS, from the `--peer-*` flags.
fn peer_tls_mode(config: &ServerConfig) -> TlsMode {
    match &config.peer_tls {
        PeerTls::Auto => TlsMode::Auto,
        PeerTls::Files {
            cert,
            key,
            trusted_ca,
            client_cert_auth,
        } => TlsMode::Files {
            cert: cert.clone(),
            key: key.clone(),
            trusted_ca: trusted_ca.clone(),
            client_cert_auth: *client_cert_auth,
        },
    }
}

/// The wall clock in nanoseconds since the Unix epoch (0 if the clock is before it).
fn boot_clock_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn new_raw_node(
    config: &ServerConfig,
    booted: &boot::Booted,
) -> Result<RawNode<raft_core::MemStorage>, NodeError> {
    let seed = booted.member_id ^ boot_clock_nanos() ^ u64::from(std::process::id());
    let raft_config = raft_core::Config {
        id: booted.member_id,
        election_ticks: config.election_ticks(),
        heartbeat_ticks: 1,
        applied: booted.applied,
        pre_vote: config.pre_vote,
        check_quorum: true,
        seed,
        ..raft_core::Config::default()
    };
    raft_config
        .validate()
        .map_err(|e| NodeError::Raft(e.to_string()))?;
    RawNode::new(&raft_config, booted.storage.clone()).map_err(|e| NodeError::Raft(e.to_string()))
}

/// While this member leads: revoke expired leases, checkpoint remaining TTLs.
async fn lease_loop(backend: Arc<NodeBackend>) {
    let mut scan = tokio::time::interval(lessor::EXPIRY_SCAN_INTERVAL);
    let mut last_checkpoint = Instant::now();
    loop {
        scan.tick().await;
        if backend.state.stopping.load(Ordering::Acquire) {
            return;
        }
        let now = Instant::now();
        for id in backend.lessor.expired(now) {
            let b = Arc::clone(&backend);
            tokio::spawn(async move {
                let op = WireOp::from(&mvcc::WriteOp::LeaseRevoke(mvcc::LeaseRevokeRequest { id }));
                if let Err(e) = b.propose(Body::Write(op)).await {
                    tracing::debug!(id, error = %e, "revoking an expired lease failed; will retry");
                }
            });
        }
        if now.duration_since(last_checkpoint) >= lessor::CHECKPOINT_INTERVAL {
            last_checkpoint = now;
            for checkpoints in backend.lessor.checkpoints(now) {
                let b = Arc::clone(&backend);
                tokio::spawn(async move {
                    let op = mvcc::WriteOp::LeaseCheckpoint(mvcc::LeaseCheckpointRequest {
                        checkpoints,
                    });
                    let _ = b.propose(Body::Write(WireOp::from(&op))).await;
                });
            }
        }
    }
}

/// While this member leads: compact the store's history as `--auto-compaction-*` says.
async fn compaction_loop(backend: Arc<NodeBackend>, mode: crate::config::AutoCompaction) {
    let mut compactor = compactor::Compactor::new(mode);
    let mut interval = tokio::time::interval(compactor.interval());
    loop {
        interval.tick().await;
        if backend.state.stopping.load(Ordering::Acquire) {
            return;
        }
        if !backend.state.is_leader.load(Ordering::Acquire) {
            continue;
        }
        let store = &backend.state.store;
        let Some(revision) = compactor.tick(
            Instant::now(),
            store.current_revision(),
            store.compacted_revision(),
        ) else {
            continue;
        };
        let op = mvcc::WriteOp::Compact(mvcc::CompactionRequest {
            revision,
            physical: false,
        });
        match backend.propose(Body::Write(WireOp::from(&op))).await {
            Ok(_) => tracing::info!(revision, "auto compaction"),
            Err(e) => tracing::warn!(revision, error = %e, "auto compaction failed"),
        }
    }
}

/// Publishes this member's name and client URLs once a leader exists (etcd's publish),
/// once per start even when the cluster already knows them: the entry's apply here
/// marks the member ready to serve clients.
async fn publish_loop(backend: Arc<NodeBackend>, client_urls: Vec<String>) {
    loop {
        if backend.state.leader() != 0 && backend.publish(client_urls.clone()).await.is_ok() {
            backend.state.published.send_replace(true);
            tracing::info!("published; serving clients");
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    mod serial {
        use std::ffi::OsString;
        use std::time::Duration;

        use crate::backend::Backend;
        use crate::config::ServerConfig;
        use crate::node::Node;

        fn config(dir: &std::path::Path) -> ServerConfig {
            let args: Vec<OsString> = vec![
                "keel".into(),
                format!("--data-dir={}", dir.display()).into(),
                "--listen-peer-urls=http://127.0.0.1:0".into(),
                "--initial-advertise-peer-urls=http://127.0.0.1:0".into(),
                "--heartbeat-interval=20".into(),
                "--election-timeout=200".into(),
            ];
            ServerConfig::load_from(args, &|_| None).unwrap()
        }

        async fn wait_leader(node: &Node) {
            for _ in 0..500 {
                if node.backend().status().leader != 0 {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            panic!("no leader");
        }

        fn put(key: &str, value: &str) -> mvcc::WriteOp {
            mvcc::WriteOp::Put(mvcc::PutRequest {
                key: key.into(),
                value: value.into(),
                ..Default::default()
            })
        }

        fn get(node: &Node, key: &str) -> Vec<Vec<u8>> {
            let req = mvcc::RangeRequest {
                key: key.into(),
                ..Default::default()
            };
            let resp = node.backend().store().range(&req).unwrap();
            resp.kvs.into_iter().map(|kv| kv.value).collect()
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn single_member_applies_writes_leases_and_restarts() {
            let dir = tempfile::tempdir().unwrap();
            let cfg = config(dir.path());
            let node = Node::start(&cfg).await.unwrap();
            wait_leader(&node).await;
            let backend = node.backend();
            let applied = backend.write(put("k", "v1")).await.unwrap();
            assert!(matches!(applied.response, Ok(mvcc::WriteResponse::Put(_))));
            backend.read_barrier().await.unwrap();
            assert_eq!(get(&node, "k"), vec![b"v1".to_vec()]);
            let grant = mvcc::WriteOp::LeaseGrant(mvcc::LeaseGrantRequest {
                id: 77,
                ttl_seconds: 60,
            });
            assert!(backend.write(grant).await.unwrap().response.is_ok());
            assert_eq!(backend.lease_keep_alive(77).await.unwrap(), 60);
            assert_eq!(
                backend
                    .lease_time_to_live(77, false)
                    .await
                    .unwrap()
                    .granted_ttl,
                60
            );
            assert!(backend.lease_keep_alive(78).await.is_err());
            drop(backend);
            node.stop().await;

            let node = Node::start(&cfg).await.unwrap();
            wait_leader(&node).await;
            assert_eq!(
                get(&node, "k"),
                vec![b"v1".to_vec()],
                "the write survives a restart"
            );
            let backend = node.backend();
            backend.write(put("k", "v2")).await.unwrap();
            assert_eq!(get(&node, "k"), vec![b"v2".to_vec()]);
            assert!(
                backend.lease_time_to_live(77, false).await.unwrap().ttl > 0,
                "the lease survives"
            );
            assert_eq!(backend.members().len(), 1);
            drop(backend);
            node.stop().await;
        }

        /// A store that applied more than the WAL holds means the WAL lost
        /// synced entries: the member stops with a clear error instead of
        /// skipping new entries as applied.
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_store_ahead_of_its_wal_is_refused_at_boot() {
            let ahead = tempfile::tempdir().unwrap();
            let behind = tempfile::tempdir().unwrap();
            for (dir, puts) in [(&ahead, 20), (&behind, 0)] {
                let node = Node::start(&config(dir.path())).await.unwrap();
                wait_leader(&node).await;
                for i in 0..puts {
                    node.backend()
                        .write(put(&format!("k{i}"), "v"))
                        .await
                        .unwrap();
                }
                node.stop().await;
            }
            // The same member's WAL with only its first entries, and the store of
            // twenty puts later.
            let store = |dir: &tempfile::TempDir| dir.path().join("member").join("store");
            std::fs::remove_dir_all(store(&behind)).unwrap();
            std::fs::rename(store(&ahead), store(&behind)).unwrap();
            let refused = Node::start(&config(behind.path())).await.err();
            let message = refused
                .expect("a store ahead of the WAL must be refused")
                .to_string();
            assert!(
                message.contains("synced WAL entries are missing"),
                "{message}"
            );
        }
    }
}
