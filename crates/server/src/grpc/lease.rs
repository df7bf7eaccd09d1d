//! The Lease service: Grant and Revoke through raft, KeepAlive (a stream)
//! and TimeToLive answered by the member's lessor, Leases from the store.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::time::SystemTime;
use std::time::UNIX_EPOCH;

use api::etcdserverpb as pb;
use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Request;
use tonic::Response;
use tonic::Status;
use tonic::Streaming;

use super::Limits;
use super::convert;
use super::kv::mismatched;
use super::kv::write;
use super::status;
use crate::backend::Backend;
use crate::backend::Header;
use crate::error::ServerError;

/// Keep-alive answers buffered per stream before the stream waits for its client.
const KEEP_ALIVE_BUFFER: usize = 16;
/// Tries to find a free lease id before giving up (a clash needs a lease
/// granted with an explicit id equal to a generated one).
const GRANT_ID_ATTEMPTS: usize = 8;

/// etcd's Lease service over a [`Backend`].
#[derive(Debug)]
pub(crate) struct LeaseService<B> {
    backend: Arc<B>,
    limits: Limits,
    ids: IdGenerator,
}

impl<B: Backend> LeaseService<B> {
    pub(crate) fn new(backend: Arc<B>, limits: Limits) -> Self {
        let ids = IdGenerator::new(backend.header().member_id);
        Self {
            backend,
            limits,
            ids,
        }
    }

    /// Grants `id`; `Ok(None)` when the id is taken.
    async fn grant(
        &self,
        id: i64,
        ttl_seconds: i64,
    ) -> Result<Option<mvcc::LeaseGrantResponse>, Status> {
        let op = mvcc::WriteOp::LeaseGrant(mvcc::LeaseGrantRequest { id, ttl_seconds });
        let applied = self.backend.write(op).await?;
        if applied.no_space {
            return Err(ServerError::NoSpace.into());
        }
        match applied.response {
            Ok(mvcc::WriteResponse::LeaseGrant(resp)) => Ok(Some(resp)),
            Ok(other) => Err(mismatched(&other)),
            Err(err) if err.kind == mvcc::AppliedErrorKind::LeaseExists => Ok(None),
            Err(err) => Err(status::applied_to_status(&err)),
        }
    }
}

/// etcd's id generator (`idutil`): the low 16 bits of the member id, then
/// 40 bits of milliseconds since the epoch at start and an 8-bit counter
/// that carries into them, so ids are unique per member and across restarts.
#[derive(Debug)]
struct IdGenerator {
    prefix: u64,
    suffix: AtomicU64,
}

const ID_TIME_AND_COUNT_BITS: u32 = 48;
const ID_COUNT_BITS: u32 = 8;

impl IdGenerator {
    fn new(member_id: u64) -> Self {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let low_bits = (1u64 << ID_TIME_AND_COUNT_BITS) - 1;
        Self {
            prefix: member_id << ID_TIME_AND_COUNT_BITS,
            suffix: AtomicU64::new((millis << ID_COUNT_BITS) & low_bits),
        }
    }

    /// The next lease id: positive and never 0.
    fn next_lease_id(&self) -> i64 {
        let low_bits = (1u64 << ID_TIME_AND_COUNT_BITS) - 1;
        loop {
            let suffix = self.suffix.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
            let id = (self.prefix | (suffix & low_bits)) & (u64::MAX >> 1);
            if let Ok(id) = i64::try_from(id)
                && id != 0
            {
                return id;
            }
        }
    }
}

fn is_lease_not_found(err: &ServerError) -> bool {
    matches!(
        err,
        ServerError::LeaseNotFound | ServerError::Mvcc(mvcc::Error::LeaseNotFound)
    )
}

type KeepAliveStream =
    Pin<Box<dyn Stream<Item = Result<pb::LeaseKeepAliveResponse, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl<B: Backend> pb::lease_server::Lease for LeaseService<B> {
    async fn lease_grant(
        &self,
        request: Request<pb::LeaseGrantRequest>,
    ) -> Result<Response<pb::LeaseGrantResponse>, Status> {
        let req = request.into_inner();
        if req.ttl > mvcc::MAX_LEASE_TTL_SECONDS {
            return Err(ServerError::Mvcc(mvcc::Error::LeaseTtlTooLarge).into());
        }
        // As etcd's lessor: a TTL below the minimum is raised to it.
        let ttl = req.ttl.max(self.limits.min_lease_ttl_seconds);
        let resp = if req.id != 0 {
            self.grant(req.id, ttl).await?
        } else {
            let mut granted = None;
            for _ in 0..GRANT_ID_ATTEMPTS {
                granted = self.grant(self.ids.next_lease_id(), ttl).await?;
                if granted.is_some() {
                    break;
                }
            }
            granted
        };
        let resp = resp.ok_or_else(|| Status::from(ServerError::Mvcc(mvcc::Error::LeaseExists)))?;
        let header = self.backend.header();
        Ok(Response::new(pb::LeaseGrantResponse {
            header: convert::header(Header {
                revision: resp.revision,
                ..header
            }),
            id: resp.id,
            ttl: resp.ttl_seconds,
            error: String::new(),
        }))
    }

    async fn lease_revoke(
        &self,
        request: Request<pb::LeaseRevokeRequest>,
    ) -> Result<Response<pb::LeaseRevokeResponse>, Status> {
        let id = request.into_inner().id;
        let op = mvcc::WriteOp::LeaseRevoke(mvcc::LeaseRevokeRequest { id });
        let resp = match write(self.backend.as_ref(), op).await? {
            mvcc::WriteResponse::LeaseRevoke(resp) => resp,
            other => return Err(mismatched(&other)),
        };
        let header = self.backend.header();
        Ok(Response::new(pb::LeaseRevokeResponse {
            header: convert::header(Header {
                revision: resp.revision,
                ..header
            }),
        }))
    }

    type LeaseKeepAliveStream = KeepAliveStream;

    async fn lease_keep_alive(
        &self,
        request: Request<Streaming<pb::LeaseKeepAliveRequest>>,
    ) -> Result<Response<Self::LeaseKeepAliveStream>, Status> {
        let mut requests = request.into_inner();
        let (tx, rx) = mpsc::channel(KEEP_ALIVE_BUFFER);
        let backend = Arc::clone(&self.backend);
        tokio::spawn(async move {
            while let Some(next) = requests.next().await {
                let answer = match next {
                    Ok(req) => keep_alive_once(backend.as_ref(), req.id).await,
                    Err(status) => Err(status),
                };
                let failed = answer.is_err();
                if tx.send(answer).await.is_err() || failed {
                    break;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn lease_time_to_live(
        &self,
        request: Request<pb::LeaseTimeToLiveRequest>,
    ) -> Result<Response<pb::LeaseTimeToLiveResponse>, Status> {
        let req = request.into_inner();
        let header = convert::header(self.backend.header());
        let answer = match self.backend.lease_time_to_live(req.id, req.keys).await {
            Ok(info) => pb::LeaseTimeToLiveResponse {
                header,
                id: info.id,
                ttl: info.ttl,
                granted_ttl: info.granted_ttl,
                keys: info.keys,
            },
            // etcd answers an unknown lease with TTL -1, not an error.
            Err(err) if is_lease_not_found(&err) => pb::LeaseTimeToLiveResponse {
                header,
                id: req.id,
                ttl: -1,
                granted_ttl: 0,
                keys: Vec::new(),
            },
            Err(err) => return Err(err.into()),
        };
        Ok(Response::new(answer))
    }

    async fn lease_leases(
        &self,
        _request: Request<pb::LeaseLeasesRequest>,
    ) -> Result<Response<pb::LeaseLeasesResponse>, Status> {
        let leases = self
            .backend
            .store()
            .leases()
            .into_iter()
            .map(|lease| pb::LeaseStatus { id: lease.id })
            .collect();
        Ok(Response::new(pb::LeaseLeasesResponse {
            header: convert::header(self.backend.header()),
            leases,
        }))
    }
}

/// One keep-alive: an unknown lease answers TTL 0, as etcd does.
async fn keep_alive_once<B: Backend>(
    backend: &B,
    id: i64,
) -> Result<pb::LeaseKeepAliveResponse, Status> {
    let ttl = match backend.lease_keep_alive(id).await {
        Ok(ttl) => ttl,
        Err(err) if is_lease_not_found(&err) => 0,
        Err(err) => return Err(err.into()),
    };
    Ok(pb::LeaseKeepAliveResponse {
        header: convert::header(backend.header()),
        id,
        ttl,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn lease_ids_are_positive_distinct_and_carry_the_member() {
        let ids = IdGenerator::new(0x1bcd);
        let a = ids.next_lease_id();
        let b = ids.next_lease_id();
        assert!(a > 0 && b > 0 && a != b);
        assert_eq!((a as u64) >> ID_TIME_AND_COUNT_BITS, 0x1bcd);
    }
}
