//! The command line as etcd 3.5 spells it: every flag keel acts on, each also
//! read from etcd's environment variable (`ETCD_` + the flag in upper snake case).
//!
//! Flags etcd has but keel does not act on are in [`super::ignored`]; the
//! `KEEL_` aliases and the config file are handled in [`super::sources`].

use std::path::PathBuf;

use clap::ArgAction;
use clap::Parser;

/// etcd's default client URL.
pub(crate) const DEFAULT_CLIENT_URL: &str = "http://localhost:2379";
/// etcd's default peer URL.
pub(crate) const DEFAULT_PEER_URL: &str = "http://localhost:2380";

/// The flags keel acts on, with etcd's names, defaults and environment variables.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "keel",
    about = "keel: a distributed, strongly consistent key-value store serving the etcd v3 API",
    disable_version_flag = true,
    args_override_self = true
)]
pub struct Flags {
    /// Path to the server configuration file (etcd's YAML keys); other flags and environment variables are then ignored.
    #[arg(long, env = "ETCD_CONFIG_FILE", value_name = "PATH")]
    pub config_file: Option<PathBuf>,

    /// Human-readable name for this member.
    #[arg(long, env = "ETCD_NAME", default_value = "default")]
    pub name: String,
    /// Path to the data directory (default: `<name>.keel`).
    #[arg(long, env = "ETCD_DATA_DIR", value_name = "PATH")]
    pub data_dir: Option<PathBuf>,
    /// Path to a dedicated WAL directory (default: `<data-dir>/member/wal`).
    #[arg(long, env = "ETCD_WAL_DIR", value_name = "PATH")]
    pub wal_dir: Option<PathBuf>,
    /// Number of applied entries that triggers a raft snapshot.
    #[arg(long, env = "ETCD_SNAPSHOT_COUNT", default_value_t = 100_000)]
    pub snapshot_count: u64,
    /// Time (in milliseconds) of a heartbeat interval.
    #[arg(long, env = "ETCD_HEARTBEAT_INTERVAL", default_value_t = 100)]
    pub heartbeat_interval: u64,
    /// Time (in milliseconds) for an election to time out.
    #[arg(long, env = "ETCD_ELECTION_TIMEOUT", default_value_t = 1000)]
    pub election_timeout: u64,
    /// Comma-separated URLs to listen on for peer traffic (QUIC on that UDP port).
    #[arg(long, env = "ETCD_LISTEN_PEER_URLS", default_value = DEFAULT_PEER_URL)]
    pub listen_peer_urls: String,
    /// Comma-separated URLs to listen on for client traffic.
    #[arg(long, env = "ETCD_LISTEN_CLIENT_URLS", default_value = DEFAULT_CLIENT_URL)]
    pub listen_client_urls: String,
    /// Maximum number of snapshot files to retain (0 is unlimited).
    #[arg(long, env = "ETCD_MAX_SNAPSHOTS", default_value_t = 5)]
    pub max_snapshots: usize,
    /// Maximum number of WAL files to retain (0 is unlimited).
    #[arg(long, env = "ETCD_MAX_WALS", default_value_t = 5)]
    pub max_wals: usize,
    /// Raise the NOSPACE alarm when the store exceeds this size (0 means 2 GiB).
    #[arg(long, env = "ETCD_QUOTA_BACKEND_BYTES", default_value_t = 0)]
    pub quota_backend_bytes: i64,
    /// Maximum number of operations permitted in a transaction.
    #[arg(long, env = "ETCD_MAX_TXN_OPS", default_value_t = 128)]
    pub max_txn_ops: u32,
    /// Maximum client request size in bytes the server will accept.
    #[arg(long, env = "ETCD_MAX_REQUEST_BYTES", default_value_t = 1_572_864)]
    pub max_request_bytes: u32,
    /// Maximum concurrent streams that each client can open at a time.
    #[arg(long, env = "ETCD_MAX_CONCURRENT_STREAMS", default_value_t = u32::MAX)]
    pub max_concurrent_streams: u32,
    /// Minimum interval a client should wait before pinging the server.
    #[arg(long, env = "ETCD_GRPC_KEEPALIVE_MIN_TIME", default_value = "5s")]
    pub grpc_keepalive_min_time: String,
    /// Frequency of server-to-client pings to check a connection is alive (0 disables).
    #[arg(long, env = "ETCD_GRPC_KEEPALIVE_INTERVAL", default_value = "2h")]
    pub grpc_keepalive_interval: String,
    /// Additional wait before closing a non-responsive connection (0 disables).
    #[arg(long, env = "ETCD_GRPC_KEEPALIVE_TIMEOUT", default_value = "20s")]
    pub grpc_keepalive_timeout: String,

    /// This member's peer URLs to advertise to the rest of the cluster.
    #[arg(long, env = "ETCD_INITIAL_ADVERTISE_PEER_URLS", default_value = DEFAULT_PEER_URL)]
    pub initial_advertise_peer_urls: String,
    /// Initial cluster configuration for bootstrapping (`name=url,name=url`).
    #[arg(long, env = "ETCD_INITIAL_CLUSTER")]
    pub initial_cluster: Option<String>,
    /// Initial cluster state: `new` or `existing`.
    #[arg(long, env = "ETCD_INITIAL_CLUSTER_STATE", default_value = "new")]
    pub initial_cluster_state: String,
    /// Initial cluster token, which keeps the ids of different clusters apart.
    #[arg(
        long,
        env = "ETCD_INITIAL_CLUSTER_TOKEN",
        default_value = "etcd-cluster"
    )]
    pub initial_cluster_token: String,
    /// This member's client URLs to advertise to the public.
    #[arg(long, env = "ETCD_ADVERTISE_CLIENT_URLS", default_value = DEFAULT_CLIENT_URL)]
    pub advertise_client_urls: String,
    /// Reject reconfiguration requests that would cause quorum loss.
    #[arg(long, env = "ETCD_STRICT_RECONFIG_CHECK", default_value_t = true, num_args = 0..=1,
        default_missing_value = "true", action = ArgAction::Set)]
    pub strict_reconfig_check: bool,
    /// Run raft's pre-vote phase before elections.
    #[arg(long, env = "ETCD_PRE_VOTE", default_value_t = true, num_args = 0..=1,
        default_missing_value = "true", action = ArgAction::Set)]
    pub pre_vote: bool,
    /// Auto compaction retention: hours or a duration (periodic), revisions (revision); 0 disables.
    #[arg(long, env = "ETCD_AUTO_COMPACTION_RETENTION", default_value = "0")]
    pub auto_compaction_retention: String,
    /// How to read the retention: `periodic` or `revision`.
    #[arg(long, env = "ETCD_AUTO_COMPACTION_MODE", default_value = "periodic")]
    pub auto_compaction_mode: String,

    /// Path to the client server TLS certificate file.
    #[arg(long, env = "ETCD_CERT_FILE", value_name = "PATH")]
    pub cert_file: Option<PathBuf>,
    /// Path to the client server TLS key file.
    #[arg(long, env = "ETCD_KEY_FILE", value_name = "PATH")]
    pub key_file: Option<PathBuf>,
    /// Enable client certificate authentication.
    #[arg(long, env = "ETCD_CLIENT_CERT_AUTH", default_value_t = false, num_args = 0..=1,
        default_missing_value = "true", action = ArgAction::Set)]
    pub client_cert_auth: bool,
    /// Path to the client server TLS trusted CA file.
    #[arg(long, env = "ETCD_TRUSTED_CA_FILE", value_name = "PATH")]
    pub trusted_ca_file: Option<PathBuf>,
    /// Client TLS using generated certificates.
    #[arg(long, env = "ETCD_AUTO_TLS", default_value_t = false, num_args = 0..=1,
        default_missing_value = "true", action = ArgAction::Set)]
    pub auto_tls: bool,
    /// Path to the peer TLS certificate file.
    #[arg(long, env = "ETCD_PEER_CERT_FILE", value_name = "PATH")]
    pub peer_cert_file: Option<PathBuf>,
    /// Path to the peer TLS key file.
    #[arg(long, env = "ETCD_PEER_KEY_FILE", value_name = "PATH")]
    pub peer_key_file: Option<PathBuf>,
    /// Enable peer client certificate authentication.
    #[arg(long, env = "ETCD_PEER_CLIENT_CERT_AUTH", default_value_t = false, num_args = 0..=1,
        default_missing_value = "true", action = ArgAction::Set)]
    pub peer_client_cert_auth: bool,
    /// Path to the peer TLS trusted CA file.
    #[arg(long, env = "ETCD_PEER_TRUSTED_CA_FILE", value_name = "PATH")]
    pub peer_trusted_ca_file: Option<PathBuf>,
    /// Peer TLS using generated certificates (keel's default when no peer certificate is given).
    #[arg(long, env = "ETCD_PEER_AUTO_TLS", default_value_t = false, num_args = 0..=1,
        default_missing_value = "true", action = ArgAction::Set)]
    pub peer_auto_tls: bool,

    /// Comma-separated URLs to serve /metrics and /health on, besides the client URLs.
    #[arg(long, env = "ETCD_LISTEN_METRICS_URLS")]
    pub listen_metrics_urls: Option<String>,
    /// Log level: debug, info, warn, error, panic or fatal.
    #[arg(long, env = "ETCD_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// Interval of watch progress notifications.
    #[arg(
        long,
        env = "ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL",
        default_value = "10m"
    )]
    pub experimental_watch_progress_notify_interval: String,
    /// Check data corruption against the other members before serving.
    #[arg(long, env = "ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK", default_value_t = false,
        num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set)]
    pub experimental_initial_corrupt_check: bool,
    /// Interval of periodic corruption checks between members (0 disables).
    #[arg(
        long,
        env = "ETCD_EXPERIMENTAL_CORRUPT_CHECK_TIME",
        default_value = "0s"
    )]
    pub experimental_corrupt_check_time: String,
    /// Entries kept behind a snapshot for slow followers to catch up from without a snapshot.
    #[arg(
        long,
        env = "ETCD_EXPERIMENTAL_SNAPSHOT_CATCHUP_ENTRIES",
        default_value_t = 5000
    )]
    pub experimental_snapshot_catchup_entries: u64,
    /// Lease checkpointing (always on in keel; accepted for compatibility).
    #[arg(long, env = "ETCD_EXPERIMENTAL_ENABLE_LEASE_CHECKPOINT", default_value_t = true,
        num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set)]
    pub experimental_enable_lease_checkpoint: bool,
    /// Force a new one-member cluster from this data directory, keeping its data.
    #[arg(long, env = "ETCD_FORCE_NEW_CLUSTER", default_value_t = false, num_args = 0..=1,
        default_missing_value = "true", action = ArgAction::Set)]
    pub force_new_cluster: bool,
    /// Disable fsync: unsafe, loses data on power failure (benchmarks only).
    #[arg(long, env = "ETCD_UNSAFE_NO_FSYNC", default_value_t = false, num_args = 0..=1,
        default_missing_value = "true", action = ArgAction::Set)]
    pub unsafe_no_fsync: bool,
    /// Print the version and exit.
    #[arg(long, default_value_t = false, num_args = 0..=1, default_missing_value = "true",
        action = ArgAction::Set)]
    pub version: bool,
}
