//! One peer as seen by the sender: its address, queue, connection and the
//! task that drains the queue onto a long-lived ordered stream.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use raft_core::Message;
use tokio::sync::mpsc;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::debug;
use tracing::warn;

use crate::error::Result;
use crate::error::TransportError;
use crate::frame;
use crate::frame::Body;
use crate::frame::Frame;
use crate::frame::StreamKind;
use crate::shared::Shared;
use crate::stats::PeerCounters;
use crate::stats::add;

/// The most messages taken from the queue per write.
const MAX_BATCH_MESSAGES: usize = 1024;
/// The encoded size a frame of messages aims for.
const BATCH_TARGET_BYTES: u64 = 256 * 1024;
/// The first pause after a failed connection attempt.
const MIN_BACKOFF: Duration = Duration::from_millis(20);
/// Message streams go before request streams on a shared connection.
const MESSAGE_STREAM_PRIORITY: i32 = 1;

/// A peer: where it lives and what is queued for it.
#[derive(Debug)]
pub(crate) struct Peer {
    pub(crate) id: u64,
    addr: watch::Sender<SocketAddr>,
    queue: mpsc::Sender<Message>,
    /// The outgoing connection and the address it was dialed at.
    conn: tokio::sync::Mutex<Option<(SocketAddr, quinn::Connection)>>,
    pub(crate) counters: Arc<PeerCounters>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Peer {
    /// Creates the peer and starts its sending task.
    pub(crate) fn start(shared: &Arc<Shared>, id: u64, addr: SocketAddr) -> Arc<Self> {
        let (tx, rx) = mpsc::channel(shared.cfg.send_queue_len);
        let peer = Arc::new(Self {
            id,
            addr: watch::Sender::new(addr),
            queue: tx,
            conn: tokio::sync::Mutex::new(None),
            counters: shared.stats.peer(id),
            task: Mutex::new(None),
        });
        let task = tokio::spawn(run(shared.clone(), peer.clone(), rx));
        *peer.task.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
        peer
    }

    /// Stops the sending task and closes the connection.
    pub(crate) fn stop(&self) {
        if let Some(task) = self.task.lock().unwrap_or_else(|e| e.into_inner()).take() {
            task.abort();
        }
        if let Ok(mut conn) = self.conn.try_lock()
            && let Some((_, c)) = conn.take()
        {
            c.close(0u32.into(), b"peer removed");
        }
    }

    /// Points the peer at a new address; the link reconnects there.
    pub(crate) fn set_addr(&self, addr: SocketAddr) {
        self.addr
            .send_if_modified(|old| std::mem::replace(old, addr) != addr);
    }

    /// The peer's current address.
    pub(crate) fn addr(&self) -> SocketAddr {
        *self.addr.borrow()
    }

    /// Queues a message without waiting; false if the queue is full or closed.
    pub(crate) fn try_enqueue(&self, msg: Message) -> bool {
        self.queue.try_send(msg).is_ok()
    }

    /// Queues a message, waiting for room.
    pub(crate) async fn enqueue(&self, msg: Message) -> Result<()> {
        self.queue
            .send(msg)
            .await
            .map_err(|_| TransportError::Shutdown)
    }

    /// The live outgoing connection, dialing one if there is none.
    pub(crate) async fn connection(&self, shared: &Shared) -> Result<quinn::Connection> {
        let mut guard = self.conn.lock().await;
        let addr = self.addr();
        if let Some((at, c)) = guard.as_ref()
            && *at == addr
            && c.close_reason().is_none()
        {
            return Ok(c.clone());
        }
        let c = shared.dial(self.id, addr).await?;
        *guard = Some((addr, c.clone()));
        Ok(c)
    }

    /// Drops the outgoing connection so that the next use dials again.
    async fn reset_connection(&self, reason: &'static [u8]) {
        if let Some((_, c)) = self.conn.lock().await.take() {
            c.close(0u32.into(), reason);
        }
    }
}

/// Why a stream's pump returned.
enum Exit {
    /// The queue closed: the peer is gone.
    Closed,
    /// The peer moved: connect again at once.
    Moved,
    /// The link broke (a reset, or a peer that refused us after the
    /// handshake): report the peer unreachable and back off.
    Broke(TransportError),
}

/// A connection that lived this long was healthy: reconnect without the
/// accumulated backoff when it breaks.
const HEALTHY_LINK: Duration = Duration::from_secs(1);

/// The sending task: connect, pump the queue, reconnect with backoff.
async fn run(shared: Arc<Shared>, peer: Arc<Peer>, mut rx: mpsc::Receiver<Message>) {
    let mut addr_rx = peer.addr.subscribe();
    let mut backoff = MIN_BACKOFF;
    let mut batch = Vec::with_capacity(MAX_BATCH_MESSAGES);
    loop {
        let started = tokio::time::Instant::now();
        let error = match open_stream(&shared, &peer).await {
            Ok((conn, stream)) => {
                let exit = pump(
                    &peer,
                    &conn,
                    stream,
                    &mut rx,
                    &mut addr_rx,
                    &mut batch,
                    &shared,
                );
                match exit.await {
                    Exit::Closed => return,
                    Exit::Moved => {
                        backoff = MIN_BACKOFF;
                        continue;
                    }
                    Exit::Broke(e) => e,
                }
            }
            Err(e) => e,
        };
        if started.elapsed() >= HEALTHY_LINK {
            backoff = MIN_BACKOFF;
        }
        debug!(peer = format_args!("{:x}", peer.id), error = %error, "cannot reach peer");
        shared.handler.report_unreachable(peer.id);
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            changed = addr_rx.changed() => if changed.is_err() { return },
        }
        backoff = (backoff * 2).min(shared.cfg.max_backoff());
    }
}

async fn open_stream(
    shared: &Shared,
    peer: &Peer,
) -> Result<(quinn::Connection, quinn::SendStream)> {
    let conn = peer.connection(shared).await?;
    let unreachable = |e: &dyn std::fmt::Display| TransportError::Unreachable {
        peer: peer.id,
        reason: e.to_string(),
    };
    let mut stream = conn.open_uni().await.map_err(|e| unreachable(&e))?;
    // Cannot fail on a stream just opened.
    let _ = stream.set_priority(MESSAGE_STREAM_PRIORITY);
    let hello = Frame::hello(
        shared.cfg.cluster_id,
        shared.cfg.member_id,
        peer.id,
        StreamKind::Messages,
    );
    frame::write(&mut stream, &hello, shared.cfg.max_frame_bytes).await?;
    Ok((conn, stream))
}

/// Moves queued messages onto the stream until the queue closes or the link breaks.
async fn pump(
    peer: &Peer,
    conn: &quinn::Connection,
    mut stream: quinn::SendStream,
    rx: &mut mpsc::Receiver<Message>,
    addr_rx: &mut watch::Receiver<SocketAddr>,
    batch: &mut Vec<Message>,
    shared: &Shared,
) -> Exit {
    loop {
        if batch.is_empty() {
            tokio::select! {
                n = rx.recv_many(batch, MAX_BATCH_MESSAGES) => if n == 0 { return Exit::Closed },
                changed = addr_rx.changed() => {
                    if changed.is_err() {
                        return Exit::Closed;
                    }
                    peer.reset_connection(b"address changed").await;
                    return Exit::Moved;
                }
                reason = conn.closed() => {
                    peer.reset_connection(b"closed").await;
                    return Exit::Broke(TransportError::Unreachable {
                        peer: peer.id,
                        reason: reason.to_string(),
                    });
                }
            }
        }
        let pending = std::mem::take(batch);
        if let Err(e) = write_batch(shared, peer, &mut stream, pending).await {
            warn!(peer = format_args!("{:x}", peer.id), error = %e, "message stream broke");
            peer.reset_connection(b"stream broke").await;
            return Exit::Broke(e);
        }
    }
}

/// A message's rough encoded size, to cut batches into frames.
fn estimate_bytes(m: &Message) -> u64 {
    let entries: u64 = m.entries.iter().map(|e| e.data.len() as u64 + 16).sum();
    let snapshot = m.snapshot.as_ref().map_or(0, |s| s.data.len() as u64 + 64);
    64 + m.context.len() as u64 + entries + snapshot
}

/// Writes a batch as frames of about [`BATCH_TARGET_BYTES`]. On error the
/// unwritten messages are counted as dropped.
async fn write_batch(
    shared: &Shared,
    peer: &Peer,
    stream: &mut quinn::SendStream,
    batch: Vec<Message>,
) -> Result<()> {
    let mut rest = batch.into_iter().peekable();
    while rest.peek().is_some() {
        let mut group = Vec::new();
        let mut group_bytes = 0;
        while let Some(m) = rest
            .next_if(|m| group.is_empty() || group_bytes + estimate_bytes(m) <= BATCH_TARGET_BYTES)
        {
            group_bytes += estimate_bytes(&m);
            group.push(m);
        }
        if let Err(e) = write_group(shared, peer, stream, group).await {
            add(&peer.counters.dropped_messages, rest.count() as u64);
            return Err(e);
        }
    }
    Ok(())
}

/// Writes messages as one frame, or split in halves if that frame would be
/// too large; a single message too large for any frame is dropped.
async fn write_group(
    shared: &Shared,
    peer: &Peer,
    stream: &mut quinn::SendStream,
    group: Vec<Message>,
) -> Result<()> {
    let mut pending = vec![group];
    while let Some(mut msgs) = pending.pop() {
        let count = msgs.len() as u64;
        let frame = Frame {
            cluster_id: shared.cfg.cluster_id,
            from: shared.cfg.member_id,
            body: Body::Messages(msgs),
        };
        match frame::encode(&frame, shared.cfg.max_frame_bytes) {
            Ok(buf) => {
                if let Err(e) = stream.write_all(&buf).await {
                    add(
                        &peer.counters.dropped_messages,
                        count + pending.iter().map(|g| g.len() as u64).sum::<u64>(),
                    );
                    return Err(TransportError::Unreachable {
                        peer: peer.id,
                        reason: e.to_string(),
                    });
                }
                add(&peer.counters.sent_messages, count);
                add(&peer.counters.sent_bytes, buf.len() as u64);
            }
            Err(e) => {
                msgs = match frame.body {
                    Body::Messages(m) => m,
                    _ => Vec::new(),
                };
                if msgs.len() <= 1 {
                    warn!(peer = format_args!("{:x}", peer.id), error = %e, "dropping a message too large for a frame");
                    add(&peer.counters.dropped_messages, count);
                    continue;
                }
                let second = msgs.split_off(msgs.len() / 2);
                // Popped last-in first-out: push the second half first.
                pending.push(second);
                pending.push(msgs);
            }
        }
    }
    Ok(())
}
