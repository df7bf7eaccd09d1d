//! Plain mirrors of etcd's v3 request and response messages (`etcdserverpb`).
//!
//! Field names and meanings follow `rpc.proto`; the response header is reduced to its
//! `revision` (the server adds cluster id, member id and raft term).
//! The server converts from and to the protobuf messages field by field.

use crate::kv::KeyValue;

/// etcd's `RangeRequest.SortOrder`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortOrder {
    /// No sorting (results come in key order).
    #[default]
    None,
    /// Lowest target first.
    Ascend,
    /// Highest target first.
    Descend,
}

/// etcd's `RangeRequest.SortTarget`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortTarget {
    /// Sort by key.
    #[default]
    Key,
    /// Sort by version.
    Version,
    /// Sort by create revision.
    Create,
    /// Sort by mod revision.
    Mod,
    /// Sort by value.
    Value,
}

/// etcd's `RangeRequest`.
///
/// `range_end` empty means the single key `key`; `range_end == [0]` means every key
/// `>= key`; otherwise the half-open interval `[key, range_end)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangeRequest {
    /// First key (or the only key).
    pub key: Vec<u8>,
    /// End of the interval, see the type's doc.
    pub range_end: Vec<u8>,
    /// At most this many kvs are returned; 0 is unlimited.
    pub limit: i64,
    /// Read as of this revision; 0 (or negative) is the current revision.
    pub revision: i64,
    /// Sort order.
    pub sort_order: SortOrder,
    /// Sort target.
    pub sort_target: SortTarget,
    /// Serializable (local) read; the store ignores it, the server decides.
    pub serializable: bool,
    /// Return keys without values.
    pub keys_only: bool,
    /// Return only the count.
    pub count_only: bool,
    /// Drop kvs with a lower mod revision (0: no filter).
    pub min_mod_revision: i64,
    /// Drop kvs with a higher mod revision (0: no filter).
    pub max_mod_revision: i64,
    /// Drop kvs with a lower create revision (0: no filter).
    pub min_create_revision: i64,
    /// Drop kvs with a higher create revision (0: no filter).
    pub max_create_revision: i64,
}

/// etcd's `RangeResponse`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangeResponse {
    /// Header revision: the store's revision when the range was served (not the one read at).
    pub revision: i64,
    /// The kvs, at most `limit`.
    pub kvs: Vec<KeyValue>,
    /// True when `limit` cut the result.
    pub more: bool,
    /// The number of keys in the range at the read revision, ignoring `limit` and the
    /// min/max revision filters (as etcd counts).
    pub count: i64,
}

/// etcd's `PutRequest`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PutRequest {
    /// The key; must not be empty.
    pub key: Vec<u8>,
    /// The value.
    pub value: Vec<u8>,
    /// Lease to attach, 0 for none (detaches a previous lease).
    pub lease: i64,
    /// Return the previous version.
    pub prev_kv: bool,
    /// Keep the current value (the key must exist; `value` must be empty).
    pub ignore_value: bool,
    /// Keep the current lease (the key must exist; `lease` must be 0).
    pub ignore_lease: bool,
}

/// etcd's `PutResponse`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PutResponse {
    /// Header revision: the revision of this put.
    pub revision: i64,
    /// The previous version if asked for and the key existed.
    pub prev_kv: Option<KeyValue>,
}

/// etcd's `DeleteRangeRequest` (same key/range_end rules as [`RangeRequest`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteRangeRequest {
    /// First key (or the only key).
    pub key: Vec<u8>,
    /// End of the interval.
    pub range_end: Vec<u8>,
    /// Return the deleted versions.
    pub prev_kv: bool,
}

/// etcd's `DeleteRangeResponse`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteRangeResponse {
    /// Header revision: the revision of the delete, or the current one if nothing was deleted.
    pub revision: i64,
    /// Number of keys deleted.
    pub deleted: i64,
    /// The deleted versions if asked for.
    pub prev_kvs: Vec<KeyValue>,
}

/// etcd's `Compare.CompareResult`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CompareResult {
    /// Equal.
    #[default]
    Equal,
    /// The stored value is greater than the given one.
    Greater,
    /// The stored value is less than the given one.
    Less,
    /// Not equal.
    NotEqual,
}

/// etcd's `Compare.CompareTarget`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CompareTarget {
    /// The key's version.
    #[default]
    Version,
    /// The key's create revision.
    Create,
    /// The key's mod revision.
    Mod,
    /// The key's value.
    Value,
    /// The key's lease.
    Lease,
}

/// etcd's `Compare.target_union` oneof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetUnion {
    /// Compared with the version.
    Version(i64),
    /// Compared with the create revision.
    CreateRevision(i64),
    /// Compared with the mod revision.
    ModRevision(i64),
    /// Compared with the value.
    Value(Vec<u8>),
    /// Compared with the lease.
    Lease(i64),
}

/// etcd's `Compare`: a guard of a txn.
///
/// A missing key compares as version, revisions and lease 0; a value compare on a missing key
/// is always false. With `range_end`, every key in the range must satisfy the compare.
/// A `target_union` that does not match `target` compares against 0 (or the empty value).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Compare {
    /// The relation to test.
    pub result: CompareResult,
    /// The field to test.
    pub target: CompareTarget,
    /// The key.
    pub key: Vec<u8>,
    /// The operand.
    pub target_union: Option<TargetUnion>,
    /// End of a key range (same rules as [`RangeRequest`]).
    pub range_end: Vec<u8>,
}

/// etcd's `RequestOp`: one operation of a txn branch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestOp {
    /// A range read (sees the txn's earlier writes).
    Range(RangeRequest),
    /// A put.
    Put(PutRequest),
    /// A delete.
    DeleteRange(DeleteRangeRequest),
    /// A nested txn.
    Txn(TxnRequest),
}

/// etcd's `ResponseOp`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResponseOp {
    /// Answer to [`RequestOp::Range`].
    Range(RangeResponse),
    /// Answer to [`RequestOp::Put`].
    Put(PutResponse),
    /// Answer to [`RequestOp::DeleteRange`].
    DeleteRange(DeleteRangeResponse),
    /// Answer to [`RequestOp::Txn`].
    Txn(TxnResponse),
}

/// etcd's `TxnRequest`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxnRequest {
    /// Guards, all evaluated (including those of nested txns on the taken path) before any write.
    pub compare: Vec<Compare>,
    /// Applied when every compare holds.
    pub success: Vec<RequestOp>,
    /// Applied otherwise.
    pub failure: Vec<RequestOp>,
}

/// etcd's `TxnResponse`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxnResponse {
    /// Header revision: the txn's revision if it wrote, else the current revision.
    pub revision: i64,
    /// True when the success branch was taken.
    pub succeeded: bool,
    /// One response per operation of the taken branch.
    pub responses: Vec<ResponseOp>,
}

/// etcd's `CompactionRequest`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactionRequest {
    /// Compact away every version superseded at or before this revision.
    pub revision: i64,
    /// The caller wants to wait for the physical removal; see [`crate::Store::wait_compaction`].
    pub physical: bool,
}

/// etcd's `CompactionResponse`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactionResponse {
    /// Header revision: the current revision.
    pub revision: i64,
}

/// etcd's `LeaseGrantRequest`, after the server picked the id (never 0) and clamped the TTL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaseGrantRequest {
    /// The lease id.
    pub id: i64,
    /// Time to live in seconds.
    pub ttl_seconds: i64,
}

/// etcd's `LeaseGrantResponse`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaseGrantResponse {
    /// Header revision: the current revision.
    pub revision: i64,
    /// The lease id.
    pub id: i64,
    /// The granted TTL in seconds.
    pub ttl_seconds: i64,
}

/// etcd's `LeaseRevokeRequest`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaseRevokeRequest {
    /// The lease id.
    pub id: i64,
}

/// etcd's `LeaseRevokeResponse`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaseRevokeResponse {
    /// Header revision: the revision of the deletes, or the current one if no key was attached.
    pub revision: i64,
}

/// One entry of etcd's `LeaseCheckpointRequest`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaseCheckpoint {
    /// The lease id (unknown ids are ignored, as in etcd).
    pub id: i64,
    /// Remaining TTL in seconds at the leader when the checkpoint was taken.
    pub remaining_ttl_seconds: i64,
}

/// etcd's `LeaseCheckpointRequest` (internal raft request).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaseCheckpointRequest {
    /// The checkpoints.
    pub checkpoints: Vec<LeaseCheckpoint>,
}

/// etcd's `LeaseCheckpointResponse`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaseCheckpointResponse {
    /// Header revision: the current revision.
    pub revision: i64,
}

/// A write applied at one raft index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOp {
    /// A put.
    Put(PutRequest),
    /// A delete.
    DeleteRange(DeleteRangeRequest),
    /// A txn (possibly read-only: it then takes no revision).
    Txn(TxnRequest),
    /// A compaction.
    Compact(CompactionRequest),
    /// A lease grant.
    LeaseGrant(LeaseGrantRequest),
    /// A lease revoke (deletes the attached keys in one revision).
    LeaseRevoke(LeaseRevokeRequest),
    /// Remaining-TTL checkpoints.
    LeaseCheckpoint(LeaseCheckpointRequest),
}

/// The answer to a [`WriteOp`], variant for variant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteResponse {
    /// Answer to [`WriteOp::Put`].
    Put(PutResponse),
    /// Answer to [`WriteOp::DeleteRange`].
    DeleteRange(DeleteRangeResponse),
    /// Answer to [`WriteOp::Txn`].
    Txn(TxnResponse),
    /// Answer to [`WriteOp::Compact`].
    Compact(CompactionResponse),
    /// Answer to [`WriteOp::LeaseGrant`].
    LeaseGrant(LeaseGrantResponse),
    /// Answer to [`WriteOp::LeaseRevoke`].
    LeaseRevoke(LeaseRevokeResponse),
    /// Answer to [`WriteOp::LeaseCheckpoint`].
    LeaseCheckpoint(LeaseCheckpointResponse),
}
