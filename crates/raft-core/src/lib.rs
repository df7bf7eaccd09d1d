//! raft-core: the Raft consensus algorithm as a deterministic state machine, in the style
//! of etcd's raft.
//!
//! The crate does no IO, reads no clock, starts no thread and draws no OS randomness: time
//! is [`RawNode::tick`], randomness a seeded generator from [`Config::seed`], and all
//! input and output passes through [`RawNode`]. The caller (the *driver*) owns the disk,
//! the network and the state machine.
//!
//! # The driver's contract
//!
//! Feed the node with [`RawNode::tick`] (every tick interval), [`RawNode::step`] (every
//! message from a peer), [`RawNode::propose`], [`RawNode::propose_conf_change`],
//! [`RawNode::read_index`] and [`RawNode::transfer_leader`]. Whenever
//! [`RawNode::has_ready`] is true, take a [`Ready`] and handle it in this order:
//!
//! 1. **Persist** `snapshot`, `hard_state` and `entries` durably (fsync when `must_sync`),
//!    then make them visible to raft: install the snapshot and append the entries to the
//!    [`Storage`] through [`RawNode::store_mut`].
//! 2. **Send** `messages` at once (they may go out while step 1 runs: a leader's appends
//!    are sent in parallel with its own write), and `persisted_messages` only after step 1
//!    is durable (votes and acknowledgements promise what was persisted).
//! 3. **Apply** `committed_entries` in order, calling [`RawNode::apply_conf_change`] for
//!    each [`EntryType::ConfChange`] entry; serve each of `read_states` once the applied
//!    index reaches its `index`.
//! 4. **Advance**: call [`RawNode::advance`] with the `Ready`.
//!
//! Committed entries are handed out only once durable on a quorum that counts this node
//! only for what it has itself persisted: the leader counts its own entries in
//! [`RawNode::advance`], after step 1. So in a single-member cluster an entry is applied
//! only after its fsync.
//!
//! On restart, rebuild the [`Storage`] from what was persisted (newest snapshot, hard
//! state, entries after it), and set [`Config::applied`] to the index the state machine
//! has applied; raft hands out the committed entries after it again.
//!
//! A new cluster bootstraps every member with the same initial membership
//! ([`MemStorage::new_with_conf_state`]); a member joining a running cluster starts with
//! the membership it joins (it becomes part of it when it applies its own addition), and
//! is added as a learner first, then promoted. Configuration changes travel as
//! [`EntryType::ConfChange`] entries whose data is [`ConfChange::encode`]d.
//!
//! # Example
//!
//! A single-member cluster that elects itself and commits a proposal:
//!
//! ```
//! use bytes::Bytes;
//! use raft_core::{Config, ConfState, MemStorage, RawNode, Role};
//!
//! let storage = MemStorage::new_with_conf_state(ConfState { voters: vec![1], learners: vec![] });
//! let config = Config { id: 1, seed: 42, ..Config::default() };
//! let mut node = RawNode::new(&config, storage).unwrap();
//! node.campaign().unwrap();
//! let mut applied = Vec::new();
//! for round in 0..4 {
//!     if round == 1 {
//!         node.propose(Bytes::from_static(b"x=1")).unwrap();
//!     }
//!     while node.has_ready() {
//!         let rd = node.ready();
//!         // 1. Persist (a real driver writes and fsyncs its WAL here), then store.
//!         if let Some(snapshot) = &rd.snapshot {
//!             node.store_mut().apply_snapshot(snapshot.clone()).unwrap();
//!         }
//!         if let Some(hs) = rd.hard_state {
//!             node.store_mut().set_hard_state(hs);
//!         }
//!         node.store_mut().append(&rd.entries).unwrap();
//!         // 2. Send rd.messages at once, rd.persisted_messages now (none: one member).
//!         // 3. Apply.
//!         applied.extend(rd.committed_entries.iter().filter(|e| !e.data.is_empty()).map(|e| e.data.clone()));
//!         // 4. Advance.
//!         node.advance(rd);
//!     }
//! }
//! assert_eq!(node.status().soft_state.role, Role::Leader);
//! assert_eq!(applied, vec![Bytes::from_static(b"x=1")]);
//! ```
//!
//! # What is implemented
//!
//! Elections with randomized timeouts, PreVote and CheckQuorum (with leader leases), the
//! election restriction, log replication with per-follower progress (probe, replicate and
//! snapshot states, an in-flight window, a per-message byte limit), fast backtracking with
//! a conflict hint, commit by quorum of current-term entries only, snapshots, ReadIndex,
//! leader transfer, learners and single-step membership changes, and a limit on
//! uncommitted bytes. [`testing`] holds the storage conformance suite, an in-memory
//! cluster and the seeded simulator.

#![deny(missing_docs)]

mod conf_change;
mod config;
mod entry;
mod errors;
mod inflights;
mod log_unstable;
mod mem_storage;
mod membership;
mod message;
mod progress;
mod raft;
mod raft_log;
mod raw_node;
mod read_index;
mod read_only;
mod ready;
mod replication;
mod snapshot;
mod status;
mod step_candidate;
mod step_follower;
mod step_leader;
mod storage;
pub mod testing;
mod tracker;
mod transfer;

pub use conf_change::ConfChange;
pub use conf_change::ConfChangeType;
pub use config::Config;
pub use config::MAX_ELECTION_TICKS;
pub use entry::Entry;
pub use entry::EntryType;
pub use entry::HardState;
pub use errors::Error;
pub use errors::Result;
pub use errors::StorageError;
pub use mem_storage::MemStorage;
pub use message::Message;
pub use message::MessageType;
pub use progress::ProgressState;
pub use raw_node::RawNode;
pub use ready::ReadState;
pub use ready::Ready;
pub use ready::Role;
pub use ready::SoftState;
pub use snapshot::ConfState;
pub use snapshot::Snapshot;
pub use snapshot::SnapshotMetadata;
pub use status::PeerProgress;
pub use status::Status;
pub use storage::RaftState;
pub use storage::Storage;
