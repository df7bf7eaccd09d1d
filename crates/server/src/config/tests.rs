use std::ffi::OsString;
use std::io::Write;
use std::time::Duration;

use super::*;

fn load(args: &[&str]) -> Result<ServerConfig, ConfigError> {
    let mut argv = vec![OsString::from("keel")];
    argv.extend(args.iter().map(OsString::from));
    ServerConfig::load_from(argv, &|_| None)
}

fn error(args: &[&str]) -> String {
    match load(args) {
        Ok(_) => panic!("{args:?} was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn defaults_are_etcds_with_a_keel_data_dir() {
    let config = load(&[]).unwrap();
    assert_eq!(config.name, "default");
    assert_eq!(config.data_dir, PathBuf::from("default.keel"));
    assert_eq!(config.wal_dir, PathBuf::from("default.keel/member/wal"));
    assert_eq!(
        config.listen_client_urls,
        vec![Url::parse("http://localhost:2379").unwrap()]
    );
    assert_eq!(
        config.listen_peer_urls[0]
            .socket_addr()
            .unwrap()
            .to_string(),
        "127.0.0.1:2380"
    );
    assert_eq!(config.heartbeat_interval, Duration::from_millis(100));
    assert_eq!(config.election_timeout, Duration::from_millis(1000));
    assert_eq!(config.election_ticks(), 10);
    assert_eq!(config.snapshot_count, 100_000);
    assert_eq!((config.max_snapshots, config.max_wals), (5, 5));
    assert_eq!(config.quota_backend_bytes, 2 * 1024 * 1024 * 1024);
    assert_eq!(config.max_request_bytes, 1_572_864);
    assert!(config.pre_vote);
    assert_eq!(config.initial_cluster_token, "etcd-cluster");
    assert_eq!(config.initial_cluster_state, ClusterState::New);
    assert_eq!(config.initial_cluster.len(), 1);
    assert_eq!(config.initial_cluster[0].name, "default");
    assert_eq!(
        config.initial_cluster[0].peer_urls[0].to_string(),
        "http://localhost:2380"
    );
    assert_eq!(config.peer_tls, PeerTls::Auto);
    assert_eq!(config.auto_compaction, None);
    assert!(config.ignored_flags.is_empty());
}

#[test]
fn three_member_flags_parse() {
    let config = load(&[
        "--name=b",
        "-data-dir",
        "/tmp/b",
        "--initial-advertise-peer-urls=http://127.0.0.1:3380",
        "--initial-cluster",
        "a=http://127.0.0.1:2380,b=http://127.0.0.1:3380,c=http://127.0.0.1:4380",
        "--initial-cluster-state=existing",
        "--pre-vote=false",
        "--auto-compaction-mode=revision",
        "--auto-compaction-retention=1000",
    ])
    .unwrap();
    assert_eq!(config.data_dir, PathBuf::from("/tmp/b"));
    assert_eq!(config.initial_cluster.len(), 3);
    assert_eq!(config.initial_cluster_state, ClusterState::Existing);
    assert!(!config.pre_vote);
    assert_eq!(config.auto_compaction, Some(AutoCompaction::Revision(1000)));
}

#[test]
fn ignored_flags_are_accepted_and_reported() {
    let config = load(&["--enable-v2", "--logger=zap", "--backend-batch-limit", "10"]).unwrap();
    let mut given = config.ignored_flags.clone();
    given.sort_unstable();
    assert_eq!(given, vec!["backend-batch-limit", "enable-v2", "logger"]);
}

#[test]
fn unknown_and_malformed_flags_are_one_line_errors() {
    assert!(error(&["--no-such-flag"]).contains("--no-such-flag"));
    assert!(error(&["--snapshot-count=many"]).contains("snapshot-count"));
    let timing = error(&["--heartbeat-interval=300"]);
    assert!(timing.contains("at least as 5 times"), "{timing}");
    assert!(error(&["--initial-cluster-state=old"]).contains("initial-cluster-state"));
    assert!(
        error(&["--name=x", "--initial-cluster=y=http://127.0.0.1:1"]).contains("no member named")
    );
    assert!(
        error(&["--initial-cluster=default=http://a:1,b=http://a:1"]).contains("duplicate URL")
    );
    assert!(error(&["--listen-client-urls=https://127.0.0.1:1"]).contains("HTTPS"));
    assert!(error(&["--peer-cert-file=/x"]).contains("together"));
    assert!(error(&["--log-level=loud"]).contains("log-level"));
    assert!(error(&["--auto-compaction-mode=sometimes"]).contains("auto-compaction-mode"));
    assert!(error(&["--grpc-keepalive-timeout=soon"]).contains("grpc-keepalive-timeout"));
    for args in [
        &[
            "--initial-cluster=default=http://127.0.0.1:8",
            "--initial-advertise-peer-urls=http://127.0.0.1:9",
        ][..],
        &["--election-timeout=60000"],
    ] {
        assert!(!error(args).contains('\n'), "{args:?} error spans lines");
    }
}

#[test]
fn name_without_initial_cluster_uses_advertised_urls() {
    let config = load(&[
        "--name=solo",
        "--initial-advertise-peer-urls=http://127.0.0.1:7001",
    ])
    .unwrap();
    assert_eq!(config.data_dir, PathBuf::from("solo.keel"));
    assert_eq!(config.initial_cluster[0].name, "solo");
    assert_eq!(config.initial_cluster[0].peer_urls[0].port, 7001);
}

#[test]
fn config_file_replaces_flags() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(
        file,
        "name: infra1\ndata-dir: /var/lib/x\nheartbeat-interval: 50\nelection-timeout: 500\n\
         initial-advertise-peer-urls: http://127.0.0.1:12380\n\
         initial-cluster: infra1=http://127.0.0.1:12380\nenable-v2: false\n\
         peer-transport-security:\n  client-cert-auth: false\n"
    )
    .unwrap();
    let path = file.path().to_str().unwrap();
    let config = load(&["--config-file", path, "--name=ignored"]).unwrap();
    assert_eq!(config.name, "infra1");
    assert_eq!(config.heartbeat_interval, Duration::from_millis(50));
    assert_eq!(config.election_ticks(), 10);
    assert_eq!(config.ignored_flags, vec!["enable-v2"]);
}

#[test]
fn keel_aliases_fill_in_for_unset_etcd_variables() {
    let env = |name: &str| (name == "KEEL_SNAPSHOT_COUNT").then(|| OsString::from("42"));
    let config = ServerConfig::load_from(vec![OsString::from("keel")], &env).unwrap();
    assert_eq!(config.snapshot_count, 42);
    let overridden =
        ServerConfig::load_from(vec!["keel".into(), "--snapshot-count=7".into()], &env).unwrap();
    assert_eq!(overridden.snapshot_count, 7);
}
