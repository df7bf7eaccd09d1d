//! The seeded cluster simulator.
//!
//! A cluster of 3 or 5 nodes runs under random message loss, duplication, reordering and
//! delay, partitions, crashes (losing all that was not persisted) and restarts, with
//! proposals, compactions, leader transfers and membership changes throughout. After
//! every step it checks Election Safety, Log Matching, Leader Completeness, State Machine
//! Safety and monotone commit and apply indexes. Chaos alternates with calm: after the
//! faults heal, a leader must emerge, and a proposal made to it must commit, within a
//! bound counted in ticks. Everything follows from the seed, so a failure replays.

mod checker;
mod driver;
mod net;

use std::collections::BTreeMap;
use std::collections::VecDeque;

use bytes::Bytes;
use rand::Rng;
use rand::SeedableRng;
use rand::rngs::SmallRng;

use self::checker::Checker;
use self::driver::SimNode;
use self::driver::conf_change_of;
use self::net::Faults;
use self::net::Net;
use crate::ConfChange;
use crate::ConfChangeType;
use crate::Config;
use crate::Message;
use crate::MessageType;
use crate::Role;

/// How many trace lines a violation report keeps.
const TRACE_LINES: usize = 200;
/// A node compacts its log once this many entries were applied since its snapshot.
const COMPACT_ENTRIES: u64 = 32;
/// Most members (voters and learners) the simulator lets the cluster grow to.
const MAX_MEMBERS: usize = 7;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The seed everything follows from.
    pub seed: u64,
    /// The initial number of voters (3 or 5).
    pub nodes: u64,
    /// Chaos steps to run (calm phases come on top).
    pub steps: u64,
    /// Election timeout of every node.
    pub election_ticks: usize,
    /// Byte limit of one append message (small values send one entry per message).
    pub max_size_per_msg_bytes: u64,
    /// Testing the tester: break the rule that only current-term entries commit by counting.
    pub unsafe_commit_previous_terms: bool,
    /// Testing the tester: grant votes without the election restriction.
    pub unsafe_skip_election_restriction: bool,
    /// Extra faults (crash, restart, partition, heal, campaign) per 10,000 steps, on top
    /// of the usual mix.
    pub extra_faults_per_10k: u32,
}

impl SimConfig {
    /// The default simulation for `seed`: 3 nodes for even seeds, 5 for odd ones.
    pub fn new(seed: u64, steps: u64) -> Self {
        let nodes = if seed.is_multiple_of(2) { 3 } else { 5 };
        SimConfig {
            seed,
            nodes,
            steps,
            election_ticks: 10,
            max_size_per_msg_bytes: 256,
            unsafe_commit_previous_terms: false,
            unsafe_skip_election_restriction: false,
            extra_faults_per_10k: 0,
        }
    }
}

/// What a simulation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimReport {
    /// Steps run.
    pub steps: u64,
    /// Leaders elected.
    pub elections: u64,
    /// Entries committed (the highest index applied).
    pub committed: u64,
    /// Linearizable reads answered and checked.
    pub reads: u64,
}

/// A broken property, with the seed and the last events before it.
#[derive(Debug, Clone)]
pub struct Violation {
    /// The seed that reproduces it.
    pub seed: u64,
    /// The step at which it was found.
    pub step: u64,
    /// The property and how it broke.
    pub what: String,
    /// The events leading up to it, oldest first.
    pub trace: Vec<String>,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "violation at seed={} step={}: {}",
            self.seed, self.step, self.what
        )?;
        writeln!(f, "last {} events:", self.trace.len())?;
        for line in &self.trace {
            writeln!(f, "  {line}")?;
        }
        Ok(())
    }
}

/// Runs one simulation.
pub fn run(cfg: &SimConfig) -> Result<SimReport, Violation> {
    let mut sim = Sim::new(cfg.clone()).map_err(|what| Violation {
        seed: cfg.seed,
        step: 0,
        what,
        trace: vec![],
    })?;
    match sim.run() {
        Ok(()) => Ok(SimReport {
            steps: sim.step,
            elections: sim.checker.elections,
            committed: sim.checker.committed(),
            reads: sim.reads_checked,
        }),
        Err(what) => Err(Violation {
            seed: cfg.seed,
            step: sim.step,
            what,
            trace: sim.trace.into_iter().collect(),
        }),
    }
}

type Check = Result<(), String>;

struct Sim {
    cfg: SimConfig,
    rng: SmallRng,
    nodes: BTreeMap<u64, SimNode>,
    net: Net,
    faults: Faults,
    now_tick: u64,
    step: u64,
    checker: Checker,
    trace: VecDeque<String>,
    next_id: u64,
    proposals: u64,
    /// The data of the proposal the calm phase waits for, and whether it was applied.
    marker: Option<(Bytes, bool)>,
    /// Read requests in flight: context to the highest index applied anywhere when the
    /// read was requested (its answer must be at least that, or the read is stale).
    reads: BTreeMap<Bytes, u64>,
    reads_checked: u64,
}

impl Sim {
    fn new(cfg: SimConfig) -> Result<Self, String> {
        let voters: Vec<u64> = (1..=cfg.nodes).collect();
        let conf = crate::ConfState {
            voters: voters.clone(),
            learners: vec![],
        };
        let mut nodes = BTreeMap::new();
        for &id in &voters {
            let node =
                SimNode::new(node_config(&cfg, id), conf.clone()).map_err(|e| e.to_string())?;
            nodes.insert(id, node);
        }
        Ok(Sim {
            rng: SmallRng::seed_from_u64(cfg.seed),
            next_id: cfg.nodes + 1,
            cfg,
            nodes,
            net: Net::default(),
            faults: Faults::CHAOS,
            now_tick: 0,
            step: 0,
            checker: Checker::new(),
            trace: VecDeque::new(),
            proposals: 0,
            marker: None,
            reads: BTreeMap::new(),
            reads_checked: 0,
        })
    }

    fn log(&mut self, line: impl FnOnce() -> String) {
        if self.trace.len() == TRACE_LINES {
            self.trace.pop_front();
        }
        let text = format!("[step {} tick {}] {}", self.step, self.now_tick, line());
        self.trace.push_back(text);
    }

    fn run(&mut self) -> Check {
        while self.step < self.cfg.steps {
            let chaos_steps = self
                .rng
                .random_range(500..3000)
                .min(self.cfg.steps - self.step);
            self.faults = Faults::CHAOS;
            for _ in 0..chaos_steps {
                self.step += 1;
                self.chaos_step()?;
                self.check_all()?;
            }
            self.calm()?;
        }
        Ok(())
    }

    fn chaos_step(&mut self) -> Check {
        // Weights per 10,000: mostly message traffic, persistence and time; faults are rare
        // enough (a crash about every 60 ticks) that leaders get work done between them.
        if self.rng.random_ratio(self.cfg.extra_faults_per_10k, 10_000) {
            return match self.rng.random_range(0..5u32) {
                0 => self.crash_random(),
                1 => self.restart_random(),
                2 => self.partition(),
                3 => self.heal(),
                _ => self.campaign_random(),
            };
        }
        let roll = self.rng.random_range(0..10_000u32);
        match roll {
            0..5600 => self.deliver_one(),
            5600..8000 => self.ready_phase_random(),
            8000..8300 => self.tick_all(),
            8300..9700 => self.propose_random(),
            9700..9800 => self.read_random(),
            9800..9820 => self.conf_change(),
            9820..9825 => self.crash_random(),
            9825..9855 => self.restart_random(),
            9855..9860 => self.partition(),
            9860..9880 => self.heal(),
            9880..9990 => self.compact_random(),
            9990..9995 => self.transfer_random(),
            _ => self.campaign_random(),
        }
    }

    fn running_ids(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.raw.is_some())
            .map(|(&id, _)| id)
            .collect()
    }

    fn pick_running(&mut self) -> Option<u64> {
        let ids = self.running_ids();
        (!ids.is_empty()).then(|| ids[self.rng.random_range(0..ids.len())])
    }

    fn check_all(&mut self) -> Check {
        for node in self.nodes.values_mut() {
            if let Some(raw) = &node.raw {
                self.checker.check_node(raw.raft(), &mut node.last_commit)?;
            }
        }
        Ok(())
    }

    fn send(&mut self, msgs: Vec<Message>) {
        for m in msgs {
            let (from, to, t) = (m.from, m.to, m.msg_type);
            if !self.net.send(m, self.now_tick, self.faults, &mut self.rng)
                && t == MessageType::Snapshot
            {
                self.report_snapshot(from, to, true);
            }
        }
    }

    fn report_snapshot(&mut self, from: u64, to: u64, failed: bool) {
        if let Some(raw) = self.nodes.get_mut(&from).and_then(|n| n.raw.as_mut()) {
            raw.report_snapshot(to, failed);
        }
    }

    fn deliver_one(&mut self) -> Check {
        if let Some(m) = self.net.take_due(self.now_tick, &mut self.rng) {
            self.deliver(m);
        }
        Ok(())
    }

    fn deliver(&mut self, m: Message) {
        let (from, to, t) = (m.from, m.to, m.msg_type);
        let reachable = self.net.can_talk(from, to);
        let Some(raw) = self
            .nodes
            .get_mut(&to)
            .and_then(|n| n.raw.as_mut())
            .filter(|_| reachable)
        else {
            if t == MessageType::Snapshot {
                self.report_snapshot(from, to, true);
            }
            return;
        };
        let summary = summarize(&m);
        // Messages from nodes outside the configuration are refused; that is expected.
        let _ = raw.step(m);
        self.log(|| format!("deliver {summary}"));
        if t == MessageType::Snapshot {
            self.report_snapshot(from, to, false);
        }
    }

    fn ready_phase_random(&mut self) -> Check {
        match self.pick_running() {
            Some(id) => self.ready_phase(id),
            None => Ok(()),
        }
    }

    /// Takes a Ready (sending what may go at once), or persists, sends, applies and
    /// advances the one taken before.
    fn ready_phase(&mut self, id: u64) -> Check {
        let Some(node) = self.nodes.get_mut(&id) else {
            return Ok(());
        };
        let Some(raw) = node.raw.as_mut() else {
            return Ok(());
        };
        if node.pending.is_some() {
            return self.persist_and_apply(id);
        }
        if !raw.has_ready() {
            return Ok(());
        }
        let mut rd = raw.ready();
        self.checker.on_ready_entries(raw.raft(), &rd.entries)?;
        for rs in &rd.read_states {
            let floor = self.reads.remove(&rs.request_ctx).unwrap_or(0);
            self.reads_checked += 1;
            if rs.index < floor {
                return Err(format!(
                    "ReadIndex: node {id} read at {} after index {floor} was applied",
                    rs.index
                ));
            }
        }
        let msgs = std::mem::take(&mut rd.messages);
        let (n, ss) = (rd.entries.len(), rd.soft_state);
        node.pending = Some(rd);
        self.log(|| format!("node {id} ready: {n} entries, soft state {ss:?}"));
        self.send(msgs);
        Ok(())
    }

    fn persist_and_apply(&mut self, id: u64) -> Check {
        let Some(node) = self.nodes.get_mut(&id) else {
            return Ok(());
        };
        let (Some(raw), Some(mut rd)) = (node.raw.as_mut(), node.pending.take()) else {
            return Ok(());
        };
        let store = raw.store_mut();
        if let Some(snap) = &rd.snapshot {
            store
                .apply_snapshot(snap.clone())
                .map_err(|e| format!("node {id}: install snapshot: {e}"))?;
            node.machine = driver::Machine::decode(&snap.data);
            self.checker.on_snapshot(id, node.machine)?;
        }
        if let Some(hs) = rd.hard_state {
            store.set_hard_state(hs);
        }
        store
            .append(&rd.entries)
            .map_err(|e| format!("node {id}: append: {e}"))?;
        let msgs = std::mem::take(&mut rd.persisted_messages);
        for e in &rd.committed_entries {
            node.machine = self.checker.on_apply(id, node.machine, e)?;
            if let Some(cc) = conf_change_of(e) {
                raw.apply_conf_change(&cc);
            }
            if self.marker.as_ref().is_some_and(|(d, _)| *d == e.data) {
                self.marker = self.marker.take().map(|(d, _)| (d, true));
            }
        }
        let applied = node.machine.index;
        raw.advance(rd);
        self.log(|| format!("node {id} persisted; applied {applied}"));
        self.send(msgs);
        Ok(())
    }

    fn tick_all(&mut self) -> Check {
        self.now_tick += 1;
        for node in self.nodes.values_mut() {
            if let Some(raw) = node.raw.as_mut() {
                raw.tick();
            }
        }
        Ok(())
    }

    fn propose_random(&mut self) -> Check {
        let Some(id) = self.pick_running() else {
            return Ok(());
        };
        self.proposals += 1;
        let data = Bytes::from(format!("p{}", self.proposals));
        if let Some(raw) = self.nodes.get_mut(&id).and_then(|n| n.raw.as_mut()) {
            // A proposal without a leader is dropped; clients retry.
            let _ = raw.propose(data);
        }
        Ok(())
    }

    fn leader(&self) -> Option<u64> {
        let leaders = self
            .nodes
            .iter()
            .filter_map(|(&id, n)| n.raw.as_ref().map(|r| (id, r.status())));
        let leader = leaders
            .filter(|(_, s)| s.soft_state.role == Role::Leader)
            .max_by_key(|(_, s)| s.hard_state.term);
        leader.map(|(id, _)| id)
    }

    fn conf_change(&mut self) -> Check {
        let Some(leader) = self.leader() else {
            return Ok(());
        };
        let Some(raw) = self.nodes.get(&leader).and_then(|n| n.raw.as_ref()) else {
            return Ok(());
        };
        let cs = raw.status().conf_state;
        let (change_type, node_id) = if !cs.learners.is_empty() && self.rng.random_bool(0.5) {
            (
                ConfChangeType::AddNode,
                cs.learners[self.rng.random_range(0..cs.learners.len())],
            )
        } else if cs.voters.len() > 3 && self.rng.random_bool(0.5) {
            (
                ConfChangeType::RemoveNode,
                cs.voters[self.rng.random_range(0..cs.voters.len())],
            )
        } else if cs.voters.len() + cs.learners.len() < MAX_MEMBERS {
            let id = self.next_id;
            self.next_id += 1;
            let node = SimNode::new(node_config(&self.cfg, id), cs).map_err(|e| e.to_string())?;
            self.nodes.insert(id, node);
            (ConfChangeType::AddLearnerNode, id)
        } else {
            return Ok(());
        };
        let cc = ConfChange {
            change_type,
            node_id,
            context: Bytes::new(),
        };
        let r = self
            .nodes
            .get_mut(&leader)
            .and_then(|n| n.raw.as_mut())
            .map(|raw| raw.propose_conf_change(cc));
        self.log(|| format!("leader {leader} proposes {change_type:?} {node_id}: {r:?}"));
        Ok(())
    }

    fn crash_random(&mut self) -> Check {
        // Half the crashes hit a node between taking a Ready and persisting it.
        let unpersisted: Vec<u64> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.pending.is_some())
            .map(|(&id, _)| id)
            .collect();
        let id = if !unpersisted.is_empty() && self.rng.random_bool(0.5) {
            unpersisted[self.rng.random_range(0..unpersisted.len())]
        } else {
            let Some(id) = self.pick_running() else {
                return Ok(());
            };
            id
        };
        if let Some(n) = self.nodes.get_mut(&id) {
            n.crash();
        }
        self.log(|| format!("node {id} crashes"));
        Ok(())
    }

    fn restart_random(&mut self) -> Check {
        let down: Vec<u64> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.raw.is_none())
            .map(|(&id, _)| id)
            .collect();
        if down.is_empty() {
            return Ok(());
        }
        let id = down[self.rng.random_range(0..down.len())];
        self.restart(id)
    }

    fn restart(&mut self, id: u64) -> Check {
        if let Some(n) = self.nodes.get_mut(&id) {
            n.start()
                .map_err(|e| format!("node {id} cannot restart: {e}"))?;
        }
        self.log(|| format!("node {id} restarts"));
        Ok(())
    }

    fn partition(&mut self) -> Check {
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        self.net.partition(&ids, &mut self.rng);
        self.log(|| "partition".to_string());
        Ok(())
    }

    fn heal(&mut self) -> Check {
        self.net.heal();
        self.log(|| "heal".to_string());
        Ok(())
    }

    fn compact_random(&mut self) -> Check {
        if let Some(n) = self.pick_running().and_then(|id| self.nodes.get_mut(&id)) {
            n.maybe_compact(COMPACT_ENTRIES);
        }
        Ok(())
    }

    fn transfer_random(&mut self) -> Check {
        let (Some(leader), Some(to)) = (self.leader(), self.pick_running()) else {
            return Ok(());
        };
        if let Some(raw) = self.nodes.get_mut(&leader).and_then(|n| n.raw.as_mut()) {
            raw.transfer_leader(to);
        }
        self.log(|| format!("transfer {leader} -> {to}"));
        Ok(())
    }

    /// A linearizable read at a random node.
    fn read_random(&mut self) -> Check {
        let Some(id) = self.pick_running() else {
            return Ok(());
        };
        self.proposals += 1;
        let ctx = Bytes::from(format!("read{}", self.proposals));
        if self.reads.len() >= 1024 {
            // Reads whose answer was lost pile up; forget them all now and then.
            self.reads.clear();
        }
        self.reads.insert(ctx.clone(), self.checker.committed());
        if let Some(raw) = self.nodes.get_mut(&id).and_then(|n| n.raw.as_mut()) {
            raw.read_index(ctx);
        }
        Ok(())
    }

    fn campaign_random(&mut self) -> Check {
        if let Some(id) = self.pick_running() {
            if let Some(raw) = self.nodes.get_mut(&id).and_then(|n| n.raw.as_mut()) {
                let _ = raw.campaign();
            }
            self.log(|| format!("node {id} campaigns"));
        }
        Ok(())
    }

    /// Heals every fault, then checks liveness: a leader within a bound in ticks, and a
    /// proposal to it committed within a bound in ticks.
    fn calm(&mut self) -> Check {
        self.faults = Faults::CALM;
        self.net.heal();
        let down: Vec<u64> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.raw.is_none())
            .map(|(&id, _)| id)
            .collect();
        for id in down {
            self.restart(id)?;
        }
        self.log(|| "calm: all faults healed".to_string());
        let bound_ticks = 20 * self.cfg.election_ticks as u64;
        let start = self.now_tick;
        let leader = loop {
            self.settle()?;
            if let Some(l) = self.leader() {
                break l;
            }
            if self.now_tick - start > bound_ticks {
                return Err(format!(
                    "liveness: no leader {bound_ticks} ticks after the faults healed"
                ));
            }
            self.tick_all()?;
            self.check_all()?;
        };
        self.commit_marker(leader, bound_ticks)
    }

    fn commit_marker(&mut self, mut leader: u64, bound_ticks: u64) -> Check {
        self.proposals += 1;
        let data = Bytes::from(format!("marker{}", self.proposals));
        self.marker = Some((data.clone(), false));
        let start = self.now_tick;
        let mut proposed_to = 0;
        while !self.marker.as_ref().is_some_and(|m| m.1) {
            if proposed_to != leader {
                proposed_to = leader;
                let raw = self.nodes.get_mut(&leader).and_then(|n| n.raw.as_mut());
                if raw.is_some_and(|r| r.propose(data.clone()).is_err()) {
                    proposed_to = 0;
                }
            }
            if self.now_tick - start > bound_ticks {
                return Err(format!(
                    "liveness: a proposal to leader {leader} not committed within {bound_ticks} ticks"
                ));
            }
            self.tick_all()?;
            self.settle()?;
            self.check_all()?;
            leader = self.leader().unwrap_or(leader);
        }
        self.marker = None;
        Ok(())
    }

    /// Processes every Ready and delivers every due message until nothing is left.
    fn settle(&mut self) -> Check {
        for _ in 0..1000 {
            let mut busy = false;
            for id in self.running_ids() {
                while self.has_work(id) {
                    busy = true;
                    self.ready_phase(id)?;
                    self.check_all()?;
                }
            }
            for m in self.net.take_all_due(self.now_tick) {
                busy = true;
                self.deliver(m);
                self.check_all()?;
            }
            if !busy {
                return Ok(());
            }
        }
        Err("liveness: the cluster does not settle (message storm)".to_string())
    }

    fn has_work(&self, id: u64) -> bool {
        self.nodes
            .get(&id)
            .is_some_and(|n| n.pending.is_some() || n.raw.as_ref().is_some_and(|r| r.has_ready()))
    }
}

fn node_config(cfg: &SimConfig, id: u64) -> Config {
    Config {
        id,
        seed: cfg.seed.wrapping_mul(31).wrapping_add(id),
        election_ticks: cfg.election_ticks,
        max_size_per_msg_bytes: cfg.max_size_per_msg_bytes,
        max_inflight_msgs: 8,
        unsafe_commit_previous_terms: cfg.unsafe_commit_previous_terms,
        unsafe_skip_election_restriction: cfg.unsafe_skip_election_restriction,
        ..Config::default()
    }
}

fn summarize(m: &Message) -> String {
    format!(
        "{:?} {}->{} term {} index {} log_term {} commit {} entries {} reject {} hint {}",
        m.msg_type,
        m.from,
        m.to,
        m.term,
        m.index,
        m.log_term,
        m.commit,
        m.entries.len(),
        m.reject,
        m.reject_hint
    )
}
