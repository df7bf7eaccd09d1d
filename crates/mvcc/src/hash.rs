//! `hash_kv`: a checksum of the logical key space, equal on members with equal history.

use std::collections::HashSet;

use rocksdb::IteratorMode;

use crate::error::Error;
use crate::error::Result;
use crate::layout::CF_REVISIONS;
use crate::revision::Revision;
use crate::store::Store;

impl Store {
    /// The CRC32C of every version at or below `revision` (0: current) that a finished
    /// compaction keeps, as etcd's `HashKV`: versions above the compacted revision, and at or
    /// below it only those the compaction keeps. Background deletion progress does not
    /// change it. Returns `(hash, compacted_revision, hash_revision)`.
    pub fn hash_kv(&self, revision: i64) -> Result<(u32, i64, i64)> {
        let state = self.shared.read();
        let (current, compacted) = (state.current_revision, state.compacted_revision);
        if revision > current {
            return Err(Error::FutureRevision);
        }
        if revision > 0 && revision < compacted {
            return Err(Error::Compacted);
        }
        let hash_revision = if revision <= 0 { current } else { revision };
        let kept: HashSet<Revision> = state.index.kept(compacted);
        let snapshot = self.shared.db.snapshot();
        drop(state);
        let mut hash = crc32c::crc32c(b"key");
        for item in snapshot.iterator_cf(self.shared.cf(CF_REVISIONS)?, IteratorMode::Start) {
            let (k, v) = item?;
            let rev = Revision::from_bytes(&k)?;
            if rev.main > hash_revision {
                break;
            }
            if rev.main > compacted || kept.contains(&rev) {
                hash = crc32c::crc32c_append(hash, &k);
                hash = crc32c::crc32c_append(hash, &v);
            }
        }
        Ok((hash, compacted, hash_revision))
    }
}
