//! The transport's operational errors.

use std::path::PathBuf;

/// Everything that can go wrong in the transport.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The configuration breaks one of its limits.
    #[error("invalid transport config: {0}")]
    InvalidConfig(String),
    /// A certificate or key file could not be read or parsed.
    #[error("tls material {path}: {reason}")]
    TlsMaterial {
        /// The file at fault.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
    /// rustls refused to build a configuration.
    #[error("tls: {0}")]
    Tls(#[from] rustls::Error),
    /// A certificate could not be generated.
    #[error("certificate generation: {0}")]
    CertGen(#[from] rcgen::Error),
    /// Binding, file or socket IO failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The member is not a known peer.
    #[error("unknown peer {0:x}")]
    UnknownPeer(u64),
    /// The peer could not be reached, or the link broke mid-exchange.
    #[error("peer {peer:x} unreachable: {reason}")]
    Unreachable {
        /// The peer.
        peer: u64,
        /// Why.
        reason: String,
    },
    /// The peer answered a request with an error.
    #[error("peer {peer:x} refused the request: {reason}")]
    Remote {
        /// The peer.
        peer: u64,
        /// The peer's message.
        reason: String,
    },
    /// A frame was malformed, oversized or out of place.
    #[error("frame: {0}")]
    Frame(String),
    /// The peer speaks another protocol version, or belongs to another cluster.
    #[error("handshake: {0}")]
    Handshake(String),
    /// The transport has been shut down.
    #[error("transport shut down")]
    Shutdown,
}

/// Results of this crate.
pub type Result<T> = std::result::Result<T, TransportError>;
