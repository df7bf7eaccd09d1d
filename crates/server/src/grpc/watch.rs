//! The Watch service: one task per gRPC stream multiplexing its watchers
//! (see [`stream`] for the no-gap, no-duplicate argument and how slow
//! clients are kept from stalling anyone).

mod fragment;
mod stream;
mod watcher;

use std::pin::Pin;
use std::sync::Arc;

use api::etcdserverpb as pb;
use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Request;
use tonic::Response;
use tonic::Status;
use tonic::Streaming;

use super::Limits;
use crate::backend::Backend;
use crate::error::ServerError;

/// Responses buffered per stream before its task waits for the client
/// (etcd's `chanBufLen`).
const RESPONSE_BUFFER: usize = 128;

/// etcd's Watch service over a [`Backend`].
#[derive(Debug)]
pub(crate) struct WatchService<B> {
    backend: Arc<B>,
    limits: Limits,
}

impl<B: Backend> WatchService<B> {
    pub(crate) fn new(backend: Arc<B>, limits: Limits) -> Self {
        Self { backend, limits }
    }
}

/// True when the client asked, through etcd's `hasleader` metadata, that
/// the stream fail rather than wait while the member has no leader.
fn requires_leader<T>(request: &Request<T>) -> bool {
    request
        .metadata()
        .get("hasleader")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "true")
}

type WatchResponses =
    Pin<Box<dyn Stream<Item = Result<pb::WatchResponse, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl<B: Backend> pb::watch_server::Watch for WatchService<B> {
    type WatchStream = WatchResponses;

    async fn watch(
        &self,
        request: Request<Streaming<pb::WatchRequest>>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let require_leader = requires_leader(&request);
        if require_leader && self.backend.status().leader == 0 {
            return Err(ServerError::NoLeader.into());
        }
        // Subscribe before reading any request: see `stream`.
        let feed = self.backend.subscribe();
        let (tx, rx) = mpsc::channel(RESPONSE_BUFFER);
        let task = stream::WatchStream::new(Arc::clone(&self.backend), self.limits, tx, feed);
        let requests = request.into_inner();
        tokio::spawn(task.run(requests, require_leader));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}
