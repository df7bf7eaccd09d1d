//! The store's side of a power cut (test only, `KEEL_FAULT_INJECTION=1`).
//!
//! The store writes through RocksDB's WAL without syncing it; the member makes
//! the store durable only before a raft snapshot (`Store::sync_to_disk`), and
//! replays the raft WAL from the store's consistent index at boot. A SIGKILL
//! keeps RocksDB's unsynced writes in the page cache, so it never tests that
//! replay; a power cut would lose them.
//!
//! With the switch on, the member keeps a checkpoint of its store as it was at
//! its last sync (`member/store.durable`, refreshed after every sync, when a
//! store received from the leader is installed, and at boot), and `power-off` leaves a marker (`member/powered-off`). The next boot
//! puts the checkpoint in the store's place before anything opens it: the
//! store comes back as a power cut could leave it at worst, everything since
//! the last sync lost.

use std::io;
use std::path::Path;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;

/// The store as of its last sync.
const DURABLE: &str = "store.durable";
/// The previous checkpoint while a new one replaces it.
const DURABLE_OLD: &str = "store.durable.old";
/// A checkpoint being written.
const DURABLE_TMP: &str = "store.durable.tmp";
/// Left by `power-off`, consumed by the next boot.
const POWERED_OFF: &str = "powered-off";

/// The member directory (the store's parent), known once the member booted.
static MEMBER_DIR: OnceLock<PathBuf> = OnceLock::new();
/// Set by `power-off`: nothing becomes durable any more.
static CUT: AtomicBool = AtomicBool::new(false);

/// At boot, before the store is opened: after a power cut, the store goes
/// back to its last synced state (no store at all if it never synced).
pub(crate) fn roll_back_after_power_cut(store_dir: &Path) -> io::Result<()> {
    if !super::enabled() {
        return Ok(());
    }
    let Some(member) = store_dir.parent() else {
        return Ok(());
    };
    // The first member of the process owns the switch, as for the fault layer.
    let member = MEMBER_DIR.get_or_init(|| member.to_path_buf());
    roll_back(member, store_dir)
}

/// Puts the last checkpoint in `store_dir`'s place if `member` was powered off.
fn roll_back(member: &Path, store_dir: &Path) -> io::Result<()> {
    let marker = member.join(POWERED_OFF);
    if !marker.exists() {
        return Ok(());
    }
    remove_dir_if_present(store_dir)?;
    let durable = [DURABLE, DURABLE_OLD]
        .map(|name| member.join(name))
        .into_iter()
        .find(|dir| dir.exists());
    if let Some(durable) = &durable {
        std::fs::rename(durable, store_dir)?;
    }
    std::fs::remove_file(&marker)?;
    tracing::warn!(
        restored = durable.is_some(),
        "power cut: the store went back to its last sync"
    );
    Ok(())
}

/// After the store synced (and at boot): keeps a checkpoint of it, since it
/// is durable as it stands. Does nothing once the power is cut.
pub(crate) fn store_synced(store: &mvcc::Store) -> Result<(), String> {
    let Some(member) = MEMBER_DIR.get() else {
        return Ok(());
    };
    if CUT.load(Ordering::Acquire) {
        return Ok(());
    }
    keep_checkpoint(member, store)
}

/// Replaces `member`'s checkpoint with one of `store` as it is now.
fn keep_checkpoint(member: &Path, store: &mvcc::Store) -> Result<(), String> {
    let (durable, old, tmp) = (
        member.join(DURABLE),
        member.join(DURABLE_OLD),
        member.join(DURABLE_TMP),
    );
    let failed = |what: &str, e: &dyn std::fmt::Display| format!("durable store {what}: {e}");
    remove_dir_if_present(&tmp).map_err(|e| failed("clear", &e))?;
    store
        .checkpoint(&tmp)
        .map_err(|e| failed("checkpoint", &e))?;
    // At every moment one complete checkpoint is in place (`durable`, else `old`).
    remove_dir_if_present(&old).map_err(|e| failed("clear", &e))?;
    if durable.exists() {
        std::fs::rename(&durable, &old).map_err(|e| failed("rename", &e))?;
    }
    std::fs::rename(&tmp, &durable).map_err(|e| failed("rename", &e))?;
    remove_dir_if_present(&old).map_err(|e| failed("clear", &e))
}

/// At the end of boot: syncs the store and keeps it as the durable copy.
pub(crate) fn booted(store: &mvcc::Store) -> Result<(), String> {
    if MEMBER_DIR.get().is_none() {
        return Ok(());
    }
    store
        .sync_to_disk()
        .map_err(|e| format!("durable store sync: {e}"))?;
    store_synced(store)
}

/// `power-off`: leaves the marker the next boot rolls the store back by.
pub(crate) fn cut() {
    CUT.store(true, Ordering::Release);
    if let Some(member) = MEMBER_DIR.get()
        && let Err(e) = std::fs::write(member.join(POWERED_OFF), b"")
    {
        tracing::error!(error = %e, "cannot mark the power cut for the store");
    }
}

fn remove_dir_if_present(dir: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn put(store: &mvcc::Store, index: u64, key: &str) {
        let op = mvcc::WriteOp::Put(mvcc::PutRequest {
            key: key.as_bytes().to_vec(),
            value: b"v".to_vec(),
            ..Default::default()
        });
        store.apply(index, op).unwrap();
    }

    #[test]
    fn a_power_cut_takes_the_store_back_to_its_last_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let member = dir.path();
        let store_dir = member.join("store");
        let store = mvcc::Store::open(&store_dir, mvcc::StoreOptions::default()).unwrap();
        put(&store, 1, "a");
        keep_checkpoint(member, &store).unwrap();
        put(&store, 2, "b");
        keep_checkpoint(member, &store).unwrap();
        put(&store, 3, "c");
        drop(store);
        // Without the marker nothing changes.
        roll_back(member, &store_dir).unwrap();
        let store = mvcc::Store::open(&store_dir, mvcc::StoreOptions::default()).unwrap();
        assert_eq!(store.applied_index(), 3);
        drop(store);
        std::fs::write(member.join(POWERED_OFF), b"").unwrap();
        roll_back(member, &store_dir).unwrap();
        assert!(!member.join(POWERED_OFF).exists(), "the marker is consumed");
        let store = mvcc::Store::open(&store_dir, mvcc::StoreOptions::default()).unwrap();
        assert_eq!(store.applied_index(), 2, "back to the last checkpoint");
        assert_eq!(store.current_revision(), 3);
    }

    #[test]
    fn a_power_cut_before_any_checkpoint_leaves_no_store() {
        let dir = tempfile::tempdir().unwrap();
        let member = dir.path();
        let store_dir = member.join("store");
        let store = mvcc::Store::open(&store_dir, mvcc::StoreOptions::default()).unwrap();
        put(&store, 1, "a");
        drop(store);
        std::fs::write(member.join(POWERED_OFF), b"").unwrap();
        roll_back(member, &store_dir).unwrap();
        assert!(!store_dir.exists());
    }
}
