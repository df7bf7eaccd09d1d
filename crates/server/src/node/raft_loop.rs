//! The raft loop: one thread owns the [`RawNode`], the WAL and the snapshot
//! files, and drives raft in etcd's order.
//!
//! Each round: wait for a tick, a peer message or a command (polling briefly
//! before sleeping: `idle_spin`); drain whatever else is queued (so many client
//! proposals land in one `Ready`: the group commit); then, while raft has a
//! `Ready`:
//! 1. send `messages` at once (a leader's appends go out while it persists);
//! 2. persist the snapshot (`.snap`, then the WAL marker) and the hard state
//!    with the entries in ONE `Wal::save` (one fdatasync);
//! 3. make them visible to raft (`MemStorage`), then send `persisted_messages`;
//! 4. hand committed entries to the apply thread, serve read states (committed
//!    entries already durable here, without conf changes, go first, before step 1,
//!    so applying overlaps the sends and the fsync: see `applies_before_persist`);
//! 5. `advance`, then apply conf changes to raft.
//!
//! A WAL or snapshot failure stops the member (it never continues after one).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use std::time::Instant;

use bytes::Bytes;
use raft_core::ConfChange;
use raft_core::ConfChangeType;
use raft_core::ConfState;
use raft_core::Entry;
use raft_core::EntryType;
use raft_core::MemStorage;
use raft_core::Message;
use raft_core::MessageType;
use raft_core::RawNode;
use raft_core::Ready;
use raft_core::Role;
use raft_core::Snapshot;
use tokio::sync::mpsc;
use tokio::sync::oneshot;
use transport_quic::SnapshotSource;
use transport_quic::Transport;
use wal::Snapshotter;
use wal::Wal;
use wal::WalSnapshot;

use super::boot::Layout;
use super::idle_spin;
use super::lessor::Lessor;
use super::membership::MemberRecord;
use super::read_index::ReadIndexer;
use super::read_index::ReadReply;
use super::state::NodeState;
use crate::config::Url;
use crate::error::ServerError;
use crate::http::metrics;

/// Most inputs handled before looking at raft's `Ready` again.
const MAX_DRAIN: usize = 4096;

/// The loop's error when the apply thread is gone.
const APPLY_STOPPED: &str = "the apply thread stopped";

/// Requests to the raft loop.
#[derive(Debug)]
pub(crate) enum Command {
    /// Propose a client request (its waiter is keyed by `id`).
    Propose { id: u64, data: Bytes },
    /// A linearizable read wants a read index.
    ReadIndex(ReadReply),
    /// The apply thread made the store durable to `index`: take a raft snapshot there.
    Snapshot {
        index: u64,
        conf_state: ConfState,
        data: Bytes,
    },
    /// A snapshot message whose store data arrived in `path`.
    ReceivedSnapshot { msg: Box<Message>, path: PathBuf },
    /// A peer could not be reached.
    Unreachable(u64),
    /// A snapshot transfer to a peer ended.
    SnapshotStatus { to: u64, failed: bool },
    /// Hand leadership to another voter (graceful stop); answers when done or hopeless.
    TransferLeadership(oneshot::Sender<()>),
    /// Propose a membership change; answers whether raft took the proposal.
    ProposeConfChange {
        cc: ConfChange,
        reply: oneshot::Sender<Result<(), ServerError>>,
    },
    /// Raft's view of the cluster (progress only on the leader).
    RaftStatus(oneshot::Sender<raft_core::Status>),
    /// Hand leadership to `target` (MoveLeader); answers whether the transfer started.
    MoveLeader {
        target: u64,
        reply: oneshot::Sender<Result<(), ServerError>>,
    },
    /// A member moved to new peer URLs (applied MemberUpdate).
    PeerMoved { id: u64, peer_urls: Vec<String> },
    /// Stop the loop.
    Stop,
}

/// Committed entries for the apply thread, in order.
#[derive(Debug, Default)]
pub(crate) struct ApplyTask {
    /// A snapshot to install first (its store data is at `store_path`).
    pub(crate) snapshot: Option<(Snapshot, PathBuf)>,
    /// Entries to apply.
    pub(crate) entries: Vec<Entry>,
    /// The membership after each conf-change entry, by index.
    pub(crate) conf_states: Vec<(u64, ConfState)>,
}

/// The raft loop's parts.
pub(crate) struct RaftLoop {
    pub(crate) raw: RawNode<MemStorage>,
    pub(crate) wal: Wal,
    pub(crate) snapshotter: Snapshotter,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) state: Arc<NodeState>,
    pub(crate) lessor: Arc<Lessor>,
    pub(crate) apply_tx: mpsc::UnboundedSender<ApplyTask>,
    pub(crate) msg_rx: mpsc::Receiver<Message>,
    pub(crate) cmd_rx: mpsc::Receiver<Command>,
    /// For helper threads that report back (snapshot sends).
    pub(crate) cmd_tx: mpsc::Sender<Command>,
    pub(crate) heartbeat_interval: Duration,
    /// etcd's `SnapshotCatchUpEntries`: entries kept in memory behind a snapshot for slow followers.
    pub(crate) snapshot_catch_up_entries: u64,
    pub(crate) layout: Layout,
    pub(crate) reads: ReadIndexer,
    /// Store data of received snapshots, by raft index, until installed.
    pub(crate) received: HashMap<u64, PathBuf>,
    /// Store snapshot files being sent, by peer, deleted when the transfer ends.
    pub(crate) sending: HashMap<u64, PathBuf>,
    /// Log kept for followers restarting with a snapshot this leader sent.
    pub(crate) holds: super::log_hold::LogHolds,
    pub(crate) transfer: Option<(oneshot::Sender<()>, Instant)>,
    /// The main runtime: the transport spawns its tasks there.
    pub(crate) runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for RaftLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftLoop")
            .field("member_id", &self.state.member_id)
            .finish_non_exhaustive()
    }
}

impl RaftLoop {
    /// Runs the loop on the current thread until stopped or failed.
    pub(crate) fn run(mut self) {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => return self.state.set_fatal(format!("raft loop runtime: {e}")),
        };
        runtime.block_on(async move {
            match self.run_async().await {
                // The apply thread stops on its own only to restart the member
                // for a snapshot; the restart is under way, nothing failed.
                Err(reason) if reason == APPLY_STOPPED && self.state.restart_reason().is_some() => {
                    tracing::debug!("the apply thread stopped for a restart");
                }
                Err(reason) => self.state.set_fatal(reason),
                Ok(()) => {}
            }
            self.reads.fail_all(|| ServerError::Stopped);
        });
    }

    async fn run_async(&mut self) -> Result<(), String> {
        let mut ticker = tokio::time::interval(self.heartbeat_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.process_ready()?;
        self.campaign_if_alone()?;
        loop {
            idle_spin::spin_until(idle_spin::IDLE_SPIN, || {
                !self.msg_rx.is_empty() || !self.cmd_rx.is_empty()
            });
            tokio::select! {
                _ = ticker.tick() => self.on_tick(),
                msg = self.msg_rx.recv() => match msg {
                    Some(m) => self.step(m),
                    None => return Ok(()),
                },
                cmd = self.cmd_rx.recv() => match cmd {
                    Some(Command::Stop) | None => return Ok(()),
                    Some(c) => self.handle(c)?,
                },
            }
            if !self.drain()? {
                return Ok(());
            }
            if let Some(ctx) = self.reads.next_request(Instant::now()) {
                self.raw.read_index(ctx);
            }
            self.process_ready()?;
            if self.state.stopping.load(Ordering::Acquire) && self.transfer.is_none() {
                return Ok(());
            }
        }
    }

    /// A sole voter need not wait an election timeout: it campaigns once the
    /// committed entries (the bootstrap conf changes among them) were handed out.
    fn campaign_if_alone(&mut self) -> Result<(), String> {
        let status = self.raw.status();
        let me = self.state.member_id;
        if status.conf_state.voters == [me] && status.soft_state.role != Role::Leader {
            if let Err(e) = self.raw.campaign() {
                tracing::debug!(error = %e, "cannot campaign yet");
            }
            self.process_ready()?;
        }
        Ok(())
    }

    /// Takes what else is queued without waiting; false when told to stop.
    fn drain(&mut self) -> Result<bool, String> {
        for _ in 0..MAX_DRAIN {
            match self.msg_rx.try_recv() {
                Ok(m) => self.step(m),
                Err(_) => break,
            }
        }
        for _ in 0..MAX_DRAIN {
            match self.cmd_rx.try_recv() {
                Ok(Command::Stop) => return Ok(false),
                Ok(c) => self.handle(c)?,
                Err(_) => break,
            }
        }
        Ok(true)
    }

    fn on_tick(&mut self) {
        self.raw.tick();
        if let Some(ctx) = self.reads.retry(Instant::now()) {
            self.raw.read_index(ctx);
        }
        self.check_transfer();
    }

    fn step(&mut self, m: Message) {
        if let Err(e) = self.raw.step(m) {
            tracing::debug!(error = %e, "raft refused a message");
        }
    }

    fn handle(&mut self, cmd: Command) -> Result<(), String> {
        match cmd {
            Command::Propose { id, data } => {
                if let Err(e) = self.raw.propose(data) {
                    tracing::debug!(error = %e, "proposal dropped");
                    self.state.waiters.complete(id, Err(ServerError::NoLeader));
                }
            }
            Command::ReadIndex(reply) => {
                if self.state.leader() == 0 {
                    let _ = reply.send(Err(ServerError::NoLeader));
                } else {
                    self.reads.push(reply);
                }
            }
            Command::Snapshot {
                index,
                conf_state,
                data,
            } => self.take_snapshot(index, conf_state, data)?,
            Command::ReceivedSnapshot { msg, path } => {
                if let Some(snap) = &msg.snapshot {
                    self.received.insert(snap.metadata.index, path);
                }
                self.step(*msg);
            }
            Command::Unreachable(id) => self.raw.report_unreachable(id),
            Command::SnapshotStatus { to, failed } => {
                if let Some(path) = self.sending.remove(&to) {
                    let _ = std::fs::remove_file(path);
                }
                if failed {
                    self.holds.snapshot_failed(to);
                } else {
                    self.holds.snapshot_delivered(to, Instant::now());
                }
                self.raw.report_snapshot(to, failed);
            }
            Command::TransferLeadership(reply) => self.start_transfer(reply),
            Command::ProposeConfChange { cc, reply } => {
                let _ = reply.send(self.propose_member_change(cc));
            }
            Command::RaftStatus(reply) => {
                let _ = reply.send(self.raw.status());
            }
            Command::MoveLeader { target, reply } => {
                let _ = reply.send(self.move_leader(target));
            }
            Command::PeerMoved { id, peer_urls } => self.peer_moved(id, &peer_urls),
            Command::Stop => {}
        }
        Ok(())
    }

    /// Handles every pending `Ready`.
    fn process_ready(&mut self) -> Result<(), String> {
        while self.raw.has_ready() {
            let rd = self.raw.ready();
            self.handle_ready(rd)?;
        }
        Ok(())
    }

    fn handle_ready(&mut self, mut rd: Ready) -> Result<(), String> {
        if let Some(ss) = &rd.soft_state {
            self.on_soft_state(ss.leader_id, ss.role);
        }
        if let Some(hs) = &rd.hard_state {
            // Known before this member's fsync, and published before the messages go out:
            // a follower told of the commit may answer a client whose next request (a lease
            // keep-alive) reaches this leader while it still persists, and `settle` must
            // then wait for this commit.
            self.state.commit_index.store(hs.commit, Ordering::Release);
        }
        // Committed entries first: a waiting client's answer starts from the apply
        // thread, while these messages (a leader's appends and commit updates) are
        // queued for transport tasks that may take this CPU as they wake.
        let handed_early = if self.applies_before_persist(&rd) {
            Some(self.hand_to_apply(&mut rd)?)
        } else {
            None
        };
        let messages = std::mem::take(&mut rd.messages);
        self.send(messages);
        self.persist(&rd)?;
        let persisted = std::mem::take(&mut rd.persisted_messages);
        self.send(persisted);
        let conf_changes = match handed_early {
            Some(conf_changes) => conf_changes,
            None => self.hand_to_apply(&mut rd)?,
        };
        for rs in &rd.read_states {
            self.reads.on_read_state(rs);
        }
        if let Some(hs) = &rd.hard_state {
            self.state.term.store(hs.term, Ordering::Release);
        }
        if let Some(last) = rd.entries.last() {
            self.state.last_index.store(last.index, Ordering::Release);
        }
        self.raw.advance(rd);
        self.apply_conf_changes(conf_changes)
    }

    fn on_soft_state(&mut self, leader_id: u64, role: Role) {
        let previous = self.state.leader_id.swap(leader_id, Ordering::AcqRel);
        if previous != leader_id && leader_id != 0 {
            self.state.leader_changes.fetch_add(1, Ordering::Relaxed);
            metrics::global().leader_changes_seen.inc();
            tracing::info!(
                leader = format!("{leader_id:x}"),
                term = self.raw.status().hard_state.term,
                "leader elected"
            );
        }
        if leader_id == 0 && previous != 0 {
            tracing::warn!(previous = format!("{previous:x}"), "lost the leader");
            self.reads.fail_all(|| ServerError::NoLeader);
        }
        let leads = role == Role::Leader;
        let led = self.state.is_leader.swap(leads, Ordering::AcqRel);
        if leads && !led {
            self.lessor.promote(Instant::now());
        } else if led && !leads {
            self.lessor.demote();
        }
    }

    /// Whether step 4 may come first: every committed entry is already durable in this
    /// member's WAL (a leader's always are: it counts itself only after its fsync),
    /// none changes the configuration, and no snapshot arrives. The apply thread then
    /// works while this `Ready`'s messages go out and its entries are fsynced, as etcd's
    /// leader applies in parallel with its WAL save.
    fn applies_before_persist(&self, rd: &Ready) -> bool {
        let durable = raft_core::Storage::last_index(self.raw.store()).unwrap_or(0);
        rd.snapshot.is_none()
            && rd
                .committed_entries
                .last()
                .is_some_and(|e| e.index <= durable)
            && rd
                .committed_entries
                .iter()
                .all(|e| e.entry_type != EntryType::ConfChange)
    }

    /// Step 2 and 3: durable, then visible to raft.
    fn persist(&mut self, rd: &Ready) -> Result<(), String> {
        if let Some(snap) = &rd.snapshot {
            self.snapshotter
                .save(snap)
                .map_err(|e| format!("save snapshot: {e}"))?;
            let marker = WalSnapshot {
                index: snap.metadata.index,
                term: snap.metadata.term,
            };
            self.wal
                .save_snapshot(marker)
                .map_err(|e| format!("WAL snapshot marker: {e}"))?;
        }
        if rd.hard_state.is_some() || !rd.entries.is_empty() {
            let hs = rd.hard_state.unwrap_or_default();
            let started = Instant::now();
            let synced = self
                .wal
                .save(&hs, &rd.entries)
                .map_err(|e| format!("WAL save: {e}"))?;
            if synced {
                metrics::global()
                    .wal_fsync_duration_seconds
                    .observe(started.elapsed().as_secs_f64());
            }
        }
        let storage = self.raw.store_mut();
        if let Some(snap) = &rd.snapshot {
            storage
                .apply_snapshot(snap.clone())
                .map_err(|e| format!("install snapshot: {e}"))?;
        }
        if let Some(hs) = rd.hard_state {
            storage.set_hard_state(hs);
        }
        storage
            .append(&rd.entries)
            .map_err(|e| format!("raft log append: {e}"))?;
        Ok(())
    }

    /// Step 4: committed entries go to the apply thread; conf changes are returned for step 5.
    fn hand_to_apply(&mut self, rd: &mut Ready) -> Result<Vec<(u64, ConfChange)>, String> {
        let mut conf_changes = Vec::new();
        for entry in rd
            .committed_entries
            .iter()
            .filter(|e| e.entry_type == EntryType::ConfChange)
        {
            let cc = ConfChange::decode(&entry.data)
                .map_err(|e| format!("conf change at {}: {e}", entry.index))?;
            conf_changes.push((entry.index, cc));
        }
        let snapshot = match rd.snapshot.clone() {
            Some(snap) => {
                let index = snap.metadata.index;
                let path = self
                    .received
                    .remove(&index)
                    .unwrap_or_else(|| self.layout.received_store(index));
                Some((snap, path))
            }
            None => None,
        };
        let entries = std::mem::take(&mut rd.committed_entries);
        if snapshot.is_some() || !entries.is_empty() {
            let mut conf_states = Vec::new();
            if !conf_changes.is_empty() {
                let mut cs = self.raw.status().conf_state;
                for (index, cc) in &conf_changes {
                    super::boot::fold_conf_state(&mut cs, cc);
                    conf_states.push((*index, cs.clone()));
                }
            }
            let task = ApplyTask {
                snapshot,
                entries: entries.clone(),
                conf_states,
            };
            self.apply_tx
                .send(task)
                .map_err(|_| APPLY_STOPPED.to_string())?;
        }
        rd.committed_entries = entries;
        Ok(conf_changes)
    }

    /// Step 5: the committed conf changes take effect in raft and the transport.
    fn apply_conf_changes(&mut self, changes: Vec<(u64, ConfChange)>) -> Result<(), String> {
        for (_, cc) in changes {
            self.raw.apply_conf_change(&cc);
            self.update_peer(&cc);
        }
        Ok(())
    }

    fn update_peer(&self, cc: &ConfChange) {
        if cc.node_id == self.state.member_id {
            return;
        }
        let _runtime = self.runtime.enter();
        match cc.change_type {
            ConfChangeType::RemoveNode => self.transport.remove_peer(cc.node_id),
            ConfChangeType::AddNode | ConfChangeType::AddLearnerNode => {
                let record: Option<MemberRecord> =
                    bincode::serde::decode_from_slice(&cc.context, bincode::config::standard())
                        .ok()
                        .map(|(r, _)| r);
                if let Some(addr) = record.and_then(|r| first_addr(&r.peer_urls)) {
                    self.transport.add_peer(cc.node_id, addr);
                }
            }
        }
    }

    /// Sends messages; snapshot messages stream the store beside them.
    fn send(&mut self, messages: Vec<Message>) {
        if messages.is_empty() {
            return;
        }
        let (snapshots, others): (Vec<Message>, Vec<Message>) = messages
            .into_iter()
            .partition(|m| m.msg_type == MessageType::Snapshot);
        if !others.is_empty() {
            self.transport.send(others);
        }
        for msg in snapshots {
            self.send_snapshot(msg);
        }
    }

    /// Writes the store to a file on a helper thread (the loop must keep
    /// ticking), then streams it; a failure is reported back to raft.
    fn send_snapshot(&mut self, msg: Message) {
        let to = msg.to;
        if let Some(snap) = &msg.snapshot {
            self.holds
                .snapshot_sent(to, snap.metadata.index, Instant::now());
        }
        let path = self.layout.snap.join(format!("send-{to:016x}.tmp"));
        self.sending.insert(to, path.clone());
        let store = Arc::clone(&self.state.store);
        let transport = Arc::clone(&self.transport);
        let cmd_tx = self.cmd_tx.clone();
        let runtime = self.runtime.clone();
        let spawned = std::thread::Builder::new()
            .name("keel-snapshot-send".into())
            .spawn(move || {
                let _runtime = runtime.enter();
                let written = std::fs::File::create(&path)
                    .map_err(mvcc::Error::Io)
                    .and_then(|mut file| store.write_snapshot(&mut file).map(|_| file))
                    .and_then(|file| file.sync_all().map_err(mvcc::Error::Io));
                match written {
                    Ok(()) => {
                        tracing::info!(to = format!("{to:x}"), "sending a snapshot");
                        transport.send_snapshot(msg, SnapshotSource::File(path));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot write a snapshot to send");
                        let _ = cmd_tx.blocking_send(Command::SnapshotStatus { to, failed: true });
                    }
                }
            });
        if spawned.is_err() {
            self.raw.report_snapshot(to, true);
        }
    }

    /// Snapshot at `index` (the store is durable there): `.snap`, WAL marker,
    /// compact the in-memory log keeping catch-up entries, release WAL segments.
    fn take_snapshot(
        &mut self,
        index: u64,
        conf_state: ConfState,
        data: Bytes,
    ) -> Result<(), String> {
        let storage = self.raw.store_mut();
        if index <= storage.snapshot_index() {
            return Ok(());
        }
        let snap = storage
            .create_snapshot(index, Some(conf_state), data)
            .map_err(|e| format!("create snapshot at {index}: {e}"))?;
        self.snapshotter
            .save(&snap)
            .map_err(|e| format!("save snapshot: {e}"))?;
        let marker = WalSnapshot {
            index,
            term: snap.metadata.term,
        };
        self.wal
            .save_snapshot(marker)
            .map_err(|e| format!("WAL snapshot marker: {e}"))?;
        let floor = index.saturating_sub(self.snapshot_catch_up_entries);
        let progress = self.raw.status().progress;
        let compact_to =
            self.holds
                .compact_index(floor, &progress, self.raw.store(), Instant::now());
        let storage = self.raw.store_mut();
        let first = raft_core::Storage::first_index(storage).unwrap_or(1);
        if compact_to > first {
            storage
                .compact(compact_to)
                .map_err(|e| format!("compact raft log: {e}"))?;
        }
        self.wal
            .release_to(index)
            .map_err(|e| format!("release WAL: {e}"))?;
        tracing::info!(index, term = snap.metadata.term, "took a snapshot");
        Ok(())
    }

    fn start_transfer(&mut self, reply: oneshot::Sender<()>) {
        let status = self.raw.status();
        if status.soft_state.role != Role::Leader {
            let _ = reply.send(());
            return;
        }
        let me = self.state.member_id;
        let target = status
            .progress
            .iter()
            .filter(|(id, p)| **id != me && !p.is_learner)
            .max_by_key(|(_, p)| p.matched)
            .map(|(id, _)| *id);
        match target {
            Some(to) => {
                tracing::info!(
                    to = format!("{to:x}"),
                    "transferring leadership before stopping"
                );
                self.raw.transfer_leader(to);
                self.transfer = Some((reply, Instant::now()));
            }
            None => {
                let _ = reply.send(());
            }
        }
    }

    /// Ends a leadership transfer once another member leads, or after an election timeout's worth of ticks.
    fn check_transfer(&mut self) {
        let Some((_, started)) = &self.transfer else {
            return;
        };
        let leader = self.state.leader();
        let done = leader != 0 && leader != self.state.member_id;
        if (done || started.elapsed() > self.heartbeat_interval * 30)
            && let Some((reply, _)) = self.transfer.take()
        {
            let _ = reply.send(());
        }
    }
}

/// The first resolvable address of a list of peer URLs.
pub(crate) fn first_addr(urls: &[String]) -> Option<std::net::SocketAddr> {
    urls.iter()
        .filter_map(|u| Url::parse(u).ok())
        .find_map(|u| u.socket_addr().ok())
}
