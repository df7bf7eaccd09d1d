//! Conversion between etcd's protobuf messages (`api`) and the store's plain
//! types (`mvcc`), field by field. Every struct is destructured or built in
//! full, so a field added on either side fails to compile here instead of
//! being dropped silently.

use api::etcdserverpb as pb;
use api::mvccpb;

use crate::backend::Header;
use crate::error::ServerError;

/// etcd's answer to a `RequestOp` with no operation in it.
const EMPTY_OP: ServerError = ServerError::Mvcc(mvcc::Error::KeyNotFound);

/// The response header of a top-level response.
pub(crate) fn header(h: Header) -> Option<pb::ResponseHeader> {
    let Header {
        cluster_id,
        member_id,
        revision,
        raft_term,
    } = h;
    Some(pb::ResponseHeader {
        cluster_id,
        member_id,
        revision,
        raft_term,
    })
}

/// The header of a response nested in a txn: etcd fills in only the revision.
fn nested_header(revision: i64) -> Option<pb::ResponseHeader> {
    Some(pb::ResponseHeader {
        revision,
        ..Default::default()
    })
}

/// A stored key-value as `mvccpb.KeyValue`.
pub(crate) fn key_value(kv: mvcc::KeyValue) -> mvccpb::KeyValue {
    let mvcc::KeyValue {
        key,
        create_revision,
        mod_revision,
        version,
        value,
        lease,
    } = kv;
    mvccpb::KeyValue {
        key,
        create_revision,
        mod_revision,
        version,
        value,
        lease,
    }
}

/// A watch event as `mvccpb.Event`; `prev_kv` is kept only when asked for.
pub(crate) fn event(ev: mvcc::Event, with_prev_kv: bool) -> mvccpb::Event {
    let mvcc::Event { kind, kv, prev_kv } = ev;
    let kind = match kind {
        mvcc::EventType::Put => mvccpb::event::EventType::Put,
        mvcc::EventType::Delete => mvccpb::event::EventType::Delete,
    };
    mvccpb::Event {
        r#type: kind as i32,
        kv: Some(key_value(kv)),
        prev_kv: prev_kv.filter(|_| with_prev_kv).map(key_value),
    }
}

/// `RangeRequest` to the store's.
pub(crate) fn range_request(req: pb::RangeRequest) -> mvcc::RangeRequest {
    use pb::range_request::SortOrder as O;
    use pb::range_request::SortTarget as T;
    let sort_order = match req.sort_order() {
        O::None => mvcc::SortOrder::None,
        O::Ascend => mvcc::SortOrder::Ascend,
        O::Descend => mvcc::SortOrder::Descend,
    };
    let sort_target = match req.sort_target() {
        T::Key => mvcc::SortTarget::Key,
        T::Version => mvcc::SortTarget::Version,
        T::Create => mvcc::SortTarget::Create,
        T::Mod => mvcc::SortTarget::Mod,
        T::Value => mvcc::SortTarget::Value,
    };
    let pb::RangeRequest {
        key,
        range_end,
        limit,
        revision,
        sort_order: _,
        sort_target: _,
        serializable,
        keys_only,
        count_only,
        min_mod_revision,
        max_mod_revision,
        min_create_revision,
        max_create_revision,
    } = req;
    mvcc::RangeRequest {
        key,
        range_end,
        limit,
        revision,
        sort_order,
        sort_target,
        serializable,
        keys_only,
        count_only,
        min_mod_revision,
        max_mod_revision,
        min_create_revision,
        max_create_revision,
    }
}

/// `RangeResponse` from the store's, with `top` the header of a top-level response.
pub(crate) fn range_response(resp: mvcc::RangeResponse, top: Option<Header>) -> pb::RangeResponse {
    let mvcc::RangeResponse {
        revision,
        kvs,
        more,
        count,
    } = resp;
    pb::RangeResponse {
        header: header_for(revision, top),
        kvs: kvs.into_iter().map(key_value).collect(),
        more,
        count,
    }
}

/// `PutRequest` to the store's.
pub(crate) fn put_request(req: pb::PutRequest) -> mvcc::PutRequest {
    let pb::PutRequest {
        key,
        value,
        lease,
        prev_kv,
        ignore_value,
        ignore_lease,
    } = req;
    mvcc::PutRequest {
        key,
        value,
        lease,
        prev_kv,
        ignore_value,
        ignore_lease,
    }
}

/// `PutResponse` from the store's.
pub(crate) fn put_response(resp: mvcc::PutResponse, top: Option<Header>) -> pb::PutResponse {
    let mvcc::PutResponse { revision, prev_kv } = resp;
    pb::PutResponse {
        header: header_for(revision, top),
        prev_kv: prev_kv.map(key_value),
    }
}

/// `DeleteRangeRequest` to the store's.
pub(crate) fn delete_request(req: pb::DeleteRangeRequest) -> mvcc::DeleteRangeRequest {
    let pb::DeleteRangeRequest {
        key,
        range_end,
        prev_kv,
    } = req;
    mvcc::DeleteRangeRequest {
        key,
        range_end,
        prev_kv,
    }
}

/// `DeleteRangeResponse` from the store's.
pub(crate) fn delete_response(
    resp: mvcc::DeleteRangeResponse,
    top: Option<Header>,
) -> pb::DeleteRangeResponse {
    let mvcc::DeleteRangeResponse {
        revision,
        deleted,
        prev_kvs,
    } = resp;
    pb::DeleteRangeResponse {
        header: header_for(revision, top),
        deleted,
        prev_kvs: prev_kvs.into_iter().map(key_value).collect(),
    }
}

/// `Compare` to the store's.
pub(crate) fn compare(cmp: pb::Compare) -> mvcc::Compare {
    use pb::compare::CompareResult as R;
    use pb::compare::CompareTarget as T;
    use pb::compare::TargetUnion as U;
    let result = match cmp.result() {
        R::Equal => mvcc::CompareResult::Equal,
        R::Greater => mvcc::CompareResult::Greater,
        R::Less => mvcc::CompareResult::Less,
        R::NotEqual => mvcc::CompareResult::NotEqual,
    };
    let target = match cmp.target() {
        T::Version => mvcc::CompareTarget::Version,
        T::Create => mvcc::CompareTarget::Create,
        T::Mod => mvcc::CompareTarget::Mod,
        T::Value => mvcc::CompareTarget::Value,
        T::Lease => mvcc::CompareTarget::Lease,
    };
    let pb::Compare {
        result: _,
        target: _,
        key,
        range_end,
        target_union,
    } = cmp;
    let target_union = target_union.map(|u| match u {
        U::Version(v) => mvcc::TargetUnion::Version(v),
        U::CreateRevision(v) => mvcc::TargetUnion::CreateRevision(v),
        U::ModRevision(v) => mvcc::TargetUnion::ModRevision(v),
        U::Value(v) => mvcc::TargetUnion::Value(v),
        U::Lease(v) => mvcc::TargetUnion::Lease(v),
    });
    mvcc::Compare {
        result,
        target,
        key,
        target_union,
        range_end,
    }
}

/// `RequestOp` to the store's; an empty op is etcd's "key not found".
pub(crate) fn request_op(op: pb::RequestOp) -> Result<mvcc::RequestOp, ServerError> {
    use pb::request_op::Request;
    Ok(match op.request.ok_or(EMPTY_OP)? {
        Request::RequestRange(r) => mvcc::RequestOp::Range(range_request(r)),
        Request::RequestPut(r) => mvcc::RequestOp::Put(put_request(r)),
        Request::RequestDeleteRange(r) => mvcc::RequestOp::DeleteRange(delete_request(r)),
        Request::RequestTxn(r) => mvcc::RequestOp::Txn(txn_request(r)?),
    })
}

/// `TxnRequest` to the store's.
pub(crate) fn txn_request(req: pb::TxnRequest) -> Result<mvcc::TxnRequest, ServerError> {
    let pb::TxnRequest {
        compare: compares,
        success,
        failure,
    } = req;
    Ok(mvcc::TxnRequest {
        compare: compares.into_iter().map(compare).collect(),
        success: success
            .into_iter()
            .map(request_op)
            .collect::<Result<_, _>>()?,
        failure: failure
            .into_iter()
            .map(request_op)
            .collect::<Result<_, _>>()?,
    })
}

/// `ResponseOp` from the store's (nested: headers carry only revisions).
fn response_op(op: mvcc::ResponseOp) -> pb::ResponseOp {
    use pb::response_op::Response;
    let response = match op {
        mvcc::ResponseOp::Range(r) => Response::ResponseRange(range_response(r, None)),
        mvcc::ResponseOp::Put(r) => Response::ResponsePut(put_response(r, None)),
        mvcc::ResponseOp::DeleteRange(r) => Response::ResponseDeleteRange(delete_response(r, None)),
        mvcc::ResponseOp::Txn(r) => Response::ResponseTxn(txn_response(r, None)),
    };
    pb::ResponseOp {
        response: Some(response),
    }
}

/// `TxnResponse` from the store's.
pub(crate) fn txn_response(resp: mvcc::TxnResponse, top: Option<Header>) -> pb::TxnResponse {
    let mvcc::TxnResponse {
        revision,
        succeeded,
        responses,
    } = resp;
    pb::TxnResponse {
        header: header_for(revision, top),
        succeeded,
        responses: responses.into_iter().map(response_op).collect(),
    }
}

/// `CompactionRequest` to the store's.
pub(crate) fn compaction_request(req: pb::CompactionRequest) -> mvcc::CompactionRequest {
    let pb::CompactionRequest { revision, physical } = req;
    mvcc::CompactionRequest { revision, physical }
}

/// The header of a response: a top-level one takes the member's identity
/// and the store's revision of the response; a nested one only the revision.
fn header_for(revision: i64, top: Option<Header>) -> Option<pb::ResponseHeader> {
    match top {
        Some(h) => header(Header { revision, ..h }),
        None => nested_header(revision),
    }
}

/// A member as the Cluster service reports it.
pub(crate) fn member(m: crate::backend::Member) -> pb::Member {
    let crate::backend::Member {
        id,
        name,
        peer_urls,
        client_urls,
        is_learner,
    } = m;
    pb::Member {
        id,
        name,
        peer_ur_ls: peer_urls,
        client_ur_ls: client_urls,
        is_learner,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn range_request_keeps_every_field() {
        let req = pb::RangeRequest {
            key: b"a".to_vec(),
            range_end: b"z".to_vec(),
            limit: 5,
            revision: 7,
            sort_order: pb::range_request::SortOrder::Descend as i32,
            sort_target: pb::range_request::SortTarget::Mod as i32,
            serializable: true,
            keys_only: true,
            count_only: false,
            min_mod_revision: 1,
            max_mod_revision: 2,
            min_create_revision: 3,
            max_create_revision: 4,
        };
        let got = range_request(req);
        assert_eq!(got.key, b"a");
        assert_eq!(got.range_end, b"z");
        assert_eq!((got.limit, got.revision), (5, 7));
        assert_eq!(got.sort_order, mvcc::SortOrder::Descend);
        assert_eq!(got.sort_target, mvcc::SortTarget::Mod);
        assert!(got.serializable && got.keys_only && !got.count_only);
        assert_eq!(
            (
                got.min_mod_revision,
                got.max_mod_revision,
                got.min_create_revision,
                got.max_create_revision
            ),
            (1, 2, 3, 4)
        );
    }

    #[test]
    fn empty_request_op_is_key_not_found() {
        let err = request_op(pb::RequestOp { request: None }).unwrap_err();
        assert!(matches!(err, ServerError::Mvcc(mvcc::Error::KeyNotFound)));
    }

    #[test]
    fn nested_txn_headers_carry_only_the_revision() {
        let resp = mvcc::TxnResponse {
            revision: 9,
            succeeded: true,
            responses: vec![mvcc::ResponseOp::Put(mvcc::PutResponse {
                revision: 9,
                prev_kv: None,
            })],
        };
        let top = Header {
            cluster_id: 1,
            member_id: 2,
            revision: 0,
            raft_term: 3,
        };
        let got = txn_response(resp, Some(top));
        let h = got.header.unwrap();
        assert_eq!(
            (h.cluster_id, h.member_id, h.revision, h.raft_term),
            (1, 2, 9, 3)
        );
        let Some(pb::response_op::Response::ResponsePut(put)) = &got.responses[0].response else {
            panic!("not a put response");
        };
        assert_eq!(put.header, nested_header(9));
    }

    #[test]
    fn event_drops_prev_kv_unless_asked() {
        let kv = mvcc::KeyValue {
            key: b"k".to_vec(),
            mod_revision: 3,
            ..Default::default()
        };
        let ev = mvcc::Event {
            kind: mvcc::EventType::Delete,
            kv: kv.clone(),
            prev_kv: Some(kv),
        };
        assert!(event(ev.clone(), false).prev_kv.is_none());
        let with = event(ev, true);
        assert!(with.prev_kv.is_some());
        assert_eq!(with.r#type, mvccpb::event::EventType::Delete as i32);
    }
}
