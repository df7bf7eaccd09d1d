//! The member's configuration: etcd's flags, environment variables and config
//! file, validated into a [`ServerConfig`] before anything is written.
//!
//! Precedence: the command line, then `ETCD_*` variables, then their `KEEL_*`
//! aliases; with `--config-file`, that file alone (as etcd). Flags that tune
//! etcd internals keel lacks are accepted and reported in
//! [`ServerConfig::ignored_flags`] (main logs one warning line for each).

mod duration;
mod file;
mod flags;
mod ignored;
mod sources;
mod url;
mod validate;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::FromArgMatches;

pub use self::flags::Flags;
pub use self::url::Scheme;
pub use self::url::Url;

/// A configuration error: one line, said before anything is written.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The command line did not parse (unknown flag, bad number, `--help`).
    #[error("{0}")]
    Clap(clap::Error),
    /// A value is wrong or inconsistent with another.
    #[error("{0}")]
    Invalid(String),
}

/// Whether this member starts a new cluster or joins an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterState {
    /// `--initial-cluster-state new`.
    New,
    /// `--initial-cluster-state existing`.
    Existing,
}

/// One member named in `--initial-cluster`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialMember {
    /// Its name.
    pub name: String,
    /// Its peer URLs (a name may be listed more than once).
    pub peer_urls: Vec<Url>,
}

/// `--auto-compaction-mode` with its retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoCompaction {
    /// Keep this much history (`periodic`).
    Periodic(Duration),
    /// Keep this many revisions (`revision`).
    Revision(i64),
}

/// Client-facing TLS (`--cert-file`, `--key-file`, `--trusted-ca-file`, `--client-cert-auth`, `--auto-tls`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTls {
    /// Server certificate.
    pub cert_file: Option<PathBuf>,
    /// Server key.
    pub key_file: Option<PathBuf>,
    /// CA that client certificates must chain to.
    pub trusted_ca_file: Option<PathBuf>,
    /// Require and verify client certificates.
    pub client_cert_auth: bool,
    /// Generate a self-signed certificate when none is given.
    pub auto_tls: bool,
}

/// Peer TLS: QUIC is always encrypted; these choose how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerTls {
    /// Generated certificates (no `--peer-cert-file`).
    Auto,
    /// Certificates from files, verified against the trusted CA.
    Files {
        /// Member certificate.
        cert: PathBuf,
        /// Member key.
        key: PathBuf,
        /// CA that peer certificates must chain to.
        trusted_ca: PathBuf,
        /// Verify the certificates of connecting peers too.
        client_cert_auth: bool,
    },
}

/// The validated configuration of one member.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `--name`.
    pub name: String,
    /// `--data-dir` (default `<name>.keel`).
    pub data_dir: PathBuf,
    /// `--wal-dir`, or `<data-dir>/member/wal`.
    pub wal_dir: PathBuf,
    /// `--listen-client-urls`.
    pub listen_client_urls: Vec<Url>,
    /// `--advertise-client-urls`.
    pub advertise_client_urls: Vec<Url>,
    /// `--listen-peer-urls`.
    pub listen_peer_urls: Vec<Url>,
    /// `--initial-advertise-peer-urls`.
    pub initial_advertise_peer_urls: Vec<Url>,
    /// `--initial-cluster` (default: this member alone at its advertised peer URLs).
    pub initial_cluster: Vec<InitialMember>,
    /// `--initial-cluster-state`.
    pub initial_cluster_state: ClusterState,
    /// `--initial-cluster-token`.
    pub initial_cluster_token: String,
    /// `--heartbeat-interval`.
    pub heartbeat_interval: Duration,
    /// `--election-timeout`.
    pub election_timeout: Duration,
    /// `--snapshot-count`.
    pub snapshot_count: u64,
    /// `--experimental-snapshot-catchup-entries`: raft log kept in memory behind a snapshot.
    pub snapshot_catch_up_entries: u64,
    /// `--max-snapshots` (0 is unlimited).
    pub max_snapshots: usize,
    /// `--max-wals` (0 is unlimited).
    pub max_wals: usize,
    /// `--quota-backend-bytes` (2 GiB when 0; unlimited when negative).
    pub quota_backend_bytes: u64,
    /// `--max-txn-ops`.
    pub max_txn_ops: u32,
    /// `--max-request-bytes`.
    pub max_request_bytes: u32,
    /// `--max-concurrent-streams`.
    pub max_concurrent_streams: u32,
    /// `--grpc-keepalive-min-time`.
    pub grpc_keepalive_min_time: Duration,
    /// `--grpc-keepalive-interval` (zero disables).
    pub grpc_keepalive_interval: Duration,
    /// `--grpc-keepalive-timeout` (zero disables).
    pub grpc_keepalive_timeout: Duration,
    /// `--strict-reconfig-check`.
    pub strict_reconfig_check: bool,
    /// `--pre-vote`.
    pub pre_vote: bool,
    /// `--auto-compaction-mode` and `--auto-compaction-retention` (None when disabled).
    pub auto_compaction: Option<AutoCompaction>,
    /// Client TLS.
    pub client_tls: ClientTls,
    /// Peer TLS.
    pub peer_tls: PeerTls,
    /// `--listen-metrics-urls`.
    pub listen_metrics_urls: Vec<Url>,
    /// `--log-level`, as a tracing level (`panic`/`fatal` become `error`).
    pub log_level: String,
    /// `--experimental-watch-progress-notify-interval`.
    pub watch_progress_notify_interval: Duration,
    /// `--experimental-initial-corrupt-check`.
    pub initial_corrupt_check: bool,
    /// `--experimental-corrupt-check-time` (zero disables).
    pub corrupt_check_interval: Duration,
    /// `--force-new-cluster`.
    pub force_new_cluster: bool,
    /// `--unsafe-no-fsync`.
    pub unsafe_no_fsync: bool,
    /// `--version`: print the version and exit.
    pub print_version: bool,
    /// Accepted flags keel does not act on, given by the user (one warning each).
    pub ignored_flags: Vec<&'static str>,
}

impl ServerConfig {
    /// The configuration from the process's arguments and environment.
    pub fn load() -> Result<ServerConfig, ConfigError> {
        ServerConfig::load_from(std::env::args_os().collect(), &|name| {
            std::env::var_os(name)
        })
    }

    /// The configuration from `args` (`args[0]` is the program) and an environment lookup.
    pub fn load_from(
        args: Vec<OsString>,
        env: &dyn Fn(&str) -> Option<OsString>,
    ) -> Result<ServerConfig, ConfigError> {
        let matches = sources::matches(args, env)?;
        let flags = Flags::from_arg_matches(&matches).map_err(ConfigError::Clap)?;
        let mut config = validate::validate(flags)?;
        config.ignored_flags = ignored::given(&matches);
        Ok(config)
    }

    /// The URLs this member advertises to peers, as strings.
    pub fn peer_url_strings(&self) -> Vec<String> {
        self.initial_advertise_peer_urls
            .iter()
            .map(Url::to_string)
            .collect()
    }

    /// The election timeout in heartbeat ticks.
    pub fn election_ticks(&self) -> usize {
        let ticks = self.election_timeout.as_millis() / self.heartbeat_interval.as_millis().max(1);
        usize::try_from(ticks).unwrap_or(usize::MAX)
    }
}

#[cfg(test)]
mod tests;
