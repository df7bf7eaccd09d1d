//! Background traffic besides the KV clients: leases granted and left to
//! expire, periodic compaction, and a per-member revision probe.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use api::etcdserverpb::CompactionRequest;
use api::etcdserverpb::LeaseGrantRequest;
use api::etcdserverpb::PutRequest;
use api::etcdserverpb::RangeRequest;
use api::etcdserverpb::kv_client::KvClient;
use api::etcdserverpb::lease_client::LeaseClient;
use tokio::time::Instant;
use tonic::transport::Channel;

use super::driver::Latest;
use super::recorder::Recorder;
use super::recorder::pick;

/// The prefix of keys attached to leases (outside the KV check's prefix:
/// they vanish when their lease expires).
pub(crate) const LEASE_PREFIX: &str = "l/";
/// The leases' time to live.
pub(crate) const LEASE_TTL_SECONDS: i64 = 3;
/// How often a lease is granted.
const LEASE_INTERVAL: Duration = Duration::from_millis(700);
/// How often the history is compacted, and how far behind the newest revision.
const COMPACT_INTERVAL: Duration = Duration::from_secs(4);
const COMPACT_LAG_REVISIONS: u64 = 200;
/// How often each member's revision is probed.
const PROBE_INTERVAL: Duration = Duration::from_millis(250);
/// How long a background call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// Grants leases and attaches a key to each, never keeping them alive;
/// returns how many were granted.
pub(crate) async fn leases(channels: Arc<Vec<Channel>>, deadline: Instant) -> u64 {
    let mut granted = 0u64;
    let mut n = 0usize;
    while Instant::now() < deadline {
        n += 1;
        let channel = pick(&channels, n);
        let mut lease_client = LeaseClient::new(channel.clone());
        let grant = lease_client.lease_grant(LeaseGrantRequest {
            ttl: LEASE_TTL_SECONDS,
            id: 0,
        });
        if let Ok(Ok(lease)) = tokio::time::timeout(CALL_TIMEOUT, grant).await {
            let put = PutRequest {
                key: format!("{LEASE_PREFIX}{n}").into_bytes(),
                value: b"leased".to_vec(),
                lease: lease.into_inner().id,
                ..Default::default()
            };
            let _ = tokio::time::timeout(CALL_TIMEOUT, KvClient::new(channel).put(put)).await;
            granted += 1;
        }
        tokio::time::sleep(LEASE_INTERVAL).await;
    }
    granted
}

/// Compacts the store periodically; returns how many compactions succeeded.
pub(crate) async fn compactor(
    channels: Arc<Vec<Channel>>,
    latest: Latest,
    vouched: Latest,
    deadline: Instant,
) -> u64 {
    let mut done = 0u64;
    let mut n = 0usize;
    while Instant::now() < deadline {
        tokio::time::sleep(COMPACT_INTERVAL).await;
        n += 1;
        let Some(revision) = compaction_revision(
            latest.load(Ordering::Relaxed),
            vouched.load(Ordering::Relaxed),
        ) else {
            continue;
        };
        let request = CompactionRequest {
            revision: i64::try_from(revision).unwrap_or(0),
            physical: false,
        };
        let mut kv = KvClient::new(pick(&channels, n));
        let call = kv.compact(request);
        if matches!(tokio::time::timeout(CALL_TIMEOUT, call).await, Ok(Ok(_))) {
            done += 1;
        }
    }
    done
}

/// The revision to compact at: [`COMPACT_LAG_REVISIONS`] behind the newest revision a
/// client saw, and never beyond `vouched`, the newest revision some watcher has had
/// delivered (events or a progress notification); `None` when too early.
///
/// Why the watchers then cover every revision, so that the history checks can decide
/// every indeterminate write: a watcher skips revisions only when it resumes below the
/// compaction, and then only those below it. Every compaction is at or below a revision
/// some watcher had already been delivered when it was issued, so by induction on the
/// compactions, every revision below it had been delivered to some watcher before.
pub(crate) fn compaction_revision(latest: u64, vouched: u64) -> Option<u64> {
    let revision = latest.saturating_sub(COMPACT_LAG_REVISIONS).min(vouched);
    (revision >= 2).then_some(revision)
}

/// Probes every member's revision (a serializable read answers from the
/// member itself) and reports any that goes backwards.
pub(crate) async fn revision_probe(
    channels: Arc<Vec<Channel>>,
    recorder: Recorder,
    deadline: Instant,
) {
    let mut last: HashMap<usize, u64> = HashMap::new();
    while Instant::now() < deadline {
        for (member, channel) in channels.iter().enumerate() {
            let probe = RangeRequest {
                key: b"k/".to_vec(),
                serializable: true,
                count_only: true,
                ..Default::default()
            };
            let mut kv = KvClient::new(channel.clone());
            let call = kv.range(probe);
            let Ok(Ok(response)) = tokio::time::timeout(CALL_TIMEOUT, call).await else {
                continue;
            };
            let revision = response
                .into_inner()
                .header
                .map_or(0, |h| u64::try_from(h.revision).unwrap_or(0));
            let before = last.insert(member, revision).unwrap_or(0);
            if revision < before {
                recorder.anomaly(format!(
                    "member {member}'s revision went back from {before} to {revision}"
                ));
            }
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compaction_never_passes_what_a_watcher_was_delivered() {
        assert_eq!(compaction_revision(10_000, 9_000), Some(9_000));
        assert_eq!(
            compaction_revision(10_000, 500),
            Some(500),
            "a lagging watch holds it"
        );
        assert_eq!(
            compaction_revision(10_000, 0),
            None,
            "no watcher delivered yet"
        );
        assert_eq!(
            compaction_revision(1_000, 5_000),
            Some(1_000 - COMPACT_LAG_REVISIONS)
        );
        assert_eq!(compaction_revision(150, 150), None, "too early");
    }
}
