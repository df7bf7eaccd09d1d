//! The on-disk layout: column families, meta keys and the encoding of stored records.

use serde::Deserialize;
use serde::Serialize;

use crate::error::Error;
use crate::error::Result;
use crate::kv::KeyValue;
use crate::revision::Revision;

/// Revision-keyed versions: `Revision::to_bytes()` -> [`Record`] (etcd's `key` bucket).
pub(crate) const CF_REVISIONS: &str = "revisions";
/// Store metadata: [`META_CONSISTENT_INDEX`] and friends -> 8-byte big-endian integers.
pub(crate) const CF_META: &str = "meta";
/// Leases: id as 8-byte big-endian -> [`LeaseRecord`].
pub(crate) const CF_LEASES: &str = "leases";
/// Every column family, in snapshot order (the index in this list is the snapshot's tag).
pub(crate) const COLUMN_FAMILIES: [&str; 3] = [CF_REVISIONS, CF_META, CF_LEASES];

/// The raft index of the last applied entry.
pub(crate) const META_CONSISTENT_INDEX: &[u8] = b"consistent_index";
/// The current main revision, as older builds kept it. It is no longer written (an apply
/// wrote it beside every version, growing the meta memtable by an entry per write): the
/// current revision is the newest stored version's, as etcd restores it (compaction keeps
/// a delete at the compacted revision, so the newest version survives it); a stored value
/// and the compacted revision are floors. Older builds refuse a store written since, as
/// their open checks every version against this value.
pub(crate) const META_CURRENT_REVISION: &[u8] = b"current_revision";
/// The revision of the newest applied compaction (etcd's `scheduledCompactRev`).
pub(crate) const META_COMPACT_SCHEDULED: &[u8] = b"compact_scheduled";
/// The revision up to which old versions are physically gone (etcd's `finishedCompactRev`).
pub(crate) const META_COMPACT_FINISHED: &[u8] = b"compact_finished";

/// etcd's revision of an empty store.
pub(crate) const INITIAL_REVISION: i64 = 1;
/// etcd's compacted revision of a store never compacted.
pub(crate) const INITIAL_COMPACTED: i64 = -1;

/// One stored version (a put, or a delete's tombstone with only key and mod revision).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Record {
    pub(crate) kv: KeyValue,
    pub(crate) tombstone: bool,
}

/// A [`Record`] borrowed for writing: encodes to the same bytes without copying the
/// key and value.
#[derive(Clone, Copy, Debug, Serialize)]
pub(crate) struct RecordRef<'a> {
    pub(crate) kv: &'a KeyValue,
    pub(crate) tombstone: bool,
}

/// One stored lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LeaseRecord {
    pub(crate) id: i64,
    pub(crate) ttl_seconds: i64,
    pub(crate) remaining_ttl_seconds: i64,
}

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// Encodes a value for RocksDB into a buffer of exactly its size: sizing it first costs
/// less than growing a vector from empty (several reallocations and copies per record).
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    let failed = |e: bincode::error::EncodeError| Error::Corrupt(e.to_string());
    let mut size = bincode::enc::write::SizeWriter::default();
    bincode::serde::encode_into_writer(value, &mut size, config()).map_err(failed)?;
    let mut buf = Vec::with_capacity(size.bytes_written);
    bincode::serde::encode_into_std_write(value, &mut buf, config()).map_err(failed)?;
    Ok(buf)
}

/// Decodes [`encode`], rejecting trailing bytes.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let (value, used) = bincode::serde::decode_from_slice(bytes, config())
        .map_err(|e| Error::Corrupt(e.to_string()))?;
    if used != bytes.len() {
        return Err(Error::Corrupt(format!(
            "{} trailing bytes",
            bytes.len() - used
        )));
    }
    Ok(value)
}

/// Decodes a stored version and checks it against its revision key (pair assertion of the
/// checks made before writing).
pub(crate) fn decode_record(rev: Revision, bytes: &[u8]) -> Result<Record> {
    let record: Record = decode(bytes)?;
    let borrowed = RecordRef {
        kv: &record.kv,
        tombstone: record.tombstone,
    };
    check_record(rev, borrowed)?;
    Ok(record)
}

/// The invariants every stored version satisfies.
pub(crate) fn check_record(rev: Revision, record: RecordRef<'_>) -> Result<()> {
    let kv = record.kv;
    let ok = !kv.key.is_empty()
        && kv.mod_revision == rev.main
        && if record.tombstone {
            kv.version == 0 && kv.create_revision == 0 && kv.value.is_empty() && kv.lease == 0
        } else {
            kv.version >= 1
                && kv.create_revision >= INITIAL_REVISION
                && kv.create_revision <= rev.main
        };
    if ok {
        Ok(())
    } else {
        Err(Error::Corrupt(format!(
            "record at {rev:?} is invalid: {record:?}"
        )))
    }
}

/// Encodes a meta integer.
pub(crate) fn meta_bytes(value: i64) -> [u8; 8] {
    value.to_be_bytes()
}

/// Decodes a meta integer.
pub(crate) fn meta_value(bytes: &[u8]) -> Result<i64> {
    let arr: [u8; 8] = bytes
        .try_into()
        .map_err(|_| Error::Corrupt(format!("meta value of {} bytes", bytes.len())))?;
    Ok(i64::from_be_bytes(arr))
}

/// The key of a lease.
pub(crate) fn lease_key(id: i64) -> [u8; 8] {
    id.to_be_bytes()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_borrowed_record_encodes_as_the_owned_one_and_decodes_back() {
        let kv = KeyValue {
            key: b"k".to_vec(),
            create_revision: 2,
            mod_revision: 5,
            version: 3,
            value: vec![7; 300],
            lease: 9,
        };
        let owned = Record {
            kv: kv.clone(),
            tombstone: false,
        };
        let borrowed = RecordRef {
            kv: &kv,
            tombstone: false,
        };
        let bytes = encode(&borrowed).unwrap();
        assert_eq!(bytes, encode(&owned).unwrap());
        assert_eq!(bytes.capacity(), bytes.len(), "sized exactly");
        let rev = Revision { main: 5, sub: 0 };
        assert_eq!(decode_record(rev, &bytes).unwrap(), owned);
        let wrong = Revision { main: 6, sub: 0 };
        assert!(decode_record(wrong, &bytes).is_err());
    }
}
