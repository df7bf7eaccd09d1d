//! One simulated server: a RawNode, its disk (the storage), its volatile state machine,
//! and a Ready that may be taken but not yet persisted when the server crashes.

use bytes::Bytes;

use crate::ConfChange;
use crate::ConfState;
use crate::Config;
use crate::Entry;
use crate::EntryType;
use crate::MemStorage;
use crate::Ready;
use crate::Result;
use crate::Snapshot;

/// The state machine: the applied index and a hash chain over every applied entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Machine {
    pub(super) index: u64,
    pub(super) chain: u64,
}

impl Machine {
    pub(super) fn encode(&self) -> Bytes {
        let mut b = Vec::with_capacity(16);
        b.extend_from_slice(&self.index.to_le_bytes());
        b.extend_from_slice(&self.chain.to_le_bytes());
        Bytes::from(b)
    }

    pub(super) fn decode(data: &[u8]) -> Machine {
        let word = |r: std::ops::Range<usize>| {
            data.get(r)
                .and_then(|s| <[u8; 8]>::try_from(s).ok())
                .map_or(0, u64::from_le_bytes)
        };
        Machine {
            index: word(0..8),
            chain: word(8..16),
        }
    }

    /// The chain after applying `e`.
    pub(super) fn next_chain(&self, e: &Entry) -> u64 {
        let mut h = self.chain ^ 0x9e37_79b9_7f4a_7c15;
        for b in e
            .term
            .to_le_bytes()
            .iter()
            .chain(e.index.to_le_bytes().iter())
            .chain(e.data.iter())
        {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        h
    }
}

/// A server of the simulation.
#[derive(Debug)]
pub(super) struct SimNode {
    pub(super) config: Config,
    /// The running node; `None` while crashed.
    pub(super) raw: Option<crate::RawNode<MemStorage>>,
    /// The disk while crashed (while running, it is the node's storage).
    pub(super) disk: MemStorage,
    pub(super) machine: Machine,
    /// A Ready taken whose persist has not happened yet.
    pub(super) pending: Option<Ready>,
    /// Commit index last seen in this incarnation (it must not go back).
    pub(super) last_commit: u64,
}

impl SimNode {
    pub(super) fn new(config: Config, conf: ConfState) -> Result<Self> {
        let disk = MemStorage::new_with_conf_state(conf);
        let mut n = SimNode {
            config,
            raw: None,
            disk,
            machine: Machine::default(),
            pending: None,
            last_commit: 0,
        };
        n.start()?;
        Ok(n)
    }

    /// Boots from the disk: the machine restarts from the newest snapshot.
    pub(super) fn start(&mut self) -> Result<()> {
        let snap: Snapshot = crate::Storage::snapshot(&self.disk, 0)?;
        self.machine = if snap.is_empty() {
            Machine::default()
        } else {
            Machine::decode(&snap.data)
        };
        let config = Config {
            applied: self.machine.index,
            ..self.config.clone()
        };
        self.raw = Some(crate::RawNode::new(&config, self.disk.clone())?);
        self.last_commit = 0;
        Ok(())
    }

    /// Loses everything volatile: the unpersisted Ready, the machine, the node itself.
    pub(super) fn crash(&mut self) {
        if let Some(raw) = self.raw.take() {
            self.disk = raw.store().clone();
        }
        self.pending = None;
    }

    /// Compacts the log at the applied index when enough was applied since the snapshot.
    pub(super) fn maybe_compact(&mut self, min_entries: u64) {
        let machine = self.machine;
        let Some(raw) = self.raw.as_mut() else { return };
        if machine.index < raw.store().snapshot_index() + min_entries {
            return;
        }
        let cs = raw.status().conf_state;
        let store = raw.store_mut();
        if store
            .create_snapshot(machine.index, Some(cs), machine.encode())
            .is_ok()
        {
            // The snapshot covers the index, so compaction there cannot fail.
            let _ = store.compact(machine.index);
        }
    }
}

/// Decodes a committed configuration change (a bad one is a bug the simulator reports).
pub(super) fn conf_change_of(e: &Entry) -> Option<ConfChange> {
    (e.entry_type == EntryType::ConfChange)
        .then(|| ConfChange::decode(&e.data).ok())
        .flatten()
}
