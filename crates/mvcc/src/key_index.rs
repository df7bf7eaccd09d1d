//! The in-memory key index (etcd's `treeIndex`): for every key, the revisions of its puts and
//! deletes, so that a read at any revision finds the right stored version without scanning.
//!
//! It is rebuilt from the revision column family at open. Kept in memory because every range
//! read walks it: at 1,000,000 keys with 5 versions each it holds about 250 bytes per key
//! (the key, a 48-byte history header and 16 bytes per revision), well under the values'
//! own size, and a RocksDB-backed index would cost a seek per key per read.

use std::collections::BTreeMap;
use std::collections::HashSet;
use std::ops::Bound;

use crate::key_range::KeyRange;
use crate::kv::KeyValue;
use crate::revision::Revision;

/// One put or delete of a key. 16 bytes: the sub revision fits in 32 bits because one write
/// never holds 2^32 changes (checked where changes are created).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct IndexEntry {
    main: i64,
    sub: u32,
    tombstone: bool,
}

impl IndexEntry {
    fn revision(self) -> Revision {
        Revision {
            main: self.main,
            sub: i64::from(self.sub),
        }
    }
}

/// What a write needs of a key's newest version besides its value (etcd's generation keeps
/// the same): a put builds the new version from it without reading the stored one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct LiveKey {
    /// The revision that created the key's current life.
    pub(crate) create_revision: i64,
    /// Puts since that creation.
    pub(crate) version: i64,
    /// The attached lease (0: none).
    pub(crate) lease: i64,
}

impl LiveKey {
    /// The numbers of the stored version `kv`.
    pub(crate) fn of(kv: &KeyValue) -> LiveKey {
        LiveKey {
            create_revision: kv.create_revision,
            version: kv.version,
            lease: kv.lease,
        }
    }
}

/// The history of one key.
#[derive(Clone, Debug)]
struct KeyHistory {
    /// Invariant: non-empty, strictly ascending by (main, sub).
    entries: Vec<IndexEntry>,
    /// The newest entry's version when it is a put (zeroes otherwise), so that writes and
    /// lease attachments need no stored version.
    newest: LiveKey,
}

impl KeyHistory {
    /// Index of the first entry newer than `rev`.
    fn split(&self, rev: i64) -> usize {
        self.entries.partition_point(|e| e.main <= rev)
    }

    fn at(&self, rev: i64) -> Option<Revision> {
        let newest = self.entries.get(self.split(rev).checked_sub(1)?)?;
        (!newest.tombstone).then(|| newest.revision())
    }

    /// The key's newest version if it is alive.
    fn live(&self) -> Option<LiveKey> {
        let last = self.entries.last()?;
        (!last.tombstone).then_some(self.newest)
    }

    /// The lease of the key if it is alive at the newest revision.
    fn live_lease(&self) -> Option<i64> {
        self.live().map(|k| k.lease)
    }

    /// How many entries from the front a compaction at `at` removes: all but the newest at or
    /// before `at`, and that one too if it is a delete before `at`. A delete exactly at `at`
    /// stays until the next compaction, as in etcd (watchers starting at the compacted
    /// revision still see it).
    fn compactable(&self, at: i64) -> usize {
        let split = self.split(at);
        match split.checked_sub(1).and_then(|i| self.entries.get(i)) {
            Some(newest) if newest.tombstone && newest.main < at => split,
            Some(_) => split - 1,
            None => 0,
        }
    }

    fn push(&mut self, entry: IndexEntry) {
        if let Some(last) = self.entries.last() {
            assert!(
                (last.main, last.sub) < (entry.main, entry.sub),
                "index entries must ascend: {last:?} then {entry:?}"
            );
        }
        self.entries.push(entry);
    }
}

/// The index of every key's history.
#[derive(Debug, Default)]
pub(crate) struct KeyIndex {
    map: BTreeMap<Box<[u8]>, KeyHistory>,
}

impl KeyIndex {
    /// The revision of `key` as of `rev`, if it was alive then.
    pub(crate) fn get(&self, key: &[u8], rev: i64) -> Option<Revision> {
        self.map.get(key)?.at(rev)
    }

    /// The newest version of `key` if it is alive.
    pub(crate) fn live(&self, key: &[u8]) -> Option<LiveKey> {
        self.map.get(key)?.live()
    }

    /// Keys alive at `rev` in `range`, in key order, with their revisions.
    pub(crate) fn range<'a>(
        &'a self,
        range: &KeyRange,
        rev: i64,
    ) -> impl Iterator<Item = (&'a [u8], Revision)> + use<'a> {
        // The map range is taken eagerly so the iterator borrows the index, not `range`.
        let entries = range.bounds().map(|b| self.map.range::<[u8], _>(b));
        entries
            .into_iter()
            .flatten()
            .filter_map(move |(k, h)| Some((&**k, h.at(rev)?)))
    }

    /// Records a put of `kv` at `rev`; returns the lease the key had if it was alive.
    pub(crate) fn put(&mut self, rev: Revision, kv: &KeyValue) -> Option<i64> {
        let entry = IndexEntry {
            main: rev.main,
            sub: sub_u32(rev.sub),
            tombstone: false,
        };
        let newest = LiveKey::of(kv);
        match self.map.get_mut(kv.key.as_slice()) {
            Some(history) => {
                let old = history.live_lease();
                history.push(entry);
                history.newest = newest;
                old
            }
            None => {
                let history = KeyHistory {
                    entries: vec![entry],
                    newest,
                };
                self.map.insert(kv.key.clone().into_boxed_slice(), history);
                None
            }
        }
    }

    /// Records a delete of `key` at `rev`; returns the lease the key had if it was alive.
    pub(crate) fn tombstone(&mut self, key: &[u8], rev: Revision) -> Option<i64> {
        let entry = IndexEntry {
            main: rev.main,
            sub: sub_u32(rev.sub),
            tombstone: true,
        };
        match self.map.get_mut(key) {
            Some(history) => {
                let old = history.live_lease();
                history.push(entry);
                history.newest = LiveKey::default();
                old
            }
            // A tombstone without history: a restart after compaction removed the key's puts
            // but not yet its tombstone. It is still recorded so compaction removes it.
            None => {
                let history = KeyHistory {
                    entries: vec![entry],
                    newest: LiveKey::default(),
                };
                self.map.insert(key.to_vec().into_boxed_slice(), history);
                None
            }
        }
    }

    /// Compacts up to `max_keys` keys after `after` at revision `at`, appending the revisions
    /// no longer needed to `dead`. Returns the last key handled, or `None` when the end of
    /// the index was reached.
    pub(crate) fn compact_chunk(
        &mut self,
        after: Option<&[u8]>,
        at: i64,
        max_keys: usize,
        dead: &mut Vec<Revision>,
    ) -> Option<Box<[u8]>> {
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut emptied = Vec::new();
        let mut last = None;
        let mut handled = 0;
        for (key, history) in self.map.range_mut::<[u8], _>((lower, Bound::Unbounded)) {
            let n = history.compactable(at);
            dead.extend(history.entries.drain(..n).map(IndexEntry::revision));
            if history.entries.is_empty() {
                emptied.push(key.clone());
            }
            last = Some(key.clone());
            handled += 1;
            if handled == max_keys {
                break;
            }
        }
        for key in &emptied {
            self.map.remove(key);
        }
        if handled < max_keys { None } else { last }
    }

    /// The revisions a compaction at `at` keeps (etcd's `Keep`): per key, the newest version
    /// at or before `at` unless it is a delete.
    pub(crate) fn kept(&self, at: i64) -> HashSet<Revision> {
        self.map.values().filter_map(|h| h.at(at)).collect()
    }

    /// Number of keys with any history.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

fn sub_u32(sub: i64) -> u32 {
    u32::try_from(sub).unwrap_or_else(|_| panic!("sub revision {sub} out of range"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn kv(key: &[u8], created: i64, rev: i64, version: i64) -> KeyValue {
        KeyValue {
            key: key.to_vec(),
            create_revision: created,
            mod_revision: rev,
            version,
            ..KeyValue::default()
        }
    }

    fn live(create_revision: i64, version: i64, lease: i64) -> LiveKey {
        LiveKey {
            create_revision,
            version,
            lease,
        }
    }

    #[test]
    fn reads_at_past_revisions_and_compacts_like_etcd() {
        let mut index = KeyIndex::default();
        let r = |main| Revision { main, sub: 0 };
        index.put(r(2), &kv(b"a", 2, 2, 1));
        index.put(r(3), &kv(b"a", 2, 3, 2));
        index.tombstone(b"a", r(4));
        index.put(r(5), &kv(b"a", 5, 5, 1));
        assert_eq!(index.get(b"a", 1), None);
        assert_eq!(index.get(b"a", 3), Some(r(3)));
        assert_eq!(index.get(b"a", 4), None);
        assert_eq!(index.get(b"a", 9), Some(r(5)));
        assert_eq!(index.live(b"a"), Some(live(5, 1, 0)));
        assert_eq!(index.kept(3), HashSet::from([r(3)]));
        let mut dead = Vec::new();
        assert_eq!(index.compact_chunk(None, 5, 10, &mut dead), None);
        assert_eq!(dead, vec![r(2), r(3), r(4)]);
        assert_eq!(index.get(b"a", 5), Some(r(5)));
        dead.clear();
        index.tombstone(b"a", r(6));
        assert_eq!(index.live(b"a"), None);
        index.compact_chunk(None, 6, 10, &mut dead);
        assert_eq!(
            dead,
            vec![r(5)],
            "a delete at the compaction revision stays"
        );
        assert_eq!(index.get(b"a", 6), None);
        dead.clear();
        index.compact_chunk(None, 7, 10, &mut dead);
        assert_eq!(dead, vec![r(6)]);
        assert_eq!(index.len(), 0);
    }

    #[test]
    fn the_live_version_outlasts_the_compaction_of_its_history() {
        let mut index = KeyIndex::default();
        let r = |main| Revision { main, sub: 0 };
        index.put(r(2), &kv(b"a", 2, 2, 1));
        index.put(r(3), &kv(b"a", 2, 3, 2));
        let mut leased = kv(b"a", 2, 4, 3);
        leased.lease = 7;
        index.put(r(4), &leased);
        let mut dead = Vec::new();
        index.compact_chunk(None, 4, 10, &mut dead);
        assert_eq!(dead, vec![r(2), r(3)]);
        assert_eq!(index.live(b"a"), Some(live(2, 3, 7)));
        assert_eq!(index.live(b"b"), None);
    }
}
