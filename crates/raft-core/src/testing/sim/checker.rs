//! The safety properties the simulator checks after every step.

use std::collections::BTreeMap;
use std::collections::HashMap;

use super::driver::Machine;
use crate::Entry;
use crate::MemStorage;
use crate::Role;
use crate::raft::Raft;

/// What the checker has seen of the whole cluster.
#[derive(Debug, Default)]
pub(super) struct Checker {
    /// Election Safety: the leader of each term.
    leaders: BTreeMap<u64, u64>,
    /// Log Matching: for each (index, term) ever in a log, its data hash and previous term.
    entries: HashMap<(u64, u64), (u64, u64)>,
    /// State Machine Safety: the machine's hash chain after each applied index (index 0 is
    /// the empty machine), and the term of each applied entry.
    chain: Vec<u64>,
    terms: Vec<u64>,
    pub(super) elections: u64,
}

fn entry_hash(e: &Entry) -> u64 {
    let seed = if e.entry_type == crate::EntryType::ConfChange {
        7
    } else {
        3
    };
    Machine {
        index: 0,
        chain: seed,
    }
    .next_chain(&Entry {
        term: 0,
        index: 0,
        ..e.clone()
    })
}

impl Checker {
    pub(super) fn new() -> Self {
        Checker {
            chain: vec![0],
            terms: vec![0],
            ..Default::default()
        }
    }

    /// The highest index some node applied.
    pub(super) fn committed(&self) -> u64 {
        self.chain.len() as u64 - 1
    }

    /// Log Matching, checked on every entry handed out to persist.
    pub(super) fn on_ready_entries(
        &mut self,
        raft: &Raft<MemStorage>,
        entries: &[Entry],
    ) -> Result<(), String> {
        for e in entries {
            let prev_term = raft.log.term_or_zero(e.index - 1);
            let seen = *self
                .entries
                .entry((e.index, e.term))
                .or_insert((entry_hash(e), prev_term));
            if seen != (entry_hash(e), prev_term) {
                return Err(format!(
                    "Log Matching: node {} has entry {}/{} with prev term {prev_term}, another log has it with prev term {}",
                    raft.id, e.index, e.term, seen.1
                ));
            }
        }
        Ok(())
    }

    /// State Machine Safety, checked on every applied entry; returns the new machine.
    pub(super) fn on_apply(&mut self, id: u64, m: Machine, e: &Entry) -> Result<Machine, String> {
        if e.index != m.index + 1 {
            return Err(format!("node {id} applied {} after {}", e.index, m.index));
        }
        let next = Machine {
            index: e.index,
            chain: m.next_chain(e),
        };
        self.record(id, next, Some(e.term))?;
        Ok(next)
    }

    /// A machine installed from a snapshot must equal the one others applied to that index.
    pub(super) fn on_snapshot(&mut self, id: u64, m: Machine) -> Result<(), String> {
        self.record(id, m, None)
    }

    fn record(&mut self, id: u64, m: Machine, term: Option<u64>) -> Result<(), String> {
        let i = m.index as usize;
        match self.chain.get(i) {
            Some(&c) if c != m.chain => Err(format!(
                "State Machine Safety: node {id} applied a different entry at index {i}"
            )),
            Some(_) => Ok(()),
            None if i == self.chain.len() => {
                self.chain.push(m.chain);
                self.terms.push(term.unwrap_or(0));
                Ok(())
            }
            None => Err(format!(
                "node {id} applied index {i} before anyone applied {}",
                self.chain.len()
            )),
        }
    }

    /// Election Safety, Leader Completeness and a monotone commit index for one live node.
    pub(super) fn check_node(
        &mut self,
        raft: &Raft<MemStorage>,
        last_commit: &mut u64,
    ) -> Result<(), String> {
        let commit = raft.log.committed;
        if commit < *last_commit {
            return Err(format!(
                "node {}: commit went back from {last_commit} to {commit}",
                raft.id
            ));
        }
        *last_commit = commit;
        if raft.role != Role::Leader {
            return Ok(());
        }
        match self.leaders.get(&raft.term) {
            Some(&l) if l == raft.id => Ok(()),
            Some(&l) => Err(format!(
                "Election Safety: nodes {l} and {} both lead term {}",
                raft.id, raft.term
            )),
            None => {
                self.leaders.insert(raft.term, raft.id);
                self.elections += 1;
                self.check_leader_completeness(raft)
            }
        }
    }

    fn check_leader_completeness(&self, raft: &Raft<MemStorage>) -> Result<(), String> {
        let first = raft.log.first_index();
        for i in first..self.chain.len() as u64 {
            let want = self.terms.get(i as usize).copied().unwrap_or(0);
            let have = raft.log.term_or_zero(i);
            if want != 0 && have != want {
                return Err(format!(
                    "Leader Completeness: node {} leads term {} without applied entry {i} (term {want}; it has term {have})",
                    raft.id, raft.term
                ));
            }
        }
        Ok(())
    }
}
