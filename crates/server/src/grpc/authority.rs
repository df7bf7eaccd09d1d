//! Repairing the `:authority` that etcd 3.4's clients send.
//!
//! `etcdctl` 3.4 dials each endpoint of `endpoint status`, `endpoint health`
//! and `endpoint hashkv` (and every `--cluster` form) through grpc-go's
//! passthrough resolver with the endpoint URL as the target, so its HTTP/2
//! requests carry `:authority: http://127.0.0.1:2379`. grpc-go's server (so
//! etcd) ignores that; hyper's HTTP/2 server refuses the malformed authority
//! with `PROTOCOL_ERROR` before any service sees the request.
//!
//! [`AuthorityFix`] sits between the client's socket and hyper, on the read
//! side only. It looks at the first header block of an HTTP/2 connection:
//! - a well-formed authority (every other client): the connection passes
//!   through untouched from then on, at the cost of one header decode;
//! - an authority with a scheme: from then on every header block of the
//!   connection is decoded with the client's HPACK state, its `:authority`
//!   reduced to `host:port`, and encoded again with a state of our own that
//!   hyper's decoder follows.
//!
//! HTTP/1.1 connections (the `/health` and `/metrics` endpoints) pass through.

use std::io;
use std::pin::Pin;
use std::task::Context;
use std::task::Poll;
use std::task::ready;

use bytes::Buf;
use bytes::BufMut;
use bytes::BytesMut;
use tokio::io::AsyncRead;
use tokio::io::AsyncWrite;
use tokio::io::ReadBuf;
use tonic::transport::server::Connected;

/// The HTTP/2 client connection preface.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// An HTTP/2 frame header's size.
const FRAME_HEADER_BYTES: usize = 9;
/// The largest frame payload every HTTP/2 peer accepts (SETTINGS_MAX_FRAME_SIZE's floor).
const MAX_FRAME_BYTES: usize = 16_384;
/// A header block larger than this is not inspected (hyper refuses far smaller ones).
const MAX_BLOCK_BYTES: usize = 256 * 1024;
/// How much is read from the socket at a time while rewriting.
const READ_CHUNK_BYTES: usize = 16 * 1024;

const TYPE_HEADERS: u8 = 0x1;
const TYPE_CONTINUATION: u8 = 0x9;
const FLAG_END_STREAM: u8 = 0x1;
const FLAG_END_HEADERS: u8 = 0x4;
const FLAG_PADDED: u8 = 0x8;
const FLAG_PRIORITY: u8 = 0x20;

/// What the rewriter does with the bytes it reads.
enum Mode {
    /// Waiting for the 24-byte HTTP/2 preface (or proof there is none).
    Preface,
    /// Passing frames through until the first header block is complete.
    Sniffing,
    /// Re-encoding every header block (the client sent a scheme in `:authority`).
    Rewriting {
        decoder: Box<loona_hpack::Decoder<'static>>,
        encoder: Box<loona_hpack::Encoder<'static>>,
    },
    /// Done: bytes flow untouched.
    Passthrough,
}

/// A header block being gathered across HEADERS and CONTINUATION frames.
struct Block {
    /// The frames as received, to emit untouched if no rewrite is needed.
    raw: BytesMut,
    /// The header block fragments, concatenated.
    fragments: BytesMut,
    stream_id: u32,
    end_stream: bool,
    /// The HEADERS frame's priority fields, if it had them.
    priority: Option<[u8; 5]>,
}

/// The sans-IO part: client bytes in, bytes for hyper out.
pub(crate) struct Rewriter {
    mode: Mode,
    /// Bytes read but not yet a whole frame (or preface).
    pending: BytesMut,
    block: Option<Block>,
}

impl Default for Rewriter {
    fn default() -> Self {
        Self {
            mode: Mode::Preface,
            pending: BytesMut::new(),
            block: None,
        }
    }
}

impl Rewriter {
    /// True once bytes need no more processing and nothing is held back.
    pub(crate) fn is_passthrough(&self) -> bool {
        matches!(self.mode, Mode::Passthrough) && self.pending.is_empty()
    }

    /// Processes `input`, appending what hyper may read to `out`.
    pub(crate) fn push(&mut self, input: &[u8], out: &mut BytesMut) -> io::Result<()> {
        self.pending.extend_from_slice(input);
        loop {
            match self.mode {
                Mode::Passthrough => {
                    out.extend_from_slice(&self.pending.split());
                    return Ok(());
                }
                Mode::Preface => {
                    let n = self.pending.len().min(PREFACE.len());
                    if self.pending[..n] != PREFACE[..n] {
                        self.mode = Mode::Passthrough;
                    } else if n < PREFACE.len() {
                        return Ok(());
                    } else {
                        out.extend_from_slice(&self.pending.split_to(PREFACE.len()));
                        self.mode = Mode::Sniffing;
                    }
                }
                Mode::Sniffing | Mode::Rewriting { .. } => {
                    if !self.next_frame(out)? {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// The connection ended: whatever is held back goes out as it came.
    pub(crate) fn finish(&mut self, out: &mut BytesMut) {
        if let Some(block) = self.block.take() {
            out.extend_from_slice(&block.raw);
        }
        out.extend_from_slice(&self.pending.split());
        self.mode = Mode::Passthrough;
    }

    /// Handles one whole frame from `pending`; false when there is none yet.
    fn next_frame(&mut self, out: &mut BytesMut) -> io::Result<bool> {
        let Some(header) = self.pending.get(..FRAME_HEADER_BYTES) else {
            return Ok(false);
        };
        let length =
            usize::from(header[0]) << 16 | usize::from(header[1]) << 8 | usize::from(header[2]);
        let (kind, flags) = (header[3], header[4]);
        let stream_id =
            u32::from_be_bytes([header[5], header[6], header[7], header[8]]) & 0x7fff_ffff;
        if self.pending.len() < FRAME_HEADER_BYTES + length {
            return Ok(false);
        }
        let frame = self.pending.split_to(FRAME_HEADER_BYTES + length).freeze();
        let payload = &frame[FRAME_HEADER_BYTES..];
        match kind {
            TYPE_HEADERS if self.block.is_none() => {
                let (fragment, priority) = match headers_fragment(flags, payload) {
                    Ok(parts) => parts,
                    // Not ours to judge before a rewrite: hyper answers it.
                    Err(_) if matches!(self.mode, Mode::Sniffing) => {
                        self.give_up(out);
                        out.extend_from_slice(&frame);
                        return Ok(true);
                    }
                    Err(e) => return Err(e),
                };
                self.block = Some(Block {
                    raw: BytesMut::from(&frame[..]),
                    fragments: BytesMut::from(fragment),
                    stream_id,
                    end_stream: flags & FLAG_END_STREAM != 0,
                    priority,
                });
            }
            TYPE_CONTINUATION
                if self
                    .block
                    .as_ref()
                    .is_some_and(|b| b.stream_id == stream_id) =>
            {
                if let Some(block) = self.block.as_mut() {
                    block.raw.extend_from_slice(&frame);
                    block.fragments.extend_from_slice(payload);
                }
            }
            _ if self.block.is_some() => {
                // A protocol error of the client's: let hyper see it as it is.
                self.give_up(out);
                out.extend_from_slice(&frame);
                return Ok(true);
            }
            _ => {
                out.extend_from_slice(&frame);
                return Ok(true);
            }
        }
        let too_large = self
            .block
            .as_ref()
            .is_some_and(|b| b.raw.len() > MAX_BLOCK_BYTES);
        if too_large && matches!(self.mode, Mode::Sniffing) {
            self.give_up(out);
        } else if flags & FLAG_END_HEADERS != 0
            && let Some(block) = self.block.take()
        {
            self.finish_block(block, out)?;
        }
        Ok(true)
    }

    /// Stops inspecting: held-back frames go out untouched, and so does the rest.
    fn give_up(&mut self, out: &mut BytesMut) {
        if let Some(block) = self.block.take() {
            out.extend_from_slice(&block.raw);
        }
        self.mode = Mode::Passthrough;
    }

    /// A whole header block: decide (when sniffing) and emit it.
    fn finish_block(&mut self, block: Block, out: &mut BytesMut) -> io::Result<()> {
        if matches!(self.mode, Mode::Sniffing) {
            let mut decoder = loona_hpack::Decoder::new();
            let Ok(headers) = decode(&mut decoder, &block.fragments) else {
                // Malformed: hyper answers it as it would without us.
                out.extend_from_slice(&block.raw);
                self.mode = Mode::Passthrough;
                return Ok(());
            };
            if !headers
                .iter()
                .any(|(n, v)| n == b":authority" && has_scheme(v))
            {
                out.extend_from_slice(&block.raw);
                self.mode = Mode::Passthrough;
                return Ok(());
            }
            tracing::debug!("a client sent a URL as :authority; rewriting its header blocks");
            let mut encoder = Box::new(loona_hpack::Encoder::new());
            emit(&block, &fixed(headers), &mut encoder, out);
            self.mode = Mode::Rewriting {
                decoder: Box::new(decoder),
                encoder,
            };
            return Ok(());
        }
        if let Mode::Rewriting { decoder, encoder } = &mut self.mode {
            let headers = decode(decoder, &block.fragments)?;
            emit(&block, &fixed(headers), encoder, out);
        }
        Ok(())
    }
}

type Headers = Vec<(Vec<u8>, Vec<u8>)>;

fn decode(decoder: &mut loona_hpack::Decoder<'static>, block: &[u8]) -> io::Result<Headers> {
    decoder.decode(block).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("malformed HTTP/2 header block: {e:?}"),
        )
    })
}

/// The header block fragment of a HEADERS frame's payload, and its priority fields.
fn headers_fragment(flags: u8, payload: &[u8]) -> io::Result<(&[u8], Option<[u8; 5]>)> {
    let malformed = || io::Error::new(io::ErrorKind::InvalidData, "malformed HTTP/2 HEADERS frame");
    let mut body = payload;
    let mut pad = 0;
    if flags & FLAG_PADDED != 0 {
        let (&len, rest) = body.split_first().ok_or_else(malformed)?;
        pad = usize::from(len);
        body = rest;
    }
    let mut priority = None;
    if flags & FLAG_PRIORITY != 0 {
        let fields = body.get(..5).ok_or_else(malformed)?;
        priority = Some([fields[0], fields[1], fields[2], fields[3], fields[4]]);
        body = &body[5..];
    }
    let end = body.len().checked_sub(pad).ok_or_else(malformed)?;
    Ok((&body[..end], priority))
}

/// True for an authority that is a URL (`http://host:port`), not `host:port`.
fn has_scheme(value: &[u8]) -> bool {
    value.windows(3).any(|w| w == b"://")
}

/// The headers with every URL-shaped `:authority` cut down to its host and port.
fn fixed(mut headers: Headers) -> Headers {
    for (name, value) in &mut headers {
        if name.as_slice() != b":authority" {
            continue;
        }
        if let Some(at) = value.windows(3).position(|w| w == b"://") {
            let rest = &value[at + 3..];
            let end = rest.iter().position(|&b| b == b'/').unwrap_or(rest.len());
            *value = rest[..end].to_vec();
        }
    }
    headers
}

/// Encodes `headers` as a HEADERS frame and CONTINUATION frames for `block`'s stream.
fn emit(
    block: &Block,
    headers: &Headers,
    encoder: &mut loona_hpack::Encoder<'static>,
    out: &mut BytesMut,
) {
    let encoded = encoder.encode(headers.iter().map(|(n, v)| (n.as_slice(), v.as_slice())));
    let mut prefix = Vec::new();
    let mut flags = 0;
    if block.end_stream {
        flags |= FLAG_END_STREAM;
    }
    if let Some(priority) = block.priority {
        flags |= FLAG_PRIORITY;
        prefix.extend_from_slice(&priority);
    }
    let first_room = MAX_FRAME_BYTES - prefix.len();
    let (first, mut rest) = encoded.split_at(encoded.len().min(first_room));
    let last = rest.is_empty();
    write_frame(
        out,
        TYPE_HEADERS,
        flags | if last { FLAG_END_HEADERS } else { 0 },
        block.stream_id,
        &[&prefix, first],
    );
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(rest.len().min(MAX_FRAME_BYTES));
        let flags = if tail.is_empty() { FLAG_END_HEADERS } else { 0 };
        write_frame(out, TYPE_CONTINUATION, flags, block.stream_id, &[chunk]);
        rest = tail;
    }
}

fn write_frame(out: &mut BytesMut, kind: u8, flags: u8, stream_id: u32, parts: &[&[u8]]) {
    let length: usize = parts.iter().map(|p| p.len()).sum();
    // Frames are cut at MAX_FRAME_BYTES, far below the 24-bit limit.
    out.put_uint(length as u64, 3);
    out.put_u8(kind);
    out.put_u8(flags);
    out.put_u32(stream_id);
    for part in parts {
        out.put_slice(part);
    }
}

/// A client connection whose HTTP/2 header blocks are repaired as the module says.
pub(crate) struct AuthorityFix<IO> {
    io: IO,
    rewriter: Rewriter,
    /// Processed bytes not yet read by hyper.
    ready: BytesMut,
}

impl<IO> AuthorityFix<IO> {
    /// Wraps a freshly accepted connection.
    pub(crate) fn new(io: IO) -> Self {
        Self {
            io,
            rewriter: Rewriter::default(),
            ready: BytesMut::new(),
        }
    }
}

impl<IO: Connected> Connected for AuthorityFix<IO> {
    type ConnectInfo = IO::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for AuthorityFix<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.ready.is_empty() {
                let n = this.ready.len().min(buf.remaining());
                buf.put_slice(&this.ready[..n]);
                this.ready.advance(n);
                return Poll::Ready(Ok(()));
            }
            if this.rewriter.is_passthrough() {
                return Pin::new(&mut this.io).poll_read(cx, buf);
            }
            let mut chunk = [0u8; READ_CHUNK_BYTES];
            let mut read = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.io).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                this.rewriter.finish(&mut this.ready);
                if this.ready.is_empty() {
                    return Poll::Ready(Ok(()));
                }
            } else {
                this.rewriter.push(read.filled(), &mut this.ready)?;
            }
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for AuthorityFix<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn headers(authority: &str, path: &str) -> Headers {
        [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", path),
            (":authority", authority),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
        ]
        .iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
    }

    /// A client's bytes: preface, SETTINGS, then per request a HEADERS frame
    /// (the second split into a CONTINUATION) and a DATA frame.
    fn client_bytes(authority: &str) -> Vec<u8> {
        let mut encoder = loona_hpack::Encoder::new();
        let mut out = BytesMut::from(PREFACE);
        write_frame(&mut out, 0x4, 0, 0, &[&[0, 3, 0, 0, 0, 100]]);
        for (i, path) in ["/etcdserverpb.Maintenance/Status", "/etcdserverpb.KV/Range"]
            .iter()
            .enumerate()
        {
            let stream = 1 + 2 * i as u32;
            let h = headers(authority, path);
            let block = encoder.encode(h.iter().map(|(n, v)| (n.as_slice(), v.as_slice())));
            if i == 0 {
                write_frame(&mut out, TYPE_HEADERS, FLAG_END_HEADERS, stream, &[&block]);
            } else {
                let (a, b) = block.split_at(block.len() / 2);
                write_frame(
                    &mut out,
                    TYPE_HEADERS,
                    FLAG_PADDED,
                    stream,
                    &[&[2], a, &[0, 0]],
                );
                write_frame(&mut out, TYPE_CONTINUATION, FLAG_END_HEADERS, stream, &[b]);
            }
            write_frame(&mut out, 0x0, FLAG_END_STREAM, stream, &[b"\0\0\0\0\0"]);
        }
        out.to_vec()
    }

    /// Splits server-side bytes into frames and decodes the header blocks.
    fn server_view(bytes: &[u8]) -> (Vec<Headers>, Vec<(u8, Vec<u8>)>) {
        assert!(bytes.starts_with(PREFACE));
        let mut rest = &bytes[PREFACE.len()..];
        let mut decoder = loona_hpack::Decoder::new();
        let (mut blocks, mut others, mut block) = (Vec::new(), Vec::new(), Vec::new());
        while !rest.is_empty() {
            let len = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
            let (kind, flags) = (rest[3], rest[4]);
            let payload = &rest[9..9 + len];
            if kind == TYPE_HEADERS || kind == TYPE_CONTINUATION {
                let fragment = if kind == TYPE_HEADERS {
                    headers_fragment(flags, payload).unwrap().0
                } else {
                    payload
                };
                block.extend_from_slice(fragment);
                if flags & FLAG_END_HEADERS != 0 {
                    blocks.push(decoder.decode(&block).unwrap());
                    block.clear();
                }
            } else {
                others.push((kind, payload.to_vec()));
            }
            rest = &rest[9 + len..];
        }
        (blocks, others)
    }

    fn run(input: &[u8], chunk: usize) -> Vec<u8> {
        let mut rewriter = Rewriter::default();
        let mut out = BytesMut::new();
        for piece in input.chunks(chunk) {
            rewriter.push(piece, &mut out).unwrap();
        }
        rewriter.finish(&mut out);
        out.to_vec()
    }

    #[test]
    fn a_url_authority_becomes_host_and_port_in_every_block() {
        let input = client_bytes("http://127.0.0.1:2379");
        for chunk in [1, 7, 4096] {
            let (blocks, others) = server_view(&run(&input, chunk));
            assert_eq!(
                blocks,
                vec![
                    headers("127.0.0.1:2379", "/etcdserverpb.Maintenance/Status"),
                    headers("127.0.0.1:2379", "/etcdserverpb.KV/Range")
                ]
            );
            assert_eq!(others.len(), 3, "SETTINGS and both DATA frames pass");
            assert_eq!(others[1], (0x0, b"\0\0\0\0\0".to_vec()));
        }
    }

    #[test]
    fn well_formed_connections_and_http1_pass_untouched() {
        let input = client_bytes("127.0.0.1:2379");
        assert_eq!(run(&input, 5), input);
        let http1 = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
        assert_eq!(run(&http1, 3), http1);
        let mut rewriter = Rewriter::default();
        rewriter.push(&input, &mut BytesMut::new()).unwrap();
        assert!(rewriter.is_passthrough(), "nothing more is inspected");
    }

    #[test]
    fn garbage_passes_to_hyper_first_and_is_an_error_once_rewriting() {
        let mut garbage = BytesMut::new();
        write_frame(
            &mut garbage,
            TYPE_HEADERS,
            FLAG_END_HEADERS | FLAG_PADDED,
            3,
            &[&[200, 1, 2]],
        );
        let mut undecodable = BytesMut::new();
        write_frame(
            &mut undecodable,
            TYPE_HEADERS,
            FLAG_END_HEADERS,
            3,
            &[&[0xff; 6]],
        );
        for bad in [&garbage, &undecodable] {
            let input = [PREFACE, &bad[..]].concat();
            assert_eq!(
                run(&input, 4),
                input,
                "hyper sees the client's error as it was"
            );
            let mut rewriting = Rewriter::default();
            rewriting
                .push(&client_bytes("http://h:1"), &mut BytesMut::new())
                .unwrap();
            assert!(rewriting.push(bad, &mut BytesMut::new()).is_err());
        }
    }
}
