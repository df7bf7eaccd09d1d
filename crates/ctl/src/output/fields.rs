//! etcdctl's `fields` format (`printer_fields.go`): `"Name" : value` lines.

use std::fmt::Write;

use api::etcdserverpb::AlarmResponse;
use api::etcdserverpb::DeleteRangeResponse;
use api::etcdserverpb::LeaseLeasesResponse;
use api::etcdserverpb::LeaseTimeToLiveResponse;
use api::etcdserverpb::MemberListResponse;
use api::etcdserverpb::PutResponse;
use api::etcdserverpb::RangeResponse;
use api::etcdserverpb::ResponseHeader;
use api::etcdserverpb::TxnResponse;
use api::etcdserverpb::WatchResponse;
use api::etcdserverpb::response_op::Response;
use api::mvccpb::KeyValue;

use super::EndpointHash;
use super::EndpointHealth;
use super::EndpointStatus;
use crate::go_fmt::quote;

/// One `"name" : value` line.
fn field(out: &mut String, name: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "\"{name}\" : {value}");
}

fn kv(out: &mut String, prefix: &str, kv: &KeyValue) {
    field(out, &format!("{prefix}Key"), quote(&kv.key));
    field(out, &format!("{prefix}CreateRevision"), kv.create_revision);
    field(out, &format!("{prefix}ModRevision"), kv.mod_revision);
    field(out, &format!("{prefix}Version"), kv.version);
    field(out, &format!("{prefix}Value"), quote(&kv.value));
    field(out, &format!("{prefix}Lease"), kv.lease);
}

fn push_header(out: &mut String, header: Option<&ResponseHeader>) {
    let h = header.copied().unwrap_or_default();
    field(out, "ClusterID", h.cluster_id);
    field(out, "MemberID", h.member_id);
    field(out, "Revision", h.revision);
    field(out, "RaftTerm", h.raft_term);
}

pub(super) fn header(h: Option<&ResponseHeader>) -> String {
    let mut out = String::new();
    push_header(&mut out, h);
    out
}

pub(super) fn get(r: &RangeResponse) -> String {
    let mut out = header(r.header.as_ref());
    for item in &r.kvs {
        kv(&mut out, "", item);
    }
    field(&mut out, "More", r.more);
    field(&mut out, "Count", r.count);
    out
}

pub(super) fn put(r: &PutResponse) -> String {
    let mut out = header(r.header.as_ref());
    if let Some(prev) = &r.prev_kv {
        kv(&mut out, "Prev", prev);
    }
    out
}

pub(super) fn del(r: &DeleteRangeResponse) -> String {
    let mut out = header(r.header.as_ref());
    field(&mut out, "Deleted", r.deleted);
    for prev in &r.prev_kvs {
        kv(&mut out, "Prev", prev);
    }
    out
}

pub(super) fn txn(r: &TxnResponse) -> String {
    let mut out = header(r.header.as_ref());
    field(&mut out, "Succeeded", r.succeeded);
    for response in r.responses.iter().filter_map(|op| op.response.as_ref()) {
        match response {
            Response::ResponseRange(range) => out.push_str(&get(range)),
            Response::ResponsePut(put_response) => out.push_str(&put(put_response)),
            Response::ResponseDeleteRange(delete) => out.push_str(&del(delete)),
            Response::ResponseTxn(nested) => out.push_str(&txn(nested)),
        }
    }
    out
}

pub(super) fn watch(r: &WatchResponse) -> String {
    let mut out = header(r.header.as_ref());
    for event in &r.events {
        field(&mut out, "Type", event.r#type().as_str_name());
        if let Some(prev) = &event.prev_kv {
            kv(&mut out, "Prev", prev);
        }
        kv(
            &mut out,
            "",
            event.kv.as_ref().unwrap_or(&KeyValue::default()),
        );
    }
    out
}

pub(super) fn id_ttl(h: Option<&ResponseHeader>, id: i64, ttl: i64) -> String {
    let mut out = header(h);
    field(&mut out, "ID", id);
    field(&mut out, "TTL", ttl);
    out
}

pub(super) fn time_to_live(r: &LeaseTimeToLiveResponse) -> String {
    let mut out = id_ttl(r.header.as_ref(), r.id, r.ttl);
    field(&mut out, "GrantedTTL", r.granted_ttl);
    for key in &r.keys {
        field(&mut out, "Key", quote(key));
    }
    out
}

pub(super) fn leases(r: &LeaseLeasesResponse) -> String {
    let mut out = header(r.header.as_ref());
    for lease in &r.leases {
        field(&mut out, "ID", lease.id);
    }
    out
}

pub(super) fn member_list(r: &MemberListResponse) -> String {
    let mut out = header(r.header.as_ref());
    for m in &r.members {
        field(&mut out, "ID", m.id);
        field(&mut out, "Name", quote(m.name.as_bytes()));
        for url in &m.peer_ur_ls {
            field(&mut out, "PeerURL", quote(url.as_bytes()));
        }
        for url in &m.client_ur_ls {
            field(&mut out, "ClientURL", quote(url.as_bytes()));
        }
        field(&mut out, "IsLearner", m.is_learner);
        out.push('\n');
    }
    out
}

pub(super) fn endpoint_health(list: &[EndpointHealth]) -> String {
    let mut out = String::new();
    for h in list {
        field(&mut out, "Endpoint", quote(h.endpoint.as_bytes()));
        field(&mut out, "Health", h.health);
        field(&mut out, "Took", &h.took);
        field(&mut out, "Error", &h.error);
        out.push('\n');
    }
    out
}

pub(super) fn endpoint_status(list: &[EndpointStatus]) -> String {
    let mut out = String::new();
    for EndpointStatus { endpoint, status } in list {
        push_header(&mut out, status.header.as_ref());
        field(&mut out, "Version", quote(status.version.as_bytes()));
        field(&mut out, "DBSize", status.db_size);
        field(&mut out, "Leader", status.leader);
        field(&mut out, "IsLearner", status.is_learner);
        field(&mut out, "RaftIndex", status.raft_index);
        field(&mut out, "RaftTerm", status.raft_term);
        field(&mut out, "RaftAppliedIndex", status.raft_applied_index);
        field(&mut out, "Errors", format!("[{}]", status.errors.join(" ")));
        field(&mut out, "Endpoint", quote(endpoint.as_bytes()));
        out.push('\n');
    }
    out
}

pub(super) fn endpoint_hashkv(list: &[EndpointHash]) -> String {
    let mut out = String::new();
    for h in list {
        push_header(&mut out, h.hash.header.as_ref());
        field(&mut out, "Endpoint", quote(h.endpoint.as_bytes()));
        field(&mut out, "Hash", h.hash.hash);
        out.push('\n');
    }
    out
}

pub(super) fn alarm(r: &AlarmResponse) -> String {
    let mut out = header(r.header.as_ref());
    for a in &r.alarms {
        field(&mut out, "MemberID", a.member_id);
        field(&mut out, "AlarmType", a.alarm().as_str_name());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from etcdctl 3.4.23 `get foo -w fields`.
    #[test]
    fn get_matches_etcdctl() {
        let r = RangeResponse {
            header: Some(ResponseHeader {
                cluster_id: 1345,
                member_id: 4436,
                revision: 3,
                raft_term: 2,
            }),
            kvs: vec![KeyValue {
                key: b"foo".to_vec(),
                create_revision: 2,
                mod_revision: 2,
                version: 1,
                value: b"bar".to_vec(),
                lease: 0,
            }],
            more: false,
            count: 1,
        };
        let expected = "\"ClusterID\" : 1345\n\"MemberID\" : 4436\n\"Revision\" : 3\n\"RaftTerm\" : 2\n\
            \"Key\" : \"foo\"\n\"CreateRevision\" : 2\n\"ModRevision\" : 2\n\"Version\" : 1\n\
            \"Value\" : \"bar\"\n\"Lease\" : 0\n\"More\" : false\n\"Count\" : 1\n";
        assert_eq!(get(&r), expected);
    }

    #[test]
    fn txn_prints_each_sub_response_with_its_header() {
        let r = TxnResponse {
            header: None,
            succeeded: false,
            responses: vec![api::etcdserverpb::ResponseOp {
                response: Some(Response::ResponsePut(PutResponse::default())),
            }],
        };
        let zero_header =
            "\"ClusterID\" : 0\n\"MemberID\" : 0\n\"Revision\" : 0\n\"RaftTerm\" : 0\n";
        assert_eq!(
            txn(&r),
            format!("{zero_header}\"Succeeded\" : false\n{zero_header}")
        );
    }
}
