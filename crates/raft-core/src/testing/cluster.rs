//! A deterministic in-memory cluster of [`RawNode`]s for scenario tests and benchmarks.
//!
//! Each node's driver follows the crate's contract; its disk is the node's [`MemStorage`],
//! written before messages are delivered. The network is a FIFO queue delivered in
//! rounds, with links that can be cut.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::collections::VecDeque;

use bytes::Bytes;

use crate::ConfChange;
use crate::ConfState;
use crate::Config;
use crate::Entry;
use crate::EntryType;
use crate::MemStorage;
use crate::Message;
use crate::MessageType;
use crate::RawNode;
use crate::ReadState;
use crate::Result;
use crate::Role;

/// Most delivery rounds `stabilize` runs before it gives up (a livelock in a test).
const MAX_ROUNDS: usize = 10_000;

/// A filter that sees (and may rewrite) every message; it returns true to drop it.
pub type DropFilter = Box<dyn FnMut(&mut Message) -> bool>;

/// An in-memory cluster.
pub struct Cluster {
    /// The nodes by id.
    pub nodes: BTreeMap<u64, RawNode<MemStorage>>,
    configs: BTreeMap<u64, Config>,
    /// Entries each node applied, in order (its state machine).
    pub applied: BTreeMap<u64, Vec<Entry>>,
    /// Read states each node received.
    pub read_states: BTreeMap<u64, Vec<ReadState>>,
    queue: VecDeque<Message>,
    cut: BTreeSet<(u64, u64)>,
    /// Drops every message for which it returns true, in addition to cut links.
    pub drop_filter: Option<DropFilter>,
    /// Messages delivered so far.
    pub delivered: u64,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("nodes", &self.nodes.keys())
            .field("queued", &self.queue.len())
            .finish()
    }
}

impl Cluster {
    /// A cluster of `voters` and `learners`, each configured by `config(id)`.
    pub fn new(voters: &[u64], learners: &[u64], config: impl Fn(u64) -> Config) -> Result<Self> {
        let conf = ConfState {
            voters: voters.to_vec(),
            learners: learners.to_vec(),
        };
        let mut c = Cluster {
            nodes: BTreeMap::new(),
            configs: BTreeMap::new(),
            applied: BTreeMap::new(),
            read_states: BTreeMap::new(),
            queue: VecDeque::new(),
            cut: BTreeSet::new(),
            drop_filter: None,
            delivered: 0,
        };
        for &id in voters.iter().chain(learners) {
            c.add_node(
                id,
                MemStorage::new_with_conf_state(conf.clone()),
                config(id),
            )?;
        }
        Ok(c)
    }

    /// A cluster of `n` voters with ids 1..=n and default settings (seeded by id).
    pub fn with_voters(n: u64) -> Self {
        let ids: Vec<u64> = (1..=n).collect();
        let c = Cluster::new(&ids, &[], |id| Config {
            id,
            seed: id,
            ..Config::default()
        });
        c.unwrap_or_else(|e| panic!("default config is valid: {e}"))
    }

    /// Adds a node with the given storage (an empty one for a node joining the cluster).
    pub fn add_node(&mut self, id: u64, storage: MemStorage, config: Config) -> Result<()> {
        let node = RawNode::new(&config, storage)?;
        self.nodes.insert(id, node);
        self.configs.insert(id, config);
        self.applied.entry(id).or_default();
        self.read_states.entry(id).or_default();
        Ok(())
    }

    /// The node `id`; panics if there is none (a test's mistake).
    pub fn node(&self, id: u64) -> &RawNode<MemStorage> {
        self.nodes
            .get(&id)
            .unwrap_or_else(|| panic!("no node {id}"))
    }

    /// The node `id`, mutably.
    pub fn node_mut(&mut self, id: u64) -> &mut RawNode<MemStorage> {
        self.nodes
            .get_mut(&id)
            .unwrap_or_else(|| panic!("no node {id}"))
    }

    /// The role of node `id`.
    pub fn role(&self, id: u64) -> Role {
        self.node(id).status().soft_state.role
    }

    /// The term of node `id`.
    pub fn term(&self, id: u64) -> u64 {
        self.node(id).status().hard_state.term
    }

    /// The leader with the highest term, if any node leads.
    pub fn leader(&self) -> Option<u64> {
        let leaders = self
            .nodes
            .iter()
            .map(|(id, n)| (id, n.status()))
            .filter(|(_, s)| s.soft_state.role == Role::Leader);
        leaders
            .max_by_key(|(_, s)| s.hard_state.term)
            .map(|(id, _)| *id)
    }

    /// Runs node `id`'s driver until it has nothing ready: persist, queue messages, apply,
    /// advance.
    pub fn process_ready(&mut self, id: u64) {
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        while node.has_ready() {
            let rd = node.ready();
            let store = node.store_mut();
            let applied = self.applied.entry(id).or_default();
            if let Some(snap) = &rd.snapshot {
                store
                    .apply_snapshot(snap.clone())
                    .unwrap_or_else(|e| panic!("node {id}: install snapshot: {e}"));
                *applied = decode_state(&snap.data);
            }
            if let Some(hs) = rd.hard_state {
                store.set_hard_state(hs);
            }
            store
                .append(&rd.entries)
                .unwrap_or_else(|e| panic!("node {id}: append: {e}"));
            self.queue.extend(rd.messages.iter().cloned());
            self.queue.extend(rd.persisted_messages.iter().cloned());
            for e in &rd.committed_entries {
                if e.entry_type == EntryType::ConfChange {
                    let cc = ConfChange::decode(&e.data)
                        .unwrap_or_else(|err| panic!("bad conf change: {err}"));
                    let cs = node.apply_conf_change(&cc);
                    node.store_mut().set_conf_state(cs);
                }
                applied.push(e.clone());
            }
            self.read_states
                .entry(id)
                .or_default()
                .extend(rd.read_states.iter().cloned());
            node.advance(rd);
        }
    }

    /// Processes every node's ready state.
    pub fn process_all(&mut self) {
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        for id in ids {
            self.process_ready(id);
        }
    }

    fn blocked(&mut self, m: &mut Message) -> bool {
        self.cut.contains(&(m.from, m.to)) || self.drop_filter.as_mut().is_some_and(|f| f(m))
    }

    /// Delivers every queued message once; returns how many were delivered.
    pub fn deliver(&mut self) -> usize {
        let batch: Vec<Message> = self.queue.drain(..).collect();
        let mut n = 0;
        for mut m in batch {
            let (from, to, is_snap) = (m.from, m.to, m.msg_type == MessageType::Snapshot);
            if self.blocked(&mut m) || !self.nodes.contains_key(&to) {
                if is_snap {
                    self.with_node(from, |node| node.report_snapshot(to, true));
                }
                continue;
            }
            self.with_node(to, |node| {
                // Messages from removed or unknown peers are refused; that is expected.
                let _ = node.step(m);
            });
            if is_snap {
                self.with_node(from, |node| node.report_snapshot(to, false));
            }
            n += 1;
        }
        self.delivered += n as u64;
        n
    }

    fn with_node(&mut self, id: u64, f: impl FnOnce(&mut RawNode<MemStorage>)) {
        if let Some(node) = self.nodes.get_mut(&id) {
            f(node);
        }
    }

    /// Processes and delivers until no node has anything ready and no message is queued.
    pub fn stabilize(&mut self) {
        for _ in 0..MAX_ROUNDS {
            self.process_all();
            if self.queue.is_empty() {
                return;
            }
            self.deliver();
        }
        panic!("cluster did not stabilize in {MAX_ROUNDS} rounds");
    }

    /// Ticks every node `n` times, stabilizing after each tick.
    pub fn tick_all(&mut self, n: usize) {
        for _ in 0..n {
            for node in self.nodes.values_mut() {
                node.tick();
            }
            self.stabilize();
        }
    }

    /// Ticks only node `id`, `n` times, stabilizing after each tick.
    pub fn tick_node(&mut self, id: u64, n: usize) {
        for _ in 0..n {
            self.node_mut(id).tick();
            self.stabilize();
        }
    }

    /// Node `id` campaigns, and the cluster stabilizes.
    pub fn campaign(&mut self, id: u64) {
        // A node that may not campaign simply does not; the test checks the outcome.
        let _ = self.node_mut(id).campaign();
        self.stabilize();
    }

    /// Proposes `data` at node `id` and stabilizes.
    pub fn propose(&mut self, id: u64, data: &[u8]) -> Result<()> {
        let r = self.node_mut(id).propose(Bytes::copy_from_slice(data));
        self.stabilize();
        r
    }

    /// Proposes a configuration change at node `id` and stabilizes.
    pub fn propose_conf_change(&mut self, id: u64, cc: ConfChange) -> Result<()> {
        let r = self.node_mut(id).propose_conf_change(cc);
        self.stabilize();
        r
    }

    /// The application data node `id` applied, in order (empty entries left out).
    pub fn applied_data(&self, id: u64) -> Vec<Bytes> {
        let entries = self.applied.get(&id).map(Vec::as_slice).unwrap_or_default();
        entries
            .iter()
            .filter(|e| e.entry_type == EntryType::Normal && !e.data.is_empty())
            .map(|e| e.data.clone())
            .collect()
    }

    /// Cuts both directions between `a` and `b`.
    pub fn cut(&mut self, a: u64, b: u64) {
        self.cut.insert((a, b));
        self.cut.insert((b, a));
    }

    /// Cuts node `id` off from every other node.
    pub fn isolate(&mut self, id: u64) {
        let others: Vec<u64> = self.nodes.keys().copied().filter(|&o| o != id).collect();
        for o in others {
            self.cut(id, o);
        }
    }

    /// Splits the cluster into groups that cannot reach one another.
    pub fn partition(&mut self, groups: &[&[u64]]) {
        for (i, a) in groups.iter().enumerate() {
            for b in groups.iter().skip(i + 1) {
                for &x in a.iter() {
                    for &y in b.iter() {
                        self.cut(x, y);
                    }
                }
            }
        }
    }

    /// Restores every link.
    pub fn heal(&mut self) {
        self.cut.clear();
    }

    /// Drops every queued message.
    pub fn drop_queued(&mut self) {
        self.queue.clear();
    }

    /// Restarts node `id` from its storage, keeping its state machine.
    pub fn restart(&mut self, id: u64) -> Result<()> {
        let Some(old) = self.nodes.remove(&id) else {
            return Ok(());
        };
        let applied = self
            .applied
            .get(&id)
            .and_then(|a| a.last())
            .map_or(0, |e| e.index);
        let snap_index = old.store().snapshot_index();
        let config = Config {
            applied: applied.max(snap_index),
            ..self.configs.get(&id).cloned().unwrap_or_default()
        };
        let node = RawNode::new(&config, old.store().clone())?;
        self.nodes.insert(id, node);
        Ok(())
    }

    /// Node `id` snapshots its state machine at its applied index and compacts its log.
    pub fn compact(&mut self, id: u64) {
        let applied = self.applied.get(&id).cloned().unwrap_or_default();
        let Some(index) = applied.last().map(|e| e.index) else {
            return;
        };
        let node = self.node_mut(id);
        let cs = node.status().conf_state;
        let store = node.store_mut();
        // Compacting twice at the same index is refused; that is fine here.
        if store
            .create_snapshot(index, Some(cs), encode_state(&applied))
            .is_ok()
        {
            let _ = store.compact(index);
        }
    }
}

/// Encodes a state machine (the applied entries) as snapshot data.
fn encode_state(applied: &[Entry]) -> Bytes {
    bincode::serde::encode_to_vec(applied, bincode::config::standard())
        .map(Bytes::from)
        .unwrap_or_default()
}

fn decode_state(data: &[u8]) -> Vec<Entry> {
    bincode::serde::decode_from_slice(data, bincode::config::standard())
        .map(|(v, _)| v)
        .unwrap_or_default()
}
