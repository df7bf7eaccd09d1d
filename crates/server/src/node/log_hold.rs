//! The leader keeps raft log behind a snapshot it sent, while the follower restarts.
//!
//! A follower installs a snapshot by restarting (`apply.rs`), which takes a second or
//! two. Compacting the leader's log only `--experimental-snapshot-catchup-entries`
//! behind each of its own snapshots, as etcd does, can drop the entries right after
//! the snapshot the follower is installing: under steady writes it then comes back
//! needing yet another snapshot, and never catches up. So for a while after sending
//! a snapshot the leader keeps the entries after it (and after what the follower has
//! since acknowledged), within [`HOLD_BYTES`]; beyond that the follower gets a snapshot.

use std::collections::HashMap;
use std::time::Duration;
use std::time::Instant;

use raft_core::Entry;
use raft_core::MemStorage;
use raft_core::PeerProgress;
use raft_core::Storage;

/// How long after a snapshot was sent its follower's entries are kept.
pub(crate) const HOLD_FOR: Duration = Duration::from_secs(10);

/// The most entry bytes kept for one follower beyond the catch-up entries.
pub(crate) const HOLD_BYTES: u64 = 16 << 20;

/// Snapshots sent to followers recently: by follower, the snapshot's index and when.
#[derive(Debug, Default)]
pub(crate) struct LogHolds {
    sent: HashMap<u64, (u64, Instant)>,
}

impl LogHolds {
    /// A snapshot at `index` went (or is going) to `to`.
    pub(crate) fn snapshot_sent(&mut self, to: u64, index: u64, now: Instant) {
        self.sent.insert(to, (index, now));
    }

    /// The snapshot reached `to`, which now restarts to install it: the hold runs from here.
    pub(crate) fn snapshot_delivered(&mut self, to: u64, now: Instant) {
        if let Some((_, at)) = self.sent.get_mut(&to) {
            *at = now;
        }
    }

    /// The snapshot to `to` failed: raft sends another when it can.
    pub(crate) fn snapshot_failed(&mut self, to: u64) {
        self.sent.remove(&to);
    }

    /// Where the log may be compacted: `floor` (the catch-up entries behind a new
    /// snapshot), or lower to keep what a recently snapshotted follower needs next.
    pub(crate) fn compact_index(
        &mut self,
        floor: u64,
        progress: &std::collections::BTreeMap<u64, PeerProgress>,
        storage: &MemStorage,
        now: Instant,
    ) -> u64 {
        self.sent
            .retain(|_, (_, at)| now.saturating_duration_since(*at) < HOLD_FOR);
        let mut compact_to = floor;
        for (peer, (index, _)) in &self.sent {
            let matched = progress.get(peer).map_or(0, |p| p.matched);
            let needed_after = (*index).max(matched);
            if needed_after < compact_to && holds_at_most(storage, needed_after, floor, HOLD_BYTES)
            {
                compact_to = needed_after;
            }
        }
        compact_to
    }
}

/// Whether the entries after `from` up to `to` are all still there and weigh at most `bytes`
/// (`entries` refuses a compacted range, and stops at the limit but returns at least one).
fn holds_at_most(storage: &MemStorage, from: u64, to: u64, bytes: u64) -> bool {
    storage
        .entries(from + 1, to + 1, Some(bytes))
        .is_ok_and(|entries| {
            entries.len() as u64 == to - from
                && entries.iter().map(Entry::size_bytes).sum::<u64>() <= bytes
        })
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use raft_core::ProgressState;

    use super::*;

    fn storage_with(entries: u64, data_bytes: usize) -> MemStorage {
        let mut s = MemStorage::new();
        let entries: Vec<Entry> = (1..=entries)
            .map(|index| Entry {
                index,
                term: 1,
                data: Bytes::from(vec![0u8; data_bytes]),
                ..Entry::default()
            })
            .collect();
        s.append(&entries).unwrap();
        s
    }

    fn progress(peer: u64, matched: u64) -> std::collections::BTreeMap<u64, PeerProgress> {
        let p = PeerProgress {
            matched,
            next: matched + 1,
            state: ProgressState::Probe,
            is_learner: false,
            inflight: 0,
        };
        [(peer, p)].into_iter().collect()
    }

    #[test]
    fn entries_after_a_sent_snapshot_are_kept_until_the_hold_expires() {
        let storage = storage_with(1000, 10);
        let mut holds = LogHolds::default();
        let t0 = Instant::now();
        holds.snapshot_sent(2, 400, t0);
        let p = progress(2, 0);
        assert_eq!(holds.compact_index(900, &p, &storage, t0), 400);
        assert_eq!(
            holds.compact_index(900, &progress(2, 700), &storage, t0),
            700,
            "what the follower acknowledged since is released"
        );
        assert_eq!(
            holds.compact_index(300, &p, &storage, t0),
            300,
            "never above the floor"
        );
        assert_eq!(holds.compact_index(900, &p, &storage, t0 + HOLD_FOR), 900);
        assert_eq!(
            holds.compact_index(900, &p, &storage, t0),
            900,
            "expired for good"
        );
    }

    #[test]
    fn a_failed_snapshot_or_too_many_bytes_release_the_hold() {
        let t0 = Instant::now();
        let mut holds = LogHolds::default();
        holds.snapshot_sent(2, 400, t0);
        holds.snapshot_failed(2);
        let small = storage_with(1000, 10);
        assert_eq!(holds.compact_index(900, &progress(2, 0), &small, t0), 900);

        let big = storage_with(100, 1 << 20);
        holds.snapshot_sent(2, 10, t0);
        assert_eq!(
            holds.compact_index(90, &progress(2, 0), &big, t0),
            90,
            "80 MiB of entries are not kept for one follower"
        );
        assert_eq!(holds.compact_index(20, &progress(2, 0), &big, t0), 10);
    }
}
