//! Join requests: how a member that is joining a running cluster asks one of
//! its members who it is.
//!
//! Such a member knows neither the cluster id nor its own member id (both
//! were chosen when it was added), so it cannot pass the checks every other
//! stream is held to. It dials a peer URL from a short-lived client endpoint,
//! with the same TLS as everything else (in `Files` mode its certificate must
//! chain to the cluster CA), and opens one stream whose hello says
//! [`StreamKind::Join`] with cluster id 0. The receiver answers it with
//! [`RaftHandler::on_join`](crate::RaftHandler::on_join) and nothing else:
//! no raft traffic is accepted on it.

use std::net::IpAddr;
use std::net::Ipv4Addr;
use std::net::Ipv6Addr;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;

use crate::config::TlsMode;
use crate::config::TransportConfig;
use crate::error::Result;
use crate::error::TransportError;
use crate::frame;
use crate::frame::Body;
use crate::frame::Frame;
use crate::frame::FrameReader;
use crate::frame::StreamKind;
use crate::shared::Shared;
use crate::tls::PeerTls;

/// True if `frame` opens a join stream.
pub(crate) fn is_join_hello(frame: &Option<Frame>) -> bool {
    matches!(
        frame,
        Some(Frame {
            body: Body::Hello {
                kind: StreamKind::Join,
                ..
            },
            ..
        })
    )
}

/// Sends `body` as a join request to the member listening at `addr` and
/// waits, at most `timeout`, for its answer.
pub async fn join_request(
    tls: &TlsMode,
    addr: SocketAddr,
    body: Bytes,
    timeout: Duration,
) -> Result<Bytes> {
    let unreachable = |e: &dyn std::fmt::Display| TransportError::Unreachable {
        peer: 0,
        reason: format!("{addr}: {e}"),
    };
    let bind_ip = match addr.ip() {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let mut cfg = TransportConfig::new(0, 0, SocketAddr::new(bind_ip, 0), std::env::temp_dir());
    cfg.tls = tls.clone();
    cfg.election_timeout = timeout;
    let client_config = PeerTls::load(tls)?.client_config(&cfg)?;
    let endpoint = quinn::Endpoint::client(cfg.listen)?;
    let max = cfg.max_frame_bytes;
    let exchange = async {
        let conn = endpoint
            .connect_with(client_config, addr, &addr.ip().to_string())
            .map_err(|e| unreachable(&e))?
            .await
            .map_err(|e| unreachable(&e))?;
        let (mut send, recv) = conn.open_bi().await.map_err(|e| unreachable(&e))?;
        frame::write(&mut send, &Frame::hello(0, 0, 0, StreamKind::Join), max).await?;
        let request = Frame {
            cluster_id: 0,
            from: 0,
            body: Body::Request(body),
        };
        frame::write(&mut send, &request, max).await?;
        send.finish().map_err(|e| unreachable(&e))?;
        let answer = FrameReader::new(recv, max)
            .next()
            .await
            .map_err(|e| unreachable(&e))?;
        conn.close(0u32.into(), b"joined");
        match answer.map(|f| f.body) {
            Some(Body::Response(Ok(b))) => Ok(b),
            Some(Body::Response(Err(reason))) => Err(TransportError::Remote { peer: 0, reason }),
            Some(_) => Err(TransportError::Frame("expected a response".into())),
            None => Err(unreachable(&"the stream closed without a response")),
        }
    };
    let outcome = tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or_else(|_| Err(unreachable(&"no answer in time")));
    endpoint.close(0u32.into(), b"done");
    outcome
}

/// Serves one join stream (its hello was a join hello).
pub(crate) async fn respond(
    shared: &Shared,
    reader: &mut FrameReader<quinn::RecvStream>,
    send: &mut quinn::SendStream,
) -> Result<()> {
    let Some(frame) = reader.next().await? else {
        return Err(TransportError::Frame(
            "join stream ended before the request".into(),
        ));
    };
    let Body::Request(body) = frame.body else {
        return Err(TransportError::Frame("expected a join request".into()));
    };
    let result = shared.handler.on_join(body).await;
    let answer = Frame {
        cluster_id: shared.cfg.cluster_id,
        from: shared.cfg.member_id,
        body: Body::Response(result),
    };
    frame::write(send, &answer, shared.cfg.max_frame_bytes).await?;
    // The stream is ours and open; finishing cannot fail but for a reset by the peer.
    let _ = send.finish();
    Ok(())
}
