//! The in-memory state guarded by the store's lock: key index, leases and revisions.

use std::collections::BTreeMap;
use std::collections::BTreeSet;

use crate::key_index::KeyIndex;
use crate::kv::Event;
use crate::kv::EventType;
use crate::lease::Lease;
use crate::revision::Revision;

/// A lease and the keys attached to it.
#[derive(Clone, Debug, Default)]
pub(crate) struct LeaseState {
    pub(crate) ttl_seconds: i64,
    pub(crate) remaining_ttl_seconds: i64,
    pub(crate) keys: BTreeSet<Vec<u8>>,
}

/// Everything readers consult under the read lock.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) index: KeyIndex,
    pub(crate) leases: BTreeMap<i64, LeaseState>,
    /// Invariant: `compacted_revision <= current_revision`.
    pub(crate) current_revision: i64,
    /// The newest applied compaction; reads below it fail.
    pub(crate) compacted_revision: i64,
}

impl State {
    /// Records one applied event in the index and moves the key between leases.
    pub(crate) fn record_event(&mut self, sub: usize, event: &Event) {
        let kv = &event.kv;
        let rev = Revision {
            main: kv.mod_revision,
            sub: i64::try_from(sub).unwrap_or(i64::MAX),
        };
        let old_lease = match event.kind {
            EventType::Put => self.index.put(rev, kv),
            EventType::Delete => self.index.tombstone(&kv.key, rev),
        };
        if let Some(old) = old_lease.filter(|&l| l != 0)
            && let Some(lease) = self.leases.get_mut(&old)
        {
            lease.keys.remove(&kv.key);
        }
        if event.kind == EventType::Put
            && kv.lease != 0
            && let Some(lease) = self.leases.get_mut(&kv.lease)
        {
            lease.keys.insert(kv.key.clone());
        }
    }

    /// The public view of a lease.
    pub(crate) fn lease(&self, id: i64) -> Option<Lease> {
        let state = self.leases.get(&id)?;
        Some(Lease {
            id,
            ttl_seconds: state.ttl_seconds,
            remaining_ttl_seconds: state.remaining_ttl_seconds,
            keys: state.keys.iter().cloned().collect(),
        })
    }
}
