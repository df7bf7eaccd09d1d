//! The receiving side: accept connections, check each stream's hello, and
//! hand what arrives to the member.

use std::sync::Arc;

use tracing::debug;
use tracing::warn;

use crate::error::Result;
use crate::error::TransportError;
use crate::frame::Body;
use crate::frame::FrameReader;
use crate::frame::STOP_FRAME_ERROR;
use crate::frame::STOP_REFUSED;
use crate::frame::StreamKind;
use crate::join;
use crate::request;
use crate::shared::Shared;
use crate::snapshot_recv;
use crate::stats::add;

/// Accepts connections until the endpoint closes.
pub(crate) async fn accept_loop(shared: Arc<Shared>) {
    while let Some(incoming) = shared.endpoint.accept().await {
        tokio::spawn(serve_connection(shared.clone(), incoming));
    }
}

async fn serve_connection(shared: Arc<Shared>, incoming: quinn::Incoming) {
    let remote = incoming.remote_address();
    let conn = match incoming.await {
        Ok(c) => c,
        Err(e) => {
            add(&shared.stats.handshakes_refused, 1);
            warn!(%remote, error = %e, "refused a peer connection");
            return;
        }
    };
    loop {
        tokio::select! {
            uni = conn.accept_uni() => match uni {
                Ok(recv) => { tokio::spawn(serve_uni(shared.clone(), recv)); }
                Err(e) => { debug!(%remote, error = %e, "peer connection closed"); return; }
            },
            bi = conn.accept_bi() => match bi {
                Ok((send, recv)) => { tokio::spawn(serve_bi(shared.clone(), send, recv)); }
                Err(e) => { debug!(%remote, error = %e, "peer connection closed"); return; }
            },
        }
    }
}

/// The stop code for an error, counting and logging it.
fn stop_code(shared: &Shared, e: &TransportError) -> u32 {
    match e {
        TransportError::Handshake(_) => STOP_REFUSED,
        TransportError::Frame(_) => {
            add(&shared.stats.stream_errors, 1);
            warn!(error = %e, "closing a peer stream");
            STOP_FRAME_ERROR
        }
        _ => {
            debug!(error = %e, "peer stream broke");
            STOP_FRAME_ERROR
        }
    }
}

async fn serve_uni(shared: Arc<Shared>, recv: quinn::RecvStream) {
    let mut reader = FrameReader::new(recv, shared.cfg.max_frame_bytes);
    if let Err(e) = serve_messages(&shared, &mut reader).await {
        let code = stop_code(&shared, &e);
        // The stream may be gone already, which is what stopping wants.
        let _ = reader.get_mut().stop(code.into());
    }
}

async fn serve_messages(
    shared: &Shared,
    reader: &mut FrameReader<quinn::RecvStream>,
) -> Result<()> {
    let (from, kind) = shared.check_hello(reader.next().await?)?;
    if kind != StreamKind::Messages {
        return Err(TransportError::Frame(format!(
            "{kind:?} on a unidirectional stream"
        )));
    }
    let counters = shared.stats.peer(from);
    while let Some(frame) = reader.next().await? {
        if frame.from != from {
            return Err(TransportError::Frame(format!(
                "member {from:x} sent a frame as {:x}",
                frame.from
            )));
        }
        if shared.check_sender(frame.cluster_id, frame.from).is_err() {
            continue;
        }
        let Body::Messages(msgs) = frame.body else {
            return Err(TransportError::Frame(
                "unexpected frame on a message stream".into(),
            ));
        };
        add(&counters.received_bytes, reader.last_frame_bytes() as u64);
        add(&counters.received_messages, msgs.len() as u64);
        for m in msgs {
            shared.handler.on_message(m);
        }
    }
    Ok(())
}

async fn serve_bi(shared: Arc<Shared>, mut send: quinn::SendStream, recv: quinn::RecvStream) {
    let mut reader = FrameReader::new(recv, shared.cfg.max_frame_bytes);
    let result = async {
        let hello = reader.next().await?;
        if join::is_join_hello(&hello) {
            return join::respond(&shared, &mut reader, &mut send).await;
        }
        let (from, kind) = shared.check_hello(hello)?;
        match kind {
            StreamKind::Snapshot => {
                snapshot_recv::receive(&shared, from, &mut reader, &mut send).await
            }
            StreamKind::Request => request::respond(&shared, from, &mut reader, &mut send).await,
            StreamKind::Messages | StreamKind::Join => Err(TransportError::Frame(format!(
                "{kind:?} on a bidirectional stream after its hello"
            ))),
        }
    }
    .await;
    if let Err(e) = result {
        let code = stop_code(&shared, &e);
        let _ = reader.get_mut().stop(code.into());
        let _ = send.reset(code.into());
    }
}
