//! What a member's transport is told at start.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::Result;
use crate::error::TransportError;

/// etcd's default election timeout (`--election-timeout`, 1000 ms).
pub const DEFAULT_ELECTION_TIMEOUT: Duration = Duration::from_millis(1000);
/// The default largest frame: room for a batch of appends at raft's 1 MiB
/// `max_size_per_msg` plus slack.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 8 * 1024 * 1024;
/// etcd's per-peer stream buffer (`streamBufSize`, 4096 messages).
pub const DEFAULT_SEND_QUEUE_LEN: usize = 4096;
/// The smallest allowed `max_frame_bytes`: a snapshot chunk must fit in one frame.
pub const MIN_MAX_FRAME_BYTES: usize = 1024 * 1024;
/// The largest allowed `max_frame_bytes`; frames are decoded in memory.
pub const MAX_MAX_FRAME_BYTES: usize = 64 * 1024 * 1024;

/// How members prove who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsMode {
    /// As etcd's `--peer-auto-tls`: each member makes a self-signed
    /// certificate at start; traffic is encrypted but certificates are not
    /// verified, so peers are told apart only by cluster and member ids.
    Auto,
    /// Certificates from files (`--peer-cert-file`, `--peer-key-file`,
    /// `--peer-trusted-ca-file`, `--peer-client-cert-auth`).
    Files {
        /// This member's certificate chain (PEM).
        cert: PathBuf,
        /// This member's private key (PEM).
        key: PathBuf,
        /// The CA certificates peers' certificates must chain to (PEM).
        trusted_ca: PathBuf,
        /// Require and verify a client certificate on incoming connections.
        client_cert_auth: bool,
    },
}

/// The transport's settings; see [`TransportConfig::new`] for defaults.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// The cluster this member belongs to; frames of other clusters are dropped.
    pub cluster_id: u64,
    /// This member's id, sent in every frame.
    pub member_id: u64,
    /// The UDP address to listen on (port 0 picks a free one).
    pub listen: SocketAddr,
    /// Certificates.
    pub tls: TlsMode,
    /// The raft election timeout; QUIC keep-alive and idle timeout follow it.
    pub election_timeout: Duration,
    /// The largest frame sent or accepted.
    pub max_frame_bytes: usize,
    /// Messages queued per peer before new ones are dropped.
    pub send_queue_len: usize,
    /// Where received snapshots are written.
    pub snapshot_dir: PathBuf,
}

impl TransportConfig {
    /// A configuration with etcd's defaults for everything but identity,
    /// address and snapshot directory.
    pub fn new(cluster_id: u64, member_id: u64, listen: SocketAddr, snapshot_dir: PathBuf) -> Self {
        Self {
            cluster_id,
            member_id,
            listen,
            tls: TlsMode::Auto,
            election_timeout: DEFAULT_ELECTION_TIMEOUT,
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            send_queue_len: DEFAULT_SEND_QUEUE_LEN,
            snapshot_dir,
        }
    }

    /// Checks every limit.
    pub fn validate(&self) -> Result<()> {
        let invalid = |s: &str| Err(TransportError::InvalidConfig(s.to_owned()));
        if self.member_id == 0 {
            return invalid("member_id must not be 0");
        }
        if self.election_timeout < Duration::from_millis(10) {
            return invalid("election_timeout must be at least 10ms");
        }
        if !(MIN_MAX_FRAME_BYTES..=MAX_MAX_FRAME_BYTES).contains(&self.max_frame_bytes) {
            return invalid("max_frame_bytes must be between 1 MiB and 64 MiB");
        }
        if self.send_queue_len == 0 || self.send_queue_len > 1 << 20 {
            return invalid("send_queue_len must be between 1 and 2^20");
        }
        Ok(())
    }

    /// How often an idle connection is pinged: four times per election
    /// timeout, so a live idle link never times out.
    pub fn keep_alive_interval(&self) -> Duration {
        self.election_timeout / 4
    }

    /// How long a silent connection lives: two election timeouts, so a dead
    /// link is noticed about when raft would notice it, without closing links
    /// that are merely slow under load.
    pub fn idle_timeout(&self) -> Duration {
        self.election_timeout * 2
    }

    /// The longest pause between reconnection attempts.
    pub fn max_backoff(&self) -> Duration {
        self.election_timeout / 2
    }
}
