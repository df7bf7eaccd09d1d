//! The fault schedule: which fault comes next and after what pause, drawn
//! from the seed. Faults come in seed-shuffled rounds holding every chosen
//! kind once, so even a short run sees several kinds and a long one sees
//! them all equally often.

use std::time::Duration;

use super::faults::Fault;
use super::faults::Rng;

/// The pause before each fault, in milliseconds.
pub(crate) const GAP_MS: (u64, u64) = (1000, 4000);

/// The seeded sequence of (pause, fault).
#[derive(Debug)]
pub(crate) struct Schedule {
    rng: Rng,
    kinds: Vec<Fault>,
    /// What is left of the current round, drawn from the back.
    round: Vec<Fault>,
}

impl Schedule {
    /// The schedule of `seed` over `kinds` (at least one).
    pub(crate) fn new(seed: u64, kinds: &[Fault]) -> Self {
        assert!(!kinds.is_empty(), "a schedule needs a fault kind");
        Schedule {
            // Apart from the generator the faults draw their targets from.
            rng: Rng::new(seed ^ 0x5c4e_d01e),
            kinds: kinds.to_vec(),
            round: Vec::new(),
        }
    }

    /// The pause before the next fault, and the fault.
    pub(crate) fn next_fault(&mut self) -> (Duration, Fault) {
        if self.round.is_empty() {
            self.round = self.kinds.clone();
            // Fisher-Yates.
            for i in (1..self.round.len()).rev() {
                let j = self.rng.below(i as u64 + 1) as usize;
                self.round.swap(i, j);
            }
        }
        let gap = self.rng.millis(GAP_MS.0, GAP_MS.1);
        let fault = self.round.pop().unwrap_or(Fault::Kill);
        (gap, fault)
    }

    /// The first `n` entries, for printing before the run.
    pub(crate) fn preview(seed: u64, kinds: &[Fault], n: usize) -> Vec<(Duration, Fault)> {
        let mut schedule = Schedule::new(seed, kinds);
        (0..n).map(|_| schedule.next_fault()).collect()
    }
}

/// `+1.2s partition-leader, +3.0s kill, ...`.
pub(crate) fn describe(entries: &[(Duration, Fault)]) -> String {
    let items: Vec<String> = entries
        .iter()
        .map(|(gap, fault)| format!("+{:.1}s {}", gap.as_secs_f64(), fault.name()))
        .collect();
    items.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_a_function_of_the_seed() {
        let kinds = Fault::ALL;
        assert_eq!(
            Schedule::preview(7, &kinds, 20),
            Schedule::preview(7, &kinds, 20)
        );
        assert_ne!(
            Schedule::preview(7, &kinds, 20),
            Schedule::preview(8, &kinds, 20)
        );
    }

    #[test]
    fn every_round_holds_each_kind_once() {
        let kinds = Fault::ALL;
        let entries = Schedule::preview(3, &kinds, 3 * kinds.len());
        for round in entries.chunks(kinds.len()) {
            let mut seen: Vec<Fault> = round.iter().map(|(_, f)| *f).collect();
            seen.sort_by_key(|f| f.name());
            seen.dedup();
            assert_eq!(seen.len(), kinds.len(), "{}", describe(round));
        }
        let gaps_ok = entries
            .iter()
            .all(|(gap, _)| (GAP_MS.0..GAP_MS.1).contains(&(gap.as_millis() as u64)));
        assert!(gaps_ok);
    }

    #[test]
    fn a_single_kind_repeats() {
        let entries = Schedule::preview(1, &[Fault::Lossy], 4);
        assert!(entries.iter().all(|(_, f)| *f == Fault::Lossy));
        assert_eq!(
            describe(&entries[..1]).split_once(' ').map(|(_, f)| f),
            Some("lossy")
        );
    }
}
