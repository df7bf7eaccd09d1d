//! One write at one revision: puts, deletes and txns computed against the index plus the
//! txn's own pending writes, producing the events to store (etcd's `storeTxnWrite`).

use crate::compare;
use crate::error::Error;
use crate::error::Result;
use crate::key_index::LiveKey;
use crate::key_range::KeyRange;
use crate::kv::Event;
use crate::kv::EventType;
use crate::kv::KeyValue;
use crate::messages::DeleteRangeRequest;
use crate::messages::DeleteRangeResponse;
use crate::messages::PutRequest;
use crate::messages::PutResponse;
use crate::messages::RangeRequest;
use crate::messages::RangeResponse;
use crate::messages::RequestOp;
use crate::messages::ResponseOp;
use crate::messages::TxnRequest;
use crate::messages::TxnResponse;
use crate::range;
use crate::range::Overlay;
use crate::reader::Reader;
use crate::state::State;
use crate::txn_check;

/// A write in progress. Nothing is stored until the caller commits [`WriteTxn::into_events`].
#[derive(Debug)]
pub(crate) struct WriteTxn<'a> {
    state: &'a State,
    reader: Reader<'a>,
    /// Invariant: `events[i]` has sub revision `i` and main revision `begin + 1`.
    events: Vec<Event>,
    overlay: Overlay,
    /// Whether later operations of this write may read the overlay (false for a lone put,
    /// which then copies nothing into it).
    overlay_read: bool,
}

impl<'a> WriteTxn<'a> {
    pub(crate) fn new(state: &'a State, reader: Reader<'a>) -> Self {
        WriteTxn {
            state,
            reader,
            events: Vec::new(),
            overlay: Overlay::new(),
            overlay_read: true,
        }
    }

    /// The revision before this write.
    fn begin(&self) -> i64 {
        self.state.current_revision
    }

    /// The revision a read inside the write sees: the new one once something changed.
    pub(crate) fn read_revision(&self) -> i64 {
        if self.events.is_empty() {
            self.begin()
        } else {
            self.begin() + 1
        }
    }

    /// The events produced so far.
    pub(crate) fn into_events(self) -> Vec<Event> {
        self.events
    }

    /// The newest version of every key in `range`, including this write's changes.
    fn latest_range(&self, range: &KeyRange) -> Result<Vec<KeyValue>> {
        let found = range::collect(&self.state.index, &self.overlay, range, self.begin(), None);
        self.reader.resolve(found.items)
    }

    fn latest(&self, key: &[u8]) -> Result<Option<KeyValue>> {
        if let Some(pending) = self.overlay.get(key) {
            return Ok(pending.clone());
        }
        self.state
            .index
            .get(key, self.begin())
            .map(|rev| self.reader.kv(rev))
            .transpose()
    }

    fn push(&mut self, event: Event) -> Result<()> {
        if u32::try_from(self.events.len()).is_err() {
            return Err(Error::Corrupt(
                "more than 2^32 changes in one revision".into(),
            ));
        }
        if self.overlay_read {
            let pending = (event.kind == EventType::Put).then(|| event.kv.clone());
            self.overlay.insert(event.kv.key.clone(), pending);
        }
        self.events.push(event);
        Ok(())
    }

    /// A range read. Inside a txn a past `revision` reads stored data only and must not
    /// exceed the revision before the txn (etcd's `checkRequestRange`).
    pub(crate) fn range(&self, req: &RangeRequest) -> Result<RangeResponse> {
        if req.key.is_empty() {
            return Err(Error::EmptyKey);
        }
        if req.revision > self.begin() {
            return Err(Error::FutureRevision);
        }
        if req.revision > 0 && req.revision < self.state.compacted_revision {
            return Err(Error::Compacted);
        }
        let empty = Overlay::new();
        let (overlay, rev) = if req.revision > 0 {
            (&empty, req.revision)
        } else {
            (&self.overlay, self.begin())
        };
        let range = KeyRange::new(&req.key, &req.range_end);
        let found = range::collect(
            &self.state.index,
            overlay,
            &range,
            rev,
            range::fetch_limit(req),
        );
        let kvs = self.reader.resolve(found.items)?;
        Ok(range::finish(req, kvs, found.count, self.read_revision()))
    }

    /// A put; the lease is checked before the key, as etcd's `checkPut`. The stored value
    /// is read only when the request needs it (`prev_kv`, `ignore_value`): the new
    /// version's create revision, version and kept lease come from the index.
    pub(crate) fn put(&mut self, req: &PutRequest) -> Result<PutResponse> {
        txn_check::check_put(req)?;
        if req.lease != 0 && !self.state.leases.contains_key(&req.lease) {
            return Err(Error::LeaseNotFound);
        }
        let current = self.current(&req.key, req.prev_kv || req.ignore_value)?;
        if (req.ignore_value || req.ignore_lease) && current.is_none() {
            return Err(Error::KeyNotFound);
        }
        let main = self.begin() + 1;
        let (create_revision, version, kept_lease) = match &current {
            Some((live, _)) => {
                let version = live.version.checked_add(1).ok_or_else(|| {
                    Error::Corrupt(format!("version {} of a stored key", live.version))
                })?;
                (live.create_revision, version, live.lease)
            }
            None => (main, 1, 0),
        };
        let stored = current.and_then(|(_, stored)| stored);
        let kv = KeyValue {
            key: req.key.clone(),
            create_revision,
            mod_revision: main,
            version,
            value: match &stored {
                Some(p) if req.ignore_value => p.value.clone(),
                _ => req.value.clone(),
            },
            lease: if req.ignore_lease {
                kept_lease
            } else {
                req.lease
            },
        };
        self.push(Event {
            kind: EventType::Put,
            kv,
            prev_kv: None,
        })?;
        Ok(PutResponse {
            revision: main,
            prev_kv: stored.filter(|_| req.prev_kv),
        })
    }

    /// A put that is the whole write: nothing reads its overlay afterwards.
    pub(crate) fn lone_put(&mut self, req: &PutRequest) -> Result<PutResponse> {
        self.overlay_read = false;
        self.put(req)
    }

    /// The newest version of `key` including this txn's changes, with the stored version
    /// itself only if `with_value` (or this txn wrote it): otherwise it comes from the index.
    fn current(&self, key: &[u8], with_value: bool) -> Result<Option<(LiveKey, Option<KeyValue>)>> {
        if with_value || self.overlay.contains_key(key) {
            return Ok(self.latest(key)?.map(|kv| (LiveKey::of(&kv), Some(kv))));
        }
        Ok(self.state.index.live(key).map(|live| (live, None)))
    }

    /// A delete of every live key in the range (nothing changes if none is live).
    pub(crate) fn delete_range(&mut self, req: &DeleteRangeRequest) -> Result<DeleteRangeResponse> {
        if req.key.is_empty() {
            return Err(Error::EmptyKey);
        }
        let victims = self.latest_range(&KeyRange::new(&req.key, &req.range_end))?;
        let deleted = i64::try_from(victims.len()).unwrap_or(i64::MAX);
        for prev in &victims {
            self.delete_kv(prev.clone())?;
        }
        let prev_kvs = if req.prev_kv { victims } else { Vec::new() };
        Ok(DeleteRangeResponse {
            revision: self.read_revision(),
            deleted,
            prev_kvs,
        })
    }

    /// Deletes one key if it is live (used by lease revoke).
    pub(crate) fn delete_key(&mut self, key: &[u8]) -> Result<()> {
        match self.latest(key)? {
            Some(prev) => self.delete_kv(prev),
            None => Ok(()),
        }
    }

    fn delete_kv(&mut self, prev: KeyValue) -> Result<()> {
        let kv = KeyValue {
            key: prev.key,
            mod_revision: self.begin() + 1,
            ..KeyValue::default()
        };
        self.push(Event {
            kind: EventType::Delete,
            kv,
            prev_kv: None,
        })
    }

    /// A txn: every compare on the taken path is evaluated first, against the state before
    /// the txn (etcd's `compareToPath`); then the ops run in order.
    pub(crate) fn txn(&mut self, req: &TxnRequest) -> Result<TxnResponse> {
        txn_check::check_intervals(&req.success)?;
        txn_check::check_intervals(&req.failure)?;
        let mut path = Vec::new();
        self.compare_path(req, &mut path)?;
        let mut taken = path.into_iter();
        let mut resp = self.run_txn(req, &mut taken)?;
        resp.revision = self.read_revision();
        Ok(resp)
    }

    fn compare_path(&self, req: &TxnRequest, path: &mut Vec<bool>) -> Result<()> {
        let mut succeeded = true;
        for c in &req.compare {
            let kvs = self.latest_range(&KeyRange::new(&c.key, &c.range_end))?;
            if !compare::holds(c, &kvs) {
                succeeded = false;
                break;
            }
        }
        path.push(succeeded);
        let ops = if succeeded {
            &req.success
        } else {
            &req.failure
        };
        for op in ops {
            if let RequestOp::Txn(nested) = op {
                self.compare_path(nested, path)?;
            }
        }
        Ok(())
    }

    /// Runs the branch chosen by the next path entry. Nested txn responses keep revision 0,
    /// as etcd fills only the outermost header.
    fn run_txn(
        &mut self,
        req: &TxnRequest,
        path: &mut std::vec::IntoIter<bool>,
    ) -> Result<TxnResponse> {
        let succeeded = path
            .next()
            .ok_or_else(|| Error::Corrupt("txn path shorter than the txn".into()))?;
        let ops = if succeeded {
            &req.success
        } else {
            &req.failure
        };
        let mut responses = Vec::with_capacity(ops.len());
        for op in ops {
            responses.push(match op {
                RequestOp::Range(r) => ResponseOp::Range(self.range(r)?),
                RequestOp::Put(p) => ResponseOp::Put(self.put(p)?),
                RequestOp::DeleteRange(d) => ResponseOp::DeleteRange(self.delete_range(d)?),
                RequestOp::Txn(t) => ResponseOp::Txn(self.run_txn(t, path)?),
            });
        }
        Ok(TxnResponse {
            revision: 0,
            succeeded,
            responses,
        })
    }
}
