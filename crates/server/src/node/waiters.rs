//! Callers waiting for their proposals to be applied, by request id.
//!
//! Request ids are unique on this member: the member id's low 16 bits, then
//! the start time in milliseconds and a counter (etcd's idutil layout), so an
//! id is not reused across restarts. Proposals carry their origin member, so
//! only the proposer ever completes a waiter.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::time::SystemTime;
use std::time::UNIX_EPOCH;

use tokio::sync::oneshot;

use crate::error::ServerError;

/// What a waiter receives.
pub(crate) type Outcome = Result<mvcc::Applied, ServerError>;

/// Pending proposals of this member.
#[derive(Debug)]
pub(crate) struct Waiters {
    next_id: AtomicU64,
    pending: Mutex<HashMap<u64, oneshot::Sender<Outcome>>>,
}

impl Waiters {
    /// Waiters whose ids start from this member's prefix and the current time.
    pub(crate) fn new(member_id: u64) -> Waiters {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let prefix = (member_id & 0xffff) << 48;
        let suffix = (millis << 8) & ((1 << 48) - 1);
        Waiters {
            next_id: AtomicU64::new(prefix | suffix),
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// Registers a new request; returns its id and the receiver of its outcome.
    pub(crate) fn register(&self) -> (u64, oneshot::Receiver<Outcome>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.lock().insert(id, tx);
        (id, rx)
    }

    /// Completes request `id` (a no-op if nobody waits, e.g. it timed out).
    pub(crate) fn complete(&self, id: u64, outcome: Outcome) {
        if let Some(tx) = self.lock().remove(&id) {
            // The caller may have given up; then nobody reads the outcome.
            let _ = tx.send(outcome);
        }
    }

    /// Forgets request `id` (the caller gave up).
    pub(crate) fn cancel(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Fails every pending request (the member is stopping).
    pub(crate) fn fail_all(&self, error: impl Fn() -> ServerError) {
        for (_, tx) in self.lock().drain() {
            let _ = tx.send(Err(error()));
        }
    }

    /// How many requests wait.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, oneshot::Sender<Outcome>>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_carry_the_member_prefix() {
        let w = Waiters::new(0xabcd_1234);
        let (a, _ra) = w.register();
        let (b, mut rb) = w.register();
        assert_ne!(a, b);
        assert_eq!(a >> 48, 0x1234);
        assert_eq!(w.len(), 2);
        w.cancel(a);
        w.fail_all(|| ServerError::Stopped);
        assert!(matches!(rb.try_recv(), Ok(Err(ServerError::Stopped))));
        assert_eq!(w.len(), 0);
    }
}
