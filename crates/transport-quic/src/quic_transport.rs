//! The QUIC transport: one endpoint that listens and dials.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;

use bytes::Bytes;
use futures::future::BoxFuture;
use raft_core::Message;
use tokio::task::JoinHandle;
use tracing::debug;
use tracing::info;

use crate::config::TransportConfig;
use crate::error::Result;
use crate::error::TransportError;
use crate::handler::RaftHandler;
use crate::handler::SnapshotSource;
use crate::inbound;
use crate::peer::Peer;
use crate::request;
use crate::shared::Shared;
use crate::snapshot_send;
use crate::stats::TransportStats;
use crate::stats::add;
use crate::tls::PeerTls;
use crate::transport::Transport;

/// Raft traffic between members over QUIC with mutual TLS.
#[derive(Debug)]
pub struct QuicTransport {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    accept_task: Mutex<Option<JoinHandle<()>>>,
}

impl QuicTransport {
    /// Binds the endpoint and starts accepting peers. Must run inside a tokio runtime.
    pub async fn start(
        cfg: TransportConfig,
        handler: Arc<dyn RaftHandler>,
    ) -> Result<Arc<QuicTransport>> {
        cfg.validate()?;
        let tls = PeerTls::load(&cfg.tls)?;
        let endpoint = quinn::Endpoint::server(tls.server_config(&cfg)?, cfg.listen)?;
        let local_addr = endpoint.local_addr()?;
        let client_config = tls.client_config(&cfg)?;
        info!(member = format_args!("{:x}", cfg.member_id), %local_addr, "peer transport listening");
        let shared = Arc::new(Shared {
            cfg,
            handler,
            endpoint,
            client_config,
            stats: Default::default(),
            peers: Mutex::new(HashMap::new()),
        });
        let accept_task = tokio::spawn(inbound::accept_loop(shared.clone()));
        Ok(Arc::new(QuicTransport {
            shared,
            local_addr,
            accept_task: Mutex::new(Some(accept_task)),
        }))
    }

    /// The address the endpoint listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops every task and closes every connection; idempotent.
    pub async fn shutdown(&self) {
        if let Some(t) = self
            .accept_task
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            t.abort();
        }
        let peers: Vec<_> = self
            .shared
            .peers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .collect();
        for (_, p) in peers {
            p.stop();
        }
        self.shared.endpoint.close(0u32.into(), b"shutdown");
        // Give close frames a moment to leave; peers time out otherwise.
        let _ = tokio::time::timeout(
            self.shared.cfg.election_timeout,
            self.shared.endpoint.wait_idle(),
        )
        .await;
    }

    /// Queues messages, waiting for room in each peer's queue.
    pub async fn send_wait(&self, msgs: Vec<Message>) -> Result<()> {
        for m in msgs {
            match self.shared.peer(m.to) {
                Some(p) => p.enqueue(m).await?,
                None => debug!(
                    to = format_args!("{:x}", m.to),
                    "dropped a message to an unknown peer"
                ),
            }
        }
        Ok(())
    }
}

impl Transport for QuicTransport {
    fn send(&self, msgs: Vec<Message>) {
        for m in msgs {
            let to = m.to;
            let Some(p) = self.shared.peer(to) else {
                debug!(
                    to = format_args!("{to:x}"),
                    "dropped a message to an unknown peer"
                );
                continue;
            };
            if !p.try_enqueue(m) {
                add(&p.counters.dropped_messages, 1);
                self.shared.handler.report_unreachable(to);
            }
        }
    }

    fn send_wait(&self, msgs: Vec<Message>) -> BoxFuture<'_, Result<()>> {
        Box::pin(QuicTransport::send_wait(self, msgs))
    }

    fn send_snapshot(&self, msg: Message, data: SnapshotSource) {
        let to = msg.to;
        match self.shared.peer(to) {
            Some(p) => {
                tokio::spawn(snapshot_send::send_and_report(
                    self.shared.clone(),
                    p,
                    msg,
                    data,
                ));
            }
            None => self.shared.handler.report_snapshot(to, true),
        }
    }

    fn request(&self, to: u64, body: Bytes) -> BoxFuture<'static, Result<Bytes>> {
        let shared = self.shared.clone();
        Box::pin(async move {
            let peer = shared.peer(to).ok_or(TransportError::UnknownPeer(to))?;
            request::call(shared, peer, body).await
        })
    }

    fn add_peer(&self, id: u64, addr: SocketAddr) {
        let mut peers = self.shared.peers.lock().unwrap_or_else(|e| e.into_inner());
        match peers.get(&id) {
            Some(p) => p.set_addr(addr),
            None => {
                peers.insert(id, Peer::start(&self.shared, id, addr));
            }
        }
    }

    fn remove_peer(&self, id: u64) {
        let removed = self
            .shared
            .peers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        if let Some(p) = removed {
            p.stop();
        }
    }

    fn update_peer(&self, id: u64, addr: SocketAddr) {
        if let Some(p) = self.shared.peer(id) {
            p.set_addr(addr);
        }
    }

    fn stats(&self) -> TransportStats {
        self.shared.stats.read()
    }
}
