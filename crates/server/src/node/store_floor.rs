//! The store never runs ahead of the WAL, except right after a received
//! snapshot: checked at every restart.
//!
//! The apply thread applies only entries the WAL made durable, so the store's
//! applied index is at most the WAL's last index. A store ahead of the WAL
//! means the WAL lost entries it had synced (a disk or file system that
//! acknowledges `fdatasync` without making the data durable); the member would
//! then take every new entry up to the store's index for applied and skip it,
//! so it refuses to start instead.
//!
//! The one legitimate exception is a store received from the leader: it may
//! hold entries past the raft snapshot it came with, which the WAL receives
//! only afterwards. Installing one records its applied index as the store's
//! floor (`member/store.floor`), durably and before the store takes its place,
//! and the check allows the store up to the larger of the WAL's end and the
//! floor.

use std::io::Write;
use std::path::Path;
use std::path::PathBuf;

use super::NodeError;

/// Where the floor of the store in `store_dir` is kept.
fn floor_file(store_dir: &Path) -> PathBuf {
    store_dir.with_extension("floor")
}

/// Records, durably, that a store applied up to `applied` is about to be
/// installed in `store_dir` although the WAL may end before it.
pub(crate) fn record(store_dir: &Path, applied: u64) -> Result<(), NodeError> {
    let path = floor_file(store_dir);
    let failed = |e: std::io::Error| {
        NodeError::Storage(format!("record the store floor {}: {e}", path.display()))
    };
    let mut file = std::fs::File::create(&path).map_err(failed)?;
    file.write_all(applied.to_string().as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(failed)?;
    if let Some(parent) = store_dir.parent() {
        std::fs::File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(failed)?;
    }
    Ok(())
}

/// The floor recorded for `store_dir` (0 when none was).
fn read(store_dir: &Path) -> Result<u64, NodeError> {
    let path = floor_file(store_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => text.trim().parse().map_err(|_| {
            NodeError::Storage(format!("{} holds {text:?}, not an index", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(NodeError::Storage(format!("read {}: {e}", path.display()))),
    }
}

/// Refuses a store in `store_dir` that applied past both the WAL's last index
/// and the floor of a received store.
pub(crate) fn check(store_dir: &Path, store_applied: u64, wal_last: u64) -> Result<(), NodeError> {
    let floor = read(store_dir)?;
    if store_applied <= wal_last.max(floor) {
        return Ok(());
    }
    Err(NodeError::Storage(format!(
        "the store has applied raft index {store_applied} but the WAL ends at index \
         {wal_last}: synced WAL entries are missing (a disk that does not honour \
         fdatasync?); remove this member and add it again, or restore it from a snapshot"
    )))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_store_may_run_ahead_of_the_wal_only_up_to_its_floor() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        check(&store, 10, 10).unwrap();
        check(&store, 9, 10).unwrap();
        let refused = check(&store, 11, 10).unwrap_err().to_string();
        assert!(
            refused.contains("synced WAL entries are missing"),
            "{refused}"
        );
        record(&store, 15).unwrap();
        check(&store, 15, 10).unwrap();
        assert!(check(&store, 16, 10).is_err());
        std::fs::write(floor_file(&store), "garbage").unwrap();
        assert!(check(&store, 1, 10).is_err(), "a damaged floor is an error");
    }
}
