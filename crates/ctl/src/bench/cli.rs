//! The command line of keel-bench, with etcd's benchmark tool's flag names
//! and defaults, and the checks that turn a bad combination into one error.

use std::time::Duration;

use anyhow::bail;
use clap::Args;
use clap::Parser;
use clap::Subcommand;
use clap::ValueEnum;

/// The most clients (concurrent tasks) one run may start.
pub(crate) const MAX_CLIENTS: usize = 100_000;
/// The most gRPC connections one run may open.
pub(crate) const MAX_CONNS: usize = 10_000;
/// The largest key or value one request may carry (etcd's default
/// `--max-request-bytes` is 1.5 MiB).
pub(crate) const MAX_ITEM_BYTES: usize = 1536 * 1024;
/// The most watchers one run may create.
pub(crate) const MAX_WATCHERS: usize = 1_000_000;

/// A load generator for the etcd v3 gRPC API, modelled on etcd's
/// `tools/benchmark`, that prints the same report.
#[derive(Debug, Parser)]
#[command(name = "keel-bench", version)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Workload,
}

/// Options every workload shares.
#[derive(Debug, Clone, Args)]
pub(crate) struct Global {
    /// Comma-separated gRPC endpoints (`host:port` or `http://host:port`);
    /// connection i goes to endpoint i modulo their number.
    #[arg(
        long,
        global = true,
        value_delimiter = ',',
        default_value = "127.0.0.1:2379"
    )]
    pub(crate) endpoints: Vec<String>,
    /// Total number of gRPC connections.
    #[arg(long, global = true, default_value_t = 1)]
    pub(crate) conns: usize,
    /// Total number of concurrent clients, sharing the connections.
    #[arg(long, global = true, default_value_t = 1)]
    pub(crate) clients: usize,
    /// Total number of requests.
    #[arg(long, global = true, default_value_t = 10_000)]
    pub(crate) total: u64,
    /// Maximum requests per second over all clients (0 is no limit).
    #[arg(long, global = true, default_value_t = 0)]
    pub(crate) rate: u64,
    /// Time allowed to establish each connection, in seconds.
    #[arg(long, global = true, default_value_t = 5)]
    pub(crate) dial_timeout_secs: u64,
    /// Also write the results as JSON to this file.
    #[arg(long, global = true)]
    pub(crate) json: Option<std::path::PathBuf>,
}

impl Global {
    /// The time allowed to establish one connection.
    pub(crate) fn dial_timeout(&self) -> Duration {
        Duration::from_secs(self.dial_timeout_secs)
    }
}

/// The workloads.
#[derive(Debug, Clone, Subcommand)]
pub(crate) enum Workload {
    /// Put keys (KV.Put).
    Put(PutArgs),
    /// Range over a key or a key range (KV.Range).
    Range(RangeArgs),
    /// Transactions of puts (KV.Txn).
    TxnPut(TxnPutArgs),
    /// Event latency of many watchers while keys are put (Watch).
    Watch(WatchArgs),
    /// Lease keep-alives on one stream per client (Lease.LeaseKeepAlive).
    LeaseKeepalive,
}

impl Workload {
    /// The name of the workload as typed on the command line.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Workload::Put(_) => "put",
            Workload::Range(_) => "range",
            Workload::TxnPut(_) => "txn-put",
            Workload::Watch(_) => "watch",
            Workload::LeaseKeepalive => "lease-keepalive",
        }
    }
}

/// How generated keys are shaped (shared by put and txn-put).
#[derive(Debug, Clone, Args)]
pub(crate) struct KeyArgs {
    /// Key size of each put.
    #[arg(long, default_value_t = 8)]
    pub(crate) key_size: usize,
    /// Value size of each put.
    #[arg(long, default_value_t = 8)]
    pub(crate) val_size: usize,
    /// Number of distinct keys (1 puts a single key, as etcd's default).
    #[arg(long, default_value_t = 1)]
    pub(crate) key_space_size: u64,
    /// Use keys 0, 1, 2, ... in order instead of random ones.
    #[arg(long)]
    pub(crate) sequential_keys: bool,
}

/// Options of `put`.
#[derive(Debug, Clone, Args)]
pub(crate) struct PutArgs {
    #[command(flatten)]
    pub(crate) keys: KeyArgs,
}

/// Read consistency, as etcd's `--consistency`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Consistency {
    /// Linearizable: the server confirms leadership (ReadIndex) first.
    L,
    /// Serializable: the member answers from its local state.
    S,
}

/// Options of `range`.
#[derive(Debug, Clone, Args)]
pub(crate) struct RangeArgs {
    /// The key to read.
    pub(crate) key: String,
    /// The end of the range, exclusive (a single key when absent).
    pub(crate) end: Option<String>,
    /// Linearizable (l) or serializable (s).
    #[arg(long, value_enum, default_value_t = Consistency::L)]
    pub(crate) consistency: Consistency,
    /// Maximum number of keys returned (0 is no limit).
    #[arg(long, default_value_t = 0)]
    pub(crate) limit: i64,
}

/// Options of `txn-put`.
#[derive(Debug, Clone, Args)]
pub(crate) struct TxnPutArgs {
    #[command(flatten)]
    pub(crate) keys: KeyArgs,
    /// Number of puts in each transaction (distinct keys).
    #[arg(long, default_value_t = 1)]
    pub(crate) txn_ops: usize,
}

/// Options of `watch`.
#[derive(Debug, Clone, Args)]
pub(crate) struct WatchArgs {
    /// Number of watch streams, spread over the connections.
    #[arg(long, default_value_t = 10)]
    pub(crate) streams: usize,
    /// Number of watchers on each stream, all on the same key.
    #[arg(long, default_value_t = 100)]
    pub(crate) watch_per_stream: usize,
    /// Number of puts to the watched key while watching.
    #[arg(long, default_value_t = 100)]
    pub(crate) put_total: u64,
    /// Puts per second (0 is no limit).
    #[arg(long, default_value_t = 100)]
    pub(crate) put_rate: u64,
    /// Size of the watched key.
    #[arg(long, default_value_t = 32)]
    pub(crate) key_size: usize,
    /// Size of each put's value (at least 8: it carries the put's number).
    #[arg(long, default_value_t = 32)]
    pub(crate) val_size: usize,
    /// Seconds to wait for the last events after the last put.
    #[arg(long, default_value_t = 30)]
    pub(crate) drain_timeout_secs: u64,
}

impl Cli {
    /// Checks the limits and the combinations clap cannot express.
    pub(crate) fn validate(&self) -> anyhow::Result<()> {
        let g = &self.global;
        if g.endpoints.iter().all(|e| e.trim().is_empty()) {
            bail!("--endpoints: at least one endpoint is required");
        }
        check_range("--conns", g.conns, 1, MAX_CONNS)?;
        check_range("--clients", g.clients, 1, MAX_CLIENTS)?;
        if g.total == 0 {
            bail!("--total must be positive");
        }
        match &self.command {
            Workload::Put(a) => a.keys.validate(),
            Workload::TxnPut(a) => {
                a.keys.validate()?;
                check_range("--txn-ops", a.txn_ops, 1, 10_000)?;
                if a.txn_ops as u64 > a.keys.key_space_size {
                    bail!(
                        "--txn-ops ({}) exceeds --key-space-size ({}): a txn may not put a key twice",
                        a.txn_ops,
                        a.keys.key_space_size
                    );
                }
                Ok(())
            }
            Workload::Range(a) => {
                if a.limit < 0 {
                    bail!("--limit must not be negative");
                }
                Ok(())
            }
            Workload::Watch(a) => a.validate(),
            Workload::LeaseKeepalive => Ok(()),
        }
    }
}

impl KeyArgs {
    fn validate(&self) -> anyhow::Result<()> {
        check_range("--key-size", self.key_size, 1, MAX_ITEM_BYTES)?;
        check_range("--val-size", self.val_size, 0, MAX_ITEM_BYTES)?;
        if self.key_space_size == 0 {
            bail!("expected positive --key-space-size, got 0");
        }
        let needed = crate::keys::varint_len(self.key_space_size - 1);
        if needed > self.key_size {
            bail!(
                "--key-size {} cannot hold {} distinct keys (needs {needed} bytes)",
                self.key_size,
                self.key_space_size
            );
        }
        Ok(())
    }
}

impl WatchArgs {
    /// Total number of watchers.
    pub(crate) fn watchers(&self) -> usize {
        self.streams.saturating_mul(self.watch_per_stream)
    }

    fn validate(&self) -> anyhow::Result<()> {
        check_range("--streams", self.streams, 1, MAX_WATCHERS)?;
        check_range("--watch-per-stream", self.watch_per_stream, 1, MAX_WATCHERS)?;
        check_range(
            "watchers (streams x watch-per-stream)",
            self.watchers(),
            1,
            MAX_WATCHERS,
        )?;
        check_range("--key-size", self.key_size, 1, MAX_ITEM_BYTES)?;
        check_range("--val-size", self.val_size, 8, MAX_ITEM_BYTES)?;
        if self.put_total == 0 {
            bail!("--put-total must be positive");
        }
        Ok(())
    }
}

fn check_range(flag: &str, value: usize, min: usize, max: usize) -> anyhow::Result<()> {
    if value < min || value > max {
        bail!("{flag} must be between {min} and {max}, got {value}");
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> anyhow::Result<Cli> {
        let cli = Cli::try_parse_from(std::iter::once("keel-bench").chain(args.iter().copied()))?;
        cli.validate()?;
        Ok(cli)
    }

    #[test]
    fn defaults_match_etcds_benchmark() {
        let cli = parse(&["put"]).unwrap();
        assert_eq!(cli.global.endpoints, vec!["127.0.0.1:2379"]);
        assert_eq!((cli.global.conns, cli.global.clients), (1, 1));
        assert_eq!((cli.global.total, cli.global.rate), (10_000, 0));
        let Workload::Put(p) = cli.command else {
            panic!("not put")
        };
        assert_eq!(
            (p.keys.key_size, p.keys.val_size, p.keys.key_space_size),
            (8, 8, 1)
        );
        assert!(!p.keys.sequential_keys);
    }

    #[test]
    fn global_flags_may_follow_the_subcommand() {
        let cli = parse(&[
            "--endpoints=a:1,http://b:2",
            "put",
            "--conns=10",
            "--clients",
            "100",
            "--total=5",
            "--val-size=256",
            "--sequential-keys",
        ])
        .unwrap();
        assert_eq!(cli.global.endpoints, vec!["a:1", "http://b:2"]);
        assert_eq!(
            (cli.global.conns, cli.global.clients, cli.global.total),
            (10, 100, 5)
        );
        let Workload::Put(p) = cli.command else {
            panic!("not put")
        };
        assert_eq!(p.keys.val_size, 256);
        assert!(p.keys.sequential_keys);
    }

    #[test]
    fn range_takes_key_end_consistency_and_limit() {
        let cli = parse(&["range", "a", "z", "--consistency", "s", "--limit", "3"]).unwrap();
        let Workload::Range(r) = cli.command else {
            panic!("not range")
        };
        assert_eq!((r.key.as_str(), r.end.as_deref()), ("a", Some("z")));
        assert_eq!((r.consistency, r.limit), (Consistency::S, 3));
        let cli = parse(&["range", "foo"]).unwrap();
        let Workload::Range(r) = cli.command else {
            panic!("not range")
        };
        assert_eq!((r.end, r.consistency), (None, Consistency::L));
    }

    #[test]
    fn watch_and_lease_parse() {
        let cli = parse(&[
            "watch",
            "--streams=100",
            "--watch-per-stream=100",
            "--put-total=7",
        ])
        .unwrap();
        let Workload::Watch(w) = cli.command else {
            panic!("not watch")
        };
        assert_eq!((w.watchers(), w.put_total), (10_000, 7));
        let cli = parse(&["lease-keepalive", "--clients=3"]).unwrap();
        assert_eq!(cli.command.name(), "lease-keepalive");
    }

    #[test]
    fn bad_combinations_are_refused() {
        assert!(parse(&["put", "--key-space-size=0"]).is_err());
        assert!(parse(&["put", "--clients=0"]).is_err());
        assert!(parse(&["put", "--total=0"]).is_err());
        assert!(parse(&["put", "--key-size=1", "--key-space-size=1000"]).is_err());
        assert!(parse(&["txn-put", "--txn-ops=4", "--key-space-size=3"]).is_err());
        assert!(parse(&["txn-put", "--txn-ops=3", "--key-space-size=3"]).is_ok());
        assert!(parse(&["watch", "--val-size=7"]).is_err());
        assert!(parse(&["range", "k", "--consistency=x"]).is_err());
        assert!(parse(&["range"]).is_err());
        assert!(parse(&["--endpoints=", "put"]).is_err());
    }
}
