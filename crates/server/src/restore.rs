//! Backups and recovery: the snapshot file that `Maintenance.Snapshot`
//! streams, its status, restoring a new cluster from it, and the offline
//! force-new-cluster. `keelctl snapshot status|restore` and
//! `keelctl force-new-cluster` call these functions.
//!
//! # The snapshot file
//!
//! What a member streams (`etcdctl snapshot save` / `keelctl snapshot save`
//! write it unchanged), in order:
//!
//! | bytes | content |
//! |---|---|
//! | 16 | magic `keel-snapshot-1\n` ([`FILE_MAGIC`]) |
//! | 8 | source cluster id, little-endian |
//! | 8 | source member id, little-endian |
//! | 8 | `store_bytes`: length of the store stream, little-endian |
//! | 8 | creation time, seconds since the Unix epoch, little-endian |
//! | 16 | zeros (reserved) |
//! | `store_bytes` | the store stream: `mvcc`'s point-in-time export ([`mvcc::SNAPSHOT_MAGIC`], then the stored records, then its own CRC32C) |
//! | 0..511 | zeros, so that everything so far is a multiple of 512 bytes |
//! | 32 | the sha256 of everything before it |
//!
//! The length is therefore a multiple of 512 plus 32, the shape etcd's
//! clients check (etcd's database files are whole pages). A file whose length
//! or sha256 does not fit is refused ([`RestoreError::Truncated`],
//! [`RestoreError::ChecksumMismatch`]); the store stream's CRC32C guards it
//! again when it is restored. The store stream carries the consistent index:
//! the last raft index it holds.
//!
//! # Restore
//!
//! [`restore`] writes a new member's data directory from a file, as
//! etcdutl's `snapshot restore`: the store, a raft snapshot at the store's
//! consistent index holding the new membership (ids derived from the new
//! `--initial-cluster` and `--initial-cluster-token`), and a WAL with that
//! snapshot's marker and the hard state that commits it. Each member of the
//! new cluster is restored from the same file with its own `--name` and
//! `--initial-advertise-peer-urls`, then started with the same flags and
//! `--initial-cluster-state new`.
//!
//! # Force-new-cluster
//!
//! [`force_new_cluster`] is `keel --force-new-cluster` on a stopped member's
//! data directory: the member becomes the only member of its cluster,
//! keeping every committed entry (see `node/force_new_cluster.rs`).

mod file_format;
mod status;

use std::ffi::OsString;
use std::path::Path;
use std::path::PathBuf;

pub use self::file_format::BLOCK_BYTES;
pub use self::file_format::FILE_MAGIC;
pub use self::file_format::FileHeader;
pub use self::file_format::HEADER_BYTES;
pub use self::file_format::SHA256_BYTES;
pub use self::file_format::verify_file;
pub use self::status::SnapshotStatus;
pub use self::status::status;
use crate::config::ServerConfig;
use crate::node::NodeError;

/// Why a snapshot file could not be read or restored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RestoreError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file does not start with [`FILE_MAGIC`].
    #[error("{} is not a keel snapshot file", path.display())]
    NotASnapshot {
        /// The file.
        path: PathBuf,
    },
    /// The file's length is not what a whole snapshot file has.
    #[error("snapshot file {} is truncated or padded wrongly ({file_bytes} bytes)", path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Its length.
        file_bytes: u64,
    },
    /// The sha256 at the end of the file does not match its contents.
    #[error("snapshot file {} is corrupt: its sha256 is {stored}, its contents hash to {computed}", path.display())]
    ChecksumMismatch {
        /// The file.
        path: PathBuf,
        /// The sha256 the file ends with, in hex.
        stored: String,
        /// The sha256 of its contents, in hex.
        computed: String,
    },
    /// The store stream could not be restored or read.
    #[error("store: {0}")]
    Store(#[from] mvcc::Error),
    /// The flags are invalid.
    #[error("{0}")]
    Config(String),
    /// Writing the member's data directory failed, or it was refused.
    #[error(transparent)]
    Node(#[from] NodeError),
}

/// The flags of `snapshot restore`, as etcdctl's.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// `--name`.
    pub name: String,
    /// `--data-dir` (default `<name>.etcd`, as etcdctl).
    pub data_dir: Option<PathBuf>,
    /// `--wal-dir` (default `<data-dir>/member/wal`).
    pub wal_dir: Option<PathBuf>,
    /// `--initial-cluster`.
    pub initial_cluster: String,
    /// `--initial-cluster-token`.
    pub initial_cluster_token: String,
    /// `--initial-advertise-peer-urls`.
    pub initial_advertise_peer_urls: String,
    /// `--skip-hash-check`: do not check the file's sha256.
    pub skip_hash_check: bool,
}

/// What [`restore`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The data directory written.
    pub data_dir: PathBuf,
    /// The new cluster's id.
    pub cluster_id: u64,
    /// The new member's id.
    pub member_id: u64,
    /// The raft index of the restored snapshot (the store's consistent index).
    pub snapshot_index: u64,
    /// The store's revision.
    pub revision: i64,
}

impl RestoreOptions {
    /// The member configuration these flags describe, parsed as `keel` would.
    fn server_config(&self) -> Result<ServerConfig, RestoreError> {
        let data_dir = self
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("{}.etcd", self.name)));
        let mut args: Vec<OsString> = vec![
            "keel".into(),
            format!("--name={}", self.name).into(),
            flag("--data-dir", &data_dir),
            format!("--initial-cluster={}", self.initial_cluster).into(),
            format!("--initial-cluster-token={}", self.initial_cluster_token).into(),
            format!(
                "--initial-advertise-peer-urls={}",
                self.initial_advertise_peer_urls
            )
            .into(),
            "--initial-cluster-state=new".into(),
        ];
        if let Some(wal_dir) = &self.wal_dir {
            args.push(flag("--wal-dir", wal_dir));
        }
        ServerConfig::load_from(args, &|_| None).map_err(|e| RestoreError::Config(e.to_string()))
    }
}

fn flag(name: &str, path: &Path) -> OsString {
    let mut flag = OsString::from(format!("{name}="));
    flag.push(path.as_os_str());
    flag
}

/// Writes a new member's data directory from the snapshot file at `file`
/// (see the [module manual](self)); refuses a non-empty data directory.
pub fn restore(file: &Path, options: &RestoreOptions) -> Result<Restored, RestoreError> {
    let config = options.server_config()?;
    let (_, mut section) = file_format::store_section(file, options.skip_hash_check)?;
    let written = crate::node::write_member_dir(&config, &mut section)?;
    Ok(Restored {
        data_dir: config.data_dir,
        cluster_id: written.cluster_id,
        member_id: written.member_id,
        snapshot_index: written.snapshot_index,
        revision: written.revision,
    })
}

/// What [`force_new_cluster`] changed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ForcedCluster {
    /// The member's id, now the only member.
    pub member_id: u64,
    /// The ids of the members removed (empty: it was alone already).
    pub removed: Vec<u64>,
    /// Uncommitted entries discarded.
    pub discarded_entries: u64,
    /// The commit index after the rewrite.
    pub commit_index: u64,
}

/// `keel --force-new-cluster` offline: rewrites the stopped member's data
/// directory so that it starts as the only member of its cluster.
pub fn force_new_cluster(
    data_dir: &Path,
    wal_dir: Option<&Path>,
) -> Result<ForcedCluster, RestoreError> {
    let mut args: Vec<OsString> = vec!["keel".into(), flag("--data-dir", data_dir)];
    if let Some(wal_dir) = wal_dir {
        args.push(flag("--wal-dir", wal_dir));
    }
    let config = ServerConfig::load_from(args, &|_| None)
        .map_err(|e| RestoreError::Config(e.to_string()))?;
    if !wal::Wal::exists(&config.wal_dir) {
        return Err(RestoreError::Config(format!(
            "{} holds no WAL: not a member's data directory",
            config.wal_dir.display()
        )));
    }
    Ok(crate::node::force_new_cluster_offline(&config)?)
}
