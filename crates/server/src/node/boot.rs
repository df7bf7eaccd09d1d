//! Starting a member from its data directory: a new cluster, or a restart.
//!
//! Layout (as etcd's, plus the store): `<data-dir>/member/wal/` (or
//! `--wal-dir`), `<data-dir>/member/snap/` (`.snap` files and received store
//! snapshots `<index:016x>.snap.db`), `<data-dir>/member/store/` (RocksDB).
//!
//! A new cluster is bootstrapped as etcd does it: every member writes the
//! same first entries, one `AddNode` conf change per initial member (term 1,
//! indexes 1..=n, committed), whose contexts hold the members' names and peer
//! URLs; raft starts with those voters. A restart loads the newest snapshot
//! the WAL knows, reads the WAL after it, rebuilds the raft log in memory, and
//! sets raft's applied index to the snapshot's: everything after it is handed
//! out again and re-applied, the store skipping what it already has (its
//! consistent index), the membership and alarms being rebuilt.

use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;

use raft_core::ConfChange;
use raft_core::ConfChangeType;
use raft_core::ConfState;
use raft_core::Entry;
use raft_core::EntryType;
use raft_core::HardState;
use raft_core::MemStorage;
use serde::Deserialize;
use serde::Serialize;
use wal::Snapshotter;
use wal::Wal;
use wal::WalOptions;
use wal::WalSnapshot;

use super::NodeError;
use super::membership::MemberRecord;
use super::membership::Membership;
use super::membership::encode_record;
use super::proposal;
use super::proposal::SnapshotState;
use crate::config::ClusterState;
use crate::config::ServerConfig;
use crate::config::Url;
use crate::ids;

/// What the WAL's metadata record holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WalMetadata {
    /// The cluster id.
    pub(crate) cluster_id: u64,
    /// This member's id.
    pub(crate) member_id: u64,
    /// This member's name when the data directory was made.
    pub(crate) name: String,
}

/// Everything a member starts with.
#[derive(Debug)]
pub(crate) struct Booted {
    /// The cluster id.
    pub(crate) cluster_id: u64,
    /// This member's id.
    pub(crate) member_id: u64,
    /// The open WAL.
    pub(crate) wal: Wal,
    /// The snapshot files.
    pub(crate) snapshotter: Snapshotter,
    /// The raft log rebuilt in memory.
    pub(crate) storage: MemStorage,
    /// raft's `Config::applied`.
    pub(crate) applied: u64,
    /// The index of the newest snapshot (0 when none).
    pub(crate) snapshot_index: u64,
    /// The membership as of `applied`, with the conf state it implies.
    pub(crate) conf_state: ConfState,
    /// Server state from the snapshot (membership and alarms), folded forward.
    pub(crate) state: SnapshotState,
    /// The store.
    pub(crate) store: Arc<mvcc::Store>,
    /// True when the WAL was just created.
    pub(crate) is_new: bool,
}

/// Where the member's files live.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// `member/wal` or `--wal-dir`.
    pub(crate) wal: PathBuf,
    /// `member/snap`.
    pub(crate) snap: PathBuf,
    /// `member/store`.
    pub(crate) store: PathBuf,
}

impl Layout {
    /// The layout for a configuration.
    pub(crate) fn new(config: &ServerConfig) -> Layout {
        let member = config.data_dir.join("member");
        Layout {
            wal: config.wal_dir.clone(),
            snap: member.join("snap"),
            store: member.join("store"),
        }
    }

    /// Where a received store snapshot for raft index `index` is kept until installed.
    pub(crate) fn received_store(&self, index: u64) -> PathBuf {
        self.snap.join(format!("{index:016x}.snap.db"))
    }
}

fn storage_error(what: &str, e: impl std::fmt::Display) -> NodeError {
    NodeError::Storage(format!("{what}: {e}"))
}

/// Opens or creates the member's data directory.
pub(crate) fn boot(config: &ServerConfig, layout: &Layout) -> Result<Booted, NodeError> {
    boot_with(config, layout, None)
}

/// Creates the data directory of a member joining a running cluster, with
/// the ids the cluster told it ([`super::join`]).
pub(crate) fn boot_joining(
    config: &ServerConfig,
    layout: &Layout,
    member_id: u64,
    cluster_id: u64,
) -> Result<Booted, NodeError> {
    boot_with(config, layout, Some((member_id, cluster_id)))
}

fn boot_with(
    config: &ServerConfig,
    layout: &Layout,
    joined: Option<(u64, u64)>,
) -> Result<Booted, NodeError> {
    std::fs::create_dir_all(&layout.snap).map_err(|e| storage_error("create snap dir", e))?;
    // Test only (KEEL_FAULT_INJECTION=1): after a power-off the store loses what it had not synced.
    crate::http::fault::roll_back_after_power_cut(&layout.store)
        .map_err(|e| storage_error("roll the store back after a power cut", e))?;
    let snapshotter = Snapshotter::new(&layout.snap, config.max_snapshots)
        .map_err(|e| storage_error("snapshotter", e))?;
    let wal_options = WalOptions {
        max_wals: config.max_wals.max(1),
        // Test only (KEEL_FAULT_INJECTION=1): unsynced bytes kept apart for power-off.
        fs: crate::http::fault::wal_file_system(),
        ..WalOptions::default()
    };
    let booted = if Wal::exists(&layout.wal) {
        if config.force_new_cluster {
            super::force_new_cluster::force_new_cluster(
                layout,
                wal_options.clone(),
                config.max_snapshots,
                stored_applied_index(config, layout)?,
            )?;
        }
        restart(config, layout, snapshotter, wal_options)
    } else {
        bootstrap(config, layout, snapshotter, wal_options, joined)
    }?;
    crate::http::fault::store_booted(&booted.store).map_err(NodeError::Storage)?;
    Ok(booted)
}

/// The ids of the initial members, sorted by id, with their records.
pub(crate) fn initial_members(config: &ServerConfig) -> Vec<MemberRecord> {
    let mut members: Vec<MemberRecord> = config
        .initial_cluster
        .iter()
        .map(|m| {
            let peer_urls: Vec<String> = m.peer_urls.iter().map(Url::to_string).collect();
            MemberRecord {
                id: ids::member_id(&peer_urls, &config.initial_cluster_token),
                name: m.name.clone(),
                peer_urls,
                client_urls: Vec::new(),
                is_learner: false,
            }
        })
        .collect();
    members.sort_by_key(|m| m.id);
    members
}

/// This member's id and the cluster's, as the flags derive them.
pub(crate) fn derived_ids(config: &ServerConfig) -> (u64, u64) {
    let members = initial_members(config);
    let my_urls = config.peer_url_strings();
    let member_id = ids::member_id(&my_urls, &config.initial_cluster_token);
    let cluster_id = ids::cluster_id(&members.iter().map(|m| m.id).collect::<Vec<_>>());
    (member_id, cluster_id)
}

/// The store's consistent index (the last raft index it applied), the store
/// closed again on return.
pub(crate) fn stored_applied_index(
    config: &ServerConfig,
    layout: &Layout,
) -> Result<u64, NodeError> {
    Ok(open_store(config, layout)?.applied_index())
}

fn open_store(config: &ServerConfig, layout: &Layout) -> Result<Arc<mvcc::Store>, NodeError> {
    crate::http::metrics::global()
        .quota_backend_bytes
        .set(i64::try_from(config.quota_backend_bytes).unwrap_or(i64::MAX));
    let opts = mvcc::StoreOptions {
        quota_bytes: config.quota_backend_bytes,
        ..mvcc::StoreOptions::default()
    };
    let store =
        mvcc::Store::open(&layout.store, opts).map_err(|e| storage_error("open store", e))?;
    Ok(Arc::new(store))
}

fn bootstrap(
    config: &ServerConfig,
    layout: &Layout,
    snapshotter: Snapshotter,
    wal_options: WalOptions,
    joined: Option<(u64, u64)>,
) -> Result<Booted, NodeError> {
    let (member_id, cluster_id) = joined.unwrap_or_else(|| derived_ids(config));
    let members = initial_members(config);
    let metadata = WalMetadata {
        cluster_id,
        member_id,
        name: config.name.clone(),
    };
    let store = open_store(config, layout)?;
    if store.applied_index() > 0 {
        return Err(NodeError::Refused(format!(
            "{} holds a store but no WAL: refusing to start a new member over it",
            config.data_dir.display()
        )));
    }
    let meta_bytes = proposal::encode(&metadata).map_err(NodeError::Storage)?;
    let mut wal = Wal::create(&layout.wal, &meta_bytes, wal_options)
        .map_err(|e| storage_error("create WAL", e))?;
    let mut storage;
    let mut conf_state = ConfState::default();
    let mut state = SnapshotState::default();
    if config.initial_cluster_state == ClusterState::New {
        let entries = bootstrap_entries(&members)?;
        let hard_state = HardState {
            term: 1,
            vote: 0,
            commit: entries.len() as u64,
        };
        wal.save(&hard_state, &entries)
            .map_err(|e| storage_error("WAL save", e))?;
        conf_state.voters = members.iter().map(|m| m.id).collect();
        storage = MemStorage::new_with_conf_state(conf_state.clone());
        storage.set_hard_state(hard_state);
        storage
            .append(&entries)
            .map_err(|e| storage_error("raft log", e))?;
        for member in &members {
            state.membership.apply_conf_change(&add_node(member)?);
        }
    } else {
        // Joining an existing cluster: the leader sends the log (or a snapshot).
        storage = MemStorage::new();
    }
    tracing::info!(
        cluster_id = format!("{cluster_id:x}"),
        member_id = format!("{member_id:x}"),
        "bootstrapped a new member"
    );
    Ok(Booted {
        cluster_id,
        member_id,
        wal,
        snapshotter,
        storage,
        applied: 0,
        snapshot_index: 0,
        conf_state,
        state,
        store,
        is_new: true,
    })
}

/// The conf change that adds `member` as a voter, its record as the context.
pub(crate) fn add_node(member: &MemberRecord) -> Result<ConfChange, NodeError> {
    Ok(ConfChange {
        change_type: ConfChangeType::AddNode,
        node_id: member.id,
        context: encode_record(member),
    })
}

fn bootstrap_entries(members: &[MemberRecord]) -> Result<Vec<Entry>, NodeError> {
    members
        .iter()
        .zip(1u64..)
        .map(|(member, index)| {
            let data = add_node(member)?
                .encode()
                .map_err(|e| storage_error("encode conf change", e))?;
            Ok(Entry {
                term: 1,
                index,
                entry_type: EntryType::ConfChange,
                data,
            })
        })
        .collect()
}

fn restart(
    config: &ServerConfig,
    layout: &Layout,
    snapshotter: Snapshotter,
    wal_options: WalOptions,
) -> Result<Booted, NodeError> {
    let walsnaps =
        wal::valid_snapshot_entries(&layout.wal).map_err(|e| storage_error("read WAL", e))?;
    let snapshot = snapshotter
        .load_newest_available(&walsnaps)
        .map_err(|e| storage_error("load snapshot", e))?;
    let from = snapshot
        .as_ref()
        .map_or(WalSnapshot::default(), |s| WalSnapshot {
            index: s.metadata.index,
            term: s.metadata.term,
        });
    let (mut wal, mut contents) =
        Wal::open(&layout.wal, from, wal_options).map_err(|e| storage_error("open WAL", e))?;
    let metadata: WalMetadata =
        proposal::decode(&contents.metadata).map_err(|e| storage_error("WAL metadata", e))?;
    check_identity(config, &metadata)?;
    let empty = snapshot.is_none() && contents.entries.is_empty() && contents.hard_state.is_empty();
    if empty && config.initial_cluster_state == ClusterState::New {
        // A crash between creating the WAL and saving the bootstrap entries: finish the bootstrap.
        let entries = bootstrap_entries(&initial_members(config))?;
        let hard_state = HardState {
            term: 1,
            vote: 0,
            commit: entries.len() as u64,
        };
        wal.save(&hard_state, &entries)
            .map_err(|e| storage_error("WAL save", e))?;
        contents.entries = entries;
        contents.hard_state = hard_state;
    }
    let snapshot_index = from.index;
    install_received_store(config, layout, snapshot_index)?;
    let store = open_store(config, layout)?;
    let wal_last = contents.entries.last().map_or(snapshot_index, |e| e.index);
    super::store_floor::check(&layout.store, store.applied_index(), wal_last)?;
    let mut storage = MemStorage::new();
    let mut conf_state = ConfState::default();
    let mut state = SnapshotState::default();
    if let Some(snap) = snapshot {
        conf_state = snap.metadata.conf_state.clone();
        if !snap.data.is_empty() {
            state = proposal::decode(&snap.data).map_err(|e| storage_error("snapshot state", e))?;
        }
        storage
            .apply_snapshot(snap)
            .map_err(|e| storage_error("raft log", e))?;
    }
    storage.set_hard_state(contents.hard_state);
    storage
        .append(&contents.entries)
        .map_err(|e| storage_error("raft log", e))?;
    let commit = contents.hard_state.commit;
    for entry in contents
        .entries
        .iter()
        .filter(|e| e.index <= commit && e.entry_type == EntryType::ConfChange)
    {
        let cc = ConfChange::decode(&entry.data).map_err(|e| storage_error("conf change", e))?;
        fold_conf_state(&mut conf_state, &cc);
        state.membership.apply_conf_change(&cc);
    }
    storage.set_conf_state(conf_state.clone());
    tracing::info!(
        snapshot_index,
        entries = contents.entries.len(),
        commit,
        store_applied = store.applied_index(),
        "restarting from the data directory"
    );
    Ok(Booted {
        cluster_id: metadata.cluster_id,
        member_id: metadata.member_id,
        wal,
        snapshotter,
        storage,
        applied: snapshot_index,
        snapshot_index,
        conf_state,
        state,
        store,
        is_new: false,
    })
}

/// A data directory of another member or cluster is refused.
fn check_identity(config: &ServerConfig, metadata: &WalMetadata) -> Result<(), NodeError> {
    if metadata.name != config.name {
        return Err(NodeError::Refused(format!(
            "{} belongs to member {:?}, not {:?} (--name)",
            config.data_dir.display(),
            metadata.name,
            config.name
        )));
    }
    let (member_id, cluster_id) = derived_ids(config);
    if config.initial_cluster_state == ClusterState::New
        && !config.force_new_cluster
        && (cluster_id != metadata.cluster_id || member_id != metadata.member_id)
    {
        return Err(NodeError::Refused(format!(
            "{} belongs to cluster {:x} (member {:x}), but the flags describe cluster {cluster_id:x} (member {member_id:x}): \
             check --initial-cluster and --initial-cluster-token",
            config.data_dir.display(),
            metadata.cluster_id,
            metadata.member_id
        )));
    }
    Ok(())
}

/// If a store snapshot received from the leader was persisted but not yet
/// installed (a crash in between), installs it now.
fn install_received_store(
    config: &ServerConfig,
    layout: &Layout,
    snapshot_index: u64,
) -> Result<(), NodeError> {
    let received = layout.received_store(snapshot_index);
    if snapshot_index == 0 || !received.exists() {
        return Ok(());
    }
    let applied = {
        let store = open_store(config, layout)?;
        store.applied_index()
    };
    if applied >= snapshot_index {
        return Ok(());
    }
    tracing::warn!(
        snapshot_index,
        applied,
        "the store is behind the snapshot: installing the received store"
    );
    replace_store(config, &layout.store, &received)?;
    // The store now holds everything up to the snapshot: the stream is no longer needed.
    std::fs::remove_file(&received).map_err(|e| storage_error("remove installed snapshot data", e))
}

/// Replaces the store directory with the store in a snapshot stream file.
pub(crate) fn replace_store(
    config: &ServerConfig,
    store_dir: &Path,
    stream: &Path,
) -> Result<(), NodeError> {
    let staging = store_dir.with_extension("restoring");
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| storage_error("remove staging store", e))?;
    }
    let mut input =
        std::fs::File::open(stream).map_err(|e| storage_error("open received store", e))?;
    let opts = mvcc::StoreOptions {
        quota_bytes: config.quota_backend_bytes,
        ..mvcc::StoreOptions::default()
    };
    let restored = mvcc::Store::restore(&staging, &mut input, opts)
        .map_err(|e| storage_error("restore store", e))?;
    restored
        .sync_to_disk()
        .map_err(|e| storage_error("sync restored store", e))?;
    // It may hold entries the WAL receives only later.
    super::store_floor::record(store_dir, restored.applied_index())?;
    // Test only (KEEL_FAULT_INJECTION=1): a power cut from here on leaves this store.
    crate::http::fault::store_synced(&restored).map_err(NodeError::Storage)?;
    drop(restored);
    if store_dir.exists() {
        std::fs::remove_dir_all(store_dir).map_err(|e| storage_error("remove old store", e))?;
    }
    std::fs::rename(&staging, store_dir).map_err(|e| storage_error("install store", e))?;
    if let Some(parent) = store_dir.parent() {
        std::fs::File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(|e| storage_error("sync member dir", e))?;
    }
    Ok(())
}

/// Applies a conf change to a conf state, as raft's tracker does.
pub(crate) fn fold_conf_state(cs: &mut ConfState, cc: &ConfChange) {
    let id = cc.node_id;
    match cc.change_type {
        ConfChangeType::AddNode => {
            cs.learners.retain(|&l| l != id);
            if !cs.voters.contains(&id) {
                cs.voters.push(id);
                cs.voters.sort_unstable();
            }
        }
        ConfChangeType::AddLearnerNode => {
            if !cs.voters.contains(&id) && !cs.learners.contains(&id) {
                cs.learners.push(id);
                cs.learners.sort_unstable();
            }
        }
        ConfChangeType::RemoveNode => {
            cs.voters.retain(|&v| v != id);
            cs.learners.retain(|&l| l != id);
        }
    }
}

/// The members' records, as the membership holds them, for the transport.
pub(crate) fn peers(membership: &Membership, member_id: u64) -> Vec<(u64, Vec<String>)> {
    membership
        .members()
        .filter(|m| m.id != member_id)
        .map(|m| (m.id, m.peer_urls.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use raft_core::Storage;

    use super::*;

    fn config(dir: &Path, extra: &[&str]) -> ServerConfig {
        let mut args: Vec<OsString> = vec![
            "keel".into(),
            format!("--data-dir={}", dir.display()).into(),
        ];
        args.extend(extra.iter().map(OsString::from));
        ServerConfig::load_from(args, &|_| None).unwrap()
    }

    #[test]
    fn new_cluster_bootstraps_members_and_restart_rebuilds_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let cluster = "--initial-cluster=default=http://localhost:2380,b=http://127.0.0.1:9,c=http://127.0.0.1:10";
        let cfg = config(dir.path(), &[cluster]);
        let layout = Layout::new(&cfg);
        let booted = boot(&cfg, &layout).unwrap();
        assert!(booted.is_new);
        assert_eq!(booted.conf_state.voters.len(), 3);
        assert_eq!(booted.storage.last_index().unwrap(), 3);
        assert_eq!(booted.storage.hard_state().commit, 3);
        assert_eq!(booted.state.membership.members().count(), 3);
        let (member_id, cluster_id) = (booted.member_id, booted.cluster_id);
        drop(booted);

        let again = boot(&cfg, &layout).unwrap();
        assert!(!again.is_new);
        assert_eq!((again.member_id, again.cluster_id), (member_id, cluster_id));
        assert_eq!(
            again.conf_state.voters.len(),
            3,
            "membership folded from the WAL"
        );
        assert_eq!(again.storage.last_index().unwrap(), 3);
        assert_eq!(again.applied, 0);
        drop(again);

        let other = config(dir.path(), &[cluster, "--initial-cluster-token=other"]);
        assert!(matches!(boot(&other, &layout), Err(NodeError::Refused(_))));
        let renamed = config(
            dir.path(),
            &[
                "--name=b",
                "--initial-advertise-peer-urls=http://127.0.0.1:9",
                cluster,
            ],
        );
        assert!(matches!(
            boot(&renamed, &Layout::new(&renamed)),
            Err(NodeError::Refused(_))
        ));
    }
}
