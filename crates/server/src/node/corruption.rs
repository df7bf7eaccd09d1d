//! etcd's corruption checks: members compare HashKV at the same revision.
//!
//! - At start (`--experimental-initial-corrupt-check`), before serving
//!   clients, a member asks its peers for their hash at its own revision and
//!   refuses to start if one differs ("found data inconsistency with peers").
//! - Periodically (`--experimental-corrupt-check-time`), the leader asks
//!   every follower for its hash at the leader's revision and raises the
//!   CORRUPT alarm, through raft, for each follower whose hash differs; with
//!   the alarm raised, writes fail with `etcdserver: corrupt cluster` until
//!   an operator disarms it.
//!
//! Hashes are compared only between members at the same revision and the
//! same compacted revision, as etcd does: compaction changes what is hashed.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Deserialize;
use serde::Serialize;

use super::node_backend::NodeBackend;
use super::peer_handler::PeerRequest;
use super::peer_handler::PeerResponse;

/// etcd's AlarmType CORRUPT.
pub(crate) const ALARM_CORRUPT: i32 = 2;

/// One member's HashKV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct HashAt {
    /// The hash of the key space up to `revision`.
    pub(crate) hash: u32,
    /// The revision hashed.
    pub(crate) revision: i64,
    /// The member's compacted revision.
    pub(crate) compact_revision: i64,
}

/// This member's HashKV at `revision` (0: the current one), off the runtime's threads.
pub(crate) async fn hash_at(store: &Arc<mvcc::Store>, revision: i64) -> Result<HashAt, String> {
    let store = Arc::clone(store);
    let hashed = tokio::task::spawn_blocking(move || store.hash_kv(revision))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let (hash, compact_revision, revision) = hashed;
    Ok(HashAt {
        hash,
        revision,
        compact_revision,
    })
}

/// The members whose hash differs from `own`, among those comparable with it.
pub(crate) fn mismatched(own: HashAt, peers: &[(u64, HashAt)]) -> Vec<u64> {
    peers
        .iter()
        .filter(|(_, p)| p.revision == own.revision && p.compact_revision == own.compact_revision)
        .filter(|(_, p)| p.hash != own.hash)
        .map(|(id, _)| *id)
        .collect()
}

/// Every other member's hash at `own.revision`, from those that answer.
async fn peer_hashes(backend: &NodeBackend, own: HashAt) -> Vec<(u64, HashAt)> {
    let me = backend.state.member_id;
    let peers: Vec<u64> = backend
        .state
        .membership()
        .members()
        .map(|m| m.id)
        .filter(|id| *id != me)
        .collect();
    let asks = peers.into_iter().map(|id| async move {
        let request = PeerRequest::HashKv {
            revision: own.revision,
        };
        match backend.ask(id, request).await {
            Ok(PeerResponse::Hash(Ok(hash))) => Some((id, hash)),
            Ok(PeerResponse::Hash(Err(reason))) => {
                tracing::debug!(peer = format!("{id:x}"), %reason, "no hash to compare");
                None
            }
            Ok(_) | Err(_) => {
                tracing::warn!(peer = format!("{id:x}"), "cannot ask for its hash");
                None
            }
        }
    });
    futures::future::join_all(asks)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// The start-up check: an error names the members whose data differs.
pub(crate) async fn initial_check(backend: &NodeBackend) -> Result<(), String> {
    let own = hash_at(&backend.state.store, 0).await?;
    let peers = peer_hashes(backend, own).await;
    let bad = mismatched(own, &peers);
    tracing::info!(
        revision = own.revision,
        compared = peers.len(),
        "initial corruption check"
    );
    if bad.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = bad.iter().map(|id| format!("{id:x}")).collect();
    Err(format!(
        "found data inconsistency with peers {} at revision {}",
        ids.join(", "),
        own.revision
    ))
}

/// The periodic check, run by the leader every `interval`.
pub(crate) async fn periodic_checks(backend: Arc<NodeBackend>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        if backend.state.stopping.load(Ordering::Acquire) {
            return;
        }
        if !backend.state.is_leader.load(Ordering::Acquire) {
            continue;
        }
        let own = match hash_at(&backend.state.store, 0).await {
            Ok(own) => own,
            Err(reason) => {
                tracing::warn!(%reason, "corruption check: cannot hash");
                continue;
            }
        };
        let peers = peer_hashes(&backend, own).await;
        let bad = mismatched(own, &peers);
        if bad.is_empty() {
            tracing::info!(
                revision = own.revision,
                compared = peers.len(),
                "corruption check: members agree"
            );
        }
        for id in bad {
            tracing::error!(
                member = format!("{id:x}"),
                revision = own.revision,
                "corruption check: the member's hash differs from the leader's; raising CORRUPT"
            );
            if let Err(e) = backend.set_alarm(true, id, ALARM_CORRUPT).await {
                tracing::warn!(error = %e, "cannot raise the CORRUPT alarm");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hash: u32, revision: i64, compact_revision: i64) -> HashAt {
        HashAt {
            hash,
            revision,
            compact_revision,
        }
    }

    #[test]
    fn only_comparable_members_with_another_hash_are_named() {
        let own = at(7, 10, 2);
        let peers = [
            (1, at(7, 10, 2)),
            (2, at(8, 10, 2)),
            (3, at(9, 11, 2)),
            (4, at(9, 10, 5)),
        ];
        assert_eq!(mismatched(own, &peers), vec![2]);
        assert!(mismatched(own, &[]).is_empty());
    }
}
