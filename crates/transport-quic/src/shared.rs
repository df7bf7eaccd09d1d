//! The state every task of one transport shares.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;

use tracing::warn;

use crate::config::TransportConfig;
use crate::error::Result;
use crate::error::TransportError;
use crate::frame::Body;
use crate::frame::Frame;
use crate::frame::PROTOCOL_VERSION;
use crate::frame::StreamKind;
use crate::handler::RaftHandler;
use crate::peer::Peer;
use crate::stats::Stats;

/// Shared by the transport handle, the accept loop and every stream task.
pub(crate) struct Shared {
    pub(crate) cfg: TransportConfig,
    pub(crate) handler: Arc<dyn RaftHandler>,
    pub(crate) endpoint: quinn::Endpoint,
    pub(crate) client_config: quinn::ClientConfig,
    pub(crate) stats: Stats,
    pub(crate) peers: Mutex<HashMap<u64, Arc<Peer>>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("cluster_id", &self.cfg.cluster_id)
            .field("member_id", &self.cfg.member_id)
            .finish()
    }
}

impl Shared {
    /// The peer with this id, if known.
    pub(crate) fn peer(&self, id: u64) -> Option<Arc<Peer>> {
        self.peers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
    }

    /// Opens a new connection to `addr`.
    pub(crate) async fn dial(&self, peer: u64, addr: SocketAddr) -> Result<quinn::Connection> {
        let unreachable = |e: &dyn std::fmt::Display| TransportError::Unreachable {
            peer,
            reason: e.to_string(),
        };
        // The server name is the address, as etcd checks peer certificates
        // against the peer URL's host.
        let connecting = self
            .endpoint
            .connect_with(self.client_config.clone(), addr, &addr.ip().to_string())
            .map_err(|e| unreachable(&e))?;
        connecting.await.map_err(|e| unreachable(&e))
    }

    /// Checks a stream's first frame: same protocol version and cluster,
    /// addressed to this member, of an expected kind, from a member not
    /// removed. Returns the sender and the stream kind.
    pub(crate) fn check_hello(&self, frame: Option<Frame>) -> Result<(u64, StreamKind)> {
        let Some(Frame {
            cluster_id,
            from,
            body,
        }) = frame
        else {
            return Err(TransportError::Frame(
                "stream ended before its hello".into(),
            ));
        };
        let Body::Hello {
            protocol_version,
            kind,
            to,
        } = body
        else {
            return Err(TransportError::Frame(
                "stream did not open with a hello".into(),
            ));
        };
        if protocol_version != PROTOCOL_VERSION {
            return Err(TransportError::Handshake(format!(
                "member {from:x} speaks protocol {protocol_version}, this member {PROTOCOL_VERSION}"
            )));
        }
        self.check_sender(cluster_id, from)?;
        if to != self.cfg.member_id {
            return Err(TransportError::Handshake(format!(
                "member {from:x} addressed member {to:x}, this is {:x}",
                self.cfg.member_id
            )));
        }
        Ok((from, kind))
    }

    /// Drops (with a log line and a count) traffic from another cluster or a
    /// removed member.
    pub(crate) fn check_sender(&self, cluster_id: u64, from: u64) -> Result<()> {
        if cluster_id != self.cfg.cluster_id {
            crate::stats::add(&self.stats.foreign_dropped, 1);
            warn!(
                from = format_args!("{from:x}"),
                cluster = format_args!("{cluster_id:x}"),
                local_cluster = format_args!("{:x}", self.cfg.cluster_id),
                "dropped traffic from another cluster"
            );
            return Err(TransportError::Handshake(format!(
                "member {from:x} belongs to cluster {cluster_id:x}"
            )));
        }
        if self.handler.is_removed(from) {
            crate::stats::add(&self.stats.removed_dropped, 1);
            warn!(
                from = format_args!("{from:x}"),
                "dropped traffic from a removed member"
            );
            return Err(TransportError::Handshake(format!(
                "member {from:x} was removed"
            )));
        }
        Ok(())
    }
}
