//! Auto compaction (`--auto-compaction-mode`, `--auto-compaction-retention`),
//! run by the leader as etcd's compactor does.
//!
//! - `revision`: every [`REVISION_CHECK_INTERVAL`], compact to `current - retention`.
//! - `periodic`: sample the current revision every `retention / 10` (at most an
//!   hour apart) and compact to the newest revision sampled at least
//!   `retention` ago, so that `retention` worth of history is kept.

use std::collections::VecDeque;
use std::time::Duration;
use std::time::Instant;

use crate::config::AutoCompaction;

/// etcd's revision compactor checks every five minutes.
pub(crate) const REVISION_CHECK_INTERVAL: Duration = Duration::from_secs(300);

/// Decides when to compact, and to which revision.
#[derive(Debug)]
pub(crate) struct Compactor {
    mode: AutoCompaction,
    /// (when, revision) samples, oldest first (periodic mode).
    samples: VecDeque<(Instant, i64)>,
    last_compacted: i64,
}

impl Compactor {
    /// A compactor for `mode`.
    pub(crate) fn new(mode: AutoCompaction) -> Compactor {
        Compactor {
            mode,
            samples: VecDeque::new(),
            last_compacted: 0,
        }
    }

    /// How often [`Compactor::tick`] should run.
    pub(crate) fn interval(&self) -> Duration {
        match self.mode {
            AutoCompaction::Revision(_) => REVISION_CHECK_INTERVAL,
            AutoCompaction::Periodic(retention) => {
                (retention / 10).clamp(Duration::from_secs(1), Duration::from_secs(3600))
            }
        }
    }

    /// Records the current revision; returns the revision to compact to, if any.
    pub(crate) fn tick(
        &mut self,
        now: Instant,
        current_revision: i64,
        compacted_revision: i64,
    ) -> Option<i64> {
        let target = match self.mode {
            AutoCompaction::Revision(keep) => current_revision - keep,
            AutoCompaction::Periodic(retention) => {
                self.samples.push_back((now, current_revision));
                let mut target = None;
                while let Some(&(at, rev)) = self.samples.front() {
                    if now.duration_since(at) < retention {
                        break;
                    }
                    target = Some(rev);
                    self.samples.pop_front();
                }
                if let Some(rev) = target {
                    // Keep the sample so the next period compacts no further back.
                    self.samples.push_front((now - retention, rev));
                }
                target?
            }
        };
        if target <= compacted_revision.max(self.last_compacted) || target <= 0 {
            return None;
        }
        self.last_compacted = target;
        Some(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_mode_keeps_the_last_n_revisions() {
        let mut c = Compactor::new(AutoCompaction::Revision(100));
        let now = Instant::now();
        assert_eq!(c.tick(now, 50, 0), None);
        assert_eq!(c.tick(now, 1000, 0), Some(900));
        assert_eq!(c.tick(now, 1000, 900), None, "nothing new to compact");
    }

    #[test]
    fn periodic_mode_keeps_the_retention_window() {
        let hour = Duration::from_secs(3600);
        let mut c = Compactor::new(AutoCompaction::Periodic(hour));
        assert_eq!(c.interval(), Duration::from_secs(360));
        let start = Instant::now();
        assert_eq!(c.tick(start, 10, 0), None);
        assert_eq!(c.tick(start + hour / 2, 20, 0), None);
        assert_eq!(
            c.tick(start + hour, 30, 0),
            Some(10),
            "compacts to the revision of an hour ago"
        );
        assert_eq!(c.tick(start + hour + hour / 2, 40, 10), Some(20));
    }
}
