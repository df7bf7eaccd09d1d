//! The command line, modelled on etcdctl v3: global flags (also from
//! `ETCDCTL_*` environment variables) and one subcommand per operation.

use std::time::Duration;

use clap::Args;
use clap::Parser;
use clap::Subcommand;

use crate::go_fmt::parse_duration;
use crate::output::Format;

/// keelctl: a command line client for keel (and etcd), with etcdctl's
/// commands, flags and output.
#[derive(Debug, Parser)]
#[command(name = "keelctl", version, disable_help_subcommand = true)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalFlags,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Clone, Args)]
pub(crate) struct GlobalFlags {
    /// gRPC endpoints.
    #[arg(
        long,
        global = true,
        value_delimiter = ',',
        default_value = "127.0.0.1:2379",
        env = "ETCDCTL_ENDPOINTS"
    )]
    pub(crate) endpoints: Vec<String>,
    /// Dial timeout for client connections.
    #[arg(long, global = true, default_value = "2s", value_parser = parse_duration, env = "ETCDCTL_DIAL_TIMEOUT")]
    pub(crate) dial_timeout: Duration,
    /// Timeout for short running commands (excluding dial timeout).
    #[arg(long, global = true, default_value = "5s", value_parser = parse_duration, env = "ETCDCTL_COMMAND_TIMEOUT")]
    pub(crate) command_timeout: Duration,
    /// Keepalive time for client connections.
    #[arg(long, global = true, default_value = "2s", value_parser = parse_duration, env = "ETCDCTL_KEEPALIVE_TIME")]
    pub(crate) keepalive_time: Duration,
    /// Keepalive timeout for client connections.
    #[arg(long, global = true, default_value = "6s", value_parser = parse_duration, env = "ETCDCTL_KEEPALIVE_TIMEOUT")]
    pub(crate) keepalive_timeout: Duration,
    /// Verify certificates of TLS-enabled secure servers using this CA bundle.
    #[arg(long, global = true, env = "ETCDCTL_CACERT")]
    pub(crate) cacert: Option<String>,
    /// Identify secure client using this TLS certificate file.
    #[arg(long, global = true, env = "ETCDCTL_CERT")]
    pub(crate) cert: Option<String>,
    /// Identify secure client using this TLS key file.
    #[arg(long, global = true, env = "ETCDCTL_KEY")]
    pub(crate) key: Option<String>,
    /// Skip server certificate verification (CAUTION: this option should be
    /// enabled only for testing purposes).
    #[arg(long, global = true, env = "ETCDCTL_INSECURE_SKIP_TLS_VERIFY")]
    pub(crate) insecure_skip_tls_verify: bool,
    /// Print byte strings as hex encoded strings.
    #[arg(long, global = true)]
    pub(crate) hex: bool,
    /// Set the output format.
    #[arg(
        short = 'w',
        long,
        global = true,
        value_enum,
        default_value = "simple",
        env = "ETCDCTL_WRITE_OUT"
    )]
    pub(crate) write_out: Format,
}

/// The operations.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Gets the key or a range of keys.
    Get(GetArgs),
    /// Puts the given key into the store.
    Put(PutArgs),
    /// Removes the specified key or range of keys [key, range_end).
    Del(DelArgs),
    /// Txn processes all the requests in one transaction.
    Txn(TxnArgs),
    /// Compacts the event history in etcd.
    Compaction(CompactionArgs),
    /// Watches events stream on keys or prefixes.
    Watch(WatchArgs),
    /// Lease related commands.
    #[command(subcommand)]
    Lease(LeaseCommand),
    /// Membership related commands.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Endpoint related commands.
    Endpoint(EndpointArgs),
    /// Manages snapshots of a member's store.
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
    /// Defragments the storage of the members with given endpoints.
    Defrag(ClusterFlag),
    /// Transfers leadership to another cluster member.
    MoveLeader(MoveLeaderArgs),
    /// Alarm related commands.
    #[command(subcommand)]
    Alarm(AlarmCommand),
    /// Makes a stopped member's data directory a one-member cluster, keeping
    /// every committed entry (keel's offline `--force-new-cluster`).
    ForceNewCluster(ForceNewClusterArgs),
    /// Prints the version of keelctl.
    Version,
}

/// `get [options] <key> [range_end]`.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct GetArgs {
    /// The key and an optional range end.
    pub(crate) args: Vec<String>,
    /// Linearizable(l) or Serializable(s).
    #[arg(long, default_value = "l")]
    pub(crate) consistency: String,
    /// Order of results; ASCEND or DESCEND (ASCEND by default).
    #[arg(long, default_value = "")]
    pub(crate) order: String,
    /// Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION.
    #[arg(long, default_value = "")]
    pub(crate) sort_by: String,
    /// Maximum number of results.
    #[arg(long, default_value_t = 0)]
    pub(crate) limit: i64,
    /// Get keys with matching prefix.
    #[arg(long)]
    pub(crate) prefix: bool,
    /// Get keys that are greater than or equal to the given key using byte compare.
    #[arg(long)]
    pub(crate) from_key: bool,
    /// Specify the kv revision.
    #[arg(long, default_value_t = 0)]
    pub(crate) rev: i64,
    /// Get only the keys.
    #[arg(long)]
    pub(crate) keys_only: bool,
    /// Get only the count.
    #[arg(long)]
    pub(crate) count_only: bool,
    /// Only write values when using the "simple" output format.
    #[arg(long)]
    pub(crate) print_value_only: bool,
}

/// `put [options] <key> <value>` (the value may come from stdin).
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct PutArgs {
    /// The key and the value.
    pub(crate) args: Vec<String>,
    /// Lease ID (in hexadecimal) to attach to the key.
    #[arg(long, default_value = "0")]
    pub(crate) lease: String,
    /// Return the previous key-value pair before modification.
    #[arg(long)]
    pub(crate) prev_kv: bool,
    /// Updates the key using its current value.
    #[arg(long)]
    pub(crate) ignore_value: bool,
    /// Updates the key using its current lease.
    #[arg(long)]
    pub(crate) ignore_lease: bool,
}

/// `del [options] <key> [range_end]`.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct DelArgs {
    /// The key and an optional range end.
    pub(crate) args: Vec<String>,
    /// Delete keys with matching prefix.
    #[arg(long)]
    pub(crate) prefix: bool,
    /// Return deleted key-value pairs.
    #[arg(long)]
    pub(crate) prev_kv: bool,
    /// Delete keys that are greater than or equal to the given key using byte compare.
    #[arg(long)]
    pub(crate) from_key: bool,
}

/// `txn [options]`: compares, success and failure requests from stdin.
#[derive(Debug, Clone, Args)]
pub(crate) struct TxnArgs {
    /// Input transaction in interactive mode.
    #[arg(short, long)]
    pub(crate) interactive: bool,
    /// Not accepted; etcdctl reads the transaction from stdin.
    #[arg(hide = true)]
    pub(crate) args: Vec<String>,
}

/// `compaction [options] <revision>`.
#[derive(Debug, Clone, Args)]
pub(crate) struct CompactionArgs {
    /// The revision.
    pub(crate) args: Vec<String>,
    /// Wait for compaction to physically remove all old revisions.
    #[arg(long)]
    pub(crate) physical: bool,
}

/// `watch [options] [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]`.
#[derive(Debug, Clone, Args)]
pub(crate) struct WatchArgs {
    /// The key and an optional range end.
    pub(crate) args: Vec<String>,
    /// A command to run for every event (after `--`).
    #[arg(last = true)]
    pub(crate) exec: Vec<String>,
    /// Interactive mode: `watch ...` and `progress` lines from stdin.
    #[arg(short, long)]
    pub(crate) interactive: bool,
    /// Watch on a prefix if prefix is set.
    #[arg(long)]
    pub(crate) prefix: bool,
    /// Revision to start watching.
    #[arg(long, default_value_t = 0)]
    pub(crate) rev: i64,
    /// Get the previous key-value pair before the event happens.
    #[arg(long)]
    pub(crate) prev_kv: bool,
    /// Get periodic watch progress notification from server.
    #[arg(long)]
    pub(crate) progress_notify: bool,
}

/// `lease` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum LeaseCommand {
    /// Creates leases.
    Grant {
        /// TTL in seconds.
        args: Vec<String>,
    },
    /// Revokes leases.
    Revoke {
        /// Lease ID in hexadecimal.
        args: Vec<String>,
    },
    /// Get lease information.
    Timetolive {
        /// Lease ID in hexadecimal.
        args: Vec<String>,
        /// Get keys attached to this lease.
        #[arg(long)]
        keys: bool,
    },
    /// List all active leases.
    List,
    /// Keeps leases alive (renew).
    KeepAlive {
        /// Lease ID in hexadecimal.
        args: Vec<String>,
        /// Resets the keep-alive time to its original value and exits immediately.
        #[arg(long)]
        once: bool,
    },
}

/// `member` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum MemberCommand {
    /// Adds a member into the cluster.
    Add {
        /// The new member's name.
        args: Vec<String>,
        /// Comma separated peer URLs for the new member.
        #[arg(long, default_value = "")]
        peer_urls: String,
        /// Indicates if the new member is raft learner.
        #[arg(long)]
        learner: bool,
    },
    /// Removes a member from the cluster.
    Remove {
        /// Member ID in hexadecimal.
        args: Vec<String>,
    },
    /// Updates a member in the cluster.
    Update {
        /// Member ID in hexadecimal.
        args: Vec<String>,
        /// Comma separated peer URLs for the updated member.
        #[arg(long, default_value = "")]
        peer_urls: String,
    },
    /// Lists all members in the cluster.
    List,
    /// Promotes a non-voting member in the cluster.
    Promote {
        /// Member ID in hexadecimal.
        args: Vec<String>,
    },
}

/// `endpoint [--cluster] <subcommand>`.
#[derive(Debug, Args)]
pub(crate) struct EndpointArgs {
    #[command(flatten)]
    pub(crate) cluster: ClusterFlag,
    #[command(subcommand)]
    pub(crate) command: EndpointCommand,
}

/// `--cluster`: use every member's client URLs instead of `--endpoints`.
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct ClusterFlag {
    /// Use all endpoints from the cluster member list.
    #[arg(long, global = true)]
    pub(crate) cluster: bool,
}

/// `endpoint` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum EndpointCommand {
    /// Checks the healthiness of endpoints specified in `--endpoints` flag.
    Health,
    /// Prints out the status of endpoints specified in `--endpoints` flag.
    Status,
    /// Prints the KV history hash for each endpoint in --endpoints.
    Hashkv {
        /// Maximum revision to hash (default: all revisions).
        #[arg(long, default_value_t = 0)]
        rev: i64,
    },
}

/// `snapshot` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum SnapshotCommand {
    /// Stores a member's backend snapshot to a given file.
    Save {
        /// The file to write.
        args: Vec<String>,
    },
    /// Gets backend snapshot status of a given file.
    Status {
        /// The snapshot file.
        args: Vec<String>,
    },
    /// Restores a keel member snapshot to a keel data directory.
    Restore(RestoreArgs),
}

/// `snapshot restore <file> [options]`, with etcdctl's flags and defaults.
#[derive(Debug, Args)]
pub(crate) struct RestoreArgs {
    /// The snapshot file.
    pub(crate) args: Vec<String>,
    /// Path to the data directory (default `<name>.etcd`).
    #[arg(long)]
    pub(crate) data_dir: Option<std::path::PathBuf>,
    /// Path to the WAL directory (default `<data-dir>/member/wal`).
    #[arg(long)]
    pub(crate) wal_dir: Option<std::path::PathBuf>,
    /// Human-readable name for this member.
    #[arg(long, default_value = "default")]
    pub(crate) name: String,
    /// Initial cluster configuration for restore bootstrap.
    #[arg(long, default_value = "default=http://localhost:2380")]
    pub(crate) initial_cluster: String,
    /// Initial cluster token for the cluster during restore bootstrap.
    #[arg(long, default_value = "etcd-cluster")]
    pub(crate) initial_cluster_token: String,
    /// List of this member's peer URLs to advertise to the rest of the cluster.
    #[arg(long, default_value = "http://localhost:2380")]
    pub(crate) initial_advertise_peer_urls: String,
    /// Ignore snapshot integrity hash value (the store's own checksum is still checked).
    #[arg(long)]
    pub(crate) skip_hash_check: bool,
}

/// `force-new-cluster --data-dir <dir>`: keel's offline `--force-new-cluster`.
#[derive(Debug, Args)]
pub(crate) struct ForceNewClusterArgs {
    /// The stopped member's data directory.
    #[arg(long)]
    pub(crate) data_dir: std::path::PathBuf,
    /// Its WAL directory, if not `<data-dir>/member/wal`.
    #[arg(long)]
    pub(crate) wal_dir: Option<std::path::PathBuf>,
}

/// `move-leader <transferee-member-id>`.
#[derive(Debug, Args)]
pub(crate) struct MoveLeaderArgs {
    /// Member ID in hexadecimal.
    pub(crate) args: Vec<String>,
}

/// `alarm` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum AlarmCommand {
    /// Disarms all alarms.
    Disarm,
    /// Lists all alarms.
    List,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("keelctl").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn global_flags_parse_anywhere_with_etcdctl_defaults() {
        let cli = parse(&[
            "get",
            "foo",
            "-w",
            "json",
            "--endpoints=a:1,b:2",
            "--dial-timeout",
            "500ms",
        ]);
        assert_eq!(cli.global.endpoints, ["a:1", "b:2"]);
        assert_eq!(cli.global.write_out, Format::Json);
        assert_eq!(cli.global.dial_timeout, Duration::from_millis(500));
        assert_eq!(cli.global.command_timeout, Duration::from_secs(5));
        let Command::Get(get) = cli.command else {
            panic!("not a get")
        };
        assert_eq!(get.args, ["foo"]);
    }

    #[test]
    fn watch_takes_an_exec_command_after_the_separator() {
        let cli = parse(&["watch", "foo", "--prefix", "--", "echo", "hi"]);
        let Command::Watch(watch) = cli.command else {
            panic!("not a watch")
        };
        assert_eq!(watch.args, ["foo"]);
        assert_eq!(watch.exec, ["echo", "hi"]);
        assert!(watch.prefix);
    }

    #[test]
    fn bad_output_format_is_refused() {
        assert!(Cli::try_parse_from(["keelctl", "-w", "xml", "get", "a"]).is_err());
    }
}
