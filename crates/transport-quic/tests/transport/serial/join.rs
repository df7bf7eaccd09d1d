//! Join requests: a member that knows no cluster id yet is answered by a
//! member that serves them, refused by one that does not, and still held to
//! the cluster's certificates.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use raft_core::Message;
use transport_quic::QuicTransport;
use transport_quic::RaftHandler;
use transport_quic::SnapshotData;
use transport_quic::TlsMode;
use transport_quic::TransportError;
use transport_quic::generate_cluster_certs;
use transport_quic::join_request;

use crate::support::config;
use crate::support::start_node;

const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);

/// Answers join requests with the request reversed; ignores everything else.
struct Answers;

impl RaftHandler for Answers {
    fn on_message(&self, _msg: Message) {}
    fn on_snapshot(&self, _msg: Message, _data: SnapshotData) {}
    fn on_request(&self, _from: u64, _body: Bytes) -> BoxFuture<'static, Result<Bytes, String>> {
        Box::pin(async { Err("no requests".to_string()) })
    }
    fn on_join(&self, body: Bytes) -> BoxFuture<'static, Result<Bytes, String>> {
        let mut reversed = body.to_vec();
        reversed.reverse();
        Box::pin(async move { Ok(Bytes::from(reversed)) })
    }
    fn is_removed(&self, _member_id: u64) -> bool {
        false
    }
    fn report_unreachable(&self, _member_id: u64) {}
    fn report_snapshot(&self, _member_id: u64, _failed: bool) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joiner_without_ids_is_answered_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let serving = QuicTransport::start(config(7, 1, TlsMode::Auto, dir.path()), Arc::new(Answers))
        .await
        .unwrap();
    let answer = join_request(
        &TlsMode::Auto,
        serving.local_addr(),
        Bytes::from_static(b"abc"),
        ANSWER_TIMEOUT,
    )
    .await
    .unwrap();
    assert_eq!(answer, Bytes::from_static(b"cba"));

    // A handler that does not serve joins refuses them with a reason.
    let plain = start_node(7, 2, TlsMode::Auto).await;
    let refused = join_request(
        &TlsMode::Auto,
        plain.addr(),
        Bytes::from_static(b"abc"),
        ANSWER_TIMEOUT,
    )
    .await;
    assert!(
        matches!(refused, Err(TransportError::Remote { .. })),
        "{refused:?}"
    );
    serving.shutdown().await;
    plain.transport.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joiner_with_a_foreign_certificate_is_not_answered() {
    let dir = tempfile::tempdir().unwrap();
    let ours = generate_cluster_certs(&dir.path().join("ours"), &["m1"]).unwrap();
    let theirs = generate_cluster_certs(&dir.path().join("theirs"), &["m9"]).unwrap();
    let files = |certs: &transport_quic::ClusterCerts| TlsMode::Files {
        cert: certs.members[0].cert.clone(),
        key: certs.members[0].key.clone(),
        trusted_ca: certs.ca_cert.clone(),
        client_cert_auth: true,
    };
    let serving = QuicTransport::start(config(7, 1, files(&ours), dir.path()), Arc::new(Answers))
        .await
        .unwrap();
    let foreign = join_request(
        &files(&theirs),
        serving.local_addr(),
        Bytes::from_static(b"abc"),
        ANSWER_TIMEOUT,
    )
    .await;
    assert!(foreign.is_err(), "a foreign certificate got an answer");
    serving.shutdown().await;
}
