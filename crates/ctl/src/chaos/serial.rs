//! Runs against a real single-member etcd 3.4 (skipped, saying so, when
//! `etcd` is not installed): a clean run finds nothing, and the injected
//! stale-read bug is caught. Tests here start processes, hence `serial`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::process::Child;
use std::process::Command;
use std::process::Stdio;
use std::time::Duration;

use api::etcdserverpb::RangeRequest;
use api::etcdserverpb::kv_client::KvClient;
use clap::Parser;

use super::cli::Cli;
use super::recorder;
use super::run;

/// A throwaway etcd member, killed when dropped.
struct Etcd {
    child: Child,
    endpoint: String,
    _dir: tempfile::TempDir,
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts etcd on free ports and waits until it serves a read; `None` when
/// etcd is not installed.
async fn etcd() -> Option<Etcd> {
    if Command::new("etcd").arg("--version").output().is_err() {
        eprintln!("etcd is not installed; skipping");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let (client, peer) = (free_port(), free_port());
    let client_url = format!("http://127.0.0.1:{client}");
    let peer_url = format!("http://127.0.0.1:{peer}");
    let child = Command::new("etcd")
        .args(["--name", "s", "--data-dir"])
        .arg(dir.path().join("data"))
        .args([
            "--listen-client-urls",
            &client_url,
            "--advertise-client-urls",
            &client_url,
        ])
        .args([
            "--listen-peer-urls",
            &peer_url,
            "--initial-advertise-peer-urls",
            &peer_url,
        ])
        .arg(format!("--initial-cluster=s={peer_url}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting etcd");
    let etcd = Etcd {
        child,
        endpoint: format!("127.0.0.1:{client}"),
        _dir: dir,
    };
    let channels = recorder::channels(std::slice::from_ref(&etcd.endpoint)).unwrap();
    for _ in 0..300 {
        let mut kv = KvClient::new(channels[0].clone());
        if kv
            .range(RangeRequest {
                key: b"k".to_vec(),
                ..Default::default()
            })
            .await
            .is_ok()
        {
            return Some(etcd);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("etcd did not serve within 30 s");
}

async fn chaos(endpoint: &str, extra: &[&str]) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history.jsonl");
    let mut args = vec![
        "keel-chaos".to_owned(),
        format!("--endpoints={endpoint}"),
        "--duration=4s".into(),
        "--seed=42".into(),
        "--clients=4".into(),
        format!("--history={}", history.display()),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    println!("seed=42");
    run::main(&Cli::parse_from(args)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_run_against_etcd_finds_no_anomaly() {
    let Some(etcd) = etcd().await else { return };
    // Debian's etcd 3.4.23 predates the fix of etcd-io/etcd#15220, which
    // this harness finds: its early progress notifications are tolerated here.
    assert_eq!(chaos(&etcd.endpoint, &["--allow-early-progress"]).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_stale_reads_are_caught() {
    let Some(etcd) = etcd().await else { return };
    assert!(chaos(&etcd.endpoint, &["--inject-stale-reads"]).await > 0);
}
