//! `lease-keepalive`: each client grants a lease, then renews it over its
//! own keep-alive stream, one request and one answer at a time.

use api::etcdserverpb::LeaseGrantRequest;
use api::etcdserverpb::LeaseKeepAliveRequest;
use api::etcdserverpb::LeaseKeepAliveResponse;
use api::etcdserverpb::lease_client::LeaseClient;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;
use tonic::transport::Channel;

use crate::runner::Op;

/// The TTL of the benchmark's leases, as etcd's benchmark (seconds).
const LEASE_TTL_SECS: i64 = 100;

/// Lease keep-alives.
#[derive(Debug)]
pub(crate) struct LeaseKeepalive;

/// A client's lease and its open keep-alive stream.
#[derive(Debug)]
pub(crate) struct KeepaliveStream {
    id: i64,
    requests: mpsc::Sender<LeaseKeepAliveRequest>,
    responses: Streaming<LeaseKeepAliveResponse>,
}

impl KeepaliveStream {
    async fn renew(&mut self) -> Result<(), tonic::Status> {
        let request = LeaseKeepAliveRequest { id: self.id };
        if self.requests.send(request).await.is_err() {
            return Err(tonic::Status::unavailable("keep-alive stream closed"));
        }
        self.answer().await
    }

    async fn answer(&mut self) -> Result<(), tonic::Status> {
        match self.responses.message().await? {
            Some(r) if r.ttl > 0 => Ok(()),
            Some(_) => Err(tonic::Status::not_found(
                "etcdserver: requested lease not found",
            )),
            None => Err(tonic::Status::unavailable("keep-alive stream ended")),
        }
    }
}

impl Op for LeaseKeepalive {
    type Client = KeepaliveStream;

    async fn connect(&self, _task: usize, channel: Channel) -> Result<Self::Client, tonic::Status> {
        let mut lease = LeaseClient::new(channel);
        let grant = LeaseGrantRequest {
            ttl: LEASE_TTL_SECS,
            id: 0,
        };
        let id = lease.lease_grant(grant).await?.into_inner().id;
        let (requests, rx) = mpsc::channel(1);
        // A gRPC server may hold the stream's headers back until its first
        // answer, so the first request is queued before the call is awaited.
        let first = LeaseKeepAliveRequest { id };
        if requests.send(first).await.is_err() {
            return Err(tonic::Status::internal("keep-alive channel closed"));
        }
        let responses = lease
            .lease_keep_alive(ReceiverStream::new(rx))
            .await?
            .into_inner();
        let mut stream = KeepaliveStream {
            id,
            requests,
            responses,
        };
        stream.answer().await?;
        Ok(stream)
    }

    async fn call(&self, client: &mut Self::Client, _seq: u64) -> Result<(), tonic::Status> {
        client.renew().await
    }
}
