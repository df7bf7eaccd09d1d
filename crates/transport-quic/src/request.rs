//! Requests between members: one bidirectional stream per request and answer.

use std::sync::Arc;

use bytes::Bytes;

use crate::error::Result;
use crate::error::TransportError;
use crate::frame;
use crate::frame::Body;
use crate::frame::Frame;
use crate::frame::FrameReader;
use crate::frame::StreamKind;
use crate::peer::Peer;
use crate::shared::Shared;

/// Sends `body` to `peer` and waits for the answer.
pub(crate) async fn call(shared: Arc<Shared>, peer: Arc<Peer>, body: Bytes) -> Result<Bytes> {
    let unreachable = |e: &dyn std::fmt::Display| TransportError::Unreachable {
        peer: peer.id,
        reason: e.to_string(),
    };
    let conn = peer.connection(&shared).await?;
    let (mut send, recv) = conn.open_bi().await.map_err(|e| unreachable(&e))?;
    let (cluster_id, from, max) = (
        shared.cfg.cluster_id,
        shared.cfg.member_id,
        shared.cfg.max_frame_bytes,
    );
    frame::write(
        &mut send,
        &Frame::hello(cluster_id, from, peer.id, StreamKind::Request),
        max,
    )
    .await?;
    frame::write(
        &mut send,
        &Frame {
            cluster_id,
            from,
            body: Body::Request(body),
        },
        max,
    )
    .await?;
    send.finish().map_err(|e| unreachable(&e))?;
    let mut reader = FrameReader::new(recv, max);
    let answer = reader.next().await.map_err(|e| unreachable(&e))?;
    match answer.map(|f| f.body) {
        Some(Body::Response(Ok(b))) => Ok(b),
        Some(Body::Response(Err(reason))) => Err(TransportError::Remote {
            peer: peer.id,
            reason,
        }),
        Some(_) => Err(TransportError::Frame("expected a response".into())),
        None => Err(unreachable(&"the stream closed without a response")),
    }
}

/// Serves one request stream whose hello has been checked.
pub(crate) async fn respond(
    shared: &Shared,
    from: u64,
    reader: &mut FrameReader<quinn::RecvStream>,
    send: &mut quinn::SendStream,
) -> Result<()> {
    let Some(frame) = reader.next().await? else {
        return Err(TransportError::Frame(
            "request stream ended before the request".into(),
        ));
    };
    if frame.from != from {
        return Err(TransportError::Frame(format!(
            "member {from:x} sent a frame as {:x}",
            frame.from
        )));
    }
    shared.check_sender(frame.cluster_id, frame.from)?;
    let Body::Request(body) = frame.body else {
        return Err(TransportError::Frame("expected a request".into()));
    };
    let result = shared.handler.on_request(from, body).await;
    let (cluster_id, member_id) = (shared.cfg.cluster_id, shared.cfg.member_id);
    let answer = Frame {
        cluster_id,
        from: member_id,
        body: Body::Response(result),
    };
    frame::write(send, &answer, shared.cfg.max_frame_bytes).await?;
    // The stream is ours and open; finishing cannot fail but for a reset by the peer.
    let _ = send.finish();
    Ok(())
}
