//! Test helpers: a recording handler, endpoints on loopback, waiting on conditions.

use std::collections::HashMap;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use std::time::Instant;

use bytes::Bytes;
use futures::future::BoxFuture;
use raft_core::Message;
use raft_core::MessageType;
use transport_quic::QuicTransport;
use transport_quic::RaftHandler;
use transport_quic::SnapshotData;
use transport_quic::TlsMode;
use transport_quic::TransportConfig;

/// How long any wait may take before the test fails: generous, since the
/// machine is shared.
pub(crate) const PATIENCE: Duration = Duration::from_secs(120);

/// Per-sender receive bookkeeping for ordered streams of numbered messages.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Track {
    /// Messages received.
    pub(crate) count: u64,
    /// The `index` of the last one.
    pub(crate) last_index: u64,
    /// Messages whose `index` was not `last_index + 1`.
    pub(crate) out_of_order: u64,
}

/// A handler that records everything it is given.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    /// Kept messages (those of types other than `Append`, which are only tracked).
    pub(crate) kept: Mutex<Vec<Message>>,
    /// Per sender, `Append` messages numbered by `index`.
    pub(crate) tracks: Mutex<HashMap<u64, Track>>,
    pub(crate) snapshots: Mutex<Vec<(Message, SnapshotData)>>,
    pub(crate) unreachable: Mutex<Vec<u64>>,
    pub(crate) snapshot_reports: Mutex<Vec<(u64, bool)>>,
    pub(crate) removed: Mutex<HashSet<u64>>,
}

impl Recorder {
    pub(crate) fn track(&self, from: u64) -> Track {
        self.tracks
            .lock()
            .unwrap()
            .get(&from)
            .copied()
            .unwrap_or_default()
    }

    pub(crate) fn kept_from(&self, from: u64) -> Vec<Message> {
        self.kept
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.from == from)
            .cloned()
            .collect()
    }

    pub(crate) fn saw_unreachable(&self, id: u64) -> bool {
        self.unreachable.lock().unwrap().contains(&id)
    }
}

impl RaftHandler for Recorder {
    fn on_message(&self, msg: Message) {
        if msg.msg_type == MessageType::Append {
            let mut tracks = self.tracks.lock().unwrap();
            let t = tracks.entry(msg.from).or_default();
            if msg.index != t.last_index + 1 {
                t.out_of_order += 1;
            }
            t.count += 1;
            t.last_index = msg.index;
        } else {
            self.kept.lock().unwrap().push(msg);
        }
    }

    fn on_snapshot(&self, msg: Message, data: SnapshotData) {
        self.snapshots.lock().unwrap().push((msg, data));
    }

    fn on_request(&self, from: u64, body: Bytes) -> BoxFuture<'static, Result<Bytes, String>> {
        Box::pin(async move {
            if body.as_ref() == b"fail" {
                return Err(format!("refused for {from:x}"));
            }
            Ok(Bytes::from([b"echo:".as_slice(), body.as_ref()].concat()))
        })
    }

    fn is_removed(&self, member_id: u64) -> bool {
        self.removed.lock().unwrap().contains(&member_id)
    }

    fn report_unreachable(&self, member_id: u64) {
        let mut u = self.unreachable.lock().unwrap();
        if u.len() < 10_000 {
            u.push(member_id);
        }
    }

    fn report_snapshot(&self, member_id: u64, failed: bool) {
        self.snapshot_reports
            .lock()
            .unwrap()
            .push((member_id, failed));
    }
}

/// One running member.
pub(crate) struct Node {
    pub(crate) id: u64,
    pub(crate) transport: Arc<QuicTransport>,
    pub(crate) recorder: Arc<Recorder>,
    pub(crate) dir: tempfile::TempDir,
}

impl Node {
    pub(crate) fn addr(&self) -> SocketAddr {
        self.transport.local_addr()
    }
}

pub(crate) fn config(
    cluster_id: u64,
    id: u64,
    tls: TlsMode,
    dir: &std::path::Path,
) -> TransportConfig {
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut cfg = TransportConfig::new(cluster_id, id, listen, dir.join("snap"));
    cfg.tls = tls;
    cfg
}

pub(crate) async fn start_node(cluster_id: u64, id: u64, tls: TlsMode) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Arc::new(Recorder::default());
    let transport = QuicTransport::start(config(cluster_id, id, tls, dir.path()), recorder.clone())
        .await
        .unwrap();
    Node {
        id,
        transport,
        recorder,
        dir,
    }
}

/// Connects every node to every other.
pub(crate) fn mesh(nodes: &[&Node]) {
    use transport_quic::Transport;
    for a in nodes {
        for b in nodes {
            if a.id != b.id {
                a.transport.add_peer(b.id, b.addr());
            }
        }
    }
}

pub(crate) fn msg(t: MessageType, from: u64, to: u64, index: u64) -> Message {
    Message {
        msg_type: t,
        from,
        to,
        index,
        term: 1,
        ..Message::default()
    }
}

/// Waits until `cond` holds, failing the test after [`PATIENCE`].
pub(crate) async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < PATIENCE, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A seed from the environment (`KEEL_TEST_SEED`) or the clock, printed.
pub(crate) fn seed() -> u64 {
    let seed = std::env::var("KEEL_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("seed: {seed} (rerun with KEEL_TEST_SEED={seed})");
    seed
}
