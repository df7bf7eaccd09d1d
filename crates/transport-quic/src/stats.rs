//! Counters of traffic per peer, for the member's /metrics.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;

/// Counters for one peer, as seen by this member.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerStats {
    /// Messages written to the peer's stream.
    pub sent_messages: u64,
    /// Frame bytes written to the peer's stream.
    pub sent_bytes: u64,
    /// Messages received from the peer and handed to the member.
    pub received_messages: u64,
    /// Frame bytes received from the peer.
    pub received_bytes: u64,
    /// Messages to the peer dropped (queue full, link broken, too large, removed).
    pub dropped_messages: u64,
    /// Snapshot data bytes sent to the peer.
    pub snapshot_sent_bytes: u64,
    /// Snapshot data bytes received from the peer, counted as they arrive.
    pub snapshot_received_bytes: u64,
}

/// Counters for the whole transport.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransportStats {
    /// Per peer id.
    pub peers: BTreeMap<u64, PeerStats>,
    /// Incoming connections whose TLS handshake failed.
    pub handshakes_refused: u64,
    /// Streams or frames dropped because they came from another cluster.
    pub foreign_dropped: u64,
    /// Streams or frames dropped because their sender was removed.
    pub removed_dropped: u64,
    /// Incoming streams closed for a malformed, oversized or unexpected frame.
    pub stream_errors: u64,
}

/// Live counters of one peer.
#[derive(Debug, Default)]
pub(crate) struct PeerCounters {
    pub(crate) sent_messages: AtomicU64,
    pub(crate) sent_bytes: AtomicU64,
    pub(crate) received_messages: AtomicU64,
    pub(crate) received_bytes: AtomicU64,
    pub(crate) dropped_messages: AtomicU64,
    pub(crate) snapshot_sent_bytes: AtomicU64,
    pub(crate) snapshot_received_bytes: AtomicU64,
}

/// Adds `n` to a counter.
pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl PeerCounters {
    fn read(&self) -> PeerStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        PeerStats {
            sent_messages: get(&self.sent_messages),
            sent_bytes: get(&self.sent_bytes),
            received_messages: get(&self.received_messages),
            received_bytes: get(&self.received_bytes),
            dropped_messages: get(&self.dropped_messages),
            snapshot_sent_bytes: get(&self.snapshot_sent_bytes),
            snapshot_received_bytes: get(&self.snapshot_received_bytes),
        }
    }
}

/// All live counters of a transport.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    peers: Mutex<HashMap<u64, Arc<PeerCounters>>>,
    pub(crate) handshakes_refused: AtomicU64,
    pub(crate) foreign_dropped: AtomicU64,
    pub(crate) removed_dropped: AtomicU64,
    pub(crate) stream_errors: AtomicU64,
}

impl Stats {
    /// The counters of `peer`, created on first use.
    pub(crate) fn peer(&self, peer: u64) -> Arc<PeerCounters> {
        let mut peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        peers.entry(peer).or_default().clone()
    }

    /// A consistent-enough copy of every counter.
    pub(crate) fn read(&self) -> TransportStats {
        let peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        TransportStats {
            peers: peers.iter().map(|(id, c)| (*id, c.read())).collect(),
            handshakes_refused: get(&self.handshakes_refused),
            foreign_dropped: get(&self.foreign_dropped),
            removed_dropped: get(&self.removed_dropped),
            stream_errors: get(&self.stream_errors),
        }
    }
}
