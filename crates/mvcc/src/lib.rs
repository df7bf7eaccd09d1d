//! etcd's multi-version key space, stored in RocksDB.
//!
//! The store holds the applied state of a keel member: every key's history by revision,
//! exactly as etcd's v3 data model defines it. It knows nothing of Raft or gRPC: the server
//! hands it a raft index and a [`WriteOp`] and gets an [`Applied`] back; reads take `&self`
//! and run concurrently with the single writer.
//!
//! # Data model (etcd's)
//!
//! - A store-wide revision starts at 1. Each write that changes something takes the next
//!   main revision; its changes get sub-revisions 0, 1, ... A read-only txn, a delete of
//!   nothing and a revoke of a lease without keys take no revision.
//! - Each version ([`KeyValue`]) carries `create_revision`, `mod_revision`, `version`
//!   (1 on create, +1 per put, reset by a delete) and `lease`. Deletes store tombstones.
//! - Reads at a past revision see the key space as of that revision; below the compacted
//!   revision they fail with [`Error::Compacted`], above the current with
//!   [`Error::FutureRevision`].
//! - A txn evaluates all compares on its path first, then runs the ops in order, each
//!   seeing the earlier ones, all at one revision; etcd's duplicate-key rule applies.
//! - Leases: grants persist `(id, ttl)`; a put attaches or detaches its key; a revoke
//!   deletes the attached keys in key order in one revision. Expiry is the server's.
//!
//! # Storage layout
//!
//! Three column families:
//! - `revisions`: `main (8 bytes BE) ++ sub (8 bytes BE)` -> bincode `{KeyValue, tombstone}`;
//!   etcd's `key` bucket. Byte order is revision order, so the watch feed and `hash_kv`
//!   are forward scans.
//! - `meta`: `consistent_index`, `compact_scheduled`, `compact_finished` -> 8-byte
//!   big-endian integers (and `current_revision`, which older builds wrote with every
//!   version: the current revision is now the newest stored version's at open).
//! - `leases`: lease id (8 bytes BE) -> bincode `{id, ttl, remaining_ttl}`.
//!
//! The key index (key -> revisions of its puts and deletes, like etcd's `treeIndex`) is in
//! memory, rebuilt at open by one scan of `revisions`; see `key_index.rs` for the memory cost.
//!
//! # Durability
//!
//! Each [`Store::apply`] writes one `WriteBatch` holding the data and the raft index
//! (`consistent_index`), so replaying the raft log after a crash skips what was applied
//! ([`Store::applied_index`]). Batches go to RocksDB's WAL unsynced: they survive a process
//! crash, so a restarted member never serves an older revision than before it; after a
//! power cut the store is behind and the server replays raft entries after its consistent
//! index. [`Store::sync_to_disk`] syncs RocksDB's WAL, which the server does before
//! releasing raft log behind a snapshot.
//!
//! # Compaction
//!
//! [`WriteOp::Compact`] records the compacted revision in the apply's batch; a background
//! thread then removes superseded versions a chunk of keys at a time (the index first,
//! then RocksDB), so reads and writes wait at most for one chunk. Readers look versions up
//! in the index and read them from a RocksDB snapshot taken under the same lock, so a
//! concurrent chunk never pulls a version from under them. After a crash the job restarts.
//!
//! # Reads outside raft, snapshots, hashes
//!
//! [`Store::range`], [`Store::txn_read_only`] and [`Store::events_since`] serve reads
//! concurrently with applies. [`Store::snapshot_stream`] / [`Store::write_snapshot`] export
//! a point-in-time logical copy (restored by [`Store::restore`]); [`Store::checkpoint`]
//! writes a RocksDB checkpoint directory. [`Store::hash_kv`] hashes the logical key space.
//!
//! # Example
//!
//! ```
//! use mvcc::{PutRequest, RangeRequest, Store, StoreOptions, WriteOp, WriteResponse};
//!
//! let dir = tempfile::tempdir()?;
//! let store = Store::open(dir.path(), StoreOptions::default())?;
//! let put = PutRequest { key: b"foo".to_vec(), value: b"bar".to_vec(), ..Default::default() };
//! let applied = store.apply(1, WriteOp::Put(put))?.expect("index 1 is new");
//! assert!(matches!(applied.response, Ok(WriteResponse::Put(_))));
//! assert_eq!(applied.revision, 2); // an empty store is at revision 1, as in etcd
//! assert_eq!(store.applied_index(), 1);
//! let got = store.range(&RangeRequest { key: b"foo".to_vec(), ..Default::default() })?;
//! assert_eq!(got.kvs[0].value, b"bar");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod apply;
mod compactor;
mod compare;
mod error;
mod events;
mod hash;
mod key_index;
mod key_range;
mod kv;
mod layout;
mod lease;
mod messages;
mod options;
mod range;
mod reader;
mod rebuild;
mod revision;
mod snapshot;
mod state;
mod store;
mod txn_check;
mod write_txn;

pub use apply::Applied;
pub use apply::AppliedError;
pub use apply::AppliedErrorKind;
pub use apply::is_read_only;
pub use error::Error;
pub use error::Result;
pub use kv::Event;
pub use kv::EventType;
pub use kv::KeyValue;
pub use lease::Lease;
pub use messages::*;
pub use options::DEFAULT_COMPACTION_BATCH_KEYS;
pub use options::DEFAULT_MAX_TXN_OPS;
pub use options::DEFAULT_QUOTA_BYTES;
pub use options::MAX_LEASE_TTL_SECONDS;
pub use options::StoreOptions;
pub use snapshot::MAGIC as SNAPSHOT_MAGIC;
pub use snapshot::SnapshotReader;
pub use store::Store;
pub use txn_check::check_put;
pub use txn_check::check_txn;
