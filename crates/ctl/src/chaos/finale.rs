//! After the load: the cluster must serve again within a bound, every key
//! is read back (so that a lost acknowledged write shows in the KV check),
//! expired leases' keys must be gone, and all members must agree (HashKV).

use std::sync::Arc;
use std::time::Duration;

use api::etcdserverpb::HashKvRequest;
use api::etcdserverpb::PutRequest;
use api::etcdserverpb::RangeRequest;
use api::etcdserverpb::kv_client::KvClient;
use api::etcdserverpb::maintenance_client::MaintenanceClient;
use tokio::time::Instant;
use tonic::transport::Channel;

use super::background::LEASE_PREFIX;
use super::background::LEASE_TTL_SECONDS;
use super::history::Operation;
use super::history::ReadKv;
use super::history::Request;
use super::history::Response;
use super::recorder::Recorder;
use super::recorder::pick;
use super::watcher::prefix_end;

/// How long the healed cluster gets to serve a write again.
pub(crate) const HEAL_BOUND: Duration = Duration::from_secs(30);
const CALL_TIMEOUT: Duration = Duration::from_secs(2);
const RETRY: Duration = Duration::from_millis(100);

/// Puts a key outside the checked prefixes until one succeeds; returns how
/// long that took, or `None` past [`HEAL_BOUND`].
pub(crate) async fn first_write(channels: &[Channel]) -> Option<Duration> {
    let begin = Instant::now();
    let mut n = 0usize;
    while begin.elapsed() < HEAL_BOUND {
        n += 1;
        let put = PutRequest {
            key: b"x/heal".to_vec(),
            value: b"1".to_vec(),
            ..Default::default()
        };
        let mut kv = KvClient::new(pick(channels, n));
        let call = kv.put(put);
        if matches!(tokio::time::timeout(CALL_TIMEOUT, call).await, Ok(Ok(_))) {
            return Some(begin.elapsed());
        }
        tokio::time::sleep(RETRY).await;
    }
    None
}

/// Reads every key linearizably, recording the reads; returns the highest
/// header revision seen.
pub(crate) async fn read_back(
    channels: &[Channel],
    recorder: &Recorder,
    keys: &[String],
) -> anyhow::Result<u64> {
    let mut highest = 0;
    for (n, key) in keys.iter().enumerate() {
        let begin = Instant::now();
        loop {
            anyhow::ensure!(
                begin.elapsed() < HEAL_BOUND,
                "final read of {key} did not succeed within {HEAL_BOUND:?}"
            );
            let call_ns = recorder.now_ns();
            let range = RangeRequest {
                key: key.clone().into_bytes(),
                ..Default::default()
            };
            let mut kv = KvClient::new(pick(channels, n));
            let call = kv.range(range);
            if let Ok(Ok(r)) = tokio::time::timeout(CALL_TIMEOUT, call).await {
                let r = r.into_inner();
                let revision = r
                    .header
                    .map_or(0, |h| u64::try_from(h.revision).unwrap_or(0));
                highest = highest.max(revision);
                let kv = r.kvs.first().map(|kv| ReadKv {
                    value: String::from_utf8_lossy(&kv.value).into_owned(),
                    mod_revision: u64::try_from(kv.mod_revision).unwrap_or(0),
                });
                recorder.op(Operation {
                    client: u32::MAX,
                    call_ns,
                    return_ns: Some(recorder.now_ns()),
                    request: Request::Get {
                        key: key.clone(),
                        linearizable: true,
                    },
                    response: Some(Response::Get { revision, kv }),
                });
                break;
            }
            tokio::time::sleep(RETRY).await;
        }
    }
    Ok(highest)
}

/// Waits until no lease key is left; an anomaly if some outlive their
/// leases by more than [`HEAL_BOUND`].
pub(crate) async fn leases_expired(channels: &[Channel]) -> Result<(), String> {
    let begin = Instant::now();
    let bound = HEAL_BOUND + Duration::from_secs(u64::try_from(LEASE_TTL_SECONDS).unwrap_or(0));
    let mut left = -1i64;
    while begin.elapsed() < bound {
        let range = RangeRequest {
            key: LEASE_PREFIX.as_bytes().to_vec(),
            range_end: prefix_end(LEASE_PREFIX.as_bytes()),
            count_only: true,
            ..Default::default()
        };
        let mut kv = KvClient::new(pick(channels, 0));
        if let Ok(Ok(r)) = tokio::time::timeout(CALL_TIMEOUT, kv.range(range)).await {
            left = r.into_inner().count;
            if left == 0 {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(format!(
        "{left} keys of expired leases still present {bound:?} after the load stopped"
    ))
}

/// Waits for every member to reach the same revision, then compares their
/// HashKV there.
pub(crate) async fn hashes_agree(channels: &Arc<Vec<Channel>>) -> Result<u32, String> {
    let begin = Instant::now();
    let mut last = Vec::new();
    while begin.elapsed() < HEAL_BOUND {
        let mut revisions = Vec::new();
        for channel in channels.iter() {
            let probe = RangeRequest {
                key: b"k/".to_vec(),
                serializable: true,
                count_only: true,
                ..Default::default()
            };
            let mut kv = KvClient::new(channel.clone());
            if let Ok(Ok(r)) = tokio::time::timeout(CALL_TIMEOUT, kv.range(probe)).await {
                revisions.push(r.into_inner().header.map_or(0, |h| h.revision));
            }
        }
        let agreed =
            revisions.len() == channels.len() && revisions.windows(2).all(|w| w[0] == w[1]);
        if let (true, Some(&revision)) = (agreed, revisions.first()) {
            let mut hashes = Vec::new();
            for channel in channels.iter() {
                let mut maintenance = MaintenanceClient::new(channel.clone());
                let call = maintenance.hash_kv(HashKvRequest { revision });
                match tokio::time::timeout(CALL_TIMEOUT, call).await {
                    Ok(Ok(h)) => hashes.push(h.into_inner().hash),
                    _ => break,
                }
            }
            if hashes.len() == channels.len() {
                return match hashes.windows(2).all(|w| w[0] == w[1]) {
                    true => Ok(hashes.first().copied().unwrap_or(0)),
                    false => Err(format!("HashKV at revision {revision} differs: {hashes:?}")),
                };
            }
        }
        last = revisions;
        tokio::time::sleep(RETRY).await;
    }
    Err(format!(
        "members did not reach one revision within {HEAL_BOUND:?}: {last:?}"
    ))
}
