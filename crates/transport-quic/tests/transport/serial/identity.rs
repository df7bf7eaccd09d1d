//! Who may talk: certificates from another CA are refused during the
//! handshake; another cluster's and removed members' traffic is dropped.

use std::path::Path;

use raft_core::MessageType;
use transport_quic::ClusterCerts;
use transport_quic::TlsMode;
use transport_quic::Transport;
use transport_quic::generate_cluster_certs;

use crate::support::msg;
use crate::support::start_node;
use crate::support::wait_until;

fn files(certs: &ClusterCerts, member: usize, trusted_ca: &Path) -> TlsMode {
    TlsMode::Files {
        cert: certs.members[member].cert.clone(),
        key: certs.members[member].key.clone(),
        trusted_ca: trusted_ca.to_owned(),
        client_cert_auth: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_another_ca_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ours = generate_cluster_certs(&dir.path().join("ours"), &["m1", "m2"]).unwrap();
    let theirs = generate_cluster_certs(&dir.path().join("theirs"), &["m3"]).unwrap();
    // The intruder trusts both CAs, so only our side's check can stop it.
    let both = dir.path().join("both.pem");
    let pem = [
        std::fs::read(&ours.ca_cert).unwrap(),
        std::fs::read(&theirs.ca_cert).unwrap(),
    ]
    .concat();
    std::fs::write(&both, pem).unwrap();

    let a = start_node(7, 1, files(&ours, 0, &ours.ca_cert)).await;
    let b = start_node(7, 2, files(&ours, 1, &ours.ca_cert)).await;
    let c = start_node(7, 3, files(&theirs, 0, &both)).await;
    a.transport.add_peer(3, c.addr());
    b.transport.add_peer(1, a.addr());
    c.transport.add_peer(1, a.addr());

    c.transport.send(vec![msg(MessageType::Heartbeat, 3, 1, 1)]);
    b.transport.send(vec![msg(MessageType::Heartbeat, 2, 1, 1)]);
    a.transport.send(vec![msg(MessageType::Heartbeat, 1, 3, 1)]);
    wait_until("b's message", || !a.recorder.kept_from(2).is_empty()).await;
    wait_until("a refused c", || {
        a.transport.stats().handshakes_refused >= 1
    })
    .await;
    wait_until("c saw a unreachable", || c.recorder.saw_unreachable(1)).await;
    // a does not trust c's certificate as a server either.
    wait_until("a saw c unreachable", || a.recorder.saw_unreachable(3)).await;
    assert!(
        a.recorder.kept_from(3).is_empty(),
        "a message got through with a foreign certificate"
    );
    assert!(c.recorder.kept_from(1).is_empty());
    for n in [&a, &b, &c] {
        n.transport.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_cluster_and_removed_members_are_dropped() {
    let a = start_node(7, 1, TlsMode::Auto).await;
    let b = start_node(7, 2, TlsMode::Auto).await;
    let removed = start_node(7, 3, TlsMode::Auto).await;
    let foreign = start_node(8, 4, TlsMode::Auto).await;
    a.recorder.removed.lock().unwrap().insert(3);
    for n in [&b, &removed, &foreign] {
        n.transport.add_peer(1, a.addr());
        n.transport
            .send(vec![msg(MessageType::Heartbeat, n.id, 1, 1)]);
    }
    wait_until("b's message", || !a.recorder.kept_from(2).is_empty()).await;
    wait_until("foreign dropped", || {
        a.transport.stats().foreign_dropped >= 1
    })
    .await;
    wait_until("removed dropped", || {
        a.transport.stats().removed_dropped >= 1
    })
    .await;
    assert!(
        a.recorder.kept_from(3).is_empty(),
        "a removed member's message was delivered"
    );
    assert!(
        a.recorder.kept_from(4).is_empty(),
        "another cluster's message was delivered"
    );
    assert!(!a.transport.stats().peers.contains_key(&4));
    for n in [&a, &b, &removed, &foreign] {
        n.transport.shutdown().await;
    }
}
