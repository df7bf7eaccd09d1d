//! The window of append messages in flight to one follower.

use std::collections::VecDeque;

/// Last indexes of the appends sent to a follower and not yet acknowledged, bounded by
/// `Config::max_inflight_msgs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Inflights {
    // Invariant: indexes increase from front to back; len() <= capacity.
    sent: VecDeque<u64>,
    capacity: usize,
}

impl Inflights {
    pub(crate) fn new(capacity: usize) -> Self {
        Inflights {
            sent: VecDeque::new(),
            capacity,
        }
    }

    /// Records an append whose last entry is `index`.
    pub(crate) fn add(&mut self, index: u64) {
        debug_assert!(!self.full(), "inflights overflow");
        debug_assert!(
            self.sent.back().is_none_or(|&b| b <= index),
            "inflights out of order"
        );
        self.sent.push_back(index);
    }

    /// Frees the appends acknowledged by an ack of `index`.
    pub(crate) fn free_le(&mut self, index: u64) {
        while self.sent.front().is_some_and(|&i| i <= index) {
            self.sent.pop_front();
        }
    }

    /// Frees the oldest append (a heartbeat response shows the follower is alive).
    pub(crate) fn free_first_one(&mut self) {
        self.sent.pop_front();
    }

    pub(crate) fn full(&self) -> bool {
        self.sent.len() >= self.capacity
    }

    pub(crate) fn count(&self) -> usize {
        self.sent.len()
    }

    pub(crate) fn reset(&mut self) {
        self.sent.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_fills_and_frees_by_ack() {
        let mut f = Inflights::new(3);
        for i in [2, 4, 6] {
            f.add(i);
        }
        assert!(f.full());
        f.free_le(4);
        assert_eq!(f.count(), 1);
        f.free_first_one();
        assert_eq!(f.count(), 0);
    }
}
