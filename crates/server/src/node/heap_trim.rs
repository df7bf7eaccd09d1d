//! Handing freed heap memory back to the OS once the member goes idle.
//!
//! glibc's allocator keeps the memory a burst of requests freed (connection buffers,
//! batches of entries, responses) mapped for reuse, so a member that served a burst and
//! then idles would keep its peak resident. Once writes stop, one `malloc_trim` returns
//! the free pages, as Go's background scavenger does for etcd. It runs only when the member
//! applied something since the last trim and nothing during the last check period, so a
//! loaded member never pays for it. Measured in `docs/benchmarks.md` ("Returning freed
//! memory when idle").

use std::sync::Arc;
use std::time::Duration;

use super::state::NodeState;

/// How often the applied index is checked for quiet.
const CHECK_EVERY: Duration = Duration::from_millis(200);

/// Trims the heap after each burst of applied entries, for as long as the member runs.
pub(crate) async fn trim_when_idle(state: Arc<NodeState>) {
    let mut idle = IdleAfterWork::default();
    let mut tick = tokio::time::interval(CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let applied = *state.applied.borrow();
        if idle.ended(applied) {
            // A few milliseconds at most, but it takes the allocator's locks: off the
            // runtime's workers.
            let _ = tokio::task::spawn_blocking(release_free_heap).await;
        }
    }
}

/// Tells, from the applied index sampled once per period, when a burst of work has ended.
#[derive(Debug, Default)]
struct IdleAfterWork {
    /// The applied index at the previous sample.
    seen: u64,
    /// The applied index when the heap was last trimmed.
    trimmed: u64,
}

impl IdleAfterWork {
    /// Whether the member went quiet (nothing applied since the previous sample) after
    /// applying something since the last trim.
    fn ended(&mut self, applied: u64) -> bool {
        let quiet = applied == self.seen;
        self.seen = applied;
        if quiet && applied != self.trimmed {
            self.trimmed = applied;
            return true;
        }
        false
    }
}

/// Returns the allocator's free pages to the OS (glibc only; a no-op elsewhere).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn release_free_heap() {
    // SAFETY: `malloc_trim` has no preconditions: it takes each arena's lock itself and
    // only releases pages that hold no allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_free_heap() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_once_after_each_burst_and_never_while_busy() {
        let mut idle = IdleAfterWork::default();
        let samples = [0, 0, 5, 9, 9, 9, 12, 20, 20, 20];
        let trims: Vec<bool> = samples.iter().map(|&a| idle.ended(a)).collect();
        let expected = [
            false, false, false, false, true, false, false, false, true, false,
        ];
        assert_eq!(trims, expected);
    }
}
