//! The Maintenance service: Status, Hash, HashKV, Alarm, Defragment and
//! Snapshot (the snapshot file of [`crate::restore`], streamed by
//! `snapshot_stream.rs` as etcd streams its database, sha256 last);
//! MoveLeader and Downgrade answer `Unimplemented` until the member supports
//! them.

use std::pin::Pin;
use std::sync::Arc;

use api::etcdserverpb as pb;
use futures::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Request;
use tonic::Response;
use tonic::Status;

use super::convert;
use crate::backend::Backend;
use crate::backend::Header;
use crate::error::ServerError;
use crate::http::metrics::SERVER_VERSION;

/// etcd's Maintenance service over a [`Backend`].
#[derive(Debug)]
pub(crate) struct MaintenanceService<B> {
    backend: Arc<B>,
}

impl<B: Backend> MaintenanceService<B> {
    pub(crate) fn new(backend: Arc<B>) -> Self {
        Self { backend }
    }

    fn header(&self) -> Option<pb::ResponseHeader> {
        convert::header(self.backend.header())
    }

    /// `(hash, compact_revision, hash_revision)` of the store's key space
    /// up to `revision` (0: the current revision).
    async fn hash_kv(&self, revision: i64) -> Result<(u32, i64, i64), Status> {
        let store = Arc::clone(self.backend.store());
        let hashed = tokio::task::spawn_blocking(move || store.hash_kv(revision))
            .await
            .map_err(|err| Status::internal(err.to_string()))?
            .map_err(ServerError::from)?;
        Ok(hashed)
    }
}

fn not_yet(what: &str) -> Status {
    Status::unimplemented(format!("keel: {what} is not supported yet"))
}

type SnapshotStream =
    Pin<Box<dyn Stream<Item = Result<pb::SnapshotResponse, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl<B: Backend> pb::maintenance_server::Maintenance for MaintenanceService<B> {
    async fn alarm(
        &self,
        request: Request<pb::AlarmRequest>,
    ) -> Result<Response<pb::AlarmResponse>, Status> {
        let req = request.into_inner();
        let matches = |a: &crate::backend::Alarm| {
            (req.member_id == 0 || a.member_id == req.member_id)
                && (req.alarm == 0 || a.alarm == req.alarm)
        };
        let alarms: Vec<crate::backend::Alarm> = match req.action() {
            // As etcd: GET lists every alarm of the given type, NONE meaning all.
            pb::alarm_request::AlarmAction::Get => self
                .backend
                .alarms()
                .into_iter()
                .filter(|a| req.alarm == 0 || a.alarm == req.alarm)
                .collect(),
            pb::alarm_request::AlarmAction::Activate => {
                self.backend
                    .change_alarm(true, req.member_id, req.alarm)
                    .await?;
                vec![crate::backend::Alarm {
                    member_id: req.member_id,
                    alarm: req.alarm,
                }]
            }
            // As etcd: the answer lists the alarms that were cleared.
            pb::alarm_request::AlarmAction::Deactivate => {
                let cleared = self.backend.alarms().into_iter().filter(matches).collect();
                self.backend
                    .change_alarm(false, req.member_id, req.alarm)
                    .await?;
                cleared
            }
        };
        Ok(Response::new(pb::AlarmResponse {
            header: self.header(),
            alarms: alarms
                .into_iter()
                .map(|a| pb::AlarmMember {
                    member_id: a.member_id,
                    alarm: a.alarm,
                })
                .collect(),
        }))
    }

    async fn status(
        &self,
        _request: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::StatusResponse>, Status> {
        let s = self.backend.status();
        Ok(Response::new(pb::StatusResponse {
            header: self.header(),
            version: SERVER_VERSION.to_owned(),
            db_size: s.db_size_bytes,
            leader: s.leader,
            raft_index: s.raft_index,
            raft_term: s.raft_term,
            raft_applied_index: s.raft_applied_index,
            errors: s.errors,
            db_size_in_use: s.db_size_in_use_bytes,
            is_learner: s.is_learner,
        }))
    }

    async fn defragment(
        &self,
        _request: Request<pb::DefragmentRequest>,
    ) -> Result<Response<pb::DefragmentResponse>, Status> {
        // RocksDB reclaims the space of compacted revisions by its own
        // background compaction: there is no fragmentation to undo, so
        // defragmenting succeeds at once (documented in docs/compat.md).
        Ok(Response::new(pb::DefragmentResponse {
            header: self.header(),
        }))
    }

    async fn hash(
        &self,
        _request: Request<pb::HashRequest>,
    ) -> Result<Response<pb::HashResponse>, Status> {
        // etcd hashes its whole bbolt file; keel hashes the whole key space
        // (all revisions), which serves the same purpose: comparing members.
        let (hash, _, _) = self.hash_kv(0).await?;
        Ok(Response::new(pb::HashResponse {
            header: self.header(),
            hash,
        }))
    }

    async fn hash_kv(
        &self,
        request: Request<pb::HashKvRequest>,
    ) -> Result<Response<pb::HashKvResponse>, Status> {
        let revision = request.into_inner().revision;
        let (hash, compact_revision, hash_revision) = self.hash_kv(revision).await?;
        let header = self.backend.header();
        // As etcd: the header carries the revision the hash was taken at.
        Ok(Response::new(pb::HashKvResponse {
            header: convert::header(Header {
                revision: hash_revision,
                ..header
            }),
            hash,
            compact_revision,
        }))
    }

    type SnapshotStream = SnapshotStream;

    async fn snapshot(
        &self,
        _request: Request<pb::SnapshotRequest>,
    ) -> Result<Response<Self::SnapshotStream>, Status> {
        // Applies everything the leader committed before the request (so a
        // write acknowledged anywhere before the save is in it); without a
        // leader, as etcd, the member's own state is saved all the same.
        if let Err(err) = self.backend.read_barrier().await {
            tracing::warn!(error = %err, "snapshot: cannot catch up with the leader; saving the local state");
        }
        let header = self.backend.header();
        let chunks = super::snapshot_stream::start(
            Arc::clone(self.backend.store()),
            convert::header(header),
            header.cluster_id,
            header.member_id,
        );
        Ok(Response::new(Box::pin(ReceiverStream::new(chunks))))
    }

    async fn move_leader(
        &self,
        request: Request<pb::MoveLeaderRequest>,
    ) -> Result<Response<pb::MoveLeaderResponse>, Status> {
        self.backend
            .move_leader(request.into_inner().target_id)
            .await?;
        Ok(Response::new(pb::MoveLeaderResponse {
            header: convert::header(self.backend.header()),
        }))
    }

    async fn downgrade(
        &self,
        _request: Request<pb::DowngradeRequest>,
    ) -> Result<Response<pb::DowngradeResponse>, Status> {
        Err(not_yet("downgrade"))
    }
}
