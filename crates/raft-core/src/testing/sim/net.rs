//! The simulated network: messages in flight with delays, loss, duplication, reordering
//! and partitions.

use std::collections::BTreeMap;

use rand::Rng;
use rand::rngs::SmallRng;

use crate::Message;

/// A message and the tick from which it may be delivered.
#[derive(Debug)]
pub(super) struct InFlight {
    pub(super) deliver_at_tick: u64,
    pub(super) msg: Message,
}

/// Fault rates of the network, in percent.
#[derive(Debug, Clone, Copy)]
pub(super) struct Faults {
    pub(super) drop_pct: u32,
    pub(super) dup_pct: u32,
    pub(super) max_delay_ticks: u64,
}

impl Faults {
    pub(super) const CALM: Faults = Faults {
        drop_pct: 0,
        dup_pct: 0,
        max_delay_ticks: 0,
    };
    pub(super) const CHAOS: Faults = Faults {
        drop_pct: 5,
        dup_pct: 3,
        max_delay_ticks: 3,
    };
}

/// Messages in flight and the current partition.
#[derive(Debug, Default)]
pub(super) struct Net {
    pub(super) in_flight: Vec<InFlight>,
    /// Node id to partition group; nodes in different groups cannot talk.
    groups: BTreeMap<u64, u8>,
}

impl Net {
    /// Sends `msg` at `now_tick`; returns false if the network lost it.
    pub(super) fn send(
        &mut self,
        msg: Message,
        now_tick: u64,
        faults: Faults,
        rng: &mut SmallRng,
    ) -> bool {
        if rng.random_ratio(faults.drop_pct, 100) {
            return false;
        }
        let copies = if rng.random_ratio(faults.dup_pct, 100) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let delay = rng.random_range(0..=faults.max_delay_ticks);
            self.in_flight.push(InFlight {
                deliver_at_tick: now_tick + delay,
                msg: msg.clone(),
            });
        }
        true
    }

    /// Takes a random message that is due; reordering comes from the random pick.
    pub(super) fn take_due(&mut self, now_tick: u64, rng: &mut SmallRng) -> Option<Message> {
        let due = self
            .in_flight
            .iter()
            .filter(|m| m.deliver_at_tick <= now_tick)
            .count();
        if due == 0 {
            return None;
        }
        let nth = rng.random_range(0..due);
        let pos = self
            .in_flight
            .iter()
            .enumerate()
            .filter(|(_, m)| m.deliver_at_tick <= now_tick)
            .nth(nth)?
            .0;
        Some(self.in_flight.swap_remove(pos).msg)
    }

    /// Takes every message that is due, in send order.
    pub(super) fn take_all_due(&mut self, now_tick: u64) -> Vec<Message> {
        let (due, rest): (Vec<_>, Vec<_>) = self
            .in_flight
            .drain(..)
            .partition(|m| m.deliver_at_tick <= now_tick);
        self.in_flight = rest;
        due.into_iter().map(|m| m.msg).collect()
    }

    pub(super) fn can_talk(&self, a: u64, b: u64) -> bool {
        self.groups.get(&a).copied().unwrap_or(0) == self.groups.get(&b).copied().unwrap_or(0)
    }

    /// Splits `ids` into two random sides.
    pub(super) fn partition(&mut self, ids: &[u64], rng: &mut SmallRng) {
        self.groups = ids
            .iter()
            .map(|&id| (id, rng.random_range(0..2u8)))
            .collect();
    }

    pub(super) fn heal(&mut self) {
        self.groups.clear();
    }
}
