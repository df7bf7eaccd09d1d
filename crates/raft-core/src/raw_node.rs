//! The driver's interface to a raft node.

use bytes::Bytes;

use crate::ConfChange;
use crate::ConfState;
use crate::Config;
use crate::Entry;
use crate::EntryType;
use crate::Error;
use crate::HardState;
use crate::Message;
use crate::MessageType;
use crate::Ready;
use crate::Result;
use crate::Role;
use crate::SoftState;
use crate::Status;
use crate::Storage;
use crate::raft::Raft;
use crate::status::PeerProgress;

/// A raft node driven by its caller: see the crate manual for the driver loop.
#[derive(Debug)]
pub struct RawNode<S: Storage> {
    raft: Raft<S>,
    prev_soft_state: SoftState,
    prev_hard_state: HardState,
    /// Highest term seen, to check that the term never decreases.
    max_term_seen: u64,
}

impl<S: Storage> RawNode<S> {
    /// Opens a node over `storage`, which holds what it persisted before (or a new
    /// cluster's initial membership).
    pub fn new(config: &Config, storage: S) -> Result<Self> {
        let raft = Raft::new(config, storage)?;
        let prev_hard_state = raft.hard_state();
        let prev_soft_state = raft.soft_state();
        let max_term_seen = raft.term;
        Ok(RawNode {
            raft,
            prev_soft_state,
            prev_hard_state,
            max_term_seen,
        })
    }

    /// The state machine inside, for the crate's simulator checks.
    pub(crate) fn raft(&self) -> &Raft<S> {
        &self.raft
    }

    /// The storage.
    pub fn store(&self) -> &S {
        &self.raft.log.storage
    }

    /// The storage, for the driver to append what it persisted.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.raft.log.storage
    }

    /// Advances the logical clock by one tick.
    pub fn tick(&mut self) {
        self.raft.tick();
        self.check_invariants();
    }

    /// Starts an election now (a pre-election first when `pre_vote` is set).
    pub fn campaign(&mut self) -> Result<()> {
        self.step_internal(Message {
            msg_type: MessageType::Hup,
            ..Default::default()
        })
    }

    /// Proposes application data; a follower forwards it to the leader.
    pub fn propose(&mut self, data: Bytes) -> Result<()> {
        let entry = Entry {
            data,
            ..Default::default()
        };
        self.propose_entry(entry)
    }

    /// Proposes several entries in one message, so that they are appended, replicated and
    /// acknowledged together (how a server batches client writes).
    pub fn propose_batch(&mut self, data: impl IntoIterator<Item = Bytes>) -> Result<()> {
        let entries: Vec<Entry> = data
            .into_iter()
            .map(|data| Entry {
                data,
                ..Default::default()
            })
            .collect();
        let from = self.raft.id;
        self.step_internal(Message {
            msg_type: MessageType::Propose,
            from,
            entries,
            ..Default::default()
        })
    }

    /// Proposes a membership change; refused while another is pending, or before this
    /// leader has applied an entry of its term.
    pub fn propose_conf_change(&mut self, cc: ConfChange) -> Result<()> {
        let entry = Entry {
            entry_type: EntryType::ConfChange,
            data: cc.encode()?,
            ..Default::default()
        };
        self.propose_entry(entry)
    }

    fn propose_entry(&mut self, entry: Entry) -> Result<()> {
        let from = self.raft.id;
        self.step_internal(Message {
            msg_type: MessageType::Propose,
            from,
            entries: vec![entry],
            ..Default::default()
        })
    }

    /// Applies a committed membership change (called by the driver when it applies the
    /// change's entry) and returns the new membership, to store with the next snapshot.
    pub fn apply_conf_change(&mut self, cc: &ConfChange) -> ConfState {
        let cs = self.raft.apply_conf_change(cc);
        self.check_invariants();
        cs
    }

    /// Handles a message from another node.
    pub fn step(&mut self, m: Message) -> Result<()> {
        if is_local(m.msg_type) {
            return Err(Error::StepLocalMsg);
        }
        if is_response(m.msg_type) && !self.raft.tracker.progress.contains_key(&m.from) {
            return Err(Error::StepPeerNotFound);
        }
        self.step_internal(m)
    }

    fn step_internal(&mut self, m: Message) -> Result<()> {
        let result = self.raft.step(m);
        self.check_invariants();
        result
    }

    /// Requests a linearizable read; a `ReadState` with `request_ctx` comes out of a later
    /// `Ready` once leadership is confirmed. Dropped silently when there is no leader.
    ///
    /// `request_ctx` must be unique in the cluster: the leader holds one pending read per
    /// context and drops another member's request with the same bytes until it is answered.
    pub fn read_index(&mut self, request_ctx: Bytes) {
        let m = Message {
            msg_type: MessageType::ReadIndex,
            context: request_ctx,
            ..Default::default()
        };
        // Without a leader the request is dropped; the caller retries on its own timeout.
        let _ = self.step_internal(m);
    }

    /// Asks the leader to hand leadership to `to`.
    pub fn transfer_leader(&mut self, to: u64) {
        let m = Message {
            msg_type: MessageType::TransferLeader,
            from: to,
            ..Default::default()
        };
        let _ = self.step_internal(m);
    }

    /// Reports that the last message to `id` could not be delivered.
    pub fn report_unreachable(&mut self, id: u64) {
        let _ = self.step_internal(Message {
            msg_type: MessageType::Unreachable,
            from: id,
            ..Default::default()
        });
    }

    /// Reports the outcome of sending a snapshot to `id`.
    pub fn report_snapshot(&mut self, id: u64, failed: bool) {
        let m = Message {
            msg_type: MessageType::SnapStatus,
            from: id,
            reject: failed,
            ..Default::default()
        };
        let _ = self.step_internal(m);
    }

    /// True when `ready` would return something to do.
    pub fn has_ready(&self) -> bool {
        let r = &self.raft;
        r.soft_state() != self.prev_soft_state
            || r.hard_state() != self.prev_hard_state
            || !r.log.unstable.next_entries().is_empty()
            || r.log.unstable.next_snapshot().is_some()
            || !r.msgs.is_empty()
            || !r.msgs_after_persist.is_empty()
            || !r.read_states.is_empty()
            || r.log.has_next_committed_entries()
    }

    /// Takes the next round of work. Call `advance` with it before the next `ready`.
    pub fn ready(&mut self) -> Ready {
        let r = &mut self.raft;
        let (ss, hs) = (r.soft_state(), r.hard_state());
        let entries = r.log.unstable.next_entries().to_vec();
        let snapshot = r.log.unstable.next_snapshot().cloned();
        let limit = r.config.committed_size_per_ready_bytes();
        // A storage failure here leaves the entries for a later round.
        let committed_entries = r.log.next_committed_entries(limit).unwrap_or_default();
        let must_sync = !entries.is_empty()
            || snapshot.is_some()
            || hs.term != self.prev_hard_state.term
            || hs.vote != self.prev_hard_state.vote;
        let rd = Ready {
            soft_state: (ss != self.prev_soft_state).then_some(ss),
            hard_state: (hs != self.prev_hard_state).then_some(hs),
            entries,
            snapshot,
            committed_entries,
            messages: std::mem::take(&mut r.msgs),
            persisted_messages: std::mem::take(&mut r.msgs_after_persist),
            read_states: std::mem::take(&mut r.read_states),
            must_sync,
        };
        r.log.unstable.accept_in_progress();
        if let Some(last) = rd.committed_entries.last() {
            r.log.applying = last.index;
        }
        self.prev_soft_state = ss;
        self.prev_hard_state = hs;
        rd
    }

    /// Acknowledges a `Ready`: its entries, hard state and snapshot are durable and in the
    /// storage, its messages sent, and its committed entries applied.
    pub fn advance(&mut self, rd: Ready) {
        let r = &mut self.raft;
        if let Some(snap) = &rd.snapshot {
            r.log.unstable.stable_snap_to(snap.metadata.index);
            r.log.applied_to(snap.metadata.index);
        }
        if let Some(last) = rd.entries.last() {
            r.on_persisted_entries(last.index, last.term);
        }
        if let Some(last) = rd.committed_entries.last() {
            r.log.applied_to(last.index);
            r.reduce_uncommitted_bytes(&rd.committed_entries);
        }
        self.check_invariants();
    }

    /// The node's state.
    pub fn status(&self) -> Status {
        let r = &self.raft;
        let mut progress = std::collections::BTreeMap::new();
        if r.role == Role::Leader {
            for (&id, p) in &r.tracker.progress {
                let pp = PeerProgress {
                    matched: p.matched,
                    next: p.next,
                    state: p.state,
                    is_learner: p.is_learner,
                    inflight: p.inflight_count(),
                };
                progress.insert(id, pp);
            }
        }
        Status {
            id: r.id,
            hard_state: r.hard_state(),
            soft_state: r.soft_state(),
            applied: r.log.applied,
            commit: r.log.committed,
            last_index: r.log.last_index(),
            progress,
            conf_state: r.tracker.conf_state(),
            lead_transferee: r.lead_transferee,
        }
    }

    /// Asserts the node's invariants (in builds with debug assertions).
    fn check_invariants(&mut self) {
        if cfg!(debug_assertions) {
            assert!(
                self.raft.term >= self.max_term_seen,
                "term went back from {} to {}",
                self.max_term_seen,
                self.raft.term
            );
            self.max_term_seen = self.raft.term;
            self.raft.check_invariants();
        }
    }
}

fn is_local(t: MessageType) -> bool {
    matches!(
        t,
        MessageType::Hup
            | MessageType::Beat
            | MessageType::Unreachable
            | MessageType::SnapStatus
            | MessageType::CheckQuorum
    )
}

fn is_response(t: MessageType) -> bool {
    matches!(
        t,
        MessageType::AppendResponse
            | MessageType::RequestVoteResponse
            | MessageType::HeartbeatResponse
            | MessageType::RequestPreVoteResponse
    )
}
