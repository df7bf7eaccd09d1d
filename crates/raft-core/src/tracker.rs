//! The membership and what the leader knows of each member: quorum, votes, progress.

use std::collections::BTreeMap;
use std::collections::BTreeSet;

use crate::ConfState;
use crate::progress::Progress;

/// The outcome of an election so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VoteResult {
    Pending,
    Won,
    Lost,
}

/// Voters, learners, their progress and the votes of the current election.
#[derive(Debug)]
pub(crate) struct Tracker {
    // Invariant: voters and learners are disjoint; progress holds exactly their union.
    pub(crate) voters: BTreeSet<u64>,
    pub(crate) learners: BTreeSet<u64>,
    pub(crate) progress: BTreeMap<u64, Progress>,
    pub(crate) votes: BTreeMap<u64, bool>,
    max_inflight_msgs: usize,
}

impl Tracker {
    pub(crate) fn new(conf: &ConfState, next: u64, max_inflight_msgs: usize) -> Self {
        let mut t = Tracker {
            voters: BTreeSet::new(),
            learners: BTreeSet::new(),
            progress: BTreeMap::new(),
            votes: BTreeMap::new(),
            max_inflight_msgs,
        };
        for &id in &conf.voters {
            t.add_voter(id, next);
        }
        for &id in &conf.learners {
            t.add_learner(id, next);
        }
        t
    }

    pub(crate) fn conf_state(&self) -> ConfState {
        ConfState {
            voters: self.voters.iter().copied().collect(),
            learners: self.learners.iter().copied().collect(),
        }
    }

    /// Adds a voter, or promotes a learner (keeping its progress).
    pub(crate) fn add_voter(&mut self, id: u64, next: u64) {
        self.learners.remove(&id);
        self.voters.insert(id);
        let max = self.max_inflight_msgs;
        self.progress
            .entry(id)
            .or_insert_with(|| Progress::new(next, max, false))
            .is_learner = false;
    }

    /// Adds a learner; a voter is left a voter.
    pub(crate) fn add_learner(&mut self, id: u64, next: u64) {
        if self.voters.contains(&id) {
            return;
        }
        self.learners.insert(id);
        let max = self.max_inflight_msgs;
        self.progress
            .entry(id)
            .or_insert_with(|| Progress::new(next, max, true));
    }

    pub(crate) fn remove(&mut self, id: u64) {
        self.voters.remove(&id);
        self.learners.remove(&id);
        self.progress.remove(&id);
    }

    pub(crate) fn quorum(&self) -> usize {
        self.voters.len() / 2 + 1
    }

    pub(crate) fn is_voter(&self, id: u64) -> bool {
        self.voters.contains(&id)
    }

    /// The largest index replicated on a quorum of voters.
    pub(crate) fn committed_index(&self) -> u64 {
        let mut matched: Vec<u64> = self
            .voters
            .iter()
            .map(|id| self.progress.get(id).map_or(0, |p| p.matched))
            .collect();
        if matched.is_empty() {
            return u64::MAX;
        }
        matched.sort_unstable_by(|a, b| b.cmp(a));
        matched.get(self.quorum() - 1).copied().unwrap_or(0)
    }

    pub(crate) fn reset_votes(&mut self) {
        self.votes.clear();
    }

    /// Records a vote (the first one of each voter counts).
    pub(crate) fn record_vote(&mut self, id: u64, granted: bool) {
        self.votes.entry(id).or_insert(granted);
    }

    pub(crate) fn tally_votes(&self) -> (usize, usize, VoteResult) {
        let granted = self
            .voters
            .iter()
            .filter(|id| self.votes.get(id) == Some(&true))
            .count();
        let rejected = self
            .voters
            .iter()
            .filter(|id| self.votes.get(id) == Some(&false))
            .count();
        let result = if granted >= self.quorum() {
            VoteResult::Won
        } else if rejected >= self.quorum() || (self.voters.len() - rejected) < self.quorum() {
            VoteResult::Lost
        } else {
            VoteResult::Pending
        };
        (granted, rejected, result)
    }

    /// True when a quorum of voters (counting `self_id`) was heard from; resets the marks.
    pub(crate) fn quorum_active(&mut self, self_id: u64) -> bool {
        let active = self
            .voters
            .iter()
            .filter(|id| **id == self_id || self.progress.get(id).is_some_and(|p| p.recent_active))
            .count();
        for (id, p) in &mut self.progress {
            p.recent_active = *id == self_id;
        }
        active >= self.quorum()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn commit_index_is_the_quorum_match_and_learners_do_not_count() {
        let conf = ConfState {
            voters: vec![1, 2, 3],
            learners: vec![4],
        };
        let mut t = Tracker::new(&conf, 1, 8);
        for (id, m) in [(1, 5), (2, 3), (3, 1), (4, 9)] {
            t.progress.get_mut(&id).unwrap().matched = m;
        }
        assert_eq!(t.committed_index(), 3);
    }

    #[test]
    fn votes_win_and_lose_by_quorum() {
        let conf = ConfState {
            voters: vec![1, 2, 3],
            learners: vec![],
        };
        let mut t = Tracker::new(&conf, 1, 8);
        t.record_vote(1, true);
        assert_eq!(t.tally_votes().2, VoteResult::Pending);
        t.record_vote(2, false);
        t.record_vote(3, false);
        assert_eq!(t.tally_votes().2, VoteResult::Lost);
    }
}
