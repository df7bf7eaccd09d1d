//! The wire format: length-prefixed bincode frames.
//!
//! A frame is a 4-byte big-endian payload length followed by the bincode 2
//! (serde, standard config) encoding of a [`Frame`].
//! Every stream opens with a [`Body::Hello`] frame; every frame carries the
//! cluster id and the sender's member id, which the receiver checks.
//! A payload longer than the receiver's `max_frame_bytes`, or one that does
//! not decode, is an error that closes the stream.

use bytes::Bytes;
use raft_core::Message;
use serde::Deserialize;
use serde::Serialize;
use tokio::io::AsyncRead;
use tokio::io::AsyncReadExt;
use tokio::io::AsyncWrite;
use tokio::io::AsyncWriteExt;

use crate::config::MAX_MAX_FRAME_BYTES;
use crate::error::Result;
use crate::error::TransportError;

/// The peer protocol's version, sent in every stream's hello.
pub const PROTOCOL_VERSION: u32 = 1;
/// The TLS application protocol name peers negotiate.
pub const ALPN: &[u8] = b"keel-peer/1";
/// Bytes of the length prefix.
pub const LEN_PREFIX_BYTES: usize = 4;
/// The code a receiver stops a stream with after a malformed or oversized frame.
pub const STOP_FRAME_ERROR: u32 = 1;
/// The code a receiver stops a stream with when it refuses the sender
/// (another cluster, a removed member, another protocol version).
pub const STOP_REFUSED: u32 = 2;

/// What a stream carries, announced in its hello.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamKind {
    /// The long-lived ordered stream of raft messages (sender to receiver).
    Messages,
    /// One snapshot transfer (bidirectional: the receiver acknowledges).
    Snapshot,
    /// One request and its response.
    Request,
    /// One join request from a member that does not know its ids yet
    /// (cluster id 0): see [`crate::join_request`].
    Join,
}

/// One frame: who sends it, and what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    /// The sender's cluster.
    pub cluster_id: u64,
    /// The sender's member id.
    pub from: u64,
    /// The content.
    pub body: Body,
}

/// What a frame holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    /// The first frame of every stream.
    Hello {
        /// The sender's [`PROTOCOL_VERSION`].
        protocol_version: u32,
        /// What the stream carries.
        kind: StreamKind,
        /// The member the sender means to reach.
        to: u64,
    },
    /// A batch of raft messages, in order.
    Messages(Vec<Message>),
    /// Opens a snapshot transfer.
    SnapshotHeader {
        /// The raft `Snapshot` message, with metadata.
        msg: Message,
        /// Bytes of data that follow in chunks.
        total_bytes: u64,
    },
    /// The next piece of snapshot data.
    SnapshotChunk(Bytes),
    /// Closes a snapshot transfer with the CRC32C of all its data.
    SnapshotEnd {
        /// CRC32C (Castagnoli) of the data.
        crc32c: u32,
    },
    /// The receiver's verdict on a snapshot transfer.
    SnapshotAck(std::result::Result<(), String>),
    /// A request for the receiving member.
    Request(Bytes),
    /// The answer to a request.
    Response(std::result::Result<Bytes, String>),
}

impl Frame {
    /// A hello frame.
    pub fn hello(cluster_id: u64, from: u64, to: u64, kind: StreamKind) -> Self {
        let body = Body::Hello {
            protocol_version: PROTOCOL_VERSION,
            kind,
            to,
        };
        Self {
            cluster_id,
            from,
            body,
        }
    }
}

fn bincode_config() -> impl bincode::config::Config {
    // The limit bounds what a length field inside a frame may make the
    // decoder allocate; frames themselves are bounded before decoding.
    bincode::config::standard().with_limit::<MAX_MAX_FRAME_BYTES>()
}

/// Encodes a frame with its length prefix, refusing one above `max_frame_bytes`.
pub fn encode(frame: &Frame, max_frame_bytes: usize) -> Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(size_hint(frame).min(max_frame_bytes) + LEN_PREFIX_BYTES);
    buf.resize(LEN_PREFIX_BYTES, 0);
    bincode::serde::encode_into_std_write(frame, &mut buf, bincode_config())
        .map_err(|e| TransportError::Frame(format!("encode: {e}")))?;
    let payload_bytes = buf.len() - LEN_PREFIX_BYTES;
    if payload_bytes > max_frame_bytes {
        return Err(oversized(payload_bytes, max_frame_bytes));
    }
    let len =
        u32::try_from(payload_bytes).map_err(|_| oversized(payload_bytes, max_frame_bytes))?;
    buf[..LEN_PREFIX_BYTES].copy_from_slice(&len.to_be_bytes());
    Ok(buf)
}

/// Roughly the encoded size of `frame`, so that encoding a batch of entries
/// allocates its buffer once instead of doubling it up to the frame's size.
fn size_hint(frame: &Frame) -> usize {
    const MESSAGE_FIELDS_BYTES: usize = 64;
    const ENTRY_FIELDS_BYTES: usize = 24;
    match &frame.body {
        Body::Messages(msgs) => msgs
            .iter()
            .map(|m| {
                let entries: usize = m
                    .entries
                    .iter()
                    .map(|e| e.data.len() + ENTRY_FIELDS_BYTES)
                    .sum();
                MESSAGE_FIELDS_BYTES + m.context.len() + entries
            })
            .sum(),
        Body::SnapshotChunk(data) | Body::Request(data) => data.len() + MESSAGE_FIELDS_BYTES,
        _ => MESSAGE_FIELDS_BYTES,
    }
}

/// Decodes one frame's payload (without the length prefix).
pub fn decode(payload: &[u8]) -> Result<Frame> {
    let (frame, used) = bincode::serde::decode_from_slice::<Frame, _>(payload, bincode_config())
        .map_err(|e| TransportError::Frame(format!("decode: {e}")))?;
    if used != payload.len() {
        return Err(TransportError::Frame(format!(
            "{} trailing bytes after the frame",
            payload.len() - used
        )));
    }
    Ok(frame)
}

fn oversized(payload_bytes: usize, max_frame_bytes: usize) -> TransportError {
    TransportError::Frame(format!(
        "frame of {payload_bytes} bytes exceeds the limit of {max_frame_bytes}"
    ))
}

/// Writes one encoded frame.
pub async fn write<W: AsyncWrite + Unpin>(
    w: &mut W,
    frame: &Frame,
    max_frame_bytes: usize,
) -> Result<()> {
    let buf = encode(frame, max_frame_bytes)?;
    w.write_all(&buf).await?;
    Ok(())
}

/// Reads frames from one stream, reusing its buffer.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    buf: Vec<u8>,
    max_frame_bytes: usize,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// Reads from `inner`, accepting frames up to `max_frame_bytes`.
    pub fn new(inner: R, max_frame_bytes: usize) -> Self {
        Self {
            inner,
            buf: Vec::new(),
            max_frame_bytes,
        }
    }

    /// The next frame, `None` at a clean end of stream, an error for a torn,
    /// oversized or malformed frame.
    pub async fn next(&mut self) -> Result<Option<Frame>> {
        let mut prefix = [0u8; LEN_PREFIX_BYTES];
        let mut filled = 0;
        while filled < LEN_PREFIX_BYTES {
            let n = self.inner.read(&mut prefix[filled..]).await?;
            if n == 0 {
                if filled == 0 {
                    return Ok(None);
                }
                return Err(TransportError::Frame(
                    "stream ended inside a length prefix".into(),
                ));
            }
            filled += n;
        }
        let payload_bytes = u32::from_be_bytes(prefix) as usize;
        if payload_bytes > self.max_frame_bytes {
            return Err(oversized(payload_bytes, self.max_frame_bytes));
        }
        self.buf.resize(payload_bytes, 0);
        self.inner.read_exact(&mut self.buf).await?;
        decode(&self.buf).map(Some)
    }

    /// The size of the last frame read, prefix included.
    pub fn last_frame_bytes(&self) -> usize {
        LEN_PREFIX_BYTES + self.buf.len()
    }

    /// The underlying stream.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample() -> Frame {
        let msg = Message {
            to: 2,
            from: 1,
            term: 3,
            index: 7,
            ..Message::default()
        };
        Frame {
            cluster_id: 9,
            from: 1,
            body: Body::Messages(vec![msg]),
        }
    }

    #[tokio::test]
    async fn frames_round_trip() {
        let mut wire = Vec::new();
        write(&mut wire, &sample(), 1 << 20).await.unwrap();
        write(
            &mut wire,
            &Frame::hello(9, 1, 2, StreamKind::Request),
            1 << 20,
        )
        .await
        .unwrap();
        let mut r = FrameReader::new(&wire[..], 1 << 20);
        assert_eq!(r.next().await.unwrap(), Some(sample()));
        assert_eq!(
            r.next().await.unwrap(),
            Some(Frame::hello(9, 1, 2, StreamKind::Request))
        );
        assert_eq!(r.next().await.unwrap(), None);
    }

    #[tokio::test]
    async fn oversized_and_torn_frames_are_errors() {
        let wire = encode(&sample(), 1 << 20).unwrap();
        let mut small = FrameReader::new(&wire[..], 4);
        assert!(matches!(small.next().await, Err(TransportError::Frame(_))));
        let mut torn = FrameReader::new(&wire[..wire.len() - 1], 1 << 20);
        assert!(torn.next().await.is_err());
        let mut half_prefix = FrameReader::new(&wire[..2], 1 << 20);
        assert!(half_prefix.next().await.is_err());
        assert!(encode(&sample(), 4).is_err());
    }

    #[tokio::test]
    async fn garbage_is_an_error_not_a_panic() {
        let mut wire = 200u32.to_be_bytes().to_vec();
        wire.extend(std::iter::repeat_n(0xffu8, 200));
        let mut r = FrameReader::new(&wire[..], 1 << 20);
        assert!(matches!(r.next().await, Err(TransportError::Frame(_))));
    }
}
