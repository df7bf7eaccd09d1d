//! What the member calls to send: the seam a fault injector sits in.

use std::net::SocketAddr;

use bytes::Bytes;
use futures::future::BoxFuture;
use raft_core::Message;

use crate::error::Result;
use crate::handler::SnapshotSource;
use crate::stats::TransportStats;

/// Sends raft traffic to peers. Object-safe, so wrappers such as
/// [`crate::FaultTransport`] can sit between the member and the network.
pub trait Transport: Send + Sync + 'static {
    /// Queues messages to their `to` peers. Never blocks: when a peer's queue
    /// is full the message is dropped and the peer reported unreachable.
    fn send(&self, msgs: Vec<Message>);
    /// Queues messages, waiting for room in the peers' queues. Messages to
    /// unknown peers are dropped.
    fn send_wait(&self, msgs: Vec<Message>) -> BoxFuture<'_, Result<()>>;
    /// Streams a snapshot beside the message stream; the outcome is given to
    /// [`crate::RaftHandler::report_snapshot`].
    fn send_snapshot(&self, msg: Message, data: SnapshotSource);
    /// Sends a request to `to` and waits for its answer.
    fn request(&self, to: u64, body: Bytes) -> BoxFuture<'static, Result<Bytes>>;
    /// Starts talking to a new peer.
    fn add_peer(&self, id: u64, addr: SocketAddr);
    /// Stops talking to a peer; its queued messages are dropped.
    fn remove_peer(&self, id: u64);
    /// Moves a peer to a new address; the link reconnects there.
    fn update_peer(&self, id: u64, addr: SocketAddr);
    /// Counters per peer.
    fn stats(&self) -> TransportStats;
}
