//! Flags etcd accepts that tune internals keel does not have.
//!
//! keel accepts each of them (so an existing manifest starts it), from the
//! command line, from `ETCD_*`/`KEEL_*` and from the config file, and logs one
//! warning line per flag given. docs/flags.md lists them with the reason.

use clap::Arg;
use clap::ArgAction;
use clap::ArgMatches;
use clap::Command;
use clap::parser::ValueSource;

/// Whether an ignored flag is a boolean (may be given without a value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `--flag`, `--flag=true`, `--flag=false`.
    Bool,
    /// `--flag=value`.
    Value,
}

/// One accepted-but-ignored flag: its name, environment variable and kind.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ignored {
    /// The flag without dashes.
    pub(crate) flag: &'static str,
    /// etcd's environment variable.
    pub(crate) env: &'static str,
    /// Boolean or valued.
    pub(crate) kind: Kind,
}

const fn value(flag: &'static str, env: &'static str) -> Ignored {
    Ignored {
        flag,
        env,
        kind: Kind::Value,
    }
}

const fn boolean(flag: &'static str, env: &'static str) -> Ignored {
    Ignored {
        flag,
        env,
        kind: Kind::Bool,
    }
}

/// Every flag of etcd 3.5 (and Debian's 3.4) that keel accepts without acting on it.
pub(crate) const IGNORED: &[Ignored] = &[
    boolean(
        "initial-election-tick-advance",
        "ETCD_INITIAL_ELECTION_TICK_ADVANCE",
    ),
    value("listen-client-http-urls", "ETCD_LISTEN_CLIENT_HTTP_URLS"),
    value(
        "backend-bbolt-freelist-type",
        "ETCD_BACKEND_BBOLT_FREELIST_TYPE",
    ),
    value(
        "experimental-backend-bbolt-freelist-type",
        "ETCD_EXPERIMENTAL_BACKEND_BBOLT_FREELIST_TYPE",
    ),
    value("backend-batch-interval", "ETCD_BACKEND_BATCH_INTERVAL"),
    value("backend-batch-limit", "ETCD_BACKEND_BATCH_LIMIT"),
    boolean("socket-reuse-port", "ETCD_SOCKET_REUSE_PORT"),
    boolean("socket-reuse-address", "ETCD_SOCKET_REUSE_ADDRESS"),
    value("raft-read-timeout", "ETCD_RAFT_READ_TIMEOUT"),
    value("raft-write-timeout", "ETCD_RAFT_WRITE_TIMEOUT"),
    value("discovery", "ETCD_DISCOVERY"),
    value("discovery-fallback", "ETCD_DISCOVERY_FALLBACK"),
    value("discovery-proxy", "ETCD_DISCOVERY_PROXY"),
    value("discovery-srv", "ETCD_DISCOVERY_SRV"),
    value("discovery-srv-name", "ETCD_DISCOVERY_SRV_NAME"),
    boolean("enable-v2", "ETCD_ENABLE_V2"),
    value("experimental-enable-v2v3", "ETCD_EXPERIMENTAL_ENABLE_V2V3"),
    value("v2-deprecation", "ETCD_V2_DEPRECATION"),
    value("proxy", "ETCD_PROXY"),
    value("proxy-failure-wait", "ETCD_PROXY_FAILURE_WAIT"),
    value("proxy-refresh-interval", "ETCD_PROXY_REFRESH_INTERVAL"),
    value("proxy-dial-timeout", "ETCD_PROXY_DIAL_TIMEOUT"),
    value("proxy-write-timeout", "ETCD_PROXY_WRITE_TIMEOUT"),
    value("proxy-read-timeout", "ETCD_PROXY_READ_TIMEOUT"),
    value("client-cert-file", "ETCD_CLIENT_CERT_FILE"),
    value("client-key-file", "ETCD_CLIENT_KEY_FILE"),
    value("client-crl-file", "ETCD_CLIENT_CRL_FILE"),
    value(
        "client-cert-allowed-hostname",
        "ETCD_CLIENT_CERT_ALLOWED_HOSTNAME",
    ),
    value("peer-client-cert-file", "ETCD_PEER_CLIENT_CERT_FILE"),
    value("peer-client-key-file", "ETCD_PEER_CLIENT_KEY_FILE"),
    value(
        "self-signed-cert-validity",
        "ETCD_SELF_SIGNED_CERT_VALIDITY",
    ),
    value("peer-crl-file", "ETCD_PEER_CRL_FILE"),
    value("peer-cert-allowed-cn", "ETCD_PEER_CERT_ALLOWED_CN"),
    value(
        "peer-cert-allowed-hostname",
        "ETCD_PEER_CERT_ALLOWED_HOSTNAME",
    ),
    value("cipher-suites", "ETCD_CIPHER_SUITES"),
    boolean(
        "experimental-peer-skip-client-san-verification",
        "ETCD_EXPERIMENTAL_PEER_SKIP_CLIENT_SAN_VERIFICATION",
    ),
    value("tls-min-version", "ETCD_TLS_MIN_VERSION"),
    value("tls-max-version", "ETCD_TLS_MAX_VERSION"),
    value("cors", "ETCD_CORS"),
    value("host-whitelist", "ETCD_HOST_WHITELIST"),
    value("logger", "ETCD_LOGGER"),
    value("log-outputs", "ETCD_LOG_OUTPUTS"),
    boolean("enable-log-rotation", "ETCD_ENABLE_LOG_ROTATION"),
    value("log-rotation-config-json", "ETCD_LOG_ROTATION_CONFIG_JSON"),
    value("log-package-levels", "ETCD_LOG_PACKAGE_LEVELS"),
    boolean("debug", "ETCD_DEBUG"),
    boolean("enable-pprof", "ETCD_ENABLE_PPROF"),
    value("metrics", "ETCD_METRICS"),
    boolean(
        "experimental-enable-distributed-tracing",
        "ETCD_EXPERIMENTAL_ENABLE_DISTRIBUTED_TRACING",
    ),
    value(
        "experimental-distributed-tracing-address",
        "ETCD_EXPERIMENTAL_DISTRIBUTED_TRACING_ADDRESS",
    ),
    value(
        "experimental-distributed-tracing-service-name",
        "ETCD_EXPERIMENTAL_DISTRIBUTED_TRACING_SERVICE_NAME",
    ),
    value(
        "experimental-distributed-tracing-instance-id",
        "ETCD_EXPERIMENTAL_DISTRIBUTED_TRACING_INSTANCE_ID",
    ),
    value(
        "experimental-distributed-tracing-sampling-rate",
        "ETCD_EXPERIMENTAL_DISTRIBUTED_TRACING_SAMPLING_RATE",
    ),
    value("auth-token", "ETCD_AUTH_TOKEN"),
    value("bcrypt-cost", "ETCD_BCRYPT_COST"),
    value("auth-token-ttl", "ETCD_AUTH_TOKEN_TTL"),
    boolean("enable-grpc-gateway", "ETCD_ENABLE_GRPC_GATEWAY"),
    boolean(
        "experimental-compact-hash-check-enabled",
        "ETCD_EXPERIMENTAL_COMPACT_HASH_CHECK_ENABLED",
    ),
    value(
        "experimental-compact-hash-check-time",
        "ETCD_EXPERIMENTAL_COMPACT_HASH_CHECK_TIME",
    ),
    boolean(
        "experimental-enable-lease-checkpoint-persist",
        "ETCD_EXPERIMENTAL_ENABLE_LEASE_CHECKPOINT_PERSIST",
    ),
    value(
        "experimental-compaction-batch-limit",
        "ETCD_EXPERIMENTAL_COMPACTION_BATCH_LIMIT",
    ),
    value(
        "experimental-compaction-sleep-interval",
        "ETCD_EXPERIMENTAL_COMPACTION_SLEEP_INTERVAL",
    ),
    value(
        "experimental-downgrade-check-time",
        "ETCD_EXPERIMENTAL_DOWNGRADE_CHECK_TIME",
    ),
    value(
        "experimental-warning-apply-duration",
        "ETCD_EXPERIMENTAL_WARNING_APPLY_DURATION",
    ),
    boolean(
        "experimental-memory-mlock",
        "ETCD_EXPERIMENTAL_MEMORY_MLOCK",
    ),
    boolean(
        "experimental-txn-mode-write-with-shared-buffer",
        "ETCD_EXPERIMENTAL_TXN_MODE_WRITE_WITH_SHARED_BUFFER",
    ),
    boolean(
        "experimental-stop-grpc-service-on-defrag",
        "ETCD_EXPERIMENTAL_STOP_GRPC_SERVICE_ON_DEFRAG",
    ),
    value(
        "experimental-bootstrap-defrag-threshold-megabytes",
        "ETCD_EXPERIMENTAL_BOOTSTRAP_DEFRAG_THRESHOLD_MEGABYTES",
    ),
];

/// Adds every ignored flag to `cmd`, hidden from `--help`'s main list but accepted.
pub(crate) fn register(cmd: Command) -> Command {
    IGNORED.iter().fold(cmd, |cmd, ignored| {
        let arg = Arg::new(ignored.flag)
            .long(ignored.flag)
            .env(ignored.env)
            .hide(true)
            .action(ArgAction::Set);
        let arg = match ignored.kind {
            Kind::Bool => arg.num_args(0..=1).default_missing_value("true"),
            Kind::Value => arg.num_args(1).allow_hyphen_values(true),
        };
        cmd.arg(arg)
    })
}

/// The ignored flags that were given, from the command line, the environment or the config file.
pub(crate) fn given(matches: &ArgMatches) -> Vec<&'static str> {
    IGNORED
        .iter()
        .filter(|ignored| {
            matches!(
                matches.value_source(ignored.flag),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            )
        })
        .map(|ignored| ignored.flag)
        .collect()
}
