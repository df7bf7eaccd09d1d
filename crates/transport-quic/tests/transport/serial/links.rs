//! Requests, peers moving to a new address, removal and shutdown.

use bytes::Bytes;
use raft_core::MessageType;
use transport_quic::TlsMode;
use transport_quic::Transport;
use transport_quic::TransportError;

use crate::support::mesh;
use crate::support::msg;
use crate::support::start_node;
use crate::support::wait_until;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_answered_and_errors_carried_back() {
    let a = start_node(7, 1, TlsMode::Auto).await;
    let b = start_node(7, 2, TlsMode::Auto).await;
    mesh(&[&a, &b]);
    let answer = a
        .transport
        .request(2, Bytes::from_static(b"ping"))
        .await
        .unwrap();
    assert_eq!(answer.as_ref(), b"echo:ping");
    let refused = a.transport.request(2, Bytes::from_static(b"fail")).await;
    assert!(
        matches!(refused, Err(TransportError::Remote { peer: 2, ref reason }) if reason == "refused for 1")
    );
    assert!(matches!(
        a.transport.request(9, Bytes::new()).await,
        Err(TransportError::UnknownPeer(9))
    ));
    a.transport.shutdown().await;
    b.transport.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_moves_is_reached_at_its_new_address() {
    let a = start_node(7, 1, TlsMode::Auto).await;
    let b = start_node(7, 2, TlsMode::Auto).await;
    mesh(&[&a, &b]);
    a.transport.send(vec![msg(MessageType::Heartbeat, 1, 2, 1)]);
    wait_until("first heartbeat", || b.recorder.kept_from(1).len() == 1).await;

    // Member 2 restarts elsewhere.
    b.transport.shutdown().await;
    let moved = start_node(7, 2, TlsMode::Auto).await;
    assert_ne!(moved.addr(), b.addr());
    a.transport.update_peer(2, moved.addr());
    // Messages sent while the link moves may be lost, as raft allows; keep
    // sending until one arrives.
    let mut i = 1;
    while moved.recorder.kept_from(1).is_empty() {
        i += 1;
        a.transport.send(vec![msg(MessageType::Heartbeat, 1, 2, i)]);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(i < 6_000, "the moved peer was never reached");
    }
    let answer = a
        .transport
        .request(2, Bytes::from_static(b"moved"))
        .await
        .unwrap();
    assert_eq!(answer.as_ref(), b"echo:moved");

    a.transport.remove_peer(2);
    assert!(matches!(
        a.transport.request(2, Bytes::new()).await,
        Err(TransportError::UnknownPeer(2))
    ));
    a.transport.shutdown().await;
    moved.transport.shutdown().await;
}
