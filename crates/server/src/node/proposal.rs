//! What a normal raft entry carries: a bincode-encoded [`Proposal`], and what
//! a raft snapshot's `data` carries: a bincode-encoded [`SnapshotState`].
//!
//! Both are part of the on-disk format (the WAL and `.snap` files).

use bytes::Bytes;
use serde::Deserialize;
use serde::Serialize;

use super::membership::Membership;
use super::wire::WireOp;
use crate::backend::Alarm;

/// Largest proposal decoded (a request is at most --max-request-bytes, far below).
const MAX_DECODE_BYTES: usize = 64 * 1024 * 1024;

/// One replicated request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Proposal {
    /// The member that proposed it; only that member has a waiter for it.
    pub(crate) origin: u64,
    /// The request id, unique on `origin`.
    pub(crate) id: u64,
    /// What to apply.
    pub(crate) body: Body,
}

/// The kinds of replicated requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Body {
    /// A write to the store.
    Write(WireOp),
    /// A member announces its name and client URLs (etcd's publish).
    Publish {
        member_id: u64,
        name: String,
        client_urls: Vec<String>,
    },
    /// Raise (`activate`) or clear an alarm; clearing with `alarm` 0 clears all of the member's.
    Alarm {
        activate: bool,
        member_id: u64,
        alarm: i32,
    },
    /// A member moves to new peer URLs (etcd's MemberUpdate; not a raft conf change).
    UpdateMember {
        member_id: u64,
        peer_urls: Vec<String>,
    },
}

/// The server's small state stored beside the store in a raft snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub(crate) struct SnapshotState {
    /// Names and URLs of the members.
    pub(crate) membership: Membership,
    /// Raised alarms as (member id, alarm type).
    pub(crate) alarms: Vec<(u64, i32)>,
}

impl SnapshotState {
    /// The alarms in the Backend's type.
    pub(crate) fn alarm_list(&self) -> Vec<Alarm> {
        self.alarms
            .iter()
            .map(|&(member_id, alarm)| Alarm { member_id, alarm })
            .collect()
    }
}

fn config() -> bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<MAX_DECODE_BYTES>,
> {
    bincode::config::standard().with_limit::<MAX_DECODE_BYTES>()
}

/// Encodes a value for a raft entry or snapshot, into a buffer of exactly its size (the
/// entry is kept in the raft log, and sizing first costs less than growing a vector).
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Bytes, String> {
    let failed = |e: bincode::error::EncodeError| format!("cannot encode: {e}");
    let mut size = bincode::enc::write::SizeWriter::default();
    bincode::serde::encode_into_writer(value, &mut size, config()).map_err(failed)?;
    let mut buf = Vec::with_capacity(size.bytes_written);
    bincode::serde::encode_into_std_write(value, &mut buf, config()).map_err(failed)?;
    Ok(Bytes::from(buf))
}

/// Decodes a value of a raft entry or snapshot; trailing bytes are refused.
pub(crate) fn decode<T: for<'de> Deserialize<'de>>(data: &[u8]) -> Result<T, String> {
    let (value, read) = bincode::serde::decode_from_slice::<T, _>(data, config())
        .map_err(|e| format!("cannot decode: {e}"))?;
    if read != data.len() {
        return Err(format!("{} trailing bytes", data.len() - read));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proposals_round_trip_and_garbage_is_refused() {
        let put = mvcc::PutRequest {
            key: b"k".to_vec(),
            value: b"v".to_vec(),
            lease: 7,
            ..Default::default()
        };
        let txn = mvcc::TxnRequest {
            compare: vec![mvcc::Compare {
                result: mvcc::CompareResult::NotEqual,
                target: mvcc::CompareTarget::Mod,
                key: b"k".to_vec(),
                target_union: Some(mvcc::TargetUnion::ModRevision(3)),
                range_end: Vec::new(),
            }],
            success: vec![mvcc::RequestOp::Put(put.clone())],
            failure: vec![mvcc::RequestOp::Range(mvcc::RangeRequest {
                key: b"k".to_vec(),
                sort_order: mvcc::SortOrder::Descend,
                sort_target: mvcc::SortTarget::Create,
                limit: 1,
                ..Default::default()
            })],
        };
        for op in [mvcc::WriteOp::Put(put), mvcc::WriteOp::Txn(txn)] {
            let p = Proposal {
                origin: 1,
                id: 2,
                body: Body::Write(WireOp::from(&op)),
            };
            let back: Proposal = decode(&encode(&p).unwrap()).unwrap();
            assert_eq!(back, p);
            let Body::Write(wire) = back.body else {
                panic!("not a write")
            };
            assert_eq!(mvcc::WriteOp::from(wire), op);
        }
        assert!(decode::<Proposal>(b"\xff\xff\xff garbage").is_err());
    }
}
