//! Printing responses in etcdctl 3.4's formats: `simple`, `json`, `fields`
//! and `table`, byte for byte where keel returns the same data.
//!
//! Every printer returns the text to write rather than writing it, so the
//! formats are unit-tested without a server. A format etcdctl does not
//! offer for a command fails as etcdctl does (`table not supported as
//! output format`, exit code 4), after the request was made.

mod db_status;
mod fields;
mod json;
mod simple;
mod table;

use api::etcdserverpb::AlarmResponse;
use api::etcdserverpb::DeleteRangeResponse;
use api::etcdserverpb::HashKvResponse;
use api::etcdserverpb::LeaseGrantResponse;
use api::etcdserverpb::LeaseKeepAliveResponse;
use api::etcdserverpb::LeaseLeasesResponse;
use api::etcdserverpb::LeaseRevokeResponse;
use api::etcdserverpb::LeaseTimeToLiveResponse;
use api::etcdserverpb::MemberAddResponse;
use api::etcdserverpb::MemberListResponse;
use api::etcdserverpb::MoveLeaderResponse;
use api::etcdserverpb::PutResponse;
use api::etcdserverpb::RangeResponse;
use api::etcdserverpb::ResponseHeader;
use api::etcdserverpb::StatusResponse;
use api::etcdserverpb::TxnResponse;
use api::etcdserverpb::WatchResponse;
use clap::ValueEnum;

use crate::failure::Failure;

/// The output format chosen with `-w/--write-out`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Human-readable text.
    Simple,
    /// One JSON document per response, as Go's `encoding/json` writes it.
    Json,
    /// `"Name" : value` lines.
    Fields,
    /// An ASCII table (member list and endpoint commands only).
    Table,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Simple => "simple",
            Format::Json => "json",
            Format::Fields => "fields",
            Format::Table => "table",
        }
    }
}

/// The health of one endpoint, as `endpoint health` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EndpointHealth {
    pub(crate) endpoint: String,
    pub(crate) health: bool,
    /// Go duration text (`1.2ms`); empty when the client could not connect.
    pub(crate) took: String,
    pub(crate) error: String,
}

/// The status of one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EndpointStatus {
    pub(crate) endpoint: String,
    pub(crate) status: StatusResponse,
}

/// The KV hash of one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EndpointHash {
    pub(crate) endpoint: String,
    pub(crate) hash: HashKvResponse,
}

/// Formats responses; one per command run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Printer {
    pub(crate) format: Format,
    /// `--hex`: keys and values as `\x..` escapes (simple format).
    pub(crate) hex: bool,
    /// `--print-value-only` (simple format).
    pub(crate) value_only: bool,
}

/// Output bytes: keys and values are printed raw, so not always UTF-8.
type Text = anyhow::Result<Vec<u8>>;

impl Printer {
    /// A printer for `format` with no options.
    pub(crate) fn new(format: Format) -> Self {
        Printer {
            format,
            hex: false,
            value_only: false,
        }
    }

    fn unsupported(&self) -> Text {
        Err(Failure::bad_feature(format!(
            "{} not supported as output format",
            self.format.name()
        )))
    }

    pub(crate) fn get(&self, r: &RangeResponse) -> Text {
        match self.format {
            Format::Simple => Ok(simple::get(self, r)),
            Format::Json => text(json::line(json::range_response(r))),
            Format::Fields => text(fields::get(r)),
            Format::Table => self.unsupported(),
        }
    }

    pub(crate) fn put(&self, r: &PutResponse) -> Text {
        match self.format {
            Format::Simple => Ok(simple::put(self, r)),
            Format::Json => text(json::line(json::put_response(r))),
            Format::Fields => text(fields::put(r)),
            Format::Table => self.unsupported(),
        }
    }

    pub(crate) fn del(&self, r: &DeleteRangeResponse) -> Text {
        match self.format {
            Format::Simple => Ok(simple::del(self, r)),
            Format::Json => text(json::line(json::delete_response(r))),
            Format::Fields => text(fields::del(r)),
            Format::Table => self.unsupported(),
        }
    }

    pub(crate) fn txn(&self, r: &TxnResponse) -> Text {
        match self.format {
            Format::Simple => Ok(simple::txn(self, r)),
            Format::Json => text(json::line(json::txn_response(r))),
            Format::Fields => text(fields::txn(r)),
            Format::Table => self.unsupported(),
        }
    }

    pub(crate) fn watch(&self, r: &WatchResponse) -> Text {
        match self.format {
            Format::Simple => Ok(simple::watch(self, r)),
            Format::Json => text(json::line(json::watch_response(r))),
            Format::Fields => text(fields::watch(r)),
            Format::Table => self.unsupported(),
        }
    }

    pub(crate) fn grant(&self, r: &LeaseGrantResponse) -> Text {
        match self.format {
            Format::Simple => text(format!(
                "lease {:016x} granted with TTL({}s)\n",
                r.id, r.ttl
            )),
            Format::Json => text(json::line(json::lease_grant(r))),
            Format::Fields => text(fields::id_ttl(r.header.as_ref(), r.id, r.ttl)),
            Format::Table => self.unsupported(),
        }
    }

    pub(crate) fn revoke(&self, id: i64, r: &LeaseRevokeResponse) -> Text {
        match self.format {
            Format::Simple => text(format!("lease {id:016x} revoked\n")),
            Format::Json => text(json::line(json::header_only(r.header.as_ref()))),
            Format::Fields => text(fields::header(r.header.as_ref())),
            Format::Table => self.unsupported(),
        }
    }

    pub(crate) fn keep_alive(&self, r: &LeaseKeepAliveResponse) -> Text {
        match self.format {
            Format::Simple => text(format!(
                "lease {:016x} keepalived with TTL({})\n",
                r.id, r.ttl
            )),
            Format::Json => text(json::line(json::lease_keep_alive(r))),
            Format::Fields => text(fields::id_ttl(r.header.as_ref(), r.id, r.ttl)),
            Format::Table => self.unsupported(),
        }
    }

    pub(crate) fn time_to_live(&self, r: &LeaseTimeToLiveResponse, keys: bool) -> Text {
        match self.format {
            Format::Simple => text(simple::time_to_live(r, keys)),
            Format::Json => text(json::line(json::lease_time_to_live(r))),
            Format::Fields => text(fields::time_to_live(r)),
            Format::Table => self.unsupported(),
        }
    }

    pub(crate) fn leases(&self, r: &LeaseLeasesResponse) -> Text {
        match self.format {
            Format::Simple => text(simple::leases(r)),
            Format::Json => text(json::line(json::lease_leases(r))),
            Format::Fields => text(fields::leases(r)),
            Format::Table => self.unsupported(),
        }
    }

    pub(crate) fn member_add(&self, r: &MemberAddResponse) -> Text {
        let member_id = r.member.as_ref().map_or(0, |member| member.id);
        match self.format {
            Format::Simple => text(format!(
                "Member {member_id:16x} added to cluster {:16x}\n",
                cluster_id(r.header.as_ref())
            )),
            Format::Json => text(json::line(json::member_add(r))),
            Format::Fields | Format::Table => self.unsupported(),
        }
    }

    /// `member remove`, `update` and `promote`: `verb` is `removed from`,
    /// `updated in` or `promoted in`.
    pub(crate) fn member_changed(
        &self,
        verb: &str,
        id: u64,
        header: Option<&ResponseHeader>,
        members: &[api::etcdserverpb::Member],
    ) -> Text {
        match self.format {
            Format::Simple => text(format!(
                "Member {id:16x} {verb} cluster {:16x}\n",
                cluster_id(header)
            )),
            Format::Json => text(json::line(json::header_and_members(header, members))),
            Format::Fields | Format::Table => self.unsupported(),
        }
    }

    pub(crate) fn member_list(&self, r: &MemberListResponse) -> Text {
        match self.format {
            Format::Simple => text(simple::rows(&member_rows(r))),
            Format::Json => text(json::line(json::header_and_members(
                r.header.as_ref(),
                &r.members,
            ))),
            Format::Fields => text(fields::member_list(r)),
            Format::Table => text(table::render(&MEMBER_HEADER, &member_rows(r))),
        }
    }

    pub(crate) fn endpoint_health(&self, list: &[EndpointHealth]) -> Text {
        match self.format {
            Format::Simple => Ok(Vec::new()),
            Format::Json => text(json::line(json::endpoint_health(list))),
            Format::Fields => text(fields::endpoint_health(list)),
            Format::Table => text(table::render(&HEALTH_HEADER, &health_rows(list))),
        }
    }

    pub(crate) fn endpoint_status(&self, list: &[EndpointStatus]) -> Text {
        match self.format {
            Format::Simple => text(simple::rows(&status_rows(list))),
            Format::Json => text(json::line(json::endpoint_status(list))),
            Format::Fields => text(fields::endpoint_status(list)),
            Format::Table => text(table::render(&STATUS_HEADER, &status_rows(list))),
        }
    }

    pub(crate) fn endpoint_hashkv(&self, list: &[EndpointHash]) -> Text {
        match self.format {
            Format::Simple => text(simple::rows(&hash_rows(list))),
            Format::Json => text(json::line(json::endpoint_hashkv(list))),
            Format::Fields => text(fields::endpoint_hashkv(list)),
            Format::Table => text(table::render(&HASH_HEADER, &hash_rows(list))),
        }
    }

    pub(crate) fn move_leader(&self, leader: u64, target: u64, r: &MoveLeaderResponse) -> Text {
        match self.format {
            Format::Simple => text(format!(
                "Leadership transferred from {leader:x} to {target:x}\n"
            )),
            Format::Json => text(json::line(json::header_only(r.header.as_ref()))),
            Format::Fields | Format::Table => self.unsupported(),
        }
    }

    pub(crate) fn alarm(&self, r: &AlarmResponse) -> Text {
        match self.format {
            Format::Simple => text(simple::alarm(r)),
            Format::Json => text(json::line(json::alarm_response(r))),
            Format::Fields => text(fields::alarm(r)),
            Format::Table => self.unsupported(),
        }
    }
}

/// Text output as bytes.
fn text(text: String) -> Text {
    Ok(text.into_bytes())
}

fn cluster_id(header: Option<&ResponseHeader>) -> u64 {
    header.map_or(0, |header| header.cluster_id)
}

const MEMBER_HEADER: [&str; 6] = [
    "ID",
    "Status",
    "Name",
    "Peer Addrs",
    "Client Addrs",
    "Is Learner",
];
const HEALTH_HEADER: [&str; 4] = ["endpoint", "health", "took", "error"];
const STATUS_HEADER: [&str; 10] = [
    "endpoint",
    "ID",
    "version",
    "db size",
    "is leader",
    "is learner",
    "raft term",
    "raft index",
    "raft applied index",
    "errors",
];
const HASH_HEADER: [&str; 2] = ["endpoint", "hash"];

fn member_rows(r: &MemberListResponse) -> Vec<Vec<String>> {
    r.members
        .iter()
        .map(|member| {
            let status = if member.name.is_empty() {
                "unstarted"
            } else {
                "started"
            };
            vec![
                format!("{:x}", member.id),
                status.to_owned(),
                member.name.clone(),
                member.peer_ur_ls.join(","),
                member.client_ur_ls.join(","),
                member.is_learner.to_string(),
            ]
        })
        .collect()
}

fn health_rows(list: &[EndpointHealth]) -> Vec<Vec<String>> {
    list.iter()
        .map(|h| {
            vec![
                h.endpoint.clone(),
                h.health.to_string(),
                h.took.clone(),
                h.error.clone(),
            ]
        })
        .collect()
}

fn status_rows(list: &[EndpointStatus]) -> Vec<Vec<String>> {
    list.iter()
        .map(|EndpointStatus { endpoint, status }| {
            let member_id = status.header.as_ref().map_or(0, |header| header.member_id);
            vec![
                endpoint.clone(),
                format!("{member_id:x}"),
                status.version.clone(),
                crate::go_fmt::humanize_bytes(u64::try_from(status.db_size).unwrap_or(0)),
                (status.leader == member_id).to_string(),
                status.is_learner.to_string(),
                status.raft_term.to_string(),
                status.raft_index.to_string(),
                status.raft_applied_index.to_string(),
                status.errors.join(", "),
            ]
        })
        .collect()
}

fn hash_rows(list: &[EndpointHash]) -> Vec<Vec<String>> {
    list.iter()
        .map(|h| vec![h.endpoint.clone(), h.hash.hash.to_string()])
        .collect()
}
