//! The shared log every task appends to, and the connections they use.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::time::Duration;
use std::time::Instant;

use anyhow::Context;
use tonic::transport::Channel;
use tonic::transport::Endpoint;

use super::history::Operation;
use super::history::WatchRecord;

/// The history being recorded, shared by all tasks.
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    start: Instant,
    ops: Arc<Mutex<Vec<Operation>>>,
    watches: Arc<Mutex<Vec<WatchRecord>>>,
    anomalies: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    /// An empty history whose clock starts now.
    pub(crate) fn new() -> Self {
        Recorder {
            start: Instant::now(),
            ops: Arc::default(),
            watches: Arc::default(),
            anomalies: Arc::default(),
        }
    }

    /// Nanoseconds since the run began.
    pub(crate) fn now_ns(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Appends a KV operation.
    pub(crate) fn op(&self, op: Operation) {
        self.ops
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(op);
    }

    /// Appends a watch record.
    pub(crate) fn watch(&self, record: WatchRecord) {
        self.watches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(record);
    }

    /// Notes an anomaly found while running (not by the history checks).
    pub(crate) fn anomaly(&self, what: String) {
        self.anomalies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(what);
    }

    /// Everything recorded so far.
    pub(crate) fn take(&self) -> (Vec<Operation>, Vec<WatchRecord>, Vec<String>) {
        let ops = self
            .ops
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let watches = self
            .watches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let anomalies = self
            .anomalies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        (ops, watches, anomalies)
    }
}

/// One lazily connected channel per endpoint: a dead member makes calls
/// fail fast, and a restarted one is reconnected on use.
pub(crate) fn channels(endpoints: &[String]) -> anyhow::Result<Vec<Channel>> {
    anyhow::ensure!(!endpoints.is_empty(), "no endpoints given");
    endpoints
        .iter()
        .map(|e| {
            let url = if e.contains("://") {
                e.clone()
            } else {
                format!("http://{e}")
            };
            Ok(Endpoint::from_shared(url.clone())
                .with_context(|| format!("bad endpoint {url}"))?
                .connect_timeout(Duration::from_secs(1))
                .tcp_nodelay(true)
                .connect_lazy())
        })
        .collect()
}

/// Endpoint `i` modulo their number.
pub(crate) fn pick(channels: &[Channel], i: usize) -> Channel {
    assert!(!channels.is_empty(), "channels() refuses an empty list");
    channels[i % channels.len()].clone()
}
