//! Raft messages and snapshots between keel members, over QUIC with mutual TLS.
//!
//! This crate is a thin adapter behind two small traits: the member sends
//! through [`Transport`] (to a peer id, never blocking) and receives through
//! the [`RaftHandler`] it implements. It knows raft's [`raft_core::Message`]
//! and nothing of storage or gRPC.
//!
//! # Links
//!
//! Each member listens on one UDP endpoint and dials each peer once; the
//! connection a member dials carries its traffic *to* that peer:
//!
//! 1. one long-lived ordered unidirectional stream of raft messages, many
//!    messages per frame, fed from a bounded queue per peer (etcd's 4096);
//!    a full queue drops the message and reports the peer unreachable;
//! 2. one bidirectional stream per request (lease keep-alive forwarding and
//!    other leader-only requests);
//! 3. snapshots go over a connection of their own, so their congestion window
//!    and flow control never hold back heartbeats: chunks with QUIC's
//!    backpressure, a CRC32C at the end, and an acknowledgement from the
//!    receiver once the data is synced to a file.
//!
//! A member joining a running cluster knows neither the cluster id nor its own
//! id yet; [`join_request`] asks a peer from a short-lived endpoint on a
//! stream of its own kind, which the receiver answers through
//! [`RaftHandler::on_join`] and nothing else.
//!
//! A broken link is redialed with exponential backoff; [`Transport::update_peer`]
//! moves a peer at runtime. QUIC keep-alive and idle timeout follow the
//! election timeout (a quarter of it and twice it), so a dead link is seen in
//! about the time raft would notice and a healed one comes back at once.
//!
//! # Wire
//!
//! See [`frame`]: length-prefixed bincode frames with a size limit; every
//! frame carries the cluster id and the sender's member id, and every stream
//! opens with a hello holding the protocol version. Traffic from another
//! cluster or from a removed member is dropped and logged; a malformed or
//! oversized frame closes its stream, never the process.
//!
//! # TLS
//!
//! One crypto provider, ring, for rustls, quinn and rcgen. [`TlsMode::Files`]
//! verifies peers against the cluster CA both ways; [`TlsMode::Auto`] is
//! etcd's `--peer-auto-tls` (self-signed, encrypted, unverified).
//! [`generate_cluster_certs`] writes a CA and member certificates for local
//! clusters.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use transport_quic::{QuicTransport, RaftHandler, Transport, TransportConfig};
//!
//! async fn run(handler: Arc<dyn RaftHandler>) -> transport_quic::Result<()> {
//!     let dir = std::path::PathBuf::from("/var/lib/keel/snap");
//!     let cfg = TransportConfig::new(0x1000, 1, "127.0.0.1:2380".parse().unwrap(), dir);
//!     let t = QuicTransport::start(cfg, handler).await?;
//!     t.add_peer(2, "127.0.0.1:2381".parse().unwrap());
//!     t.send(vec![raft_core::Message { to: 2, from: 1, ..Default::default() }]);
//!     t.shutdown().await;
//!     Ok(())
//! }
//! ```
#![deny(missing_docs)]

mod certs;
mod config;
mod error;
mod fault;
pub mod frame;
mod handler;
mod inbound;
mod join;
mod peer;
mod quic_transport;
mod request;
mod shared;
mod snapshot_recv;
mod snapshot_send;
mod stats;
pub mod tls;
mod transport;

pub use certs::ClusterCerts;
pub use certs::MemberCerts;
pub use certs::generate_cluster_certs;
pub use config::TlsMode;
pub use config::TransportConfig;
pub use error::Result;
pub use error::TransportError;
pub use fault::FaultNet;
pub use fault::FaultTransport;
pub use fault::LinkFaults;
pub use handler::RaftHandler;
pub use handler::SnapshotData;
pub use handler::SnapshotSource;
pub use join::join_request;
pub use quic_transport::QuicTransport;
pub use stats::PeerStats;
pub use stats::TransportStats;
pub use transport::Transport;

/// Limits and defaults.
pub mod limits {
    pub use crate::certs::MAX_MEMBER_NAME_BYTES;
    pub use crate::config::DEFAULT_ELECTION_TIMEOUT;
    pub use crate::config::DEFAULT_MAX_FRAME_BYTES;
    pub use crate::config::DEFAULT_SEND_QUEUE_LEN;
    pub use crate::config::MAX_MAX_FRAME_BYTES;
    pub use crate::config::MIN_MAX_FRAME_BYTES;
}
