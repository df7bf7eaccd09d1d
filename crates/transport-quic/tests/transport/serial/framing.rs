//! Garbage and oversized frames close their stream; the endpoint stays up.

use raft_core::MessageType;
use transport_quic::TlsMode;
use transport_quic::Transport;
use transport_quic::frame;
use transport_quic::frame::Body;
use transport_quic::frame::Frame;
use transport_quic::frame::STOP_FRAME_ERROR;
use transport_quic::frame::StreamKind;
use transport_quic::tls::PeerTls;

use crate::support::config;
use crate::support::mesh;
use crate::support::msg;
use crate::support::start_node;
use crate::support::wait_until;

/// Dials `addr` as member `id` of cluster 7, speaking the protocol by hand.
async fn raw_connection(
    id: u64,
    addr: std::net::SocketAddr,
) -> (quinn::Endpoint, quinn::Connection) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(7, id, TlsMode::Auto, dir.path());
    let client = PeerTls::load(&TlsMode::Auto)
        .unwrap()
        .client_config(&cfg)
        .unwrap();
    let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    let conn = endpoint
        .connect_with(client, addr, "127.0.0.1")
        .unwrap()
        .await
        .unwrap();
    (endpoint, conn)
}

async fn stop_code(send: &mut quinn::SendStream) -> u64 {
    send.stopped()
        .await
        .unwrap()
        .expect("the stream was stopped with a code")
        .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_oversized_frames_close_the_stream_not_the_endpoint() {
    let a = start_node(7, 1, TlsMode::Auto).await;
    let b = start_node(7, 2, TlsMode::Auto).await;
    mesh(&[&a, &b]);
    let (_endpoint, conn) = raw_connection(5, a.addr()).await;
    let max = transport_quic::limits::DEFAULT_MAX_FRAME_BYTES;

    // A length prefix followed by bytes that do not decode.
    let mut garbage = conn.open_uni().await.unwrap();
    let mut wire = 200u32.to_be_bytes().to_vec();
    wire.extend([0xffu8; 200]);
    garbage.write_all(&wire).await.unwrap();
    assert_eq!(stop_code(&mut garbage).await, u64::from(STOP_FRAME_ERROR));

    // A valid hello, then a frame announced one byte over the limit.
    let mut oversized = conn.open_uni().await.unwrap();
    frame::write(
        &mut oversized,
        &Frame::hello(7, 5, 1, StreamKind::Messages),
        max,
    )
    .await
    .unwrap();
    oversized
        .write_all(&(max as u32 + 1).to_be_bytes())
        .await
        .unwrap();
    assert_eq!(stop_code(&mut oversized).await, u64::from(STOP_FRAME_ERROR));
    assert_eq!(a.transport.stats().stream_errors, 2);

    // The same connection still carries a well-formed stream.
    let mut good = conn.open_uni().await.unwrap();
    frame::write(&mut good, &Frame::hello(7, 5, 1, StreamKind::Messages), max)
        .await
        .unwrap();
    let batch = Body::Messages(vec![msg(MessageType::Heartbeat, 5, 1, 1)]);
    frame::write(
        &mut good,
        &Frame {
            cluster_id: 7,
            from: 5,
            body: batch,
        },
        max,
    )
    .await
    .unwrap();
    wait_until("the well-formed message", || {
        a.recorder.kept_from(5).len() == 1
    })
    .await;

    // And the member still hears its peers.
    b.transport.send(vec![msg(MessageType::Heartbeat, 2, 1, 1)]);
    wait_until("b's message", || a.recorder.kept_from(2).len() == 1).await;
    a.transport.shutdown().await;
    b.transport.shutdown().await;
}
