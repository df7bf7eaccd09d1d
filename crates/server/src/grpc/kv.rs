//! The KV service: Range (linearizable through the read barrier, or
//! serializable from the local store), and Put, DeleteRange, Txn and
//! Compact through raft.

use std::sync::Arc;

use api::etcdserverpb as pb;
use prost::Message;
use tonic::Request;
use tonic::Response;
use tonic::Status;

use super::Limits;
use super::convert;
use super::status;
use super::validate;
use crate::backend::Backend;
use crate::error::ServerError;

/// etcd's KV service over a [`Backend`].
#[derive(Debug)]
pub(crate) struct KvService<B> {
    backend: Arc<B>,
    limits: Limits,
}

impl<B: Backend> KvService<B> {
    pub(crate) fn new(backend: Arc<B>, limits: Limits) -> Self {
        Self { backend, limits }
    }

    /// Refuses requests above `--max-request-bytes`, as etcd does before proposing.
    fn check_size<M: Message>(&self, req: &M) -> Result<(), Status> {
        if req.encoded_len() > self.limits.max_request_bytes {
            return Err(ServerError::RequestTooLarge.into());
        }
        Ok(())
    }

    async fn write(&self, op: mvcc::WriteOp) -> Result<mvcc::WriteResponse, Status> {
        write(self.backend.as_ref(), op).await
    }
}

/// Writes `op` through the backend and unwraps the store's answer: a
/// request error applied at its raft index is still an error to the client,
/// and so is a write applied above the space quota (etcd's NOSPACE).
pub(crate) async fn write<B: Backend>(
    backend: &B,
    op: mvcc::WriteOp,
) -> Result<mvcc::WriteResponse, Status> {
    let applied = backend.write(op).await?;
    if applied.no_space {
        return Err(ServerError::NoSpace.into());
    }
    applied
        .response
        .map_err(|err| status::applied_to_status(&err))
}

/// The answer when the member returns a response of another kind than asked.
pub(crate) fn mismatched(resp: &mvcc::WriteResponse) -> Status {
    Status::internal(format!("keel: unexpected response {resp:?}"))
}

/// A linearizable (unless `serializable`) range over the store.
pub(crate) async fn range<B: Backend>(
    backend: &B,
    req: &mvcc::RangeRequest,
) -> Result<mvcc::RangeResponse, ServerError> {
    if !req.serializable {
        backend.read_barrier().await?;
    }
    Ok(backend.store().range(req)?)
}

#[tonic::async_trait]
impl<B: Backend> pb::kv_server::Kv for KvService<B> {
    async fn range(
        &self,
        request: Request<pb::RangeRequest>,
    ) -> Result<Response<pb::RangeResponse>, Status> {
        let req = convert::range_request(request.into_inner());
        validate::range(&req)?;
        let resp = range(self.backend.as_ref(), &req).await?;
        let header = self.backend.header();
        Ok(Response::new(convert::range_response(resp, Some(header))))
    }

    async fn put(
        &self,
        request: Request<pb::PutRequest>,
    ) -> Result<Response<pb::PutResponse>, Status> {
        let req = request.into_inner();
        self.check_size(&req)?;
        let req = convert::put_request(req);
        validate::put(&req)?;
        match self.write(mvcc::WriteOp::Put(req)).await? {
            mvcc::WriteResponse::Put(resp) => {
                let header = self.backend.header();
                Ok(Response::new(convert::put_response(resp, Some(header))))
            }
            other => Err(mismatched(&other)),
        }
    }

    async fn delete_range(
        &self,
        request: Request<pb::DeleteRangeRequest>,
    ) -> Result<Response<pb::DeleteRangeResponse>, Status> {
        let req = request.into_inner();
        self.check_size(&req)?;
        let req = convert::delete_request(req);
        validate::delete(&req)?;
        match self.write(mvcc::WriteOp::DeleteRange(req)).await? {
            mvcc::WriteResponse::DeleteRange(resp) => {
                let header = self.backend.header();
                Ok(Response::new(convert::delete_response(resp, Some(header))))
            }
            other => Err(mismatched(&other)),
        }
    }

    async fn txn(
        &self,
        request: Request<pb::TxnRequest>,
    ) -> Result<Response<pb::TxnResponse>, Status> {
        let req = request.into_inner();
        self.check_size(&req)?;
        let req = convert::txn_request(req)?;
        validate::txn(&req, self.limits.max_txn_ops)?;
        let resp = if mvcc::is_read_only(&req) {
            // As etcd: a read-only txn is served locally, after the read
            // barrier unless every range in it is serializable.
            if !all_serializable(&req) {
                self.backend.read_barrier().await?;
            }
            self.backend
                .store()
                .txn_read_only(&req)
                .map_err(ServerError::from)?
        } else {
            match self.write(mvcc::WriteOp::Txn(req)).await? {
                mvcc::WriteResponse::Txn(resp) => resp,
                other => return Err(mismatched(&other)),
            }
        };
        let header = self.backend.header();
        Ok(Response::new(convert::txn_response(resp, Some(header))))
    }

    async fn compact(
        &self,
        request: Request<pb::CompactionRequest>,
    ) -> Result<Response<pb::CompactionResponse>, Status> {
        let req = convert::compaction_request(request.into_inner());
        let physical = req.physical;
        let revision = req.revision;
        let resp = match self.write(mvcc::WriteOp::Compact(req)).await? {
            mvcc::WriteResponse::Compact(resp) => resp,
            other => return Err(mismatched(&other)),
        };
        if physical {
            let store = Arc::clone(self.backend.store());
            tokio::task::spawn_blocking(move || store.wait_compaction(revision))
                .await
                .map_err(|err| Status::internal(err.to_string()))?
                .map_err(ServerError::from)?;
        }
        let header = self.backend.header();
        Ok(Response::new(pb::CompactionResponse {
            header: convert::header(crate::backend::Header {
                revision: resp.revision,
                ..header
            }),
        }))
    }
}

/// True when every range of the txn (nested ones included) asks for a
/// serializable read.
fn all_serializable(t: &mvcc::TxnRequest) -> bool {
    t.success.iter().chain(&t.failure).all(|op| match op {
        mvcc::RequestOp::Range(r) => r.serializable,
        mvcc::RequestOp::Txn(nested) => all_serializable(nested),
        mvcc::RequestOp::Put(_) | mvcc::RequestOp::DeleteRange(_) => true,
    })
}
