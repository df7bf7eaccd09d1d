//! Loading the store at open: meta values, the key index rebuilt from every stored version,
//! and the leases with their keys.

use std::collections::BTreeMap;

use rocksdb::DB;
use rocksdb::IteratorMode;

use crate::compactor::Progress;
use crate::error::Error;
use crate::error::Result;
use crate::key_index::KeyIndex;
use crate::kv::Event;
use crate::kv::EventType;
use crate::layout;
use crate::layout::CF_LEASES;
use crate::layout::CF_META;
use crate::layout::CF_REVISIONS;
use crate::layout::LeaseRecord;
use crate::revision::Revision;
use crate::state::LeaseState;
use crate::state::State;

/// The state found on disk.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) state: State,
    pub(crate) applied_index: u64,
    pub(crate) progress: Progress,
}

fn cf<'a>(db: &'a DB, name: &str) -> Result<&'a rocksdb::ColumnFamily> {
    db.cf_handle(name)
        .ok_or_else(|| Error::Corrupt(format!("missing column family {name}")))
}

fn meta(db: &DB, key: &[u8], default: i64) -> Result<i64> {
    match db.get_pinned_cf(cf(db, CF_META)?, key)? {
        Some(bytes) => layout::meta_value(&bytes),
        None => Ok(default),
    }
}

/// Reads everything the in-memory state needs.
pub(crate) fn load(db: &DB) -> Result<Loaded> {
    let applied = meta(db, layout::META_CONSISTENT_INDEX, 0)?;
    let stored_current = meta(db, layout::META_CURRENT_REVISION, layout::INITIAL_REVISION)?;
    let scheduled = meta(
        db,
        layout::META_COMPACT_SCHEDULED,
        layout::INITIAL_COMPACTED,
    )?;
    let finished = meta(db, layout::META_COMPACT_FINISHED, layout::INITIAL_COMPACTED)?;
    let valid = applied >= 0 && finished <= scheduled;
    if !valid {
        return Err(Error::Corrupt(format!(
            "meta: applied {applied} compacted {scheduled} finished {finished}"
        )));
    }
    // Raised to the newest stored version's revision by `load_versions`.
    let mut state = State {
        index: KeyIndex::default(),
        leases: load_leases(db)?,
        current_revision: stored_current.max(scheduled),
        compacted_revision: scheduled,
    };
    load_versions(db, &mut state)?;
    Ok(Loaded {
        state,
        applied_index: u64::try_from(applied).unwrap_or(0),
        progress: Progress {
            scheduled,
            finished,
            stop: false,
            failure: None,
        },
    })
}

fn load_leases(db: &DB) -> Result<BTreeMap<i64, LeaseState>> {
    let mut leases = BTreeMap::new();
    for item in db.iterator_cf(cf(db, CF_LEASES)?, IteratorMode::Start) {
        let (key, value) = item?;
        let record: LeaseRecord = layout::decode(&value)?;
        if key.as_ref() != layout::lease_key(record.id).as_slice() || record.id == 0 {
            return Err(Error::Corrupt(format!(
                "lease record {record:?} under a wrong key"
            )));
        }
        let lease = LeaseState {
            ttl_seconds: record.ttl_seconds,
            remaining_ttl_seconds: record.remaining_ttl_seconds,
            keys: Default::default(),
        };
        leases.insert(record.id, lease);
    }
    Ok(leases)
}

/// Replays every stored version in revision order into the index (which also attaches keys
/// to their leases), raising the current revision to the newest version's.
fn load_versions(db: &DB, state: &mut State) -> Result<()> {
    for item in db.iterator_cf(cf(db, CF_REVISIONS)?, IteratorMode::Start) {
        let (key, value) = item?;
        let rev = Revision::from_bytes(&key)?;
        state.current_revision = state.current_revision.max(rev.main);
        let record = layout::decode_record(rev, &value)?;
        let kind = if record.tombstone {
            EventType::Delete
        } else {
            EventType::Put
        };
        let event = Event {
            kind,
            kv: record.kv,
            prev_kv: None,
        };
        let sub = usize::try_from(rev.sub).map_err(|_| Error::Corrupt(format!("{rev:?}")))?;
        state.record_event(sub, &event);
    }
    Ok(())
}
