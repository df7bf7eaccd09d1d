//! Sending a snapshot: its own connection (so its congestion window and flow
//! control never delay the message stream), data in chunks with QUIC's
//! backpressure, a CRC32C at the end, and the receiver's acknowledgement.

use std::sync::Arc;

use bytes::Bytes;
use raft_core::Message;
use tokio::io::AsyncReadExt;
use tracing::info;
use tracing::warn;

use crate::error::Result;
use crate::error::TransportError;
use crate::frame;
use crate::frame::Body;
use crate::frame::Frame;
use crate::frame::FrameReader;
use crate::frame::StreamKind;
use crate::handler::SnapshotSource;
use crate::peer::Peer;
use crate::shared::Shared;
use crate::stats::add;

/// Bytes of snapshot data per frame (well under the smallest `max_frame_bytes`).
pub(crate) const SNAPSHOT_CHUNK_BYTES: usize = 256 * 1024;
const _: () = assert!(SNAPSHOT_CHUNK_BYTES * 2 <= crate::config::MIN_MAX_FRAME_BYTES);

/// Sends the snapshot and reports the outcome to the member.
pub(crate) async fn send_and_report(
    shared: Arc<Shared>,
    peer: Arc<Peer>,
    msg: Message,
    data: SnapshotSource,
) {
    let index = msg.snapshot.as_ref().map_or(0, |s| s.metadata.index);
    match send(&shared, &peer, msg, data).await {
        Ok(bytes) => {
            info!(
                peer = format_args!("{:x}", peer.id),
                index, bytes, "sent a snapshot"
            );
            shared.handler.report_snapshot(peer.id, false);
        }
        Err(e) => {
            warn!(peer = format_args!("{:x}", peer.id), index, error = %e, "snapshot transfer failed");
            shared.handler.report_unreachable(peer.id);
            shared.handler.report_snapshot(peer.id, true);
        }
    }
}

/// Where snapshot data comes from, read chunk by chunk.
enum Chunks {
    File(tokio::fs::File, Vec<u8>),
    Bytes(Bytes),
}

impl Chunks {
    async fn open(data: SnapshotSource) -> Result<(Self, u64)> {
        match data {
            SnapshotSource::File(path) => {
                let f = tokio::fs::File::open(&path).await?;
                let len = f.metadata().await?.len();
                Ok((Self::File(f, vec![0; SNAPSHOT_CHUNK_BYTES]), len))
            }
            SnapshotSource::Bytes(b) => {
                let len = b.len() as u64;
                Ok((Self::Bytes(b), len))
            }
        }
    }

    /// The next chunk of at most `want` bytes (`want` > 0), failing if the
    /// source ends early.
    async fn next(&mut self, want: usize) -> Result<Bytes> {
        match self {
            Self::File(f, buf) => {
                let buf = buf
                    .get_mut(..want)
                    .ok_or_else(|| TransportError::Frame("chunk too large".into()))?;
                f.read_exact(buf).await?;
                Ok(Bytes::copy_from_slice(buf))
            }
            Self::Bytes(b) => {
                if b.len() < want {
                    return Err(TransportError::Frame("snapshot source ended early".into()));
                }
                Ok(b.split_to(want))
            }
        }
    }
}

async fn send(shared: &Shared, peer: &Peer, msg: Message, data: SnapshotSource) -> Result<u64> {
    let unreachable = |e: &dyn std::fmt::Display| TransportError::Unreachable {
        peer: peer.id,
        reason: e.to_string(),
    };
    let (mut chunks, total_bytes) = Chunks::open(data).await?;
    let conn = shared.dial(peer.id, peer.addr()).await?;
    let result = async {
        let (mut send, recv) = conn.open_bi().await.map_err(|e| unreachable(&e))?;
        let (cluster_id, from, max) = (
            shared.cfg.cluster_id,
            shared.cfg.member_id,
            shared.cfg.max_frame_bytes,
        );
        let frame_of = |body| Frame {
            cluster_id,
            from,
            body,
        };
        frame::write(
            &mut send,
            &Frame::hello(cluster_id, from, peer.id, StreamKind::Snapshot),
            max,
        )
        .await?;
        frame::write(
            &mut send,
            &frame_of(Body::SnapshotHeader { msg, total_bytes }),
            max,
        )
        .await?;
        let mut sent = 0u64;
        let mut crc = 0u32;
        while sent < total_bytes {
            let want = (total_bytes - sent).min(SNAPSHOT_CHUNK_BYTES as u64) as usize;
            let chunk = chunks.next(want).await?;
            crc = crc32c::crc32c_append(crc, &chunk);
            frame::write(&mut send, &frame_of(Body::SnapshotChunk(chunk)), max).await?;
            sent += want as u64;
            add(&peer.counters.snapshot_sent_bytes, want as u64);
        }
        frame::write(&mut send, &frame_of(Body::SnapshotEnd { crc32c: crc }), max).await?;
        send.finish().map_err(|e| unreachable(&e))?;
        let ack = FrameReader::new(recv, max).next().await?;
        match ack.map(|f| f.body) {
            Some(Body::SnapshotAck(Ok(()))) => Ok(total_bytes),
            Some(Body::SnapshotAck(Err(reason))) => Err(TransportError::Remote {
                peer: peer.id,
                reason,
            }),
            Some(_) => Err(TransportError::Frame(
                "expected a snapshot acknowledgement".into(),
            )),
            None => Err(unreachable(&"the stream closed without an acknowledgement")),
        }
    }
    .await;
    conn.close(0u32.into(), b"snapshot done");
    result
}
