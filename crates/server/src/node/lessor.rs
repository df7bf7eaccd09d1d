//! The lessor: lease deadlines, kept by the leader only.
//!
//! Grants, revokes and checkpoints are raft writes that every member applies to
//! its store. Deadlines are not: the leader alone keeps them, in memory.
//! Keep-alives renew a deadline on the leader without a raft write (followers
//! forward them); the leader revokes expired leases through raft, and every
//! [`CHECKPOINT_INTERVAL`] writes the leases' remaining TTLs through raft
//! (etcd's lease checkpointing). A new leader starts each lease from its last
//! checkpointed remaining TTL (or its full TTL if never checkpointed), but at
//! least [`Lessor::min_ttl_seconds`] (1.5 election timeouts, etcd's
//! `minLeaseTTL`), so it neither expires leases early nor renews every lease to
//! its full TTL on every leader change (etcd issue #9888).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::time::Duration;
use std::time::Instant;

use crate::backend::LeaseInfo;

/// How often the leader checkpoints remaining TTLs through raft.
pub(crate) const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(10);
/// How often the leader looks for expired leases.
pub(crate) const EXPIRY_SCAN_INTERVAL: Duration = Duration::from_millis(500);
/// A revoke proposed for an expired lease is proposed again after this long if still not applied.
const REVOKE_RETRY: Duration = Duration::from_secs(3);
/// etcd's `maxLeaseCheckpointBatchSize`.
pub(crate) const MAX_CHECKPOINT_BATCH: usize = 1000;

/// Why the lessor cannot answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeaseError {
    /// This member does not lead: ask the leader.
    NotLeader,
    /// No such lease (or it expired).
    NotFound,
}

/// What an applied write means for the lessor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SideEffect {
    /// Nothing.
    None,
    /// A lease was granted.
    Grant { id: i64, ttl_seconds: i64 },
    /// A lease was revoked.
    Revoke(i64),
}

#[derive(Debug, Clone, Copy)]
struct Deadline {
    ttl_seconds: i64,
    expiry: Instant,
    /// When a revoke was last proposed for it.
    revoking: Option<Instant>,
}

#[derive(Debug, Default)]
struct Inner {
    primary: bool,
    deadlines: HashMap<i64, Deadline>,
}

/// Lease deadlines on the leader.
#[derive(Debug)]
pub(crate) struct Lessor {
    store: Arc<mvcc::Store>,
    min_ttl_seconds: i64,
    inner: Mutex<Inner>,
}

impl Lessor {
    /// A lessor over the store's leases; `min_ttl_seconds` is 1.5 election timeouts, rounded up.
    pub(crate) fn new(store: Arc<mvcc::Store>, election_timeout: Duration) -> Lessor {
        let min_ttl_seconds = (election_timeout.as_millis() * 3).div_ceil(2000).max(1) as i64;
        Lessor {
            store,
            min_ttl_seconds,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The smallest TTL granted.
    pub(crate) fn min_ttl_seconds(&self) -> i64 {
        self.min_ttl_seconds
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// True while this member keeps deadlines (it leads).
    #[cfg(test)]
    pub(crate) fn is_primary(&self) -> bool {
        self.lock().primary
    }

    /// This member became leader: deadlines start from the checkpointed remaining TTLs.
    pub(crate) fn promote(&self, now: Instant) {
        let leases = self.store.leases();
        let mut inner = self.lock();
        inner.primary = true;
        inner.deadlines.clear();
        for lease in leases {
            let remaining = if lease.remaining_ttl_seconds > 0 {
                lease.remaining_ttl_seconds
            } else {
                lease.ttl_seconds
            };
            let remaining = remaining.max(self.min_ttl_seconds);
            let expiry = now + Duration::from_secs(remaining.unsigned_abs());
            inner.deadlines.insert(
                lease.id,
                Deadline {
                    ttl_seconds: lease.ttl_seconds,
                    expiry,
                    revoking: None,
                },
            );
        }
    }

    /// This member stopped leading: it keeps no deadlines.
    pub(crate) fn demote(&self) {
        let mut inner = self.lock();
        inner.primary = false;
        inner.deadlines.clear();
    }

    /// What `op` will mean once applied.
    pub(crate) fn side_effect(&self, op: &mvcc::WriteOp) -> SideEffect {
        match op {
            mvcc::WriteOp::LeaseGrant(g) => SideEffect::Grant {
                id: g.id,
                ttl_seconds: g.ttl_seconds,
            },
            mvcc::WriteOp::LeaseRevoke(r) => SideEffect::Revoke(r.id),
            _ => SideEffect::None,
        }
    }

    /// Records an applied grant or revoke.
    pub(crate) fn on_applied(&self, effect: SideEffect) {
        let mut inner = self.lock();
        match effect {
            SideEffect::Grant { id, ttl_seconds } if inner.primary => {
                let expiry =
                    Instant::now() + Duration::from_secs(ttl_seconds.max(1).unsigned_abs());
                inner.deadlines.insert(
                    id,
                    Deadline {
                        ttl_seconds,
                        expiry,
                        revoking: None,
                    },
                );
            }
            SideEffect::Revoke(id) => {
                inner.deadlines.remove(&id);
            }
            _ => {}
        }
    }

    /// Renews a lease on the leader; returns its TTL.
    pub(crate) fn keep_alive(&self, id: i64, now: Instant) -> Result<i64, LeaseError> {
        let mut inner = self.lock();
        if !inner.primary {
            return Err(LeaseError::NotLeader);
        }
        let deadline = inner.deadlines.get_mut(&id).ok_or(LeaseError::NotFound)?;
        if deadline.expiry <= now {
            // Expired: the revoke is on its way (etcd answers lease not found too).
            return Err(LeaseError::NotFound);
        }
        deadline.expiry = now + Duration::from_secs(deadline.ttl_seconds.max(1).unsigned_abs());
        Ok(deadline.ttl_seconds)
    }

    /// A lease's remaining time on the leader.
    pub(crate) fn time_to_live(
        &self,
        id: i64,
        keys: bool,
        now: Instant,
    ) -> Result<LeaseInfo, LeaseError> {
        let remaining = {
            let inner = self.lock();
            if !inner.primary {
                return Err(LeaseError::NotLeader);
            }
            inner
                .deadlines
                .get(&id)
                .map(|d| d.expiry.saturating_duration_since(now))
        };
        let Some(lease) = self.store.lease(id) else {
            return Ok(LeaseInfo {
                id,
                ttl: -1,
                granted_ttl: 0,
                keys: Vec::new(),
            });
        };
        let ttl = remaining.map_or(lease.ttl_seconds, |r| {
            r.as_secs() as i64 + i64::from(r.subsec_nanos() > 0)
        });
        Ok(LeaseInfo {
            id,
            ttl,
            granted_ttl: lease.ttl_seconds,
            keys: if keys { lease.keys } else { Vec::new() },
        })
    }

    /// Expired leases to revoke now (each is not offered again for a while).
    pub(crate) fn expired(&self, now: Instant) -> Vec<i64> {
        let mut inner = self.lock();
        if !inner.primary {
            return Vec::new();
        }
        let mut ids = Vec::new();
        for (id, d) in inner.deadlines.iter_mut() {
            let retry_due = d
                .revoking
                .is_none_or(|at| now.duration_since(at) >= REVOKE_RETRY);
            if d.expiry <= now && retry_due {
                d.revoking = Some(now);
                ids.push(*id);
            }
        }
        ids
    }

    /// The remaining TTLs to checkpoint, in batches.
    pub(crate) fn checkpoints(&self, now: Instant) -> Vec<Vec<mvcc::LeaseCheckpoint>> {
        let inner = self.lock();
        if !inner.primary {
            return Vec::new();
        }
        let all: Vec<mvcc::LeaseCheckpoint> = inner
            .deadlines
            .iter()
            .filter(|(_, d)| d.expiry > now)
            .map(|(id, d)| mvcc::LeaseCheckpoint {
                id: *id,
                remaining_ttl_seconds: d.expiry.duration_since(now).as_secs().max(1) as i64,
            })
            .collect();
        all.chunks(MAX_CHECKPOINT_BATCH)
            .map(<[_]>::to_vec)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with_lease(
        dir: &std::path::Path,
        id: i64,
        ttl: i64,
        remaining: Option<i64>,
    ) -> Arc<mvcc::Store> {
        let store = mvcc::Store::open(dir, mvcc::StoreOptions::default()).unwrap();
        store
            .apply(
                1,
                mvcc::WriteOp::LeaseGrant(mvcc::LeaseGrantRequest {
                    id,
                    ttl_seconds: ttl,
                }),
            )
            .unwrap();
        if let Some(r) = remaining {
            let cp = mvcc::LeaseCheckpoint {
                id,
                remaining_ttl_seconds: r,
            };
            store
                .apply(
                    2,
                    mvcc::WriteOp::LeaseCheckpoint(mvcc::LeaseCheckpointRequest {
                        checkpoints: vec![cp],
                    }),
                )
                .unwrap();
        }
        Arc::new(store)
    }

    #[test]
    fn new_leader_starts_from_checkpoint_not_full_ttl() {
        let dir = tempfile::tempdir().unwrap();
        let lessor = Lessor::new(
            store_with_lease(dir.path(), 5, 100, Some(30)),
            Duration::from_secs(1),
        );
        let now = Instant::now();
        assert!(matches!(
            lessor.keep_alive(5, now),
            Err(LeaseError::NotLeader)
        ));
        lessor.promote(now);
        assert_eq!(lessor.time_to_live(5, false, now).unwrap().ttl, 30);
        assert!(lessor.expired(now + Duration::from_secs(29)).is_empty());
        assert_eq!(lessor.expired(now + Duration::from_secs(31)), vec![5]);
        assert!(
            lessor.expired(now + Duration::from_secs(32)).is_empty(),
            "not re-proposed at once"
        );
    }

    #[test]
    fn keep_alive_renews_and_min_ttl_applies() {
        let dir = tempfile::tempdir().unwrap();
        let lessor = Lessor::new(
            store_with_lease(dir.path(), 9, 10, Some(1)),
            Duration::from_secs(2),
        );
        assert_eq!(lessor.min_ttl_seconds(), 3);
        let now = Instant::now();
        lessor.promote(now);
        assert_eq!(
            lessor.time_to_live(9, false, now).unwrap().ttl,
            3,
            "at least the minimum TTL"
        );
        let later = now + Duration::from_secs(2);
        assert_eq!(lessor.keep_alive(9, later).unwrap(), 10);
        assert_eq!(lessor.time_to_live(9, false, later).unwrap().ttl, 10);
        assert_eq!(lessor.checkpoints(later)[0][0].remaining_ttl_seconds, 10);
        assert!(matches!(
            lessor.keep_alive(1234, later),
            Err(LeaseError::NotFound)
        ));
        lessor.on_applied(SideEffect::Revoke(9));
        assert!(lessor.expired(later + Duration::from_secs(60)).is_empty());
        lessor.demote();
        assert!(!lessor.is_primary());
    }
}
