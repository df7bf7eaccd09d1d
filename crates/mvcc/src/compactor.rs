//! The background compactor: removes versions superseded at the compacted revision, a chunk
//! of keys at a time, so reads and writes wait at most for one chunk.
//!
//! Restartable: the compacted revision is stored when the compaction is applied
//! (`compact_scheduled`) and `compact_finished` only once every chunk is deleted; after a
//! crash the index is rebuilt from what is left on disk and the job runs again (removing
//! versions is idempotent).

use std::sync::PoisonError;

use rocksdb::WriteBatch;

use crate::error::Result;
use crate::layout;
use crate::layout::CF_META;
use crate::layout::CF_REVISIONS;
use crate::store::Shared;

/// Compaction progress, guarded by `Shared::progress`.
#[derive(Debug)]
pub(crate) struct Progress {
    /// The newest applied compaction revision.
    pub(crate) scheduled: i64,
    /// Invariant: `finished <= scheduled`; versions superseded at `finished` are gone.
    pub(crate) finished: i64,
    /// Set when the store closes.
    pub(crate) stop: bool,
    /// The error that stopped the compactor, if any.
    pub(crate) failure: Option<String>,
}

/// The compactor thread's body: waits for work, compacts, repeats until the store closes.
pub(crate) fn run(shared: &Shared) {
    loop {
        let target = {
            let mut progress = shared.progress();
            while !progress.stop && progress.scheduled <= progress.finished {
                progress = shared
                    .progress_changed
                    .wait(progress)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if progress.stop {
                return;
            }
            progress.scheduled
        };
        match compact_to(shared, target) {
            Ok(true) => {
                let mut progress = shared.progress();
                assert!(progress.finished <= target, "compaction went backwards");
                progress.finished = target;
                shared.progress_changed.notify_all();
            }
            Ok(false) => return,
            Err(e) => {
                tracing::error!(error = %e, target, "mvcc compaction failed");
                shared.progress().failure = Some(e.to_string());
                shared.progress_changed.notify_all();
                return;
            }
        }
    }
}

/// Compacts every key at `target`; returns false if the store closed midway.
fn compact_to(shared: &Shared, target: i64) -> Result<bool> {
    let batch_keys = shared.opts.compaction_batch_keys.max(1);
    let revisions = shared.cf(CF_REVISIONS)?;
    let mut cursor: Option<Box<[u8]>> = None;
    loop {
        if shared.progress().stop {
            return Ok(false);
        }
        let mut dead = Vec::new();
        let next =
            shared
                .write()
                .index
                .compact_chunk(cursor.as_deref(), target, batch_keys, &mut dead);
        // The versions left the index above, so no new reader looks them up; readers that
        // looked them up earlier hold a RocksDB snapshot.
        if !dead.is_empty() {
            let mut batch = WriteBatch::default();
            for rev in &dead {
                debug_assert!(rev.main <= target, "compacting {rev:?} above {target}");
                batch.delete_cf(revisions, rev.to_bytes());
            }
            shared.write_batch(batch)?;
        }
        match next {
            Some(key) => cursor = Some(key),
            None => break,
        }
    }
    let mut batch = WriteBatch::default();
    batch.put_cf(
        shared.cf(CF_META)?,
        layout::META_COMPACT_FINISHED,
        layout::meta_bytes(target),
    );
    shared.write_batch(batch)?;
    Ok(true)
}
