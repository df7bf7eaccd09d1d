//! The KV clients: each runs puts, gets (linearizable and serializable),
//! deletes and Kubernetes-style txns on a few hot and many cold keys, and
//! records every operation's invocation and outcome.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::time::Duration;

use api::etcdserverpb::Compare;
use api::etcdserverpb::DeleteRangeRequest;
use api::etcdserverpb::PutRequest;
use api::etcdserverpb::RangeRequest;
use api::etcdserverpb::RangeResponse;
use api::etcdserverpb::RequestOp;
use api::etcdserverpb::ResponseHeader;
use api::etcdserverpb::TxnRequest;
use api::etcdserverpb::compare;
use api::etcdserverpb::kv_client::KvClient;
use api::etcdserverpb::request_op;
use api::etcdserverpb::response_op;
use rand::Rng;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::time::Instant;
use tonic::transport::Channel;

use super::history::Operation;
use super::history::ReadKv;
use super::history::Request;
use super::history::Response;
use super::recorder::Recorder;
use super::recorder::pick;

/// The prefix of every key the KV check covers (and the watchers watch).
pub(crate) const KV_PREFIX: &str = "k/";

/// How far behind the newest revision an injected stale read reads.
const STALE_LAG_REVISIONS: u64 = 20;

/// What the clients do.
#[derive(Debug, Clone)]
pub(crate) struct Workload {
    /// Keys most operations go to.
    pub(crate) hot_keys: usize,
    /// Keys the rest go to.
    pub(crate) cold_keys: usize,
    /// How long an operation may take before it counts as indeterminate.
    pub(crate) op_timeout: Duration,
    /// Test-only bug: serve a quarter of the linearizable gets from an old
    /// revision, as a lagging member would, and record them as linearizable.
    pub(crate) inject_stale_reads: bool,
}

impl Workload {
    /// Every key the clients may touch.
    pub(crate) fn keys(&self) -> Vec<String> {
        let hot = (0..self.hot_keys).map(|i| format!("{KV_PREFIX}hot/{i}"));
        hot.chain((0..self.cold_keys).map(|i| format!("{KV_PREFIX}cold/{i}")))
            .collect()
    }
}

/// The newest revision any response showed, shared by all tasks.
pub(crate) type Latest = Arc<AtomicU64>;

/// One client's loop until `deadline`.
pub(crate) async fn client(
    id: u32,
    channels: Arc<Vec<Channel>>,
    recorder: Recorder,
    workload: Workload,
    seed: u64,
    latest: Latest,
    deadline: Instant,
) {
    let mut rng = SmallRng::seed_from_u64(seed ^ (u64::from(id) << 32));
    let keys = workload.keys();
    let mut endpoint = id as usize;
    let mut kv = KvClient::new(pick(&channels, endpoint));
    let mut mod_revisions: HashMap<String, u64> = HashMap::new();
    let mut seq = 0u64;
    while Instant::now() < deadline {
        seq += 1;
        let request = next_request(&mut rng, &workload, &keys, id, seq, &mod_revisions);
        let stale = (workload.inject_stale_reads
            && matches!(
                request,
                Request::Get {
                    linearizable: true,
                    ..
                }
            )
            && rng.random_ratio(1, 4))
        .then(|| {
            latest
                .load(Ordering::Relaxed)
                .saturating_sub(STALE_LAG_REVISIONS)
        })
        .filter(|&r| r > 1);
        let call_ns = recorder.now_ns();
        let outcome =
            tokio::time::timeout(workload.op_timeout, execute(&mut kv, &request, stale)).await;
        let return_ns = recorder.now_ns();
        match outcome {
            Ok(Ok(response)) => {
                latest.fetch_max(response.revision(), Ordering::Relaxed);
                remember(&mut mod_revisions, &request, &response);
                recorder.op(Operation {
                    client: id,
                    call_ns,
                    return_ns: Some(return_ns),
                    request,
                    response: Some(response),
                });
            }
            failed => {
                // A failed read changed nothing and is left out; a failed
                // write may or may not have applied.
                if request.is_write() {
                    recorder.op(Operation {
                        client: id,
                        call_ns,
                        return_ns: None,
                        request,
                        response: None,
                    });
                }
                if failed.is_err() || failed.is_ok_and(|r| r.is_err()) {
                    endpoint += 1;
                    kv = KvClient::new(pick(&channels, endpoint));
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }
}

fn next_request(
    rng: &mut SmallRng,
    workload: &Workload,
    keys: &[String],
    id: u32,
    seq: u64,
    mod_revisions: &HashMap<String, u64>,
) -> Request {
    let hot = workload.hot_keys.min(keys.len());
    let index = if hot > 0 && rng.random_ratio(7, 10) {
        rng.random_range(0..hot)
    } else {
        rng.random_range(0..keys.len())
    };
    let key = keys.get(index).cloned().unwrap_or_default();
    let value = format!("c{id}-{seq}");
    match rng.random_range(0..100) {
        0..30 => Request::Put { key, value },
        30..60 => Request::Get {
            key,
            linearizable: true,
        },
        60..70 => Request::Get {
            key,
            linearizable: false,
        },
        70..78 => Request::Delete { key },
        _ => {
            let expected_mod_revision = mod_revisions.get(&key).copied().unwrap_or(0);
            Request::Txn {
                key,
                expected_mod_revision,
                value,
            }
        }
    }
}

/// Keeps the last `mod_revision` this client saw per key, for its next txn.
fn remember(mod_revisions: &mut HashMap<String, u64>, request: &Request, response: &Response) {
    let key = request.key().to_owned();
    let seen = match response {
        Response::Put { revision } => Some(*revision),
        Response::Get { kv, .. }
        | Response::Txn {
            succeeded: false,
            kv,
            ..
        } => Some(kv.as_ref().map_or(0, |kv| kv.mod_revision)),
        Response::Txn { revision, .. } => Some(*revision),
        Response::Delete { .. } => Some(0),
    };
    if let Some(r) = seen {
        mod_revisions.insert(key, r);
    }
}

fn revision(header: Option<&ResponseHeader>) -> u64 {
    header.map_or(0, |h| u64::try_from(h.revision).unwrap_or(0))
}

fn first_kv(range: &RangeResponse) -> Option<ReadKv> {
    range.kvs.first().map(|kv| ReadKv {
        value: String::from_utf8_lossy(&kv.value).into_owned(),
        mod_revision: u64::try_from(kv.mod_revision).unwrap_or(0),
    })
}

fn as_i64(r: u64) -> i64 {
    i64::try_from(r).unwrap_or(i64::MAX)
}

/// Sends one request; `stale` reads serializably at that revision instead.
async fn execute(
    kv: &mut KvClient<Channel>,
    request: &Request,
    stale: Option<u64>,
) -> Result<Response, tonic::Status> {
    match request {
        Request::Put { key, value } => {
            let put = PutRequest {
                key: key.clone().into_bytes(),
                value: value.clone().into_bytes(),
                ..Default::default()
            };
            let r = kv.put(put).await?.into_inner();
            Ok(Response::Put {
                revision: revision(r.header.as_ref()),
            })
        }
        Request::Get { key, linearizable } => {
            let range = RangeRequest {
                key: key.clone().into_bytes(),
                serializable: !linearizable || stale.is_some(),
                revision: stale.map_or(0, as_i64),
                ..Default::default()
            };
            let r = kv.range(range).await?.into_inner();
            // A lagging member's header shows its own, older revision.
            let header = stale.unwrap_or_else(|| revision(r.header.as_ref()));
            Ok(Response::Get {
                revision: header,
                kv: first_kv(&r),
            })
        }
        Request::Delete { key } => {
            let delete = DeleteRangeRequest {
                key: key.clone().into_bytes(),
                ..Default::default()
            };
            let r = kv.delete_range(delete).await?.into_inner();
            Ok(Response::Delete {
                revision: revision(r.header.as_ref()),
                deleted: u64::try_from(r.deleted).unwrap_or(0),
            })
        }
        Request::Txn {
            key,
            expected_mod_revision,
            value,
        } => txn(kv, key, *expected_mod_revision, value).await,
    }
}

async fn txn(
    kv: &mut KvClient<Channel>,
    key: &str,
    expected: u64,
    value: &str,
) -> Result<Response, tonic::Status> {
    let key = key.as_bytes().to_vec();
    let txn = TxnRequest {
        compare: vec![Compare {
            result: compare::CompareResult::Equal as i32,
            target: compare::CompareTarget::Mod as i32,
            key: key.clone(),
            target_union: Some(compare::TargetUnion::ModRevision(as_i64(expected))),
            ..Default::default()
        }],
        success: vec![RequestOp {
            request: Some(request_op::Request::RequestPut(PutRequest {
                key: key.clone(),
                value: value.as_bytes().to_vec(),
                ..Default::default()
            })),
        }],
        failure: vec![RequestOp {
            request: Some(request_op::Request::RequestRange(RangeRequest {
                key,
                ..Default::default()
            })),
        }],
    };
    let r = kv.txn(txn).await?.into_inner();
    let got = r.responses.first().and_then(|op| match &op.response {
        Some(response_op::Response::ResponseRange(range)) => first_kv(range),
        _ => None,
    });
    Ok(Response::Txn {
        revision: revision(r.header.as_ref()),
        succeeded: r.succeeded,
        kv: if r.succeeded { None } else { got },
    })
}
