//! The apply thread: committed entries go to the store in log order.
//!
//! For each entry: a write goes to mvcc (which skips indexes it already
//! applied: its consistent index is stored with the data), its events go to
//! watchers, and the proposer's waiter gets the result; a conf change or an
//! empty entry only advances the consistent index, while membership, member
//! attributes and alarms are kept here. Every `--snapshot-count` entries, or
//! every [`SNAPSHOT_LOG_BYTES`] of entries if that comes first, the store is
//! made durable and the raft loop is asked for a snapshot there.
//! A storage failure stops the member.

use std::sync::Arc;

use raft_core::ConfChange;
use raft_core::ConfState;
use raft_core::Entry;
use raft_core::EntryType;
use tokio::sync::mpsc;

use super::idle_spin;
use super::lessor::Lessor;
use super::proposal;
use super::proposal::Body;
use super::proposal::Proposal;
use super::proposal::SnapshotState;
use super::raft_loop::ApplyTask;
use super::raft_loop::Command;
use super::state::NodeState;
use crate::backend::RevisionEvents;

/// The apply thread stops because the member restarts (not a failure).
const RESTARTING: &str = "restarting";

/// Entry bytes applied since the last snapshot that trigger the next one even before
/// `--snapshot-count` entries: the raft log since the snapshot (plus the catch-up
/// entries) stays in memory, and a snapshot costs only a sync of the store's WAL and a
/// small `.snap`, so memory is bounded by bytes too (etcd 3.6 lowered its default
/// count to 10,000 for the same reason).
pub(crate) const SNAPSHOT_LOG_BYTES: u64 = 8 << 20;

/// Bytes an in-memory entry costs besides its data (index, term, type, vector slot).
const ENTRY_OVERHEAD_BYTES: u64 = 48;

/// etcd's AlarmType NOSPACE.
pub(crate) const ALARM_NOSPACE: i32 = 1;

/// The apply thread's state.
#[derive(Debug)]
pub(crate) struct Applier {
    pub(crate) state: Arc<NodeState>,
    pub(crate) cmd_tx: mpsc::Sender<Command>,
    pub(crate) lessor: Arc<Lessor>,
    pub(crate) snapshot_count: u64,
    /// The membership as of the last applied entry.
    pub(crate) conf_state: ConfState,
    /// The index of the newest snapshot.
    pub(crate) snapshot_index: u64,
    /// The last index handled (applied now or before a restart).
    pub(crate) applied_index: u64,
    /// Bytes of the entries applied since the last snapshot (this run).
    pub(crate) log_bytes_since_snapshot: u64,
}

impl Applier {
    /// Applies tasks until the raft loop goes away or the storage fails.
    pub(crate) fn run(mut self, mut rx: mpsc::UnboundedReceiver<ApplyTask>) {
        loop {
            idle_spin::spin_until(idle_spin::IDLE_SPIN, || !rx.is_empty());
            let Some(task) = rx.blocking_recv() else {
                break;
            };
            if let Err(reason) = self.apply_task(task) {
                if reason != RESTARTING {
                    self.state.set_fatal(reason);
                }
                break;
            }
        }
        self.state
            .waiters
            .fail_all(|| crate::error::ServerError::Stopped);
    }

    fn apply_task(&mut self, task: ApplyTask) -> Result<(), String> {
        // Test only (KEEL_FAULT_INJECTION=1): the `slow-apply` fault.
        crate::http::fault::before_apply();
        if let Some((snap, path)) = task.snapshot {
            // The snapshot, its WAL marker and its store data are durable: the
            // boot path installs them (the store is shared with the client
            // services, so it is replaced between two runs, never under them).
            self.state.request_restart(format!(
                "installing the snapshot at index {} received from the leader (store data in {})",
                snap.metadata.index,
                path.display()
            ));
            return Err(RESTARTING.to_string());
        }
        let mut conf_states = task.conf_states.into_iter().peekable();
        for entry in task.entries {
            let index = entry.index;
            self.log_bytes_since_snapshot += entry.data.len() as u64 + ENTRY_OVERHEAD_BYTES;
            self.apply_entry(entry)?;
            while let Some((_, cs)) = conf_states.next_if(|(i, _)| *i <= index) {
                self.conf_state = cs;
            }
            self.applied_index = index;
        }
        self.state.applied.send_replace(self.applied_index);
        self.maybe_snapshot()
    }

    fn apply_entry(&mut self, entry: Entry) -> Result<(), String> {
        let store = &self.state.store;
        match entry.entry_type {
            EntryType::ConfChange => {
                let cc = ConfChange::decode(&entry.data)
                    .map_err(|e| format!("conf change at {}: {e}", entry.index))?;
                self.state.membership_mut().apply_conf_change(&cc);
                store
                    .apply_noop(entry.index)
                    .map_err(|e| format!("store: {e}"))?;
                if cc.change_type == raft_core::ConfChangeType::RemoveNode
                    && cc.node_id == self.state.member_id
                {
                    self.state.set_removed();
                }
                Ok(())
            }
            EntryType::Normal if entry.data.is_empty() => store
                .apply_noop(entry.index)
                .map_err(|e| format!("store: {e}")),
            EntryType::Normal => {
                let p: Proposal = proposal::decode(&entry.data)
                    .map_err(|e| format!("entry {}: {e}", entry.index))?;
                self.apply_proposal(entry.index, p)
            }
        }
    }

    fn apply_proposal(&mut self, index: u64, p: Proposal) -> Result<(), String> {
        let store = &self.state.store;
        match p.body {
            Body::Write(op) => {
                let op = mvcc::WriteOp::from(op);
                let side_effect = self.lessor.side_effect(&op);
                let started = std::time::Instant::now();
                let result = store.apply(index, op);
                crate::http::metrics::global()
                    .backend_commit_duration_seconds
                    .observe(started.elapsed().as_secs_f64());
                match result {
                    Ok(Some(applied)) => {
                        if applied.response.is_ok() {
                            self.lessor.on_applied(side_effect);
                        }
                        self.after_write(p.origin, p.id, applied);
                    }
                    Ok(None) => {}
                    Err(e) if e.is_fatal() => return Err(format!("store apply at {index}: {e}")),
                    Err(e) => {
                        if p.origin == self.state.member_id {
                            self.state.waiters.complete(p.id, Err(e.into()));
                        }
                    }
                }
                Ok(())
            }
            Body::Publish {
                member_id,
                name,
                client_urls,
            } => {
                self.state
                    .membership_mut()
                    .publish(member_id, &name, &client_urls);
                self.complete_empty(p.origin, p.id, index)
            }
            Body::Alarm {
                activate,
                member_id,
                alarm,
            } => {
                self.state.set_alarm(activate, member_id, alarm);
                self.complete_empty(p.origin, p.id, index)
            }
            Body::UpdateMember {
                member_id,
                peer_urls,
            } => {
                self.state
                    .membership_mut()
                    .update_peer_urls(member_id, &peer_urls);
                if member_id != self.state.member_id {
                    let moved = Command::PeerMoved {
                        id: member_id,
                        peer_urls,
                    };
                    self.cmd_tx
                        .blocking_send(moved)
                        .map_err(|_| "the raft loop stopped".to_string())?;
                }
                self.complete_empty(p.origin, p.id, index)
            }
        }
    }

    /// Publishes events and answers the proposer (whose answer needs no events); raises
    /// NOSPACE when the quota was passed. With no watch feed subscribed the events are
    /// dropped: a watcher that subscribes later reads this revision from the store, which
    /// has published it already.
    fn after_write(&self, origin: u64, id: u64, mut applied: mvcc::Applied) {
        if !applied.events.is_empty() && self.state.events.receiver_count() > 0 {
            let events = RevisionEvents {
                revision: applied.revision,
                events: std::mem::take(&mut applied.events),
            };
            // Every receiver may have gone since: that is fine.
            let _ = self.state.events.send(Arc::new(events));
        }
        if applied.no_space && !self.nospace_raised() && origin == self.state.member_id {
            self.propose_alarm();
        }
        if origin == self.state.member_id {
            self.state.waiters.complete(id, Ok(applied));
        }
    }

    fn nospace_raised(&self) -> bool {
        self.state
            .alarm_list()
            .iter()
            .any(|a| a.alarm == ALARM_NOSPACE)
    }

    fn propose_alarm(&self) {
        let p = Proposal {
            origin: self.state.member_id,
            id: 0,
            body: Body::Alarm {
                activate: true,
                member_id: self.state.member_id,
                alarm: ALARM_NOSPACE,
            },
        };
        if let Ok(data) = proposal::encode(&p) {
            tracing::warn!("the store passed its quota: raising the NOSPACE alarm");
            let _ = self.cmd_tx.try_send(Command::Propose { id: 0, data });
        }
    }

    /// Advances the consistent index for a request that is not a store write, and answers it.
    fn complete_empty(&self, origin: u64, id: u64, index: u64) -> Result<(), String> {
        let store = &self.state.store;
        store.apply_noop(index).map_err(|e| format!("store: {e}"))?;
        if origin == self.state.member_id {
            let applied = mvcc::Applied {
                index,
                revision: store.current_revision(),
                response: Ok(mvcc::WriteResponse::Compact(mvcc::CompactionResponse {
                    revision: store.current_revision(),
                })),
                events: Vec::new(),
                no_space: false,
            };
            self.state.waiters.complete(id, Ok(applied));
        }
        Ok(())
    }

    /// Every `snapshot_count` entries or [`SNAPSHOT_LOG_BYTES`]: make the store durable,
    /// then ask for a raft snapshot.
    fn maybe_snapshot(&mut self) -> Result<(), String> {
        let by_count = self.applied_index >= self.snapshot_index + self.snapshot_count;
        let by_bytes = self.log_bytes_since_snapshot >= SNAPSHOT_LOG_BYTES
            && self.applied_index > self.snapshot_index;
        if !by_count && !by_bytes {
            return Ok(());
        }
        self.state
            .store
            .sync_to_disk()
            .map_err(|e| format!("store sync: {e}"))?;
        // Test only (KEEL_FAULT_INJECTION=1): what a power cut would leave of the store.
        crate::http::fault::store_synced(&self.state.store)?;
        let snapshot_state = SnapshotState {
            membership: self.state.membership().clone(),
            alarms: self
                .state
                .alarm_list()
                .iter()
                .map(|a| (a.member_id, a.alarm))
                .collect(),
        };
        let data = proposal::encode(&snapshot_state)?;
        let cmd = Command::Snapshot {
            index: self.applied_index,
            conf_state: self.conf_state.clone(),
            data,
        };
        self.cmd_tx
            .blocking_send(cmd)
            .map_err(|_| "the raft loop stopped".to_string())?;
        self.snapshot_index = self.applied_index;
        self.log_bytes_since_snapshot = 0;
        Ok(())
    }
}
