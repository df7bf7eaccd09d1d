//! What the transport calls on the member that owns it.

use std::path::PathBuf;

use bytes::Bytes;
use futures::future::BoxFuture;
use raft_core::Message;

/// A snapshot received and verified: its data sits in a file the handler now owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotData {
    /// The file the data was streamed into (in the configured snapshot directory).
    pub path: PathBuf,
    /// Bytes of data.
    pub size_bytes: u64,
    /// CRC32C of the data, checked against the sender's.
    pub crc32c: u32,
}

/// The data of a snapshot to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotSource {
    /// Read from this file, streamed in chunks.
    File(PathBuf),
    /// Already in memory.
    Bytes(Bytes),
}

/// The member's side of the transport: how received traffic is handed over.
///
/// Methods are called from transport tasks and must not block for long;
/// hand work to a channel instead.
pub trait RaftHandler: Send + Sync + 'static {
    /// A raft message from a peer of this cluster that is not removed.
    fn on_message(&self, msg: Message);
    /// A `Snapshot` message whose data arrived intact in `data.path`.
    fn on_snapshot(&self, msg: Message, data: SnapshotData);
    /// A request from a peer (lease keep-alive forwarding and the like).
    fn on_request(&self, from: u64, body: Bytes) -> BoxFuture<'static, Result<Bytes, String>>;
    /// A join request from a member that does not know its cluster or member
    /// id yet (see [`crate::join_request`]); refused unless the member serves it.
    fn on_join(&self, body: Bytes) -> BoxFuture<'static, Result<Bytes, String>> {
        let _ = body;
        Box::pin(async { Err("this member answers no join requests".to_string()) })
    }
    /// True if `member_id` was removed from the cluster; its traffic is dropped.
    fn is_removed(&self, member_id: u64) -> bool;
    /// Messages to `member_id` could not be delivered.
    fn report_unreachable(&self, member_id: u64);
    /// A snapshot transfer to `member_id` ended.
    fn report_snapshot(&self, member_id: u64, failed: bool);
}
