//! From raw flags to a [`ServerConfig`]: every check etcd makes at start, with one-line errors.

use std::path::PathBuf;
use std::time::Duration;

use super::AutoCompaction;
use super::ClientTls;
use super::ClusterState;
use super::ConfigError;
use super::InitialMember;
use super::PeerTls;
use super::ServerConfig;
use super::duration::parse_go_duration;
use super::flags::Flags;
use super::url::Scheme;
use super::url::Url;

/// etcd's default backend quota (2 GiB).
pub(crate) const DEFAULT_QUOTA_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// etcd refuses election timeouts above this.
const MAX_ELECTION_TIMEOUT_MS: u64 = 50_000;

fn invalid(message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(message.into())
}

/// Checks the flags and builds the configuration.
pub(crate) fn validate(flags: Flags) -> Result<ServerConfig, ConfigError> {
    check_timing(&flags)?;
    let name = flags.name.clone();
    if name.is_empty() {
        return Err(invalid("--name must not be empty"));
    }
    let data_dir = flags
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{name}.keel")));
    let wal_dir = flags
        .wal_dir
        .clone()
        .unwrap_or_else(|| data_dir.join("member").join("wal"));
    let listen_client_urls =
        Url::parse_list(&flags.listen_client_urls, "listen-client-urls").map_err(invalid)?;
    let advertise_client_urls =
        Url::parse_list(&flags.advertise_client_urls, "advertise-client-urls").map_err(invalid)?;
    let listen_peer_urls =
        Url::parse_list(&flags.listen_peer_urls, "listen-peer-urls").map_err(invalid)?;
    let initial_advertise_peer_urls = Url::parse_list(
        &flags.initial_advertise_peer_urls,
        "initial-advertise-peer-urls",
    )
    .map_err(invalid)?;
    let initial_cluster = match &flags.initial_cluster {
        Some(text) => parse_initial_cluster(text)?,
        None => vec![InitialMember {
            name: name.clone(),
            peer_urls: initial_advertise_peer_urls.clone(),
        }],
    };
    let initial_cluster_state = match flags.initial_cluster_state.as_str() {
        "new" => ClusterState::New,
        "existing" => ClusterState::Existing,
        other => {
            return Err(invalid(format!(
                "invalid value {other:?} for --initial-cluster-state: valid values are \"new\" and \"existing\""
            )));
        }
    };
    if initial_cluster_state == ClusterState::New {
        check_self_in_cluster(&name, &initial_advertise_peer_urls, &initial_cluster)?;
    }
    if flags.initial_cluster_token.is_empty() {
        return Err(invalid("--initial-cluster-token must not be empty"));
    }
    let client_tls = client_tls(&flags, &listen_client_urls)?;
    let peer_tls = peer_tls(&flags)?;
    let listen_metrics_urls = match &flags.listen_metrics_urls {
        Some(text) if !text.trim().is_empty() => {
            Url::parse_list(text, "listen-metrics-urls").map_err(invalid)?
        }
        _ => Vec::new(),
    };
    Ok(ServerConfig {
        data_dir,
        wal_dir,
        listen_client_urls,
        advertise_client_urls,
        listen_peer_urls,
        initial_advertise_peer_urls,
        initial_cluster,
        initial_cluster_state,
        initial_cluster_token: flags.initial_cluster_token.clone(),
        heartbeat_interval: Duration::from_millis(flags.heartbeat_interval),
        election_timeout: Duration::from_millis(flags.election_timeout),
        snapshot_count: flags.snapshot_count,
        snapshot_catch_up_entries: flags.experimental_snapshot_catchup_entries,
        max_snapshots: flags.max_snapshots,
        max_wals: flags.max_wals,
        quota_backend_bytes: quota_bytes(flags.quota_backend_bytes),
        max_txn_ops: positive(flags.max_txn_ops, "max-txn-ops")?,
        max_request_bytes: positive(flags.max_request_bytes, "max-request-bytes")?,
        max_concurrent_streams: positive(flags.max_concurrent_streams, "max-concurrent-streams")?,
        grpc_keepalive_min_time: duration(
            &flags.grpc_keepalive_min_time,
            "grpc-keepalive-min-time",
        )?,
        grpc_keepalive_interval: duration(
            &flags.grpc_keepalive_interval,
            "grpc-keepalive-interval",
        )?,
        grpc_keepalive_timeout: duration(&flags.grpc_keepalive_timeout, "grpc-keepalive-timeout")?,
        strict_reconfig_check: flags.strict_reconfig_check,
        pre_vote: flags.pre_vote,
        auto_compaction: auto_compaction(
            &flags.auto_compaction_mode,
            &flags.auto_compaction_retention,
        )?,
        client_tls,
        peer_tls,
        listen_metrics_urls,
        log_level: log_level(&flags.log_level)?,
        watch_progress_notify_interval: duration(
            &flags.experimental_watch_progress_notify_interval,
            "experimental-watch-progress-notify-interval",
        )?,
        initial_corrupt_check: flags.experimental_initial_corrupt_check,
        corrupt_check_interval: duration(
            &flags.experimental_corrupt_check_time,
            "experimental-corrupt-check-time",
        )?,
        force_new_cluster: flags.force_new_cluster,
        unsafe_no_fsync: flags.unsafe_no_fsync,
        print_version: flags.version,
        ignored_flags: Vec::new(),
        name,
    })
}

fn check_timing(flags: &Flags) -> Result<(), ConfigError> {
    if flags.heartbeat_interval == 0 {
        return Err(invalid("--heartbeat-interval must be greater than 0"));
    }
    if flags.election_timeout < 5 * flags.heartbeat_interval {
        return Err(invalid(format!(
            "--election-timeout[{}ms] should be at least as 5 times as --heartbeat-interval[{}ms]",
            flags.election_timeout, flags.heartbeat_interval
        )));
    }
    if flags.election_timeout > MAX_ELECTION_TIMEOUT_MS {
        return Err(invalid(format!(
            "--election-timeout[{}ms] is too long, and should be set less than {MAX_ELECTION_TIMEOUT_MS}ms",
            flags.election_timeout
        )));
    }
    if flags.snapshot_count == 0 {
        return Err(invalid("--snapshot-count must be greater than 0"));
    }
    Ok(())
}

fn positive(value: u32, flag: &str) -> Result<u32, ConfigError> {
    if value == 0 {
        return Err(invalid(format!("--{flag} must be greater than 0")));
    }
    Ok(value)
}

fn duration(text: &str, flag: &str) -> Result<Duration, ConfigError> {
    parse_go_duration(text).map_err(|e| invalid(format!("--{flag}: {e}")))
}

fn quota_bytes(flag: i64) -> u64 {
    match flag {
        0 => DEFAULT_QUOTA_BYTES,
        // etcd disables the quota when it is negative.
        n if n < 0 => u64::MAX,
        n => n.unsigned_abs(),
    }
}

/// Parses `name=url,name=url,...`; a name may appear more than once (several URLs).
pub(crate) fn parse_initial_cluster(text: &str) -> Result<Vec<InitialMember>, ConfigError> {
    let mut members: Vec<InitialMember> = Vec::new();
    let mut seen_urls: Vec<Url> = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, url_text) = part.split_once('=').ok_or_else(|| {
            invalid(format!(
                "--initial-cluster: {part:?} does not have the form name=url"
            ))
        })?;
        if name.is_empty() {
            return Err(invalid(format!(
                "--initial-cluster: {part:?} has an empty name"
            )));
        }
        let url = Url::parse(url_text).map_err(|e| invalid(format!("--initial-cluster: {e}")))?;
        if seen_urls.contains(&url) {
            return Err(invalid(format!(
                "--initial-cluster: duplicate URL {url_text:?}"
            )));
        }
        seen_urls.push(url.clone());
        match members.iter_mut().find(|m| m.name == name) {
            Some(member) => member.peer_urls.push(url),
            None => members.push(InitialMember {
                name: name.to_string(),
                peer_urls: vec![url],
            }),
        }
    }
    if members.is_empty() {
        return Err(invalid("--initial-cluster must not be empty"));
    }
    Ok(members)
}

fn check_self_in_cluster(
    name: &str,
    advertised: &[Url],
    cluster: &[InitialMember],
) -> Result<(), ConfigError> {
    let listed = |urls: &[Url]| {
        urls.iter()
            .map(Url::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    let Some(me) = cluster.iter().find(|m| m.name == name) else {
        return Err(invalid(format!(
            "--initial-cluster has no member named {name:?} (--name)"
        )));
    };
    let mut mine: Vec<String> = me.peer_urls.iter().map(Url::to_string).collect();
    let mut adv: Vec<String> = advertised.iter().map(Url::to_string).collect();
    mine.sort();
    adv.sort();
    if mine != adv {
        return Err(invalid(format!(
            "--initial-cluster has {name}={} but missing from --initial-advertise-peer-urls={}",
            listed(&me.peer_urls),
            listed(advertised)
        )));
    }
    Ok(())
}

fn client_tls(flags: &Flags, listen: &[Url]) -> Result<ClientTls, ConfigError> {
    if flags.cert_file.is_some() != flags.key_file.is_some() {
        return Err(invalid("--cert-file and --key-file must be given together"));
    }
    let has_cert = flags.cert_file.is_some() || flags.auto_tls;
    if !has_cert && listen.iter().any(|u| u.scheme == Scheme::Https) {
        return Err(invalid(
            "TLS key/cert (--cert-file, --key-file) must be provided for client url with HTTPS scheme",
        ));
    }
    if flags.client_cert_auth && flags.trusted_ca_file.is_none() {
        return Err(invalid("--client-cert-auth requires --trusted-ca-file"));
    }
    Ok(ClientTls {
        cert_file: flags.cert_file.clone(),
        key_file: flags.key_file.clone(),
        trusted_ca_file: flags.trusted_ca_file.clone(),
        client_cert_auth: flags.client_cert_auth,
        auto_tls: flags.auto_tls,
    })
}

fn peer_tls(flags: &Flags) -> Result<PeerTls, ConfigError> {
    match (
        &flags.peer_cert_file,
        &flags.peer_key_file,
        &flags.peer_trusted_ca_file,
    ) {
        (None, None, None) => Ok(PeerTls::Auto),
        (Some(cert), Some(key), Some(ca)) => Ok(PeerTls::Files {
            cert: cert.clone(),
            key: key.clone(),
            trusted_ca: ca.clone(),
            client_cert_auth: flags.peer_client_cert_auth,
        }),
        _ => Err(invalid(
            "--peer-cert-file, --peer-key-file and --peer-trusted-ca-file must be given together",
        )),
    }
}

fn auto_compaction(mode: &str, retention: &str) -> Result<Option<AutoCompaction>, ConfigError> {
    let retention = retention.trim();
    let bad = || {
        invalid(format!(
            "--auto-compaction-retention: invalid value {retention:?} for mode {mode:?}"
        ))
    };
    match mode {
        "periodic" => {
            let period = match retention.parse::<u64>() {
                Ok(hours) => Duration::from_secs(hours * 3600),
                Err(_) => parse_go_duration(retention).map_err(|_| bad())?,
            };
            Ok((!period.is_zero()).then_some(AutoCompaction::Periodic(period)))
        }
        "revision" => {
            let revisions = retention.parse::<i64>().map_err(|_| bad())?;
            if revisions < 0 {
                return Err(bad());
            }
            Ok((revisions > 0).then_some(AutoCompaction::Revision(revisions)))
        }
        other => Err(invalid(format!(
            "invalid --auto-compaction-mode {other:?}: valid values are \"periodic\" and \"revision\""
        ))),
    }
}

fn log_level(level: &str) -> Result<String, ConfigError> {
    match level {
        "debug" | "info" | "warn" | "error" => Ok(level.to_string()),
        "panic" | "fatal" | "dpanic" => Ok("error".to_string()),
        other => Err(invalid(format!(
            "--log-level {other:?}: only debug, info, warn, error, panic and fatal are supported"
        ))),
    }
}
