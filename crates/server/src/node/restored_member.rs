//! A new member's data directory around a store restored from a backup, as
//! etcdutl's `snapshot restore` writes it.
//!
//! The store is restored first; its consistent index `i` (the last raft index
//! it holds) becomes the raft snapshot's index. Then a `.snap` at `i` (term 1)
//! holds the new membership (every `--initial-cluster` member a voter, named
//! with its peer URLs, as a bootstrap would record them), and the WAL is
//! created with that snapshot's marker and the hard state `{term 1, commit i}`
//! and no entries. Started with the same flags, `keel` restarts from that
//! snapshot: raft's log begins after `i`, nothing is re-applied, and every
//! member of the new cluster holds the same log, so any of them can be elected.

use std::io::Read;
use std::path::Path;
use std::path::PathBuf;

use raft_core::ConfState;
use raft_core::HardState;
use raft_core::Snapshot;
use raft_core::SnapshotMetadata;
use wal::Snapshotter;
use wal::Wal;
use wal::WalOptions;
use wal::WalSnapshot;

use super::NodeError;
use super::boot;
use super::boot::Layout;
use super::boot::WalMetadata;
use super::proposal;
use super::proposal::SnapshotState;
use crate::config::ServerConfig;

/// The term of the restored snapshot: a new cluster starts its terms afresh.
const RESTORED_TERM: u64 = 1;

/// What a restore wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RestoredMember {
    /// The new cluster's id.
    pub(crate) cluster_id: u64,
    /// This member's new id.
    pub(crate) member_id: u64,
    /// The raft index of the snapshot (the store's consistent index).
    pub(crate) snapshot_index: u64,
    /// The store's revision.
    pub(crate) revision: i64,
}

fn storage_error(what: &str, e: impl std::fmt::Display) -> NodeError {
    NodeError::Storage(format!("{what}: {e}"))
}

/// True when `dir` is absent or an empty directory.
fn is_empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).map_or_else(
        |e| e.kind() == std::io::ErrorKind::NotFound,
        |mut entries| entries.next().is_none(),
    )
}

/// Writes a fresh data directory for `config` from a store stream. The data
/// directory (and `--wal-dir`) must be absent or empty; on failure, what was
/// written is removed.
pub(crate) fn write_member_dir(
    config: &ServerConfig,
    store_stream: &mut dyn Read,
) -> Result<RestoredMember, NodeError> {
    for dir in [&config.data_dir, &config.wal_dir] {
        if !is_empty_dir(dir) {
            return Err(NodeError::Refused(format!(
                "{} is not empty: refusing to restore over it",
                dir.display()
            )));
        }
    }
    let layout = Layout::new(config);
    let written = write_layout(config, &layout, store_stream);
    if written.is_err() {
        let created: [PathBuf; 2] = [config.data_dir.join("member"), config.wal_dir.clone()];
        for dir in created.iter().filter(|d| d.exists()) {
            if let Err(e) = std::fs::remove_dir_all(dir) {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot remove a partial restore");
            }
        }
    }
    written
}

fn write_layout(
    config: &ServerConfig,
    layout: &Layout,
    store_stream: &mut dyn Read,
) -> Result<RestoredMember, NodeError> {
    let opts = mvcc::StoreOptions {
        quota_bytes: config.quota_backend_bytes,
        ..mvcc::StoreOptions::default()
    };
    let store = mvcc::Store::restore(&layout.store, store_stream, opts)
        .map_err(|e| storage_error("restore store", e))?;
    store
        .sync_to_disk()
        .map_err(|e| storage_error("sync restored store", e))?;
    // A store always holds at least the bootstrap conf changes; index 0 would mean "no snapshot".
    let snapshot_index = store.applied_index().max(1);
    let revision = store.current_revision();
    drop(store);

    let (member_id, cluster_id) = boot::derived_ids(config);
    let members = boot::initial_members(config);
    let mut state = SnapshotState::default();
    for member in &members {
        state.membership.apply_conf_change(&boot::add_node(member)?);
    }
    let snapshot = Snapshot {
        metadata: SnapshotMetadata {
            conf_state: ConfState {
                voters: members.iter().map(|m| m.id).collect(),
                ..ConfState::default()
            },
            index: snapshot_index,
            term: RESTORED_TERM,
        },
        data: proposal::encode(&state).map_err(NodeError::Storage)?,
    };
    Snapshotter::new(&layout.snap, config.max_snapshots.max(1))
        .and_then(|s| s.save(&snapshot))
        .map_err(|e| storage_error("save snapshot", e))?;

    let metadata = WalMetadata {
        cluster_id,
        member_id,
        name: config.name.clone(),
    };
    let meta_bytes = proposal::encode(&metadata).map_err(NodeError::Storage)?;
    let mut wal = Wal::create(&layout.wal, &meta_bytes, WalOptions::default())
        .map_err(|e| storage_error("create WAL", e))?;
    wal.save_snapshot(WalSnapshot {
        index: snapshot_index,
        term: RESTORED_TERM,
    })
    .map_err(|e| storage_error("WAL snapshot marker", e))?;
    let hard_state = HardState {
        term: RESTORED_TERM,
        vote: 0,
        commit: snapshot_index,
    };
    wal.save(&hard_state, &[])
        .map_err(|e| storage_error("WAL save", e))?;
    Ok(RestoredMember {
        cluster_id,
        member_id,
        snapshot_index,
        revision,
    })
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use raft_core::Storage;

    use super::*;

    const CLUSTER: &str = "--initial-cluster=default=http://localhost:2380,b=http://127.0.0.1:9,c=http://127.0.0.1:10";

    fn config(dir: &Path) -> ServerConfig {
        let args: Vec<OsString> = vec![
            "keel".into(),
            format!("--data-dir={}", dir.display()).into(),
            CLUSTER.into(),
            "--initial-cluster-token=restored".into(),
        ];
        ServerConfig::load_from(args, &|_| None).unwrap()
    }

    /// A store stream whose consistent index is 7, holding `k`.
    fn store_stream() -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let store = mvcc::Store::open(dir.path(), mvcc::StoreOptions::default()).unwrap();
        let put = mvcc::PutRequest {
            key: b"k".to_vec(),
            value: b"v".to_vec(),
            ..Default::default()
        };
        store.apply(7, mvcc::WriteOp::Put(put)).unwrap();
        let mut stream = Vec::new();
        store.write_snapshot(&mut stream).unwrap();
        stream
    }

    #[test]
    fn restored_directory_boots_with_the_new_membership_and_the_data() {
        let stream = store_stream();
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(&dir.path().join("a"));
        let restored = write_member_dir(&cfg, &mut &stream[..]).unwrap();
        assert_eq!(restored.snapshot_index, 7);
        assert_eq!(
            (restored.member_id, restored.cluster_id),
            boot::derived_ids(&cfg)
        );

        let booted = boot::boot(&cfg, &Layout::new(&cfg)).unwrap();
        assert!(!booted.is_new);
        assert_eq!((booted.applied, booted.snapshot_index), (7, 7));
        assert_eq!(booted.member_id, restored.member_id);
        assert_eq!(booted.conf_state.voters.len(), 3);
        assert_eq!(booted.state.membership.members().count(), 3);
        assert_eq!(booted.storage.hard_state().commit, 7);
        assert_eq!(booted.storage.last_index().unwrap(), 7);
        let got = booted
            .store
            .range(&mvcc::RangeRequest {
                key: b"k".to_vec(),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(got.kvs[0].value, b"v");
        drop(booted);

        assert!(matches!(
            write_member_dir(&cfg, &mut &stream[..]),
            Err(NodeError::Refused(_))
        ));
        let other = config(&dir.path().join("b"));
        let mut corrupt = stream.clone();
        corrupt[20] ^= 1;
        assert!(write_member_dir(&other, &mut &corrupt[..]).is_err());
        assert!(
            is_empty_dir(&other.data_dir),
            "a failed restore leaves nothing"
        );
    }
}
