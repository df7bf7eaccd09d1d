//! The Cluster service: MemberList. Membership changes come with the next
//! issue; until the member supports them they answer `Unimplemented`.

use std::sync::Arc;

use api::etcdserverpb as pb;
use tonic::Request;
use tonic::Response;
use tonic::Status;

use super::convert;
use crate::backend::Backend;
use crate::backend::Header;

/// etcd's Cluster service over a [`Backend`].
#[derive(Debug)]
pub(crate) struct ClusterService<B> {
    backend: Arc<B>,
}

impl<B: Backend> ClusterService<B> {
    pub(crate) fn new(backend: Arc<B>) -> Self {
        Self { backend }
    }

    fn members(&self) -> Vec<pb::Member> {
        self.backend
            .members()
            .into_iter()
            .map(convert::member)
            .collect()
    }
}

fn not_yet(what: &str) -> Status {
    Status::unimplemented(format!("keel: {what} is not supported yet"))
}

#[tonic::async_trait]
impl<B: Backend> pb::cluster_server::Cluster for ClusterService<B> {
    async fn member_add(
        &self,
        _request: Request<pb::MemberAddRequest>,
    ) -> Result<Response<pb::MemberAddResponse>, Status> {
        Err(not_yet("member add"))
    }

    async fn member_remove(
        &self,
        _request: Request<pb::MemberRemoveRequest>,
    ) -> Result<Response<pb::MemberRemoveResponse>, Status> {
        Err(not_yet("member remove"))
    }

    async fn member_update(
        &self,
        _request: Request<pb::MemberUpdateRequest>,
    ) -> Result<Response<pb::MemberUpdateResponse>, Status> {
        Err(not_yet("member update"))
    }

    async fn member_list(
        &self,
        request: Request<pb::MemberListRequest>,
    ) -> Result<Response<pb::MemberListResponse>, Status> {
        // etcd 3.5 serves a linearizable list by default and on request.
        if request.into_inner().linearizable {
            self.backend.read_barrier().await?;
        }
        Ok(Response::new(pb::MemberListResponse {
            // As etcd: the Cluster service's headers carry no revision.
            header: convert::header(Header {
                revision: 0,
                ..self.backend.header()
            }),
            members: self.members(),
        }))
    }

    async fn member_promote(
        &self,
        _request: Request<pb::MemberPromoteRequest>,
    ) -> Result<Response<pb::MemberPromoteResponse>, Status> {
        Err(not_yet("member promote"))
    }
}
