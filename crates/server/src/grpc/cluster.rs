//! The Cluster service: MemberList, and the membership changes MemberAdd,
//! MemberRemove, MemberUpdate and MemberPromote, which the backend carries
//! through raft. Peer URLs are checked here, at the edge, as etcd does.

use std::sync::Arc;

use api::etcdserverpb as pb;
use tonic::Request;
use tonic::Response;
use tonic::Status;

use super::convert;
use crate::backend::Backend;
use crate::backend::Header;
use crate::backend::Member;
use crate::config::Url;
use crate::error::ServerError;

/// etcd's Cluster service over a [`Backend`].
#[derive(Debug)]
pub(crate) struct ClusterService<B> {
    backend: Arc<B>,
}

impl<B: Backend> ClusterService<B> {
    pub(crate) fn new(backend: Arc<B>) -> Self {
        Self { backend }
    }

    /// As etcd: the Cluster service's headers carry no revision.
    fn header(&self) -> Option<pb::ResponseHeader> {
        convert::header(Header {
            revision: 0,
            ..self.backend.header()
        })
    }
}

fn to_pb(members: Vec<Member>) -> Vec<pb::Member> {
    members.into_iter().map(convert::member).collect()
}

/// Parses peer URLs as etcd's `types.NewURLs`: at least one, each
/// `http(s)://host:port`; returns them normalized and sorted.
pub(crate) fn peer_urls(urls: &[String]) -> Result<Vec<String>, ServerError> {
    if urls.is_empty() {
        return Err(ServerError::BadMemberUrls);
    }
    let mut parsed = urls
        .iter()
        .map(|u| Url::parse(u).map(|u| u.to_string()))
        .collect::<Result<Vec<String>, String>>()
        .map_err(|_| ServerError::BadMemberUrls)?;
    parsed.sort();
    Ok(parsed)
}

#[tonic::async_trait]
impl<B: Backend> pb::cluster_server::Cluster for ClusterService<B> {
    async fn member_add(
        &self,
        request: Request<pb::MemberAddRequest>,
    ) -> Result<Response<pb::MemberAddResponse>, Status> {
        let request = request.into_inner();
        let urls = peer_urls(&request.peer_ur_ls)?;
        let (member, members) = self.backend.member_add(urls, request.is_learner).await?;
        Ok(Response::new(pb::MemberAddResponse {
            header: self.header(),
            member: Some(convert::member(member)),
            members: to_pb(members),
        }))
    }

    async fn member_remove(
        &self,
        request: Request<pb::MemberRemoveRequest>,
    ) -> Result<Response<pb::MemberRemoveResponse>, Status> {
        let members = self.backend.member_remove(request.into_inner().id).await?;
        Ok(Response::new(pb::MemberRemoveResponse {
            header: self.header(),
            members: to_pb(members),
        }))
    }

    async fn member_update(
        &self,
        request: Request<pb::MemberUpdateRequest>,
    ) -> Result<Response<pb::MemberUpdateResponse>, Status> {
        let request = request.into_inner();
        let urls = peer_urls(&request.peer_ur_ls)?;
        let members = self.backend.member_update(request.id, urls).await?;
        Ok(Response::new(pb::MemberUpdateResponse {
            header: self.header(),
            members: to_pb(members),
        }))
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
            header: self.header(),
            members: to_pb(self.backend.members()),
        }))
    }

    async fn member_promote(
        &self,
        request: Request<pb::MemberPromoteRequest>,
    ) -> Result<Response<pb::MemberPromoteResponse>, Status> {
        let members = self.backend.member_promote(request.into_inner().id).await?;
        Ok(Response::new(pb::MemberPromoteResponse {
            header: self.header(),
            members: to_pb(members),
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn peer_urls_are_checked_normalized_and_sorted() {
        let urls = vec!["http://b:2".to_string(), "https://a:1/".to_string()];
        assert_eq!(
            peer_urls(&urls).unwrap(),
            vec!["http://b:2".to_string(), "https://a:1".to_string()]
        );
        for bad in [
            vec![],
            vec!["a:1".to_string()],
            vec!["http://a".to_string()],
        ] {
            assert!(matches!(peer_urls(&bad), Err(ServerError::BadMemberUrls)));
        }
    }
}
