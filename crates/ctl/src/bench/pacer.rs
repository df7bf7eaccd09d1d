//! `--rate`: spaces request starts evenly over time, across all clients.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

/// Hands out start times `start + k / rate` for k = 0, 1, 2, ...; a client
/// waits for its slot. A client that falls behind starts at once, so the
/// average rate holds (etcd's limiter, with burst 1, drops such slots).
#[derive(Debug)]
pub(crate) struct Pacer {
    start: Instant,
    interval: Option<Duration>,
    next_slot: AtomicU64,
}

impl Pacer {
    /// A pacer for `rate` requests per second; 0 is no limit.
    pub(crate) fn new(rate: u64) -> Self {
        let interval = (rate > 0).then(|| Duration::from_secs_f64(1.0 / rate as f64));
        Self {
            start: Instant::now(),
            interval,
            next_slot: AtomicU64::new(0),
        }
    }

    /// The time the next request may start (now, without a limit).
    pub(crate) fn next_start(&self) -> Option<Instant> {
        let interval = self.interval?;
        let slot = self.next_slot.fetch_add(1, Ordering::Relaxed);
        let offset = interval.saturating_mul(u32::try_from(slot).unwrap_or(u32::MAX));
        Some(self.start + offset)
    }

    /// Waits for the next slot.
    pub(crate) async fn wait(&self) {
        if let Some(at) = self.next_start() {
            tokio::time::sleep_until(at).await;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_evenly_spaced() {
        let p = Pacer::new(100);
        let a = p.next_start().unwrap();
        let b = p.next_start().unwrap();
        let c = p.next_start().unwrap();
        assert_eq!(a, p.start);
        assert_eq!(b - a, Duration::from_millis(10));
        assert_eq!(c - b, Duration::from_millis(10));
    }

    #[test]
    fn zero_rate_is_unlimited() {
        assert!(Pacer::new(0).next_start().is_none());
    }
}
