//! `snapshot save|status|restore` and keel's offline `force-new-cluster`.
//!
//! `status` and `restore` read keel's snapshot file with the server crate's
//! `restore` module (the file format is documented there); they work
//! offline, without `--endpoints`.

use std::path::Path;

use server::restore;
use server::restore::RestoreOptions;

use super::emit;
use crate::cli::ForceNewClusterArgs;
use crate::cli::RestoreArgs;
use crate::cli::SnapshotCommand;
use crate::connect::Session;
use crate::failure::ExitCode;
use crate::failure::Failure;

/// Dispatches a `snapshot` subcommand.
pub(crate) async fn snapshot(session: &Session, command: &SnapshotCommand) -> anyhow::Result<()> {
    match command {
        SnapshotCommand::Save { args } => super::snapshot_save::save(session, args).await,
        SnapshotCommand::Status { args } => status(session, args),
        SnapshotCommand::Restore(args) => restore(args),
    }
}

fn failed(error: impl std::fmt::Display) -> anyhow::Error {
    Failure::new(ExitCode::Error, error.to_string()).into()
}

/// `snapshot status <file>`: checks the file by its sha256, then prints
/// hash, revision, total keys and total size in the `-w` format.
fn status(session: &Session, args: &[String]) -> anyhow::Result<()> {
    let [path] = args else {
        return Err(Failure::bad_args(
            "snapshot status requires exactly one argument",
        ));
    };
    let status = restore::status(Path::new(path)).map_err(failed)?;
    emit(&session.printer().db_status(&status)?)
}

/// `snapshot restore <file> --data-dir ... --name ... --initial-cluster ...`.
fn restore(args: &RestoreArgs) -> anyhow::Result<()> {
    let [path] = args.args.as_slice() else {
        return Err(Failure::bad_args(
            "snapshot restore requires exactly one argument",
        ));
    };
    let options = RestoreOptions {
        name: args.name.clone(),
        data_dir: args.data_dir.clone(),
        wal_dir: args.wal_dir.clone(),
        initial_cluster: args.initial_cluster.clone(),
        initial_cluster_token: args.initial_cluster_token.clone(),
        initial_advertise_peer_urls: args.initial_advertise_peer_urls.clone(),
        skip_hash_check: args.skip_hash_check,
    };
    eprintln!("restoring snapshot {path} for member {:?}", options.name);
    let restored = restore::restore(Path::new(path), &options).map_err(failed)?;
    eprintln!(
        "restored snapshot into {}: member {:x} of cluster {:x}, revision {}, raft index {}",
        restored.data_dir.display(),
        restored.member_id,
        restored.cluster_id,
        restored.revision,
        restored.snapshot_index
    );
    Ok(())
}

/// `force-new-cluster --data-dir <dir>`: rewrites a stopped member's data
/// directory so that it starts as the only member of its cluster.
pub(crate) fn force_new_cluster(args: &ForceNewClusterArgs) -> anyhow::Result<()> {
    let forced =
        restore::force_new_cluster(&args.data_dir, args.wal_dir.as_deref()).map_err(failed)?;
    if forced.removed.is_empty() {
        return emit(format!(
            "member {:x} is already the only member; nothing changed\n",
            forced.member_id
        ));
    }
    let removed: Vec<String> = forced.removed.iter().map(|id| format!("{id:x}")).collect();
    emit(format!(
        "member {:x} is now the only member (removed {}; {} uncommitted entries discarded; commit index {})\n",
        forced.member_id,
        removed.join(", "),
        forced.discarded_entries,
        forced.commit_index
    ))
}
