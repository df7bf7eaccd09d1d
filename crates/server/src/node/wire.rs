//! A serde mirror of `mvcc::WriteOp`, so a write can travel in a raft entry.
//!
//! mvcc's request types carry no serde derives (mvcc knows nothing of how the
//! server ships them), so this module mirrors them field by field, with
//! conversions both ways. The encoding is part of the on-disk format (raft
//! entries in the WAL): fields are only ever appended.

use mvcc::CompareResult;
use mvcc::CompareTarget;
use mvcc::SortOrder;
use mvcc::SortTarget;
use mvcc::TargetUnion;
use serde::Deserialize;
use serde::Serialize;

/// `mvcc::WriteOp` on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum WireOp {
    Put(WirePut),
    DeleteRange(WireDelete),
    Txn(WireTxn),
    Compact { revision: i64, physical: bool },
    LeaseGrant { id: i64, ttl_seconds: i64 },
    LeaseRevoke { id: i64 },
    LeaseCheckpoint(Vec<(i64, i64)>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WirePut {
    key: Vec<u8>,
    value: Vec<u8>,
    lease: i64,
    prev_kv: bool,
    ignore_value: bool,
    ignore_lease: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WireDelete {
    key: Vec<u8>,
    range_end: Vec<u8>,
    prev_kv: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WireRange {
    key: Vec<u8>,
    range_end: Vec<u8>,
    limit: i64,
    revision: i64,
    sort_order: u8,
    sort_target: u8,
    serializable: bool,
    keys_only: bool,
    count_only: bool,
    min_mod_revision: i64,
    max_mod_revision: i64,
    min_create_revision: i64,
    max_create_revision: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WireCompare {
    result: u8,
    target: u8,
    key: Vec<u8>,
    target_union: Option<WireTarget>,
    range_end: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum WireTarget {
    Version(i64),
    CreateRevision(i64),
    ModRevision(i64),
    Value(Vec<u8>),
    Lease(i64),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum WireRequestOp {
    Range(WireRange),
    Put(WirePut),
    DeleteRange(WireDelete),
    Txn(WireTxn),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WireTxn {
    compare: Vec<WireCompare>,
    success: Vec<WireRequestOp>,
    failure: Vec<WireRequestOp>,
}

impl From<&mvcc::WriteOp> for WireOp {
    fn from(op: &mvcc::WriteOp) -> WireOp {
        match op {
            mvcc::WriteOp::Put(p) => WireOp::Put(p.into()),
            mvcc::WriteOp::DeleteRange(d) => WireOp::DeleteRange(d.into()),
            mvcc::WriteOp::Txn(t) => WireOp::Txn(t.into()),
            mvcc::WriteOp::Compact(c) => WireOp::Compact {
                revision: c.revision,
                physical: c.physical,
            },
            mvcc::WriteOp::LeaseGrant(g) => WireOp::LeaseGrant {
                id: g.id,
                ttl_seconds: g.ttl_seconds,
            },
            mvcc::WriteOp::LeaseRevoke(r) => WireOp::LeaseRevoke { id: r.id },
            mvcc::WriteOp::LeaseCheckpoint(c) => WireOp::LeaseCheckpoint(
                c.checkpoints
                    .iter()
                    .map(|c| (c.id, c.remaining_ttl_seconds))
                    .collect(),
            ),
        }
    }
}

impl From<WireOp> for mvcc::WriteOp {
    fn from(op: WireOp) -> mvcc::WriteOp {
        match op {
            WireOp::Put(p) => mvcc::WriteOp::Put(p.into()),
            WireOp::DeleteRange(d) => mvcc::WriteOp::DeleteRange(d.into()),
            WireOp::Txn(t) => mvcc::WriteOp::Txn(t.into()),
            WireOp::Compact { revision, physical } => {
                mvcc::WriteOp::Compact(mvcc::CompactionRequest { revision, physical })
            }
            WireOp::LeaseGrant { id, ttl_seconds } => {
                mvcc::WriteOp::LeaseGrant(mvcc::LeaseGrantRequest { id, ttl_seconds })
            }
            WireOp::LeaseRevoke { id } => {
                mvcc::WriteOp::LeaseRevoke(mvcc::LeaseRevokeRequest { id })
            }
            WireOp::LeaseCheckpoint(list) => {
                mvcc::WriteOp::LeaseCheckpoint(mvcc::LeaseCheckpointRequest {
                    checkpoints: list
                        .into_iter()
                        .map(|(id, remaining_ttl_seconds)| mvcc::LeaseCheckpoint {
                            id,
                            remaining_ttl_seconds,
                        })
                        .collect(),
                })
            }
        }
    }
}

impl From<&mvcc::PutRequest> for WirePut {
    fn from(p: &mvcc::PutRequest) -> WirePut {
        WirePut {
            key: p.key.clone(),
            value: p.value.clone(),
            lease: p.lease,
            prev_kv: p.prev_kv,
            ignore_value: p.ignore_value,
            ignore_lease: p.ignore_lease,
        }
    }
}

impl From<WirePut> for mvcc::PutRequest {
    fn from(p: WirePut) -> mvcc::PutRequest {
        mvcc::PutRequest {
            key: p.key,
            value: p.value,
            lease: p.lease,
            prev_kv: p.prev_kv,
            ignore_value: p.ignore_value,
            ignore_lease: p.ignore_lease,
        }
    }
}

impl From<&mvcc::DeleteRangeRequest> for WireDelete {
    fn from(d: &mvcc::DeleteRangeRequest) -> WireDelete {
        WireDelete {
            key: d.key.clone(),
            range_end: d.range_end.clone(),
            prev_kv: d.prev_kv,
        }
    }
}

impl From<WireDelete> for mvcc::DeleteRangeRequest {
    fn from(d: WireDelete) -> mvcc::DeleteRangeRequest {
        mvcc::DeleteRangeRequest {
            key: d.key,
            range_end: d.range_end,
            prev_kv: d.prev_kv,
        }
    }
}

impl From<&mvcc::RangeRequest> for WireRange {
    fn from(r: &mvcc::RangeRequest) -> WireRange {
        WireRange {
            key: r.key.clone(),
            range_end: r.range_end.clone(),
            limit: r.limit,
            revision: r.revision,
            sort_order: sort_order_code(r.sort_order),
            sort_target: sort_target_code(r.sort_target),
            serializable: r.serializable,
            keys_only: r.keys_only,
            count_only: r.count_only,
            min_mod_revision: r.min_mod_revision,
            max_mod_revision: r.max_mod_revision,
            min_create_revision: r.min_create_revision,
            max_create_revision: r.max_create_revision,
        }
    }
}

impl From<WireRange> for mvcc::RangeRequest {
    fn from(r: WireRange) -> mvcc::RangeRequest {
        mvcc::RangeRequest {
            key: r.key,
            range_end: r.range_end,
            limit: r.limit,
            revision: r.revision,
            sort_order: sort_order_from(r.sort_order),
            sort_target: sort_target_from(r.sort_target),
            serializable: r.serializable,
            keys_only: r.keys_only,
            count_only: r.count_only,
            min_mod_revision: r.min_mod_revision,
            max_mod_revision: r.max_mod_revision,
            min_create_revision: r.min_create_revision,
            max_create_revision: r.max_create_revision,
        }
    }
}

impl From<&mvcc::TxnRequest> for WireTxn {
    fn from(t: &mvcc::TxnRequest) -> WireTxn {
        WireTxn {
            compare: t.compare.iter().map(WireCompare::from).collect(),
            success: t.success.iter().map(WireRequestOp::from).collect(),
            failure: t.failure.iter().map(WireRequestOp::from).collect(),
        }
    }
}

impl From<WireTxn> for mvcc::TxnRequest {
    fn from(t: WireTxn) -> mvcc::TxnRequest {
        mvcc::TxnRequest {
            compare: t.compare.into_iter().map(mvcc::Compare::from).collect(),
            success: t.success.into_iter().map(mvcc::RequestOp::from).collect(),
            failure: t.failure.into_iter().map(mvcc::RequestOp::from).collect(),
        }
    }
}

impl From<&mvcc::RequestOp> for WireRequestOp {
    fn from(op: &mvcc::RequestOp) -> WireRequestOp {
        match op {
            mvcc::RequestOp::Range(r) => WireRequestOp::Range(r.into()),
            mvcc::RequestOp::Put(p) => WireRequestOp::Put(p.into()),
            mvcc::RequestOp::DeleteRange(d) => WireRequestOp::DeleteRange(d.into()),
            mvcc::RequestOp::Txn(t) => WireRequestOp::Txn(t.into()),
        }
    }
}

impl From<WireRequestOp> for mvcc::RequestOp {
    fn from(op: WireRequestOp) -> mvcc::RequestOp {
        match op {
            WireRequestOp::Range(r) => mvcc::RequestOp::Range(r.into()),
            WireRequestOp::Put(p) => mvcc::RequestOp::Put(p.into()),
            WireRequestOp::DeleteRange(d) => mvcc::RequestOp::DeleteRange(d.into()),
            WireRequestOp::Txn(t) => mvcc::RequestOp::Txn(t.into()),
        }
    }
}

impl From<&mvcc::Compare> for WireCompare {
    fn from(c: &mvcc::Compare) -> WireCompare {
        let result = match c.result {
            CompareResult::Equal => 0,
            CompareResult::Greater => 1,
            CompareResult::Less => 2,
            CompareResult::NotEqual => 3,
        };
        let target = match c.target {
            CompareTarget::Version => 0,
            CompareTarget::Create => 1,
            CompareTarget::Mod => 2,
            CompareTarget::Value => 3,
            CompareTarget::Lease => 4,
        };
        let target_union = c.target_union.as_ref().map(|t| match t {
            TargetUnion::Version(v) => WireTarget::Version(*v),
            TargetUnion::CreateRevision(v) => WireTarget::CreateRevision(*v),
            TargetUnion::ModRevision(v) => WireTarget::ModRevision(*v),
            TargetUnion::Value(v) => WireTarget::Value(v.clone()),
            TargetUnion::Lease(v) => WireTarget::Lease(*v),
        });
        WireCompare {
            result,
            target,
            key: c.key.clone(),
            target_union,
            range_end: c.range_end.clone(),
        }
    }
}

impl From<WireCompare> for mvcc::Compare {
    fn from(c: WireCompare) -> mvcc::Compare {
        let result = match c.result {
            1 => CompareResult::Greater,
            2 => CompareResult::Less,
            3 => CompareResult::NotEqual,
            _ => CompareResult::Equal,
        };
        let target = match c.target {
            1 => CompareTarget::Create,
            2 => CompareTarget::Mod,
            3 => CompareTarget::Value,
            4 => CompareTarget::Lease,
            _ => CompareTarget::Version,
        };
        let target_union = c.target_union.map(|t| match t {
            WireTarget::Version(v) => TargetUnion::Version(v),
            WireTarget::CreateRevision(v) => TargetUnion::CreateRevision(v),
            WireTarget::ModRevision(v) => TargetUnion::ModRevision(v),
            WireTarget::Value(v) => TargetUnion::Value(v),
            WireTarget::Lease(v) => TargetUnion::Lease(v),
        });
        mvcc::Compare {
            result,
            target,
            key: c.key,
            target_union,
            range_end: c.range_end,
        }
    }
}

fn sort_order_code(order: SortOrder) -> u8 {
    match order {
        SortOrder::None => 0,
        SortOrder::Ascend => 1,
        SortOrder::Descend => 2,
    }
}

fn sort_order_from(code: u8) -> SortOrder {
    match code {
        1 => SortOrder::Ascend,
        2 => SortOrder::Descend,
        _ => SortOrder::None,
    }
}

fn sort_target_code(target: SortTarget) -> u8 {
    match target {
        SortTarget::Key => 0,
        SortTarget::Version => 1,
        SortTarget::Create => 2,
        SortTarget::Mod => 3,
        SortTarget::Value => 4,
    }
}

fn sort_target_from(code: u8) -> SortTarget {
    match code {
        1 => SortTarget::Version,
        2 => SortTarget::Create,
        3 => SortTarget::Mod,
        4 => SortTarget::Value,
        _ => SortTarget::Key,
    }
}
