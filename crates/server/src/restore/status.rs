//! `snapshot status`: what a snapshot file holds.

use std::path::Path;

use super::RestoreError;
use super::file_format;

/// What `keelctl snapshot status` reports of a snapshot file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotStatus {
    /// The store's `HashKV` at `revision` (CRC32C of the key space, as
    /// `endpoint hashkv` reports it for the member at that revision).
    pub hash: u32,
    /// The store's revision.
    pub revision: i64,
    /// The number of keys live at `revision`.
    pub total_keys: u64,
    /// The length of the file.
    pub total_size_bytes: u64,
    /// The raft index the store had applied (its consistent index).
    pub applied_index: u64,
    /// The store's compacted revision (-1 if never compacted).
    pub compact_revision: i64,
    /// The header of the file.
    pub header: file_format::FileHeader,
}

/// Checks a snapshot file by its sha256 and reads its store (restored into a
/// temporary directory, which also checks the store stream's CRC).
pub fn status(path: &Path) -> Result<SnapshotStatus, RestoreError> {
    let (header, mut section) = file_format::store_section(path, false)?;
    let scratch = tempfile::tempdir().map_err(|source| RestoreError::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    let store = mvcc::Store::restore(
        &scratch.path().join("store"),
        &mut section,
        mvcc::StoreOptions::default(),
    )?;
    let (hash, compact_revision, revision) = store.hash_kv(0)?;
    let all_keys = mvcc::RangeRequest {
        key: vec![0],
        range_end: vec![0],
        count_only: true,
        ..Default::default()
    };
    let total_keys = store.range(&all_keys)?.count;
    Ok(SnapshotStatus {
        hash,
        revision,
        total_keys: u64::try_from(total_keys).unwrap_or_default(),
        total_size_bytes: header.file_bytes(),
        applied_index: store.applied_index(),
        compact_revision,
        header,
    })
}
