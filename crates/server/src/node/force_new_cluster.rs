//! `--force-new-cluster`: a member whose cluster lost its majority for good
//! becomes the only member of its cluster, keeping every committed entry.
//!
//! As etcd does it: read the data directory (newest snapshot, then the WAL),
//! take the membership as of the commit index, discard the entries after the
//! commit index (never acknowledged: a client sees a write only once it is
//! committed), append one `RemoveNode` conf change per other member at the
//! current term, and save them with a hard state that commits them. The boot
//! then restarts as usual: the committed removals fold into the membership,
//! raft starts with this member as its sole voter, campaigns alone, and the
//! cluster id, member id and data stay. Members can be added again afterwards.
//! Running it on a member that is already alone changes nothing.

use raft_core::ConfChange;
use raft_core::ConfChangeType;
use raft_core::ConfState;
use raft_core::Entry;
use raft_core::EntryType;
use raft_core::HardState;
use wal::Snapshotter;
use wal::Wal;
use wal::WalOptions;
use wal::WalSnapshot;

use super::NodeError;
use super::boot;
use super::boot::Layout;
use super::boot::WalMetadata;
use super::proposal;
use crate::config::ServerConfig;
use crate::restore::ForcedCluster;

fn storage_error(what: &str, e: impl std::fmt::Display) -> NodeError {
    NodeError::Storage(format!("{what}: {e}"))
}

/// [`force_new_cluster`] on the data directory of `config`.
pub(crate) fn force_new_cluster_offline(config: &ServerConfig) -> Result<ForcedCluster, NodeError> {
    let wal_options = WalOptions {
        max_wals: config.max_wals.max(1),
        ..WalOptions::default()
    };
    let layout = Layout::new(config);
    let store_applied = boot::stored_applied_index(config, &layout)?;
    force_new_cluster(&layout, wal_options, config.max_snapshots, store_applied)
}

/// Rewrites the WAL of the data directory at `layout` so that this member is
/// the only one, as described in the module manual. The member must be stopped.
/// `store_applied` is the store's consistent index: the WAL does not sync a
/// state that only moves the commit index, so after a power cut the store may
/// know entries committed beyond the WAL's commit index, and those are kept.
pub(crate) fn force_new_cluster(
    layout: &Layout,
    wal_options: WalOptions,
    max_snapshots: usize,
    store_applied: u64,
) -> Result<ForcedCluster, NodeError> {
    let snapshotter = Snapshotter::new(&layout.snap, max_snapshots.max(1))
        .map_err(|e| storage_error("snapshotter", e))?;
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
    let (mut wal, contents) =
        Wal::open(&layout.wal, from, wal_options).map_err(|e| storage_error("open WAL", e))?;
    let metadata: WalMetadata =
        proposal::decode(&contents.metadata).map_err(|e| storage_error("WAL metadata", e))?;
    let member_id = metadata.member_id;
    let hard_state = contents.hard_state;
    let last_index = contents.entries.last().map_or(from.index, |e| e.index);
    let commit = hard_state
        .commit
        .max(from.index)
        .max(store_applied.min(last_index));
    let mut conf_state = snapshot.map(|s| s.metadata.conf_state).unwrap_or_default();
    for entry in contents
        .entries
        .iter()
        .filter(|e| e.index <= commit && e.entry_type == EntryType::ConfChange)
    {
        let cc = ConfChange::decode(&entry.data).map_err(|e| storage_error("conf change", e))?;
        boot::fold_conf_state(&mut conf_state, &cc);
    }
    check_voter(&conf_state, member_id)?;
    let removed = others(&conf_state, member_id);
    let discarded_entries = contents.entries.iter().filter(|e| e.index > commit).count() as u64;
    if removed.is_empty() {
        tracing::info!("--force-new-cluster: this member is already alone; nothing to change");
        return Ok(ForcedCluster {
            member_id,
            commit_index: commit,
            ..ForcedCluster::default()
        });
    }
    let entries = removals(&removed, commit, hard_state.term)?;
    let last = entries.last().map_or(commit, |e| e.index);
    let new_state = HardState {
        commit: last,
        ..hard_state
    };
    // The removals replace the uncommitted suffix, in the same durable save.
    wal.save(&new_state, &entries)
        .map_err(|e| storage_error("WAL save", e))?;
    tracing::warn!(
        member_id = format!("{member_id:x}"),
        removed = ?removed.iter().map(|id| format!("{id:x}")).collect::<Vec<_>>(),
        discarded_entries,
        commit = last,
        "--force-new-cluster: this member is now the only member of its cluster"
    );
    Ok(ForcedCluster {
        member_id,
        removed,
        discarded_entries,
        commit_index: last,
    })
}

fn check_voter(conf_state: &ConfState, member_id: u64) -> Result<(), NodeError> {
    if conf_state.voters.contains(&member_id) {
        return Ok(());
    }
    let role = if conf_state.learners.contains(&member_id) {
        "a learner"
    } else {
        "not a member"
    };
    Err(NodeError::Refused(format!(
        "--force-new-cluster: member {member_id:x} is {role} of its cluster as of its commit index; only a voter can carry on alone"
    )))
}

/// Every member but `member_id`, voters and learners, by id.
fn others(conf_state: &ConfState, member_id: u64) -> Vec<u64> {
    let mut ids: Vec<u64> = conf_state
        .voters
        .iter()
        .chain(&conf_state.learners)
        .copied()
        .filter(|&id| id != member_id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// One `RemoveNode` entry per id, right after `commit`, at `term`.
fn removals(ids: &[u64], commit: u64, term: u64) -> Result<Vec<Entry>, NodeError> {
    ids.iter()
        .zip(commit + 1..)
        .map(|(&node_id, index)| {
            let cc = ConfChange {
                change_type: ConfChangeType::RemoveNode,
                node_id,
                context: Default::default(),
            };
            let data = cc
                .encode()
                .map_err(|e| storage_error("encode conf change", e))?;
            Ok(Entry {
                term,
                index,
                entry_type: EntryType::ConfChange,
                data,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::path::Path;

    use raft_core::Storage;

    use super::*;

    fn config(dir: &Path, extra: &[&str]) -> ServerConfig {
        let mut args: Vec<OsString> = vec![
            "keel".into(),
            format!("--data-dir={}", dir.display()).into(),
            "--initial-cluster=default=http://localhost:2380,b=http://127.0.0.1:9,c=http://127.0.0.1:10".into(),
        ];
        args.extend(extra.iter().map(OsString::from));
        ServerConfig::load_from(args, &|_| None).unwrap()
    }

    fn put_entry(index: u64, term: u64) -> Entry {
        Entry {
            term,
            index,
            entry_type: EntryType::Normal,
            data: bytes::Bytes::from_static(b"x"),
        }
    }

    /// A stopped member's data directory whose WAL holds entries 4 to 7 at
    /// term 2 with commit index 5; returns the layout, its id and the entries.
    fn stopped_with_uncommitted_tail(dir: &Path) -> (Layout, u64, Vec<Entry>) {
        let cfg = config(dir, &[]);
        let layout = Layout::new(&cfg);
        let mut booted = boot::boot(&cfg, &layout).unwrap();
        let me = booted.member_id;
        let entries: Vec<Entry> = (4..=7).map(|i| put_entry(i, 2)).collect();
        let hs = HardState {
            term: 2,
            vote: me,
            commit: 5,
        };
        booted.wal.save(&hs, &entries).unwrap();
        (layout, me, entries)
    }

    #[test]
    fn keeps_committed_entries_discards_the_rest_and_removes_the_others() {
        let dir = tempfile::tempdir().unwrap();
        // Entries 4 and 5 committed at term 2; 6 and 7 appended but never committed.
        let (layout, me, entries) = stopped_with_uncommitted_tail(dir.path());

        let forced = force_new_cluster(&layout, WalOptions::default(), 5, 0).unwrap();
        assert_eq!(forced.member_id, me);
        assert_eq!(forced.removed.len(), 2);
        assert_eq!(forced.discarded_entries, 2);
        assert_eq!(forced.commit_index, 7, "two removals after commit 5");

        let forced_cfg = config(dir.path(), &["--force-new-cluster"]);
        let again = boot::boot(&forced_cfg, &layout).unwrap();
        assert_eq!(again.conf_state.voters, vec![me]);
        assert_eq!(again.state.membership.members().count(), 1);
        assert_eq!(again.storage.hard_state().commit, 7);
        assert_eq!(again.storage.last_index().unwrap(), 7);
        let kept = again.storage.entries(4, 6, None).unwrap();
        assert_eq!(kept, entries[..2].to_vec(), "committed entries are kept");
        let removal = again.storage.entries(6, 7, None).unwrap();
        assert_eq!(removal[0].entry_type, EntryType::ConfChange);
        assert_eq!(removal[0].term, 2);
        drop(again);

        let unchanged = force_new_cluster(&layout, WalOptions::default(), 5, 0).unwrap();
        assert!(unchanged.removed.is_empty(), "a second run changes nothing");
        assert_eq!(unchanged.commit_index, 7);
    }

    #[test]
    fn entries_the_store_applied_beyond_the_wal_commit_index_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        // The WAL says commit 5, but the store applied 6 (the state moving the
        // commit to 6 was not synced and a power cut lost it).
        let (layout, _, _) = stopped_with_uncommitted_tail(dir.path());

        let forced = force_new_cluster(&layout, WalOptions::default(), 5, 6).unwrap();
        assert_eq!(forced.discarded_entries, 1, "only entry 7 is discarded");
        assert_eq!(forced.commit_index, 8, "two removals after commit 6");
    }
}
