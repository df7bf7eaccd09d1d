//! Reading stored versions, from the live database or from a point-in-time snapshot.

use rocksdb::DB;
use rocksdb::SnapshotWithThreadMode;

use crate::error::Error;
use crate::error::Result;
use crate::kv::KeyValue;
use crate::layout::CF_REVISIONS;
use crate::layout::Record;
use crate::layout::decode_record;
use crate::range::Located;
use crate::revision::Revision;

/// A view of the revision column family.
pub(crate) enum Reader<'a> {
    /// The live database: used by the single writer, which never reads what the compactor
    /// removes (those revisions left the index first).
    Live(&'a DB),
    /// A RocksDB snapshot taken under the index lock: used by concurrent readers, so that
    /// the compactor may delete versions the reader's index lookup still pointed at.
    Snapshot(&'a DB, SnapshotWithThreadMode<'a, DB>),
}

impl std::fmt::Debug for Reader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Reader::Live(_) => "Reader::Live",
            Reader::Snapshot(..) => "Reader::Snapshot",
        })
    }
}

impl<'a> Reader<'a> {
    fn db(&self) -> &'a DB {
        match self {
            Reader::Live(db) | Reader::Snapshot(db, _) => db,
        }
    }

    /// The stored record at `rev`, if present.
    pub(crate) fn try_record(&self, rev: Revision) -> Result<Option<Record>> {
        let db = self.db();
        let cf = db
            .cf_handle(CF_REVISIONS)
            .ok_or_else(|| Error::Corrupt("missing column family".into()))?;
        let key = rev.to_bytes();
        let bytes = match self {
            Reader::Live(db) => db.get_pinned_cf(cf, key)?,
            Reader::Snapshot(_, snapshot) => snapshot.get_pinned_cf(cf, key)?,
        };
        bytes.map(|b| decode_record(rev, &b)).transpose()
    }

    /// The version at `rev`, which the index says exists.
    pub(crate) fn kv(&self, rev: Revision) -> Result<KeyValue> {
        match self.try_record(rev)? {
            Some(record) if !record.tombstone => Ok(record.kv),
            Some(_) => Err(Error::Corrupt(format!("index points at tombstone {rev:?}"))),
            None => Err(Error::Corrupt(format!(
                "index points at missing version {rev:?}"
            ))),
        }
    }

    /// Resolves candidates into kvs.
    pub(crate) fn resolve(&self, items: Vec<Located>) -> Result<Vec<KeyValue>> {
        items
            .into_iter()
            .map(|item| match item {
                Located::Stored(rev) => self.kv(rev),
                Located::Pending(kv) => Ok(kv),
            })
            .collect()
    }
}
