//! The watch feed for watchers that start in the past: stored versions read back as events.

use std::collections::HashSet;

use rocksdb::Direction;
use rocksdb::IteratorMode;

use crate::error::Error;
use crate::error::Result;
use crate::key_range::KeyRange;
use crate::kv::Event;
use crate::kv::EventType;
use crate::kv::KeyValue;
use crate::layout::CF_REVISIONS;
use crate::layout::decode_record;
use crate::reader::Reader;
use crate::revision::Revision;
use crate::store::Store;

impl Store {
    /// The events of revisions `start_revision..=current` on keys in `[key, range_end)`
    /// (etcd's range convention), each with its `prev_kv` when still stored.
    ///
    /// Stops after the revision at which `limit` events are reached (0: no limit), never
    /// splitting a revision, so a watcher resumes from the last event's revision + 1.
    /// A start below the compacted revision is [`Error::Compacted`], as for etcd's watchers.
    /// At the compacted revision itself only the last change of each key is reported: a
    /// compaction keeps that one (a delete too, as etcd 3.5 does) and removes the changes it
    /// superseded within the same txn, and the feed must not depend on the compactor's
    /// progress.
    pub fn events_since(
        &self,
        start_revision: i64,
        key: &[u8],
        range_end: &[u8],
        limit: usize,
    ) -> Result<Vec<Event>> {
        let state = self.shared.read();
        if start_revision < state.compacted_revision {
            return Err(Error::Compacted);
        }
        let (current, compacted) = (state.current_revision, state.compacted_revision);
        let reader = Reader::Snapshot(&self.shared.db, self.shared.db.snapshot());
        drop(state);
        let range = KeyRange::new(key, range_end);
        let mut events =
            self.scan_events(&reader, start_revision.max(1), current, &range, limit)?;
        drop_superseded_at(&mut events, compacted);
        let prevs = self.prev_versions(&reader, &events, Some(compacted))?;
        for (event, prev) in events.iter_mut().zip(prevs) {
            event.prev_kv = prev;
        }
        Ok(events)
    }

    /// The `prev_kv` of each event, as etcd's watch fills it for watchers that ask: the
    /// key's version at the revision before the event's, none for a creation, for a key
    /// that was not alive then, or for a version before the compacted revision. Events of
    /// an applied write carry none; the server asks here when a watcher wants them.
    pub fn prev_kvs(&self, events: &[Event]) -> Result<Vec<Option<KeyValue>>> {
        self.prev_versions(&Reader::Live(&self.shared.db), events, None)
    }

    /// The events' previous versions read through `reader`, not below `compacted` (the
    /// current compacted revision if `None`).
    fn prev_versions(
        &self,
        reader: &Reader<'_>,
        events: &[Event],
        compacted: Option<i64>,
    ) -> Result<Vec<Option<KeyValue>>> {
        let state = self.shared.read();
        let compacted = compacted.unwrap_or(state.compacted_revision);
        let revisions: Vec<Option<Revision>> = events
            .iter()
            .map(|e| {
                // Never a version before the compacted revision: it may be gone already,
                // and the answer must not depend on the compactor's progress.
                let before = e.kv.mod_revision.saturating_sub(1);
                let creation = e.kind == EventType::Put && e.kv.version == 1;
                let known = !creation && before >= compacted;
                known.then(|| state.index.get(&e.kv.key, before)).flatten()
            })
            .collect();
        drop(state);
        let mut prevs = Vec::with_capacity(revisions.len());
        for rev in revisions {
            let record = match rev {
                Some(rev) => reader.try_record(rev)?,
                None => None,
            };
            prevs.push(record.filter(|r| !r.tombstone).map(|r| r.kv));
        }
        Ok(prevs)
    }

    /// Scans the stored versions of revisions `start..=current` in `range`.
    fn scan_events(
        &self,
        reader: &Reader<'_>,
        start: i64,
        current: i64,
        range: &KeyRange,
        limit: usize,
    ) -> Result<Vec<Event>> {
        let Reader::Snapshot(_, snapshot) = reader else {
            return Err(Error::Corrupt("events must be read from a snapshot".into()));
        };
        let from = Revision {
            main: start,
            sub: 0,
        }
        .to_bytes();
        let mode = IteratorMode::From(&from, Direction::Forward);
        let mut events = Vec::new();
        for item in snapshot.iterator_cf(self.shared.cf(CF_REVISIONS)?, mode) {
            let (k, v) = item?;
            let rev = Revision::from_bytes(&k)?;
            let revision_done = events
                .last()
                .is_some_and(|e: &Event| e.kv.mod_revision < rev.main);
            if rev.main > current || (limit > 0 && events.len() >= limit && revision_done) {
                break;
            }
            let record = decode_record(rev, &v)?;
            if range.contains(&record.kv.key) {
                let kind = if record.tombstone {
                    EventType::Delete
                } else {
                    EventType::Put
                };
                events.push(Event {
                    kind,
                    kv: record.kv,
                    prev_kv: None,
                });
            }
        }
        Ok(events)
    }
}

/// Removes the events of revision `compacted` that a later event of the same revision on the
/// same key superseded (a txn's put then delete of one key). Those events, if any, lead the
/// feed, which never starts below `compacted`.
fn drop_superseded_at(events: &mut Vec<Event>, compacted: i64) {
    let at = events
        .iter()
        .take_while(|e| e.kv.mod_revision == compacted)
        .count();
    if at < 2 {
        return;
    }
    let mut later = HashSet::new();
    let mut kept: Vec<Event> = events
        .drain(..at)
        .rev()
        .filter(|e| later.insert(e.kv.key.clone()))
        .collect();
    kept.reverse();
    events.splice(0..0, kept);
}
